"""Teacher-written queries: one call per bucket of the mix, replies parsed strictly, deduplicated, estimated and
confirmed first, checkpointed, and saved as a dataset whose manifest says how it was made."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter

import pytest

from core.datasets.files import write_dataset
from core.datasets.validation import validate_file
from core.estimates import ConfirmationRequired
from core.synth import DataMix
from core.synth.teacher_queries import (
    MAX_QUERY_CHARS,
    WRITER_SYSTEM,
    Bucket,
    QueryWriter,
    bucket_prompt,
    buckets,
    parse_queries,
    wanted_for,
)
from tests.aws.bedrock_fixtures import stubbed_clients

ONE_BUCKET = DataMix(total=100, seed=4, focus={"visual": 1.0}, difficulty={"easy": 1.0}, domain={"news": 1.0})
THE_BUCKET = Bucket("visual", "easy", "news", 100)


def reply(queries, input_tokens: int = 300, output_tokens: int = 900) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": json.dumps({"queries": queries})}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 2000},
    }


def request(bucket: Bucket, wanted: int, avoid=()) -> dict:
    return {
        "modelId": "us.amazon.nova-premier-v1:0",
        "system": [{"text": WRITER_SYSTEM}],
        "messages": [{"role": "user", "content": [{"text": bucket_prompt(bucket, wanted, (), avoid)}]}],
        "inferenceConfig": {"maxTokens": min(4000, 30 + wanted * 40), "temperature": 0.8},
        "requestMetadata": {"app": "video-search-router-studio", "mode": "queries", "prompt": "queries-v1"},
    }


@pytest.fixture
def runtime(session):
    clients, stubs = stubbed_clients(session, "bedrock-runtime")
    yield clients.get("bedrock-runtime"), stubs["bedrock-runtime"]
    stubs["bedrock-runtime"].assert_no_pending_responses()


def distinct(n: int, start: int = 0) -> list[str]:
    colours = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "pink", "grey"]
    things = ["car", "boat", "kite", "train", "bus", "bike", "tram", "truck", "plane", "horse", "tent", "lamp"]
    return [f"{colours[i % 10]} {things[(i // 10) % 12]} number {i}" for i in range(start, start + n)]


def test_buckets_split_the_mix_exactly_and_the_same_way_for_a_seed():
    mix = DataMix(total=500, seed=9)

    plan = buckets(mix)

    assert sum(b.count for b in plan) == 500 and plan == buckets(mix)
    assert {k: sum(b.count for b in plan if b.focus == k) for k in mix.focus} == mix.counts()["focus"]
    assert plan != buckets(DataMix(total=500, seed=10))


@pytest.mark.parametrize(
    ("text", "kept", "refused", "errors"),
    [
        ('{"queries": ["red car", "blue boat"]}', ["red car", "blue boat"], 0, 0),
        ('```json\n{"queries": ["red car"]}\n```', ["red car"], 0, 0),
        ('Here you go: {"queries": ["red car"]}', [], 0, 1),
        ('{"queries": ["red car"], "note": "ok"}', [], 0, 1),
        ('["red car"]', [], 0, 1),
        (json.dumps({"queries": ["red car", 7, "", "User: hi", "x" * (MAX_QUERY_CHARS + 1), "a\nb"]}), ["red car"], 5,
         0),
    ],
)  # fmt: skip
def test_replies_are_parsed_strictly(text, kept, refused, errors):
    queries, refusals, problems = parse_queries(text)

    assert (queries, len(refusals), len(problems)) == (kept, refused, errors)


def test_writing_is_estimated_and_confirmed_before_any_call(runtime):
    client, _ = runtime
    writer = QueryWriter(client, concurrency=1)

    estimate = writer.estimate(ONE_BUCKET)
    with pytest.raises(ConfirmationRequired, match="Writing 100 queries with Amazon Nova Premier"):
        writer.write(ONE_BUCKET)

    assert estimate.billable and "1 calls for 100 queries" in estimate.items[0].detail


def test_one_bucket_is_one_call_deduplicated_and_a_short_bucket_is_asked_for_the_rest(runtime, tmp_path):
    client, stub = runtime
    first = (
        distinct(60) + distinct(5) + ["Red  car number 0!", "User: show me cars"]
    )  # 5 repeats, 1 near copy, 1 refused
    stub.add_response("converse", reply(first), request(THE_BUCKET, wanted_for(100)))
    stub.add_response("converse", reply(distinct(50, start=60)), request(THE_BUCKET, wanted_for(40), distinct(60)))
    writer = QueryWriter(client, concurrency=1)

    written = writer.write(ONE_BUCKET, confirm=True, checkpoint_dir=tmp_path)

    assert len(written.queries) == 100 and written.short_by == 0
    assert [q.query for q in written.queries] == distinct(100)
    assert {(q.focus, q.difficulty, q.domain) for q in written.queries} == {("visual", "easy", "news")}
    assert written.duplicates_removed == 6 and [r[2] for r in written.rejected] == [
        "contains 'User:', which Nova training data must not hold"
    ]
    assert (written.calls, written.input_tokens, written.output_tokens) == (2, 600, 1800)
    assert written.cost_usd == pytest.approx((600 * 2.5 + 1800 * 12.5) / 1e6)


def test_the_result_is_a_valid_dataset_whose_manifest_says_how_it_was_made(runtime, tmp_path):
    client, stub = runtime
    stub.add_response("converse", reply(distinct(125)), request(THE_BUCKET, wanted_for(100)))

    written = QueryWriter(client, concurrency=1, teacher_name="Amazon Nova Premier").write(ONE_BUCKET, confirm=True)
    path = tmp_path / "teacher-queries.jsonl"
    manifest = write_dataset(path, written.records(), written.tags(), written.manifest_fields())

    assert validate_file(path).ok and manifest.kind == "prompt-only" and manifest.record_count == 100
    assert (manifest.generator_version, manifest.teacher_id, manifest.prompt_version) == (
        "teacher-queries-1",
        "Amazon Nova Premier",
        "queries-v1",
    )
    assert manifest.notes["made_by"] == "teacher-written queries" and manifest.notes["requested"] == 100
    assert manifest.seed == 4 and manifest.mix["total"] == 100


def test_queries_already_in_the_set_are_not_written_again(runtime):
    client, stub = runtime
    stub.add_response("converse", reply(distinct(125)), request(THE_BUCKET, wanted_for(100)))

    written = QueryWriter(client, concurrency=1).write(ONE_BUCKET, existing=distinct(30), confirm=True)

    assert len(written.queries) == 95 and written.duplicates_removed == 30 and written.short_by == 5
    assert not {q.query for q in written.queries} & set(distinct(30))


def test_a_bucket_whose_reply_is_not_the_json_is_listed_with_its_raw_reply(runtime):
    client, stub = runtime
    prose = {**reply([]), "output": {"message": {"role": "assistant", "content": [{"text": "Sure! 1. red car"}]}}}
    stub.add_response("converse", prose, request(THE_BUCKET, wanted_for(100)))
    stub.add_response("converse", prose, request(THE_BUCKET, wanted_for(100)))

    written = QueryWriter(client, concurrency=1).write(ONE_BUCKET, confirm=True)

    assert written.queries == [] and len(written.failures) == 2
    assert written.failures[0].raw_text == "Sure! 1. red car" and "not the JSON object" in written.failures[0].errors[0]


class WordClient:
    """Answers each bucket with distinct queries made from the words of its prompt; counts calls (thread-safe)."""

    def __init__(self, crash_after: int | None = None):
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.crash_after = crash_after

    def converse(self, **request):
        prompt = request["messages"][0]["content"][0]["text"]
        wanted = int(re.match(r"Write (\d+)", prompt).group(1))
        topic = re.search(r"in the (\w+) domain", prompt).group(1)
        with self.lock:
            if self.crash_after is not None and sum(self.calls.values()) >= self.crash_after:
                raise KeyboardInterrupt
            self.calls[prompt] += 1
        bucket = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        return reply([f"{topic} clip {bucket} take {i}" for i in range(wanted)], 100, 100)


def test_a_whole_mix_is_written_bucket_by_bucket_in_parallel_with_exact_counts():
    mix = DataMix(total=300, seed=2)
    client = WordClient()

    written = QueryWriter(client, concurrency=8).write(mix, confirm=True)

    assert len(written.queries) == 300 and written.calls == len(buckets(mix))
    assert Counter(q.focus for q in written.queries) == Counter(mix.counts()["focus"])
    assert Counter(q.domain for q in written.queries) == Counter(mix.counts()["domain"])


def test_a_crashed_run_resumes_without_asking_finished_buckets_again(tmp_path):
    mix = DataMix(total=300, seed=2)
    crashing = WordClient(crash_after=10)
    with pytest.raises(KeyboardInterrupt):
        QueryWriter(crashing, concurrency=1).write(mix, confirm=True, checkpoint_dir=tmp_path)

    again = WordClient()
    written = QueryWriter(again, concurrency=4).write(mix, confirm=True, checkpoint_dir=tmp_path)

    assert written.resumed_calls == 10 and sum(again.calls.values()) == len(buckets(mix)) - 10
    assert not set(crashing.calls) & set(again.calls) and len(written.queries) == 300
