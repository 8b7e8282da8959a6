"""Teacher labelling at scale against a stubbed runtime: throttling, interruption and resume, failures kept.

The runtime here is a stand-in client (Converse answers from a function of the query) because the calls run
in parallel worker threads; the exact request shape is pinned by the Stubber tests of test_bedrock_router.py.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from core.labelling import FAILURE_STREAK_LIMIT, LabelProgress, label_queries
from core.routers.bedrock import BedrockRouter

GOOD = {"visual": 0.7, "audio": 0.1, "transcription": 0.1, "metadata": 0.1, "reasoning": "Seen on screen."}


def reply(text: str, input_tokens: int = 400, output_tokens: int = 40) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + 40},
        "metrics": {"latencyMs": 50},
    }


def client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
    )


class StubRuntime:
    """Answers router JSON; throttles a share of calls at random (seeded); counts calls per query."""

    def __init__(self, throttle_share: float = 0.0, seed: int = 1, answer=None, crash_after: int | None = None):
        self.throttle_share = throttle_share
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.throttled = 0
        self.answer = answer or (lambda query: json.dumps(GOOD))
        self.crash_after = crash_after

    def converse(self, **request):
        query = request["messages"][0]["content"][0]["text"]
        with self.lock:
            self.calls[query] += 1
            if self.crash_after is not None and sum(self.answered.values()) >= self.crash_after:
                raise KeyboardInterrupt  # the process is being killed
            throttle = self.rng.random() < self.throttle_share
            if throttle:
                self.throttled += 1
            else:
                self.answered[query] += 1
        if throttle:
            raise client_error("ThrottlingException", 429, "Too many requests, please wait before trying again.")
        return reply(self.answer(query))


def student_router(session, runtime: StubRuntime, concurrency: int = 8) -> BedrockRouter:
    # The deployment's price is unknown, so token counts are what the run adds up; backoff sleeps are skipped.
    return BedrockRouter(
        session,
        "nova-micro",
        router_id="teacher-stub",
        mode="student",
        client=runtime,
        concurrency=concurrency,
        sleep=lambda _: None,
    )


QUERIES = [f"red car number {i}" for i in range(1000)]


def test_a_thousand_prompts_with_a_fifth_throttled_all_end_labelled_or_listed_as_failed(session):
    runtime = StubRuntime(throttle_share=0.2)
    updates: list[LabelProgress] = []

    run = label_queries(student_router(session, runtime), QUERIES, on_update=updates.append)

    assert run.complete and run.labelled + run.failed == 1000
    assert run.labelled >= 990  # six attempts each: a record fails only when throttled six times in a row
    assert {failure.index for failure in run.failures} | {i for i, d in enumerate(run.decisions) if d} == set(
        range(1000)
    )
    assert all("throttling" in failure.errors[0] for failure in run.failures)
    assert 150 < runtime.throttled < 350  # about a fifth of some 1,250 calls
    assert sum(runtime.answered.values()) == run.labelled  # every answer was recorded, none twice
    final = updates[-1]
    assert (final.done, final.total, final.failed) == (1000, 1000, run.failed)
    assert final.rate_per_s is not None and final.rate_per_s > 0
    assert run.input_tokens == 400 * run.labelled and run.output_tokens == 40 * run.labelled


def test_an_interrupted_run_resumes_without_calling_finished_records_again(session, tmp_path):
    checkpoint = tmp_path / "teacher.ckpt.jsonl"
    first = StubRuntime(throttle_share=0.2, seed=2)
    stopped = label_queries(
        student_router(session, first),
        QUERIES,
        checkpoint_path=checkpoint,
        should_stop=lambda: sum(first.answered.values()) >= 400,
    )
    assert stopped.stopped and not stopped.complete
    finished = {QUERIES[i] for i, decision in enumerate(stopped.decisions) if decision is not None}
    assert 400 <= len(finished) < 400 + 8 + 1  # the calls in flight at the stop were recorded too

    second = StubRuntime(throttle_share=0.2, seed=3)
    resumed = label_queries(student_router(session, second), QUERIES, checkpoint_path=checkpoint)

    assert resumed.resumed == len(finished) + stopped.failed
    assert not finished & set(second.calls)  # no finished record was sent again
    assert resumed.complete and resumed.labelled + resumed.failed == 1000
    assert resumed.input_tokens == 400 * resumed.labelled


def test_a_killed_process_resumes_from_what_reached_the_checkpoint(session, tmp_path):
    checkpoint = tmp_path / "teacher.ckpt.jsonl"
    crashing = StubRuntime(crash_after=300)
    with pytest.raises(KeyboardInterrupt):
        label_queries(student_router(session, crashing), QUERIES, checkpoint_path=checkpoint)
    kept = sum(1 for _ in checkpoint.read_text().splitlines()) - 1  # minus the header line
    assert 250 <= kept <= 300

    after = StubRuntime()
    run = label_queries(student_router(session, after), QUERIES, checkpoint_path=checkpoint)

    assert run.resumed == kept and sum(after.calls.values()) == 1000 - kept
    assert run.complete and run.labelled == 1000


def test_failures_keep_the_raw_reply_and_only_they_are_asked_again(session, tmp_path):
    checkpoint = tmp_path / "teacher.ckpt.jsonl"
    queries = QUERIES[:200]
    shy = StubRuntime(answer=lambda q: "I think it is visual." if q.endswith("7") else json.dumps(GOOD))

    first = label_queries(student_router(session, shy), queries, checkpoint_path=checkpoint)

    assert first.failed == 20 and first.labelled == 180
    assert all(f.raw_text == "I think it is visual." and f.query.endswith("7") for f in first.failures)
    assert first.failures[0].errors == ("no JSON object found in the reply",)

    fixed = StubRuntime()
    again = label_queries(student_router(session, fixed), queries, checkpoint_path=checkpoint, retry_failed=True)

    assert set(fixed.calls) == {f.query for f in first.failures}
    assert again.complete and again.labelled == 200 and again.failed == 0


def test_a_streak_of_failures_stops_the_run_with_one_sentence_instead_of_paying_for_more(session):
    class Denied(StubRuntime):
        def converse(self, **request):
            with self.lock:
                self.calls[request["messages"][0]["content"][0]["text"]] += 1
            raise client_error(
                "AccessDeniedException", 403, "You don't have access to the model with the specified model ID."
            )

    runtime = Denied()
    run = label_queries(student_router(session, runtime, concurrency=4), QUERIES)

    assert run.stopped and not run.complete
    assert sum(runtime.calls.values()) <= FAILURE_STREAK_LIMIT + 4
    assert run.aborted is not None and "Model access" in run.aborted and "\n" not in run.aborted
