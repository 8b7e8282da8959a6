"""The search commands' contract (docs/ARCHITECTURE.md, command line): `search`, `search-eval`, `search-catalog`."""

import json

import pytest

from core.cli import main
from core.schema import MODALITIES

METRICS = {"recall_at_5", "recall_at_10", "mrr", "ndcg_at_10"}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_catalog(capsys):
    code, out, _ = run_cli(capsys, "search-catalog", "generate", "small", "--segments", "300", "--queries", "40")
    assert code == 0 and out.startswith("made small: 300 segments")
    return "small"


def test_search_json_ranks_segments_with_each_channels_contribution(capsys, small_catalog):
    code, out, err = run_cli(
        capsys, "search", "distant", "sirens", "--catalog", small_catalog, "--k", "4", "--json", "--router", "teacher"
    )
    assert code == 0 and err == ""
    result = json.loads(out)
    assert {"query", "router", "catalog", "fusion", "weights", "skipped", "searched", "hits", "valid"} <= set(result)
    assert result["query"] == "distant sirens" and result["catalog"] == "small" and result["fusion"] == "minmax"
    assert set(result["weights"]) == set(MODALITIES) and result["valid"] is True and result["fallback"] is False
    assert set(result["searched"]) | set(result["skipped"]) == set(MODALITIES)
    assert max(result["weights"], key=result["weights"].get) == "audio"
    assert [hit["rank"] for hit in result["hits"]] == [1, 2, 3, 4]
    scores = [hit["score"] for hit in result["hits"]]
    assert scores == sorted(scores, reverse=True)
    for hit in result["hits"]:
        assert {"segment_id", "video_id", "title", "start_s", "end_s", "caption", "people", "contributions"} <= set(hit)
        assert set(hit["contributions"]) == set(result["searched"])
        assert sum(hit["contributions"].values()) == pytest.approx(hit["score"], abs=1e-5)


def test_search_prints_hits_with_what_is_seen_heard_and_said(capsys, small_catalog):
    code, out, _ = run_cli(capsys, "search", "a chef chopping onions", "--catalog", small_catalog, "--fusion", "rrf")
    assert code == 0
    assert "fusion rrf" in out and "  1. " in out and " 10. " in out
    assert "seen:" in out and "heard:" in out and "said:" in out and "score from: visual" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("search", "red car", "--router", "nope"), "Unknown router 'nope'"),
        (("search", "red car", "--k", "0"), "--k must be between 1 and 100"),
        (("search", " ", "--catalog", "sample"), "the query is empty"),
        (("search", "red car", "--catalog", "nope"), "No search catalog named 'nope'"),
        (("search-eval", "--catalog", "nope"), "No search catalog named 'nope'"),
        (("search-catalog", "generate", "tiny", "--segments", "50"), "cannot give 1,000 distinct judged queries"),
        (("search-catalog", "generate", "big", "--segments", "10001"), "segments: Input should be less than or equal"),
        (("search-catalog", "delete", "sample"), "cannot be deleted"),
    ],
)
def test_search_mistakes_get_one_error_line(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_search_eval_json_has_the_contract_shape(capsys, small_catalog):
    code, out, _ = run_cli(capsys, "search-eval", "--catalog", small_catalog, "--json")
    assert code == 0
    figures = json.loads(out)
    assert {"segments", "queries", "routers"} <= set(figures)
    assert figures["segments"] == 300 and figures["queries"] == 40
    assert set(figures["routers"]) == {"teacher", "uniform"}
    for entry in [*figures["routers"].values(), *figures["baselines"].values()]:
        assert set(entry) >= METRICS and all(0.0 <= entry[m] <= 1.0 for m in METRICS)
        assert all(set(focus) >= METRICS for focus in entry["by_focus"].values())
    assert {"combined_index", "uniform", "oracle", "visual_only"} <= set(figures["baselines"])


def test_search_eval_routers_are_the_ones_asked_for(capsys, small_catalog):
    code, out, _ = run_cli(capsys, "search-eval", "--catalog", small_catalog, "--router", "uniform", "--json")
    assert code == 0 and set(json.loads(out)["routers"]) == {"uniform"}


def test_search_eval_prints_a_table_beside_the_published_reference(capsys, small_catalog):
    code, out, _ = run_cli(capsys, "search-eval", "--catalog", small_catalog)
    assert code == 0
    assert "R@5" in out and "NDCG@10" in out and "[baseline] combined_index" in out
    assert "published reference, not measured here" in out


def segment_line(number, **changes):
    record = {
        "id": f"v1-s{number}",
        "video_id": "v1",
        "start_s": 10.0 * (number - 1),
        "end_s": 10.0 * number,
        "caption": "a chef chopping onions",
        "audio_description": "sizzling pan",
        "transcript": "let it rest",
        "title": "Salt and Smoke",
        "people": ["Nonna Rosa"],
        "genre": "cooking show",
        "upload_date": "2021-03-14",
        "channel": "Tasty Corner",
    }
    return json.dumps(record | changes)


def test_importing_a_broken_catalog_prints_its_line_numbers_and_keeps_nothing(capsys, tmp_path):
    catalog = tmp_path / "mine.jsonl"
    catalog.write_text("\n".join([segment_line(1), "oops", segment_line(2, start_s=-1), ""]), encoding="utf-8")
    code, out, err = run_cli(capsys, "search-catalog", "import", "mine", str(catalog))
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.splitlines()[:2] == [
        "line 2: not valid JSON: Expecting value at column 1",
        "line 3: start_s is -1; a segment cannot start before its video",
    ]
    assert "mine.jsonl: Invalid: 2 problems on 2 lines" in err
    code, out, _ = run_cli(capsys, "search-catalog", "list", "--json")
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["sample"]


def test_an_imported_catalog_is_searched_and_needs_judgements_to_be_evaluated(capsys, tmp_path):
    catalog = tmp_path / "mine.jsonl"
    catalog.write_text("\n".join([segment_line(1), segment_line(2, caption="a red car")]) + "\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "search-catalog", "import", "mine", str(catalog))
    assert code == 0 and out.startswith("imported mine: 2 segments of 1 videos, 0 judged queries")
    code, out, _ = run_cli(capsys, "search", "red car", "--catalog", "mine", "--json")
    assert code == 0 and json.loads(out)["hits"][0]["segment_id"] == "v1-s2"
    code, _, err = run_cli(capsys, "search-eval", "--catalog", "mine")
    assert code == 2 and "has no judged queries" in err
    code, out, _ = run_cli(capsys, "search-catalog", "delete", "mine")
    assert code == 0
