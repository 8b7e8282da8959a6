"""The dataset library: save, list, rename, split, download and delete, with names that stay inside the data dir."""

import json

import pytest

from core.datasets.files import DatasetTags, make_record, read_dataset
from core.datasets.library import DatasetImportError, DatasetLibrary, DatasetLibraryError
from core.datasets.validation import validate_file
from core.schema import RoutingDecision
from core.store import Store

DECISION = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="seen")
FOCUSES = ("visual", "audio", "transcription", "metadata")


def rows(n: int, labelled: bool = True):
    records = [make_record(f"red car number {i}", DECISION if labelled else None) for i in range(n)]
    tags = [DatasetTags(focus=FOCUSES[i % 4], difficulty="easy", domain="sports") for i in range(n)]
    return records, tags


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "studio"


@pytest.fixture
def library(data_dir):
    return DatasetLibrary(Store(data_dir / "studio.db"), data_dir)


def test_save_list_download_round_trip(library, data_dir):
    records, tags = rows(120)
    info = library.save("router train v1", records, tags, {"seed": 7, "teacher_id": "teacher"})

    assert info.name == "router train v1" and info.kind == "labelled" and info.records == 120
    assert info.path.is_file() and data_dir.resolve() in info.path.parents
    assert info.manifest["seed"] == 7 and info.manifest["sha256"] == info.sha256
    assert library.list() == [info]
    assert library.get(info.id) == info
    downloaded = library.download_bytes(info.id)
    assert [json.loads(line) for line in downloaded.splitlines()] == records
    report = validate_file(info.path)
    assert report.ok and report.sha256 == info.sha256
    assert read_dataset(info.path).tags == tags


def test_list_is_newest_first_and_survives_a_new_library_object(library, data_dir):
    first = library.save("first", *rows(5))
    second = library.save("second", *rows(5, labelled=False))
    assert [d.name for d in library.list()] == ["second", "first"]
    reopened = DatasetLibrary(Store(data_dir / "studio.db"), data_dir)
    assert [d.id for d in reopened.list()] == [second.id, first.id]
    assert reopened.get(second.id).kind == "prompt-only"


def test_duplicate_names_are_refused_ignoring_case(library):
    library.save("Router Train", *rows(5))
    with pytest.raises(DatasetLibraryError, match="already exists"):
        library.save("  router train ", *rows(5))
    assert len(library.list()) == 1


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", "a/../../b", "C:\\Windows\\x"])
def test_a_hostile_name_stays_inside_the_data_dir(library, data_dir, name):
    info = library.save(name, *rows(3))
    datasets_dir = (data_dir / "datasets").resolve()
    assert info.path.parent.parent == datasets_dir
    assert info.name == name  # shown as given, stored under a cleaned folder name


def test_names_that_clean_alike_get_separate_folders(library):
    a = library.save("my data", *rows(3))
    b = library.save("my/data", *rows(4))
    assert a.folder != b.folder
    assert library.get(a.id).records == 3 and library.get(b.id).records == 4


def test_empty_name_and_empty_dataset_are_refused(library):
    with pytest.raises(DatasetLibraryError, match="name is empty"):
        library.save("   ", *rows(3))
    with pytest.raises(DatasetLibraryError, match="no records"):
        library.save("nothing", [], [])


def test_a_half_labelled_dataset_is_refused_and_leaves_nothing_behind(library, data_dir):
    records = rows(2)[0] + rows(2, labelled=False)[0]
    with pytest.raises(DatasetLibraryError, match="all labelled or all prompt-only"):
        library.save("mixed", records, None)
    assert library.list() == []
    assert list((data_dir / "datasets").iterdir()) == []


def test_rename_moves_the_files_and_updates_the_store(library):
    info = library.save("draft", *rows(5))
    old_folder = info.folder
    before = library.download_bytes(info.id)
    renamed = library.rename(info.id, "router final")

    assert renamed.name == "router final" and renamed.id == info.id
    assert not old_folder.exists() and renamed.path.is_file()
    assert renamed.manifest["name"] == "router final"
    assert read_dataset(renamed.path, min_records=1).manifest.name == "router final"
    assert library.download_bytes(info.id) == before
    assert [d.name for d in library.list()] == ["router final"]


