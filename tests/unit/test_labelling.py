"""Labelling: failures are kept, progress reaches the end, and a checkpoint resumes only its own run."""

import json
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from core.labelling import build_dataset_rows, checkpoint_path_for, label_queries, router_fingerprint
from core.prompts import teacher_prompt
from core.routers.base import Router, RouterReply

GOOD_REPLY = '{"visual": 0.7, "audio": 0.1, "transcription": 0.1, "metadata": 0.1, "reasoning": "seen"}'
BROKEN_REPLY = "Sure! The query is mostly visual, I think."


class ScriptedRouter(Router):
    """Answers router JSON, except prose (not JSON) for queries containing 'broken'; counts its calls."""

    router_id = "scripted"

    def __init__(self, prompt=None):
        super().__init__()
        self.prompt = prompt
        self.calls: list[list[str]] = []

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        self.calls.append(list(queries))
        return [RouterReply(text=BROKEN_REPLY if "broken" in q else GOOD_REPLY) for q in queries]

    @property
    def routed(self) -> int:
        return sum(len(batch) for batch in self.calls)


def queries(n: int, broken_every: int = 0) -> list[str]:
    return [f"broken query {i}" if broken_every and i % broken_every == 0 else f"red car number {i}" for i in range(n)]


def test_failures_are_kept_with_their_raw_reply_and_the_run_goes_on():
    items = queries(20, broken_every=5)
    run = label_queries(ScriptedRouter(), items, batch_size=4)

    assert run.total == 20 and run.failed == 4 and run.labelled == 16 and run.complete
    assert [f.index for f in run.failures] == [0, 5, 10, 15]
    failure = run.failures[1]
    assert failure.query == "broken query 5"
    assert failure.raw_text == BROKEN_REPLY
    assert failure.errors  # the parser's reason, e.g. no JSON object
    assert run.decisions[5] is None
    assert run.decisions[6].visual == pytest.approx(0.7)
    assert run.input_tokens > 0 and run.output_tokens > 0


def test_empty_query_is_a_failure_not_a_crash():
    run = label_queries(ScriptedRouter(), ["red car", "   "], batch_size=8)
    assert run.labelled == 1
    assert [f.index for f in run.failures] == [1]
    assert "empty query" in run.failures[0].errors[0]


def test_progress_reaches_the_total():
    seen: list[tuple[int, int]] = []
    label_queries(ScriptedRouter(), queries(10), batch_size=3, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 10)
    assert seen[-1] == (10, 10)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_resume_from_checkpoint_skips_finished_batches(tmp_path):
    checkpoint = tmp_path / "labels.ckpt.jsonl"
    items = queries(12, broken_every=4)
    first = ScriptedRouter()
    batches_done = 0

    def stop_after_two_batches() -> bool:
        return batches_done >= 2

    def count(done, total):
        nonlocal batches_done
        batches_done = done // 3

    stopped = label_queries(
        first, items, checkpoint_path=checkpoint, batch_size=3, on_progress=count, should_stop=stop_after_two_batches
    )
    assert stopped.stopped and not stopped.complete
    assert len(first.calls) == 2 and stopped.pending == 6

    second = ScriptedRouter()
    resumed = label_queries(second, items, checkpoint_path=checkpoint, batch_size=3)
    assert resumed.resumed == 6
    assert second.routed == 6  # only the unfinished half was sent
    assert resumed.complete and resumed.labelled == 9 and resumed.failed == 3
    # Failures found before the stop are still reported after the resume.
    assert [f.index for f in resumed.failures] == [0, 4, 8]

    third = ScriptedRouter()
    again = label_queries(third, items, checkpoint_path=checkpoint, batch_size=3)
    assert third.calls == [] and again.complete
    assert again.decisions == resumed.decisions
    assert again.input_tokens == resumed.input_tokens


def test_a_torn_last_line_is_ignored_and_relabelled(tmp_path):
    checkpoint = tmp_path / "labels.ckpt.jsonl"
    items = queries(6)
    label_queries(ScriptedRouter(), items, checkpoint_path=checkpoint, batch_size=3)
    lines = checkpoint.read_bytes().splitlines(keepends=True)
    # A crash in the middle of writing the last record: half a line, no newline.
    checkpoint.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])

    router = ScriptedRouter()
    run = label_queries(router, items, checkpoint_path=checkpoint, batch_size=3)
    assert router.calls == [[items[5]]]
    assert run.complete and run.labelled == 6
    # The file is whole again: every line parses.
    assert all(json.loads(line) for line in checkpoint.read_text().splitlines())


def test_a_checkpoint_for_another_query_list_is_not_reused(tmp_path):
    checkpoint = tmp_path / "labels.ckpt.jsonl"
    label_queries(ScriptedRouter(), queries(6), checkpoint_path=checkpoint, batch_size=3)

    other = [q + " at night" for q in queries(6)]
    router = ScriptedRouter()
    run = label_queries(router, other, checkpoint_path=checkpoint, batch_size=3)
    assert run.resumed == 0 and router.routed == 6


