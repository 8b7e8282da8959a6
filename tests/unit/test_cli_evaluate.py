"""`evaluate` on every kind of set and `runs` on the history it keeps (docs/ARCHITECTURE.md, command line)."""

from __future__ import annotations

import csv
import json

import pytest

from core.cli import main
from core.datasets.files import read_dataset
from core.datasets.library import DatasetLibrary
from core.evaluate import EVALUATE_KEYS
from core.schema import MODALITIES
from core.settings import load_settings
from core.store import Store
from tests.isolation import isolated_environment

ADDED_KEYS = (
    "latency_mean_ms",
    "input_tokens_per_1k",
    "output_tokens_per_1k",
    "mae_per_channel",
    "dominant_accuracy_per_channel",
    "confusion",
    "rubric_histogram",
    "slices",
    "teacher_share",
    "quality_recovered",
    "accuracy_recovered",
    "latency_basis",
)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A teacher-labelled held-out file, a training file, and a student distilled from it (kept brief), made once
    in an isolated studio of their own (the per-test isolation is not in place yet at module scope)."""
    folder = tmp_path_factory.mktemp("cli-evaluate")
    heldout, train, student = folder / "heldout.jsonl", folder / "train.jsonl", folder / "student"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in isolated_environment(folder / "studio-data", folder / "aws").items():
            patch.setenv(name, value)
        assert main(["synth", "--n", "200", "--seed", "8", "--label", "teacher", "--out", str(heldout)]) == 0
        assert main(["synth", "--n", "400", "--seed", "7", "--label", "teacher", "--out", str(train)]) == 0
        assert main(["distill", "--train", str(train), "--epochs", "3", "--out", str(student)]) == 0
    return heldout, student


def library() -> DatasetLibrary:
    settings = load_settings()
    return DatasetLibrary(Store(settings.store_path), settings.data_dir)


def test_evaluate_heldout_json_teacher_scores_5_uniform_lowest_every_contract_key(capsys, files):
    heldout, student = files
    code, out, _ = run_cli(
        capsys,
        "evaluate",
        "--heldout",
        heldout,
        "--router",
        "teacher",
        "--router",
        "uniform",
        "--router",
        f"student:{student}",
        "--json",
    )
    report = json.loads(out)
    assert code == 0 and report["heldout"] == str(heldout) and report["n"] == 200
    routers = report["routers"]
    assert list(routers) == ["teacher", "uniform", f"student:{student}"]
    for figures in routers.values():
        assert list(figures)[: len(EVALUATE_KEYS)] == list(EVALUATE_KEYS)
        assert set(ADDED_KEYS) <= set(figures)
    assert routers["teacher"]["rubric_mean"] == 5.0 and routers["teacher"]["latency_basis"] == "batch share"
    assert routers["uniform"]["rubric_mean"] == min(f["rubric_mean"] for f in routers.values())
    assert routers["uniform"]["dominant_accuracy"] == min(f["dominant_accuracy"] for f in routers.values())
    assert report["set"]["kind"] == "heldout" and report["set"]["tag_fields"] == ["focus", "difficulty", "domain"]
    assert report["run"]["recovery"]["teacher"]["basis"] == "measured"


def test_every_kind_of_set_prints_the_same_figures(capsys, files):
    heldout, _ = files
    code, out, _ = run_cli(capsys, "evaluate", "--heldout", heldout, "--router", "teacher", "--router", "uniform")
    assert code == 0
    assert "200 queries, heldout set heldout.jsonl" in out
    assert "rubric" in out and "leading-channel accuracy per channel" in out
    assert "kept in the history as run" in out


def test_a_gold_set_from_the_library_or_a_file(capsys, files):
    heldout, _ = files
    loaded = read_dataset(heldout, min_records=1)
    lib = library()
    lib.save("people", loaded.records, loaded.tags, {"notes": {"gold": True}})
    lib.save("teacher-made", loaded.records, loaded.tags)

    code, out, _ = run_cli(capsys, "evaluate", "--gold", "people", "--router", "teacher", "--json", "--no-save")
    report = json.loads(out)
    assert code == 0 and report["set"]["kind"] == "gold" and report["heldout"] == "dataset:people"
    code, out, _ = run_cli(capsys, "evaluate", "--gold", heldout, "--router", "uniform", "--json", "--no-save")
    assert code == 0 and json.loads(out)["set"]["kind"] == "gold"
    code, _, err = run_cli(capsys, "evaluate", "--gold", "teacher-made", "--router", "teacher")
    assert code == 2 and err.startswith("error: The dataset 'teacher-made' is not a gold set") and err.count("\n") == 1
    code, out, _ = run_cli(capsys, "evaluate", "--dataset", "teacher-made", "--router", "uniform", "--json")
    assert code == 0 and json.loads(out)["set"]["kind"] == "heldout"


def test_a_broken_set_gets_its_problem_lines_and_one_error(capsys, tmp_path, files):
    heldout, _ = files
    broken = tmp_path / "broken.jsonl"
    lines = heldout.read_text().splitlines()
    lines[4] = "{not json"
    broken.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, "evaluate", "--heldout", broken, "--router", "teacher")
    assert code == 2 and out == ""
    assert "line 5:" in err and err.strip().splitlines()[-1].startswith("error: broken.jsonl is not a valid dataset")
    assert "Traceback" not in err


def test_the_cascade_curve_names_the_threshold_that_recovers_95_percent(capsys, files):
    heldout, student = files
    pair = f"student:{student}|teacher"
    code, out, _ = run_cli(
        capsys, "evaluate", "--heldout", heldout, "--router", "uniform", "--cascade-curve", pair, "--json", "--no-save"
    )
    report = json.loads(out)
    assert code == 0 and set(report["routers"]) == {"uniform", f"student:{student}", "teacher"}
    curve = report["run"]["cascade_curve"]
    assert curve["student"] == f"student:{student}" and len(curve["points"]) == 21
    assert curve["recommended"]["recovered"] >= 0.95
    assert curve["recommended"]["router_id"].startswith(f"cascade:{pair}@")
    code, _, err = run_cli(capsys, "evaluate", "--heldout", heldout, "--router", "teacher", "--cascade-curve", "x")
    assert code == 2 and "one '|'" in err

    # The recommended cascade is a router id like any other.
    code, out, _ = run_cli(
        capsys, "evaluate", "--heldout", heldout, "--router", curve["recommended"]["router_id"], "--json", "--no-save"
    )
    figures = json.loads(out)["routers"][curve["recommended"]["router_id"]]
    assert figures["teacher_share"] == pytest.approx(curve["recommended"]["teacher_share"])
    assert figures["rubric_mean"] == pytest.approx(curve["recommended"]["rubric_mean"])


def test_the_projection_at_a_monthly_volume(capsys, files):
    heldout, _ = files
    code, out, _ = run_cli(
        capsys, "evaluate", "--heldout", heldout, "--router", "teacher", "--volume", "5000000", "--json", "--no-save"
    )
    (projection,) = json.loads(out)["run"]["projection"]
    assert code == 0 and projection["queries_per_month"] == 5_000_000 and projection["cost_usd"] == 0.0
    code, _, err = run_cli(capsys, "evaluate", "--heldout", heldout, "--router", "teacher", "--volume", "-1")
    assert code == 2 and "between 0 and" in err


def test_the_judge_needs_amazon_bedrock_and_says_so_before_routing(capsys, files):
    heldout, _ = files
    code, out, err = run_cli(capsys, "evaluate", "--heldout", heldout, "--router", "teacher", "--judge")
    assert code == 2 and out == ""
    assert (
        err.startswith("error: The LLM judge runs on Amazon Bedrock and Local has no AWS account")
        and err.count("\n") == 1
    )


def test_an_expectation_file_gives_accuracy_per_channel(capsys):
    code, out, _ = run_cli(capsys, "evaluate", "--studio-expectations", "--router", "teacher", "--json", "--no-save")
    figures = json.loads(out)["routers"]["teacher"]
    assert code == 0 and figures["rubric_mean"] is None
    assert set(figures["dominant_accuracy_per_channel"]) == set(MODALITIES)


def test_runs_lists_pins_compares_and_exports_what_evaluate_kept(capsys, tmp_path, files):
    heldout, _ = files
    for _ in range(2):
        assert run_cli(capsys, "evaluate", "--heldout", heldout, "--router", "uniform", "--router", "teacher")[0] == 0
    code, out, _ = run_cli(capsys, "runs", "list", "--json")
    runs = json.loads(out)
    assert code == 0 and len(runs) == 2 and not any(r["pinned"] for r in runs)
    newest, oldest = runs[0]["id"], runs[1]["id"]

    code, _, err = run_cli(capsys, "runs", "compare", newest)
    assert code == 2 and "no other pinned baseline" in err
    assert run_cli(capsys, "runs", "pin", oldest)[0] == 0
    code, out, _ = run_cli(capsys, "runs", "compare", newest, "--json")
    comparison = json.loads(out)
    assert code == 0 and comparison["base"] == oldest and comparison["same_set"]
    assert comparison["routers"]["teacher"]["rubric_mean"]["delta"] == 0.0

    target = tmp_path / "records.csv"
    code, _, _ = run_cli(capsys, "runs", "export", newest, "--format", "records-csv", "--out", target)
    rows = list(csv.DictReader(target.open()))
    assert code == 0 and len(rows) == 400 and {r["router"] for r in rows} == {"uniform", "teacher"}
    code, _, err = run_cli(capsys, "runs", "pin", "no-such-run")
    assert code == 2 and "no evaluation run 'no-such-run'" in err


def test_judging_from_the_command_line_quotes_its_cost_and_runs_only_with_yes(capsys, monkeypatch, files):
    from core.backends import LocalBackend
    from tests.unit.evaluation_helpers import RubricJudge

    judge = RubricJudge()
    monkeypatch.setattr(LocalBackend, "judge", lambda self, model=None: judge)
    heldout, _ = files
    argv = ["evaluate", "--heldout", heldout, "--router", "teacher", "--router", "uniform", "--judge"]
    argv += ["--judge-queries", "20", "--rejudge", "0.1", "--json"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "" and judge.calls == 0
    assert "Judging 20 queries with Rubric judge makes 22 calls" in err and "--yes" in err

    code, out, _ = run_cli(capsys, *argv, "--yes")
    report = json.loads(out)["run"]["judge"]
    assert code == 0 and judge.calls == 22 and report["queries"] == 20 and report["unparseable"] == 0
    assert report["calibration"]["vs_rubric"]["exact"] == 1.0
    assert json.loads(out)["routers"]["teacher"]["judge_mean"] == 5.0
