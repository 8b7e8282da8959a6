"""BedrockRouter: the exact Converse request, the response read as a content list, errors as row messages."""

from __future__ import annotations

import json
import time

import pytest
from botocore.stub import Stubber

from core.aws.errors import StudioAwsError
from core.aws.models import MODELS
from core.aws.session import make_client
from core.pricing import PriceTable, estimate_tokens
from core.prompts import DEFAULT_TEACHER_PROMPT, STUDENT_SYSTEM_TEXT
from core.routers.bedrock import APP_TAG, MAX_OUTPUT_TOKENS, BedrockRouter, mode_for_model, reply_from_converse

DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"
QUERY = "dog barking loudly at night"
GOOD_JSON = {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1, "reasoning": "A loud sound."}


def converse_response(*blocks: dict, input_tokens: int = 420, output_tokens: int = 38, latency_ms: int = 812):
    return {
        "output": {"message": {"role": "assistant", "content": list(blocks)}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": latency_ms},
    }


def teacher_request(query: str, router_id: str = "teacher") -> dict:
    return {
        "modelId": MODELS["nova-premier"].invoke_id,
        "messages": [{"role": "user", "content": [{"text": DEFAULT_TEACHER_PROMPT.render(query)}]}],
        "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
        "requestMetadata": {
            "app": APP_TAG,
            "router": router_id,
            "mode": "teacher",
            "prompt": DEFAULT_TEACHER_PROMPT.version,
        },
    }


@pytest.fixture
def runtime(session):
    client = make_client(session, "bedrock-runtime")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def teacher(session, client, **options) -> BedrockRouter:
    return BedrockRouter(session, "nova-premier", router_id="teacher", client=client, concurrency=1, **options)


def test_teacher_mode_sends_the_rendered_prompt_and_reads_the_reply(session, runtime):
    client, stub = runtime
    stub.add_response("converse", converse_response({"text": json.dumps(GOOD_JSON)}), teacher_request(QUERY))

    result = teacher(session, client).route(QUERY)

    assert result.valid and result.errors == []
    assert result.decision.weights() == {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1}
    assert result.router_id == "teacher"


def test_student_mode_sends_the_training_system_text_and_the_bare_query(session, runtime):
    client, stub = runtime
    expected = {
        "modelId": DEPLOYMENT_ARN,
        "system": [{"text": STUDENT_SYSTEM_TEXT}],
        "messages": [{"role": "user", "content": [{"text": QUERY}]}],
        "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
        "requestMetadata": {"app": APP_TAG, "router": "student", "mode": "student"},
    }
    stub.add_response("converse", converse_response({"text": json.dumps(GOOD_JSON)}), expected)
    router = BedrockRouter(session, DEPLOYMENT_ARN, router_id="student", mode="student", client=client)

    assert router.route(QUERY).valid


def test_the_first_text_block_is_the_answer_even_after_a_reasoning_block(session, runtime):
    client, stub = runtime
    reasoning = {"reasoningContent": {"reasoningText": {"text": "Barking is a sound.", "signature": "sig"}}}
    stub.add_response("converse", converse_response(reasoning, {"text": json.dumps(GOOD_JSON)}), teacher_request(QUERY))

    result = teacher(session, client).route(QUERY)

    assert result.valid
    assert result.decision.audio == 0.6


def test_a_reply_wrapped_in_prose_and_code_fences_still_parses(session, runtime):
    client, stub = runtime
    wrapped = f"Here is the routing:\n```json\n{json.dumps(GOOD_JSON)}\n```\nHope this helps!"
    stub.add_response("converse", converse_response({"text": wrapped}), teacher_request(QUERY))

    result = teacher(session, client).route(QUERY)

    assert result.valid
    assert result.raw_text == wrapped
    assert result.decision.visual == 0.3


def test_a_reply_that_is_not_json_is_invalid_with_the_reason(session, runtime):
    client, stub = runtime
    stub.add_response("converse", converse_response({"text": "Mostly audio, I think."}), teacher_request(QUERY))

    result = teacher(session, client).route(QUERY)

    assert not result.valid
    assert result.decision is None
    assert result.errors == ["no JSON object found in the reply"]
    assert result.raw_text == "Mostly audio, I think."


def test_tokens_latency_and_cost_are_the_measured_ones(session, runtime):
    client, stub = runtime
    stub.add_response(
        "converse",
        converse_response({"text": json.dumps(GOOD_JSON)}, input_tokens=420, output_tokens=38, latency_ms=812),
        teacher_request(QUERY),
    )

    result = teacher(session, client).route(QUERY)

    assert (result.input_tokens, result.output_tokens, result.token_source) == (420, 38, "measured")
    # The model's own latency is Bedrock's metrics.latencyMs; latency_ms is the wall clock of the call.
    assert result.model_latency_ms == 812.0
    assert 0.0 < result.latency_ms < 812.0  # a stubbed call answers at once
    assert result.cost_usd == pytest.approx((420 * 2.50 + 38 * 12.50) / 1e6)


def test_latency_is_the_wall_clock_of_the_call_that_answered(session):
    class SlowClient:
        def converse(self, **request):
            time.sleep(0.03)
            return converse_response({"text": json.dumps(GOOD_JSON)}, latency_ms=5)

    result = teacher(session, SlowClient()).route(QUERY)

    assert result.latency_ms >= 30.0 and result.model_latency_ms == 5.0


def test_a_reply_without_text_is_an_error_naming_the_stop_reason():
    response = converse_response({"reasoningContent": {"reasoningText": {"text": "thinking"}}})
    response["stopReason"] = "max_tokens"

    reply = reply_from_converse(response)

    assert reply.text == ""
    assert "max_tokens" in reply.error


@pytest.mark.parametrize(
    ("code", "status", "message", "advice"),
    [
        (
            "AccessDeniedException",
            403,
            "You don't have access to the model with the specified model ID.",
            "Model access",
        ),
        (
            "ValidationException",
            400,
            "Invocation of model ID amazon.nova-premier-v1:0 with on-demand throughput isn’t supported.",
            "us.amazon.nova-premier-v1:0",
        ),
        ("ResourceNotFoundException", 404, "Deployment not found.", "check the name or ARN"),
    ],
)
def test_a_failed_call_becomes_the_rows_error_sentence(session, runtime, code, status, message, advice):
    client, stub = runtime
    stub.add_client_error(
        "converse",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params=teacher_request(QUERY),
    )

    result = teacher(session, client).route(QUERY)

    assert not result.valid
    assert len(result.errors) == 1 and advice in result.errors[0]


def test_throttling_is_retried_with_backoff_inside_the_router(session, runtime):
    client, stub = runtime
    sleeps: list[float] = []
    stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    stub.add_response("converse", converse_response({"text": json.dumps(GOOD_JSON)}), teacher_request(QUERY))

    result = teacher(session, client, sleep=sleeps.append).route(QUERY)

    assert result.valid
    assert len(sleeps) == 1


def test_throttling_that_never_ends_becomes_the_throttled_sentence(session, runtime):
    client, stub = runtime
    for _ in range(6):
        stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)

    result = teacher(session, client, sleep=lambda _: None).route(QUERY)

    assert not result.valid
    assert "throttling" in result.errors[0] and "Service Quotas" in result.errors[0]


