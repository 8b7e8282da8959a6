"""Dataset files: strict records, the tags sidecar and manifest, byte-identical writes, import and splits."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime

import pytest

from core.datasets.files import (
    DatasetTags,
    LoadedDataset,
    dataset_paths,
    make_record,
    read_dataset,
    read_manifest,
    record_query,
    record_response,
    router_json,
    split_dataset,
    write_dataset,
)
from core.datasets.validation import SCHEMA_VERSION
from core.parsing import parse_router_output
from core.prompts import STUDENT_SYSTEM_TEXT
from core.schema import RoutingDecision

LABELS = {
    "visual": RoutingDecision(visual=0.9, audio=0.0, transcription=0.0, metadata=0.1, reasoning="Colour and motion."),
    "audio": RoutingDecision(visual=0.3, audio=0.6, transcription=0.0, metadata=0.1, reasoning="A loud sound."),
    "transcription": RoutingDecision(
        visual=0.2, audio=0.1, transcription=0.6, metadata=0.1, reasoning="Words someone says."
    ),
    "metadata": RoutingDecision(
        visual=0.1, audio=0.0, transcription=0.1, metadata=0.8, reasoning="A name and a year: facts about the video."
    ),
}
TEMPLATES = {
    "visual": "red car driving through {place}",
    "audio": "dog barking loudly in {place}",
    "transcription": "reporter saying goodbye from {place}",
    "metadata": "2019 documentary about {place} by Ana Díaz",
}
PLACES = [
    "Lisbon",
    "Oslo",
    "Cairo",
    "Lima",
    "Quito",
    "Hanoi",
    "Accra",
    "Perth",
    "Porto",
    "Bergen",
    "Dakar",
    "Kyoto",
    "Tunis",
    "Sucre",
    "Riga",
    "Turin",
    "Leeds",
    "Cork",
    "Basel",
    "Ghent",
    "Split",
    "Graz",
    "Lyon",
    "Bonn",
    "Pune",
    "Davao",
    "Cusco",
    "Nara",
    "Fez",
    "Bari",
]
DIFFICULTIES = ("easy", "medium", "hard")
PINNED = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def rows() -> list[tuple[str, RoutingDecision, DatasetTags]]:
    """120 distinct labelled queries, 30 per focus, in an interleaved order."""
    return [
        (
            TEMPLATES[focus].format(place=place),
            LABELS[focus],
            DatasetTags(focus=focus, difficulty=DIFFICULTIES[i % 3], domain="travel"),
        )
        for i, place in enumerate(PLACES)
        for focus in TEMPLATES
    ]


@pytest.fixture
def records(rows) -> list[dict]:
    return [make_record(query, decision) for query, decision, _ in rows]


@pytest.fixture
def tags(rows) -> list[DatasetTags]:
    return [tag for _, _, tag in rows]


def assert_strict_record(record: dict) -> None:
    """Only the keys bedrock-conversation-2024 allows, one text block each, a router-JSON response."""
    assert list(record) == ["schemaVersion", "system", "messages"]
    assert record["schemaVersion"] == SCHEMA_VERSION
    assert record["system"] == [{"text": STUDENT_SYSTEM_TEXT}]
    messages = record["messages"]
    assert [m["role"] for m in messages] in (["user"], ["user", "assistant"])
    for message in messages:
        assert list(message) == ["role", "content"]
        assert len(message["content"]) == 1
        assert list(message["content"][0]) == ["text"]
        assert message["content"][0]["text"].strip()
    if len(messages) == 2:
        response = messages[1]["content"][0]["text"]
        assert json.loads(response).keys() == {"visual", "audio", "transcription", "metadata", "reasoning"}
        assert parse_router_output(response).valid


def test_make_record_gives_exactly_the_bedrock_shape():
    decision = LABELS["visual"]
    assert make_record("  red car driving ", decision) == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": STUDENT_SYSTEM_TEXT}],
        "messages": [
            {"role": "user", "content": [{"text": "red car driving"}]},
            {"role": "assistant", "content": [{"text": router_json(decision)}]},
        ],
    }
    assert make_record("red car driving", None)["messages"] == [
        {"role": "user", "content": [{"text": "red car driving"}]}
    ]


def test_the_response_is_compact_router_json_that_parses_back_to_the_label():
    text = router_json(LABELS["transcription"])
    assert text == ('{"visual":0.2,"audio":0.1,"transcription":0.6,"metadata":0.1,"reasoning":"Words someone says."}')
    assert parse_router_output(text).decision == LABELS["transcription"]


def test_make_record_refuses_an_empty_query():
    with pytest.raises(ValueError, match="non-empty query"):
        make_record("   ", LABELS["audio"])


def test_record_accessors_read_the_query_and_response(records):
    assert record_query(records[0]) == "red car driving through Lisbon"
    assert record_response(records[0]) == router_json(LABELS["visual"])
    assert record_response(make_record("q", None)) is None
    assert record_query({"messages": "oops"}) is None


def test_write_dataset_writes_three_files_and_a_manifest_that_hashes_the_data(tmp_path, records, tags):
    path = tmp_path / "mix.jsonl"
    manifest = write_dataset(
        path,
        records,
        tags,
        {
            "seed": 7,
            "mix": {"visual": 0.25, "audio": 0.25, "transcription": 0.25, "metadata": 0.25},
            "generator_version": "synth-1",
            "teacher_id": "teacher",
            "prompt_version": "teacher-v1",
            "label_failures": 2,
            "created_at": PINNED,
        },
    )
    paths = dataset_paths(path)
    assert [p.name for p in paths] == ["mix.jsonl", "mix.tags.jsonl", "mix.manifest.json"]
    assert manifest.sha256 == hashlib.sha256(paths.data.read_bytes()).hexdigest()
    assert manifest.tags_sha256 == hashlib.sha256(paths.tags.read_bytes()).hexdigest()
    assert (manifest.name, manifest.kind, manifest.record_count) == ("mix", "labelled", 120)
    assert (manifest.seed, manifest.teacher_id, manifest.label_failures) == (7, "teacher", 2)
    assert read_manifest(path) == manifest
    assert json.loads(paths.manifest.read_text())["created_at"] == "2026-04-01T12:00:00Z"


def test_every_written_record_is_strict_and_the_file_validates(tmp_path, records, tags):
    path = tmp_path / "strict.jsonl"
    write_dataset(path, records, tags)
    lines = path.read_bytes().decode("utf-8").splitlines()
    assert len(lines) == 120
    for line in lines:
        assert_strict_record(json.loads(line))
    loaded = read_dataset(path)
    assert loaded.ok, loaded.report.lines()
    assert loaded.report.verdict == "Valid: 120 labelled records ready for Bedrock distillation."


def test_the_same_input_gives_byte_identical_files(tmp_path, records, tags):
    for folder in ("a", "b"):
        write_dataset(tmp_path / folder / "d.jsonl", records, tags, {"seed": 1, "created_at": PINNED})
    for name in ("d.jsonl", "d.tags.jsonl", "d.manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_an_unpinned_creation_time_stays_out_of_the_data_and_its_hash(tmp_path, records, tags):
    first = write_dataset(tmp_path / "a" / "d.jsonl", records, tags, {"created_at": PINNED})
    second = write_dataset(tmp_path / "b" / "d.jsonl", records, tags)
    assert first.created_at != second.created_at
    assert first.sha256 == second.sha256
    assert (tmp_path / "a" / "d.jsonl").read_bytes() == (tmp_path / "b" / "d.jsonl").read_bytes()


def test_write_then_read_round_trips_records_tags_labels_and_manifest(tmp_path, rows, records, tags):
    path = tmp_path / "round.jsonl"
    manifest = write_dataset(path, records, tags, {"seed": 3})
    loaded = read_dataset(path)
    assert loaded.records == records
    assert loaded.tags == tags
    assert loaded.queries == [query for query, _, _ in rows]
    assert loaded.decisions == [decision for _, decision, _ in rows]
    assert loaded.lines == list(range(1, 121))
    assert loaded.manifest == manifest
    assert loaded.report.warnings == []


def test_a_prompt_only_dataset_round_trips_with_no_labels(tmp_path, rows, tags):
    records = [make_record(query, None) for query, _, _ in rows]
    manifest = write_dataset(tmp_path / "prompts.jsonl", records, tags)
    loaded = read_dataset(tmp_path / "prompts.jsonl")
    assert manifest.kind == "prompt-only"
    assert loaded.ok and loaded.decisions == [None] * 120


def test_importing_a_users_file_without_sidecar_gives_unknown_tags(tmp_path, records):
    path = tmp_path / "theirs.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    loaded = read_dataset(path)
    assert loaded.ok
    assert loaded.manifest is None
    assert set(loaded.tags) == {DatasetTags(focus="unknown", difficulty="unknown", domain="unknown")}


def test_importing_an_uploaded_stream_keeps_readable_records_and_reports_the_rest(records):
    lines = [json.dumps(r) for r in records]
    lines[4] = "{not json"
    loaded = read_dataset(io.BytesIO(("\n".join(lines) + "\n").encode()))
    assert isinstance(loaded, LoadedDataset)
    assert not loaded.ok
    assert loaded.report.lines() == [
        "line 5: not valid JSON: Expecting property name enclosed in double quotes at column 2"
    ]
    assert len(loaded.records) == 119 and 5 not in loaded.lines


def test_a_sidecar_that_does_not_match_is_ignored_with_a_warning(tmp_path, records, tags):
    path = tmp_path / "d.jsonl"
    write_dataset(path, records, tags)
    dataset_paths(path).manifest.unlink()  # with its manifest beside it, a changed sidecar is a torn set
    tags_path = dataset_paths(path).tags
    tags_path.write_bytes(b"".join(tags_path.read_bytes().splitlines(keepends=True)[:-1]))
    loaded = read_dataset(path)
    assert loaded.report.warning_lines() == ["file: tags file d.tags.jsonl has 119 rows for 120 records; tags ignored"]
    assert loaded.tags == [DatasetTags()] * 120


def test_a_data_file_edited_after_writing_is_flagged_against_its_manifest(tmp_path, records, tags):
    path = tmp_path / "d.jsonl"
    write_dataset(path, records, tags)
    path.write_bytes(path.read_bytes().replace(b"Lisbon", b"Madrid"))
    loaded = read_dataset(path)
    assert not loaded.ok
    assert loaded.report.lines() == [
        "file: d.jsonl does not match d.manifest.json (its sha256 differs): the file was edited or only partly "
        "replaced; write the set again, or move the manifest and tags aside to use the file on its own"
    ]


def test_write_dataset_refuses_mismatched_tags_mixed_records_and_other_names(tmp_path, records, tags):
    with pytest.raises(ValueError, match="119 tags for 120 records"):
        write_dataset(tmp_path / "d.jsonl", records, tags[:-1])
    with pytest.raises(ValueError, match="all labelled or all prompt-only"):
        write_dataset(tmp_path / "d.jsonl", [*records, make_record("no label", None)], [*tags, DatasetTags()])
    with pytest.raises(ValueError, match="must end in .jsonl"):
        write_dataset(tmp_path / "d.json", records, tags)
    assert list(tmp_path.iterdir()) == []


def test_split_is_stratified_by_focus_and_keeps_file_order(records, tags):
    train, train_tags, heldout, heldout_tags = split_dataset(records, tags, heldout_ratio=0.2, seed=11)
    assert (len(train), len(heldout)) == (96, 24)
    assert {focus: sum(t.focus == focus for t in heldout_tags) for focus in TEMPLATES} == dict.fromkeys(TEMPLATES, 6)
    assert sorted(map(record_query, train + heldout)) == sorted(map(record_query, records))
    order = {record_query(r): i for i, r in enumerate(records)}
    for part, part_tags in ((train, train_tags), (heldout, heldout_tags)):
        positions = [order[record_query(r)] for r in part]
        assert positions == sorted(positions)
        assert part_tags == [tags[i] for i in positions]


def test_split_is_deterministic_for_a_seed_and_changes_with_it(records, tags):
    def heldout_queries(seed: int) -> list[str | None]:
        return [record_query(r) for r in split_dataset(records, tags, 0.25, seed)[2]]

    assert heldout_queries(5) == heldout_queries(5)
    assert heldout_queries(5) != heldout_queries(6)


def test_split_shares_an_uneven_heldout_count_by_largest_remainder(records, tags):
    uneven_tags = [DatasetTags(focus="visual" if i < 95 else "audio") for i in range(120)]
    _, _, heldout, heldout_tags = split_dataset(records, uneven_tags, heldout_ratio=0.1, seed=0)
    # 9.5 and 2.5 held out exactly: the one unit left over goes to the bigger group.
    assert len(heldout) == 12
    assert [t.focus for t in heldout_tags].count("visual") == 10


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1])
def test_split_refuses_a_ratio_outside_zero_and_one(records, tags, ratio):
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_dataset(records, tags, ratio, seed=1)