def test_a_checkpoint_from_another_prompt_version_is_not_reused(tmp_path):
    checkpoint = tmp_path / "labels.ckpt.jsonl"
    items = queries(6)
    label_queries(ScriptedRouter(teacher_prompt()), items, checkpoint_path=checkpoint, batch_size=3)

    edited = ScriptedRouter(teacher_prompt('Weigh the channels for "{query}"'))
    assert router_fingerprint(edited) != router_fingerprint(ScriptedRouter(teacher_prompt()))
    run = label_queries(edited, items, checkpoint_path=checkpoint, batch_size=3)
    assert run.resumed == 0 and edited.routed == 6
    assert run.prompt_version.startswith("teacher-custom-")


def test_retry_failed_sends_only_the_failures_again(tmp_path):
    checkpoint = tmp_path / "labels.ckpt.jsonl"
    items = queries(8, broken_every=4)
    label_queries(ScriptedRouter(), items, checkpoint_path=checkpoint, batch_size=4)

    router = ScriptedRouter()
    run = label_queries(router, items, checkpoint_path=checkpoint, batch_size=4, retry_failed=True)
    assert router.calls == [[items[0], items[4]]]
    assert run.failed == 2 and run.labelled == 6


def test_stop_before_the_first_batch_labels_nothing():
    router = ScriptedRouter()
    run = label_queries(router, queries(5), batch_size=2, should_stop=lambda: True)
    assert run.stopped and router.calls == [] and run.pending == 5


def test_manifest_fields_name_the_teacher_prompt_and_failures():
    run = label_queries(ScriptedRouter(teacher_prompt()), queries(5, broken_every=2), batch_size=5)
    assert run.manifest_fields() == {"teacher_id": "scripted", "prompt_version": "teacher-v1", "label_failures": 3}


def test_each_run_gets_its_own_checkpoint_file_inside_the_data_dir(tmp_path):
    router = ScriptedRouter()
    first = checkpoint_path_for(tmp_path, router, queries(4))
    assert first == checkpoint_path_for(tmp_path, router, queries(4))
    assert first != checkpoint_path_for(tmp_path, router, queries(5))
    assert tmp_path.resolve() in first.parents


def test_dataset_rows_leave_failures_out_and_keep_tags_aligned():
    items = [
        SimpleNamespace(query=q, focus=f"focus-{i}", difficulty="easy", domain="news")
        for i, q in enumerate(queries(6, broken_every=3))
    ]
    run = label_queries(ScriptedRouter(), [item.query for item in items], batch_size=6)

    records, tags = build_dataset_rows(items, run)
    assert len(records) == 4 == run.labelled
    assert [r["messages"][0]["content"][0]["text"] for r in records] == [items[i].query for i in (1, 2, 4, 5)]
    assert [t.focus for t in tags] == ["focus-1", "focus-2", "focus-4", "focus-5"]
    assert json.loads(records[0]["messages"][1]["content"][0]["text"])["visual"] == pytest.approx(0.7)

    prompts, prompt_tags = build_dataset_rows(items, None)
    assert len(prompts) == 6 == len(prompt_tags)
    assert all(len(r["messages"]) == 1 for r in prompts)


def test_generated_queries_labelled_by_the_reference_teacher_make_a_valid_dataset(tmp_path):
    from core.datasets.files import write_dataset
    from core.datasets.validation import validate_file
    from core.routers.reference import ReferenceTeacher
    from core.synth import DataMix, generate

    items = generate(DataMix(total=200, seed=5))
    progress: list[int] = []
    run = label_queries(
        ReferenceTeacher(),
        [item.query for item in items],
        batch_size=64,
        checkpoint_path=tmp_path / "run.ckpt.jsonl",
        on_progress=lambda d, t: progress.append(d),
    )
    assert run.complete and run.total == 200 and progress[-1] == 200

    records, tags = build_dataset_rows(items, run)
    path = tmp_path / "router-train.jsonl"
    manifest = write_dataset(path, records, tags, {"seed": 5, **run.manifest_fields()})
    report = validate_file(path)
    assert report.ok, report.lines()
    assert report.records == run.labelled == manifest.record_count
    assert report.labelled == run.labelled


def test_a_remote_teacher_is_called_one_query_per_worker_and_an_on_box_one_in_large_batches():
    import threading
    import time

    from core.labelling import LOCAL_BATCH_SIZE
    from core.routers.uniform import UniformRouter

    class _Batches(UniformRouter):
        sizes: list[int] = []

        def route_many(self, queries):
            self.sizes.append(len(queries))
            return super().route_many(queries)

    class _RemoteBatches(_Batches):
        remote = True
        sizes: list[int] = []
        lock = threading.Lock()
        active = 0
        most_active = 0

        def route_many(self, queries):
            with self.lock:
                type(self).active += 1
                type(self).most_active = max(self.most_active, self.active)
            time.sleep(0.002)  # long enough for the pool's workers to overlap
            with self.lock:
                type(self).active -= 1
            return super().route_many(queries)

    queries = [f"query {i}" for i in range(300)]
    label_queries(_Batches(), queries)
    run = label_queries(_RemoteBatches(), queries, concurrency=4)
    assert max(_Batches.sizes) == LOCAL_BATCH_SIZE
    # One query per call, so a slow answer holds up one worker only; never more calls in flight than workers.
    assert set(_RemoteBatches.sizes) == {1} and len(_RemoteBatches.sizes) == 300
    assert 1 < _RemoteBatches.most_active <= 4
    assert run.complete and run.labelled == 300