class ScriptedClient:
    """A stand-in runtime client: answers from a function of the query, or raises."""

    def __init__(self, answer):
        self.answer = answer

    def converse(self, **request):
        text = request["messages"][0]["content"][0]["text"]
        return self.answer(text)


def test_a_batch_keeps_query_order_and_one_failure_does_not_stop_the_rest(session):
    weights_by_query = {"red car": (0.9, 0.0, 0.0, 0.1), "piano solo": (0.1, 0.8, 0.0, 0.1)}

    def answer(query):
        if query == "explode":
            raise RuntimeError("connection pool broke")
        visual, audio, transcription, metadata = weights_by_query[query]
        body = {"visual": visual, "audio": audio, "transcription": transcription, "metadata": metadata}
        return converse_response({"text": json.dumps(body)})

    router = BedrockRouter(session, DEPLOYMENT_ARN, mode="student", client=ScriptedClient(answer), concurrency=4)

    results = router.route_batch(["red car", "explode", "  ", "piano solo"])

    assert [r.valid for r in results] == [True, False, False, True]
    assert results[0].decision.visual == 0.9
    assert results[3].decision.audio == 0.8
    assert "RuntimeError" in results[1].errors[0]
    assert results[2].errors == ["empty query: type what you are looking for"]


def test_known_model_keys_and_ids_are_priced_and_other_ids_are_not(session):
    by_key = BedrockRouter(session, "nova-premier", client=object())
    by_id = BedrockRouter(session, "amazon.nova-micro-v1:0", client=object())
    deployment = BedrockRouter(session, DEPLOYMENT_ARN, mode="student", client=object())

    assert (by_key.model_id, by_key.price_key) == ("us.amazon.nova-premier-v1:0", "nova-premier")
    assert by_key.router_id == "bedrock:us.amazon.nova-premier-v1:0"
    assert by_id.price_key == "nova-micro"
    # A deployment still bills per token; its price is simply not one the studio knows.
    assert deployment.price_key is None and deployment.billable and not deployment.price_known


