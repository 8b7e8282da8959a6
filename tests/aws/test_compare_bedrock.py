"""A Bedrock router that answers prose around broken JSON (as the undistilled Nova Micro did) shows its raw text
marked invalid beside the valid answers of the others, in one comparison."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from core.aws.session import make_client
from core.compare import compare_query
from core.prompts import STUDENT_SYSTEM_TEXT
from core.routers.bedrock import APP_TAG, MAX_OUTPUT_TOKENS, BedrockRouter
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter

BROKEN = 'Here is my analysis of the query. {"visual": 0.6, "audio": "a lot", "transcription": 0.1,\n metadata: 0.1'
BASE_MICRO = "bedrock:amazon.nova-micro-v1:0"


def test_prose_around_broken_json_is_shown_as_written_and_marked_invalid(session):
    client = make_client(session, "bedrock-runtime")
    micro = BedrockRouter(session, "amazon.nova-micro-v1:0", router_id=BASE_MICRO, client=client, concurrency=1)
    routers = {"teacher": ReferenceTeacher(router_id="teacher"), "uniform": UniformRouter(), BASE_MICRO: micro}
    query = "dog barking loudly"
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": BROKEN}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 400, "outputTokens": 40, "totalTokens": 440},
                "metrics": {"latencyMs": 833},
            },
            {
                # The base Nova Micro gets what a student gets: the short system text and the bare query.
                "modelId": "amazon.nova-micro-v1:0",
                "system": [{"text": STUDENT_SYSTEM_TEXT}],
                "messages": [{"role": "user", "content": [{"text": query}]}],
                "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
                "requestMetadata": {"app": APP_TAG, "router": BASE_MICRO, "mode": "student"},
            },
        )
        comparison = compare_query(routers.__getitem__, query, ["teacher", BASE_MICRO, "uniform"])
        stub.assert_no_pending_responses()

    outcomes = comparison.queries[0].outcomes
    broken = outcomes[BASE_MICRO].result
    assert not broken.valid and broken.decision is None and broken.raw_text == BROKEN and broken.errors
    assert broken.model_latency_ms == 833 and broken.token_source == "measured"
    assert broken.cost_usd == pytest.approx((400 * 0.035 + 40 * 0.14) / 1e6)
    assert outcomes["teacher"].result.valid and outcomes["uniform"].result.valid
    assert comparison.summaries[BASE_MICRO].validity == 0.0 and comparison.queries[0].disagree