def test_rename_to_a_taken_name_is_refused_and_changes_nothing(library):
    a = library.save("alpha", *rows(3))
    library.save("beta", *rows(3))
    with pytest.raises(DatasetLibraryError, match="already exists"):
        library.rename(a.id, "BETA")
    assert library.get(a.id).name == "alpha" and library.get(a.id).path.is_file()


def test_delete_removes_files_and_row(library):
    keep = library.save("keep", *rows(3))
    gone = library.save("gone", *rows(3))
    library.delete(gone.id)
    assert not gone.folder.exists()
    assert [d.id for d in library.list()] == [keep.id]
    with pytest.raises(DatasetLibraryError, match="no dataset"):
        library.get(gone.id)


def test_import_of_an_invalid_file_is_refused_with_line_numbers(library):
    good = [json.dumps(r) for r in rows(120)[0]]
    good[4] = good[4].replace('"schemaVersion"', '"schemaversion"')
    good[9] = "{not json"
    with pytest.raises(DatasetImportError) as raised:
        library.import_file("broken", "\n".join(good).encode())
    lines = raised.value.report.lines()
    assert any(line.startswith("line 5:") for line in lines)
    assert any(line.startswith("line 10:") for line in lines)
    assert "not imported" in str(raised.value)
    assert library.list() == []


def test_import_of_a_valid_file_keeps_its_tags_and_manifest(library, tmp_path):
    source = library.save("source", *rows(120), {"seed": 11, "generator_version": "synth-1"})
    imported = library.import_file("copy", source.path)
    assert imported.records == 120 and imported.kind == "labelled"
    assert imported.manifest["seed"] == 11 and imported.manifest["notes"]["imported_from"] == "data.jsonl"
    assert read_dataset(imported.path).tags == read_dataset(source.path).tags


def test_import_from_upload_bytes(library):
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in rows(100, labelled=False)[0])
    info = library.import_file("uploaded", payload)
    assert info.records == 100 and info.kind == "prompt-only"
    stored = [json.loads(line) for line in library.download_bytes(info.id).splitlines()]
    assert stored == [json.loads(line) for line in payload.splitlines()]


def test_split_saves_two_datasets_that_partition_the_records(library):
    parent = library.save("router", *rows(200), {"seed": 3, "teacher_id": "teacher"})
    train, heldout = library.split(parent.id, 0.2, seed=42)

    assert (train.name, heldout.name) == ("router-train", "router-heldout")
    assert (train.records, heldout.records) == (160, 40)
    assert train.role == "train" and heldout.role == "heldout"
    assert heldout.manifest["split"]["parent"] == "router" and heldout.manifest["teacher_id"] == "teacher"
    queries = {
        json.loads(line)["messages"][0]["content"][0]["text"]
        for part in (train, heldout)
        for line in library.download_bytes(part.id).splitlines()
    }
    assert len(queries) == 200
    # Stratified by focus: each focus keeps its share in the held-out part.
    assert {t.focus for t in read_dataset(heldout.path, min_records=1).tags} == set(FOCUSES)
    with pytest.raises(DatasetLibraryError, match="already exists"):
        library.split(parent.id, 0.2, seed=1)


def test_split_refuses_a_bad_ratio_or_too_few_records(library):
    info = library.save("tiny", *rows(1))
    with pytest.raises(DatasetLibraryError, match="between 0 and 1"):
        library.split(info.id, 1.5, seed=1)
    with pytest.raises(DatasetLibraryError, match="too few"):
        library.split(info.id, 0.2, seed=1)
    assert [d.name for d in library.list()] == ["tiny"]


def test_set_s3_uri_checks_the_uri(library):
    info = library.save("router", *rows(3))
    assert library.set_s3_uri(info.id, "s3://router-bucket/data/data.jsonl").s3_uri == (
        "s3://router-bucket/data/data.jsonl"
    )
    with pytest.raises(DatasetLibraryError, match="must start with s3://"):
        library.set_s3_uri(info.id, "http://router-bucket/x")
    assert library.set_s3_uri(info.id, None).s3_uri is None


def test_find_by_id_or_name(library):
    info = library.save("Router Train", *rows(3))
    assert library.find(info.id) == info
    assert library.find(" router train ") == info
    assert library.find("missing") is None