def test_an_invalid_model_id_is_refused_before_any_call(session):
    with pytest.raises(StudioAwsError) as raised:
        BedrockRouter(session, "nova premier please", client=object())

    assert raised.value.kind == "validation"


def test_cost_estimates_count_the_prompt_the_model_will_read(session):
    prices = PriceTable()
    teacher_router = BedrockRouter(session, "nova-premier", prices, client=object())
    student_router = BedrockRouter(session, "nova-micro", prices, mode="student", client=object())

    assert teacher_router.input_text(QUERY) == DEFAULT_TEACHER_PROMPT.render(QUERY)
    assert teacher_router.estimate_cost_usd(QUERY) == pytest.approx(
        prices.cost_usd("nova-premier", estimate_tokens(DEFAULT_TEACHER_PROMPT.render(QUERY)), 60)
    )
    assert STUDENT_SYSTEM_TEXT in student_router.input_text(QUERY) and QUERY in student_router.input_text(QUERY)


def test_router_ids_are_made_safe_for_request_metadata(session):
    router = BedrockRouter(session, DEPLOYMENT_ARN, router_id="student:/models/run#1 (best)!", client=object())

    metadata = router.converse_request(QUERY)["requestMetadata"]

    # Only characters an invocation-log filter accepts, so the tag can select training data later.
    assert metadata["router"] == "student:/models/run-1 -best--"


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("us.amazon.nova-premier-v1:0", "teacher"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "teacher"),
        ("amazon.nova-micro-v1:0", "student"),
        ("us.amazon.nova-lite-v1:0", "student"),
        ("amazon.nova-pro-v1:0", "student"),
        (DEPLOYMENT_ARN, "student"),
        ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456", "student"),
    ],
)
def test_the_mode_follows_from_the_model_id(session, model, mode):
    assert mode_for_model(model) == mode
    assert BedrockRouter(session, model, client=object()).mode == mode


def test_a_custom_model_arn_is_a_student_but_is_invoked_through_its_deployment(session):
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
    assert mode_for_model(arn) == "student"
    # Converse does not take a distilled model's own ARN: only its deployment or provisioned throughput.
    with pytest.raises(StudioAwsError):
        BedrockRouter(session, arn, client=object())


def test_a_base_student_gets_the_training_system_text_and_a_geo_profile_is_priced(session, runtime):
    client, stub = runtime
    expected = {
        "modelId": "us.amazon.nova-micro-v1:0",
        "system": [{"text": STUDENT_SYSTEM_TEXT}],
        "messages": [{"role": "user", "content": [{"text": QUERY}]}],
        "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
        "requestMetadata": {"app": APP_TAG, "router": "bedrock:us.amazon.nova-micro-v1:0", "mode": "student"},
    }
    stub.add_response(
        "converse", converse_response({"text": json.dumps(GOOD_JSON)}, input_tokens=30, output_tokens=40), expected
    )

    result = BedrockRouter(session, "us.amazon.nova-micro-v1:0", client=client).route(QUERY)

    assert result.valid and result.cost_usd == pytest.approx((30 * 0.035 + 40 * 0.14) / 1e6)
