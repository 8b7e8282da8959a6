"""Importing a team's own catalog: line-numbered problems, limits, judgements, and the catalog library."""

import io
import json

import pytest

from core.search.importing import check_catalog, check_judgements
from core.search.library import SAMPLE_NAME, CatalogImportError, CatalogLibrary, CatalogLibraryError
from core.search.sample import CatalogSpec, generate_catalog
from core.settings import load_settings
from core.store import Store


def segment(number, video="v1", **changes):
    record = {
        "id": f"{video}-s{number}",
        "video_id": video,
        "start_s": 10.0 * (number - 1),
        "end_s": 10.0 * number,
        "caption": f"a chef chopping onions, shot {number}",
        "audio_description": "sizzling pan",
        "transcript": "the chef: let it rest",
        "title": "Salt and Smoke",
        "people": ["Nonna Rosa"],
        "genre": "cooking show",
        "upload_date": "2021-03-14",
        "channel": "Tasty Corner",
    }
    return record | changes


def jsonl(*records) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode("utf-8")


def test_a_clean_catalog_imports_with_every_field():
    checked = check_catalog(io.BytesIO(jsonl(segment(1), segment(2), segment(1, video="v2"))))
    assert checked.report.ok and checked.report.records == 3
    assert checked.catalog is not None and len(checked.catalog) == 3
    first = checked.catalog.segments[0]
    assert first.people == ("Nonna Rosa",) and first.time_range() == "0:00.0-0:10.0"


def test_broken_lines_are_reported_with_their_numbers():
    data = jsonl(
        segment(1),
        "{not json",
        segment(2, end_s=5.0),
        segment(3, upload_date="14/03/2021"),
        segment(4, title="Another title"),
        segment(1),
        "",
        segment(5, colour="red"),
        [1, 2],
        {key: value for key, value in segment(6).items() if key != "caption"},
        segment(7, people="Nonna Rosa"),
        segment(8, caption="", audio_description="", transcript=""),
    )
    checked = check_catalog(io.BytesIO(data))
    assert not checked.report.ok and checked.catalog is None
    lines = checked.report.lines()
    expected = {
        2: "not valid JSON",
        3: "end_s (5) must be after start_s (10)",
        4: "is not a date written YYYY-MM-DD",
        5: 'differs from "Salt and Smoke" on line 1',
        6: 'duplicate segment id "v1-s1": first on line 1',
        7: "blank line",
        8: 'unexpected key "colour"',
        9: "expected a JSON object",
        10: "missing 'caption'",
        11: "people must be a list of names",
        12: "nothing to find this segment by",
    }
    for number, text in expected.items():
        assert any(line.startswith(f"line {number}: ") and text in line for line in lines), (number, lines)
    assert not any(line.startswith("line 1: ") for line in lines)
    assert checked.report.problem_lines == len(expected)
    assert checked.report.verdict.startswith("Invalid: ")


def test_a_misspelt_key_gets_a_suggestion():
    record = segment(1)
    record["captoin"] = record.pop("caption")
    lines = check_catalog(io.BytesIO(jsonl(record))).report.lines()
    assert any('did you mean "caption"?' in line for line in lines)


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all():
    data = jsonl(*(segment(n) for n in range(1, 50)))
    checked = check_catalog(io.BytesIO(data), max_bytes=1_000)
    assert checked.report.lines() == ["file: the file is larger than 1.0 KB, the most a catalog file may be"]


def test_more_segments_than_a_catalog_holds_are_refused(monkeypatch):
    monkeypatch.setattr("core.search.importing.MAX_SEGMENTS", 2)
    checked = check_catalog(io.BytesIO(jsonl(segment(1), segment(2), segment(3))))
    assert checked.report.lines() == ["file: 3 segments; a catalog holds at most 2"]


def test_judgements_are_checked_against_the_catalog():
    catalog = check_catalog(io.BytesIO(jsonl(segment(1), segment(2)))).catalog
    data = jsonl(
        {"query": "chef chopping onions", "focus": "visual", "relevant": {"v1-s1": 2, "v1-s2": 1}},
        {"query": "sizzling pan", "relevant": {"v9-s1": 2}},
        {"query": "let it rest", "relevant": {"v1-s1": 1}},
        {"query": "Chef Chopping  onions", "relevant": {"v1-s1": 2}},
        {"query": "x", "focus": "smell", "relevant": {"v1-s1": 3}},
    )
    checked = check_judgements(io.BytesIO(data), catalog)
    lines = checked.report.lines()
    assert lines == [
        'line 2: relevant segment "v9-s1" is not in the catalog',
        "line 3: no segment has grade 2: a judged query needs at least one segment that truly matches it",
        "line 4: duplicate query: the same query as line 1 (ignoring case and spacing)",
        'line 5: focus "smell" is not one of visual, audio, transcription, metadata, mixed',
        "line 5: grade 3 is not 2 (a full match) or 1 (a partial match)",
    ]
    good = check_judgements(io.BytesIO(data.splitlines(keepends=True)[0]), catalog)
    assert good.report.ok and good.queries[0].relevant == {"v1-s1": 2, "v1-s2": 1}
    assert good.queries[0].focus == "visual" and good.queries[0].id == "q0001"


@pytest.fixture
def library():
    settings = load_settings()
    return CatalogLibrary(Store(settings.store_path), settings.data_dir)


def test_an_imported_catalog_is_kept_and_opens_again(library, tmp_path):
    catalog_file = tmp_path / "segments.jsonl"
    catalog_file.write_bytes(jsonl(segment(1), segment(2)))
    judgements_file = tmp_path / "judged.jsonl"
    judgements_file.write_bytes(jsonl({"query": "chef chopping onions", "relevant": {"v1-s2": 2}}))
    info = library.import_files("kitchen", catalog_file, judgements_file)
    assert (info.segments, info.videos, info.queries, info.source) == (2, 1, 1, "imported")
    assert info.folder is not None and library.data_dir.resolve() in info.folder.parents
    opened = library.open("kitchen")
    assert [s.id for s in opened.catalog.segments] == ["v1-s1", "v1-s2"]
    assert opened.judgements[0].query == "chef chopping onions" and opened.judgements[0].focus == "unspecified"
    assert [i.name for i in library.list()] == [SAMPLE_NAME, "kitchen"]
    with pytest.raises(CatalogLibraryError, match="already exists"):
        library.import_files("kitchen", catalog_file)
    library.delete("kitchen")
    assert [i.name for i in library.list()] == [SAMPLE_NAME] and not info.folder.exists()


def test_a_broken_import_keeps_nothing_and_names_its_lines(library, tmp_path):
    catalog_file = tmp_path / "segments.jsonl"
    catalog_file.write_bytes(jsonl(segment(1), "{oops"))
    with pytest.raises(CatalogImportError) as raised:
        library.import_files("broken", catalog_file)
    assert raised.value.report.lines() == [
        "line 2: not valid JSON: Expecting property name enclosed in double quotes at column 2"
    ]
    assert [i.name for i in library.list()] == [SAMPLE_NAME]


def test_a_hand_edited_stored_catalog_is_reported_when_opened(library):
    info = library.generate("small", CatalogSpec(segments=60, queries=10))
    segments_file = info.folder / "segments.jsonl"
    lines = segments_file.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = "broken\n"
    segments_file.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(CatalogImportError, match="line 5: not valid JSON"):
        library.open("small")


def test_a_generated_catalog_is_the_seeds_catalog(library):
    spec = CatalogSpec(seed=3, segments=80, queries=12)
    library.generate("seed3", spec)
    opened = library.open("seed3")
    made = generate_catalog(spec)
    assert opened.catalog.to_jsonl() == made.catalog.to_jsonl()
    assert [q.to_json_dict() for q in opened.judgements] == [q.to_json_dict() for q in made.judgements]
    assert opened.info.spec == spec


def test_names_are_checked_and_the_sample_is_built_in(library):
    for bad in ("", "../up", "a b", "-x", "x" * 64, SAMPLE_NAME):
        with pytest.raises(CatalogLibraryError):
            library.generate(bad, CatalogSpec(segments=60, queries=10))
    with pytest.raises(CatalogLibraryError, match="cannot be deleted"):
        library.delete(SAMPLE_NAME)
    with pytest.raises(CatalogLibraryError, match="No search catalog named 'nope'"):
        library.open("nope")
    assert library.open(SAMPLE_NAME).info.segments == 2_000
