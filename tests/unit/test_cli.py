"""The command line's contract (docs/ARCHITECTURE.md): `route` lines and `bench` JSON."""

import json
import math
import subprocess
import sys

import pytest

from core.backends import LocalBackend
from core.cli import main
from core.routers.uniform import UniformRouter
from core.schema import MODALITIES


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_route_json_gives_the_published_dominant_modalities(capsys):
    code, out, _ = run_cli(
        capsys,
        "route",
        "--json",
        "dog barking loudly",
        "Olivia talking about growing up in poverty",
        "sunset over mountains",
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    dominant = [max(MODALITIES, key=lambda m, line=line: line[m]) for line in lines]
    assert dominant == ["audio", "transcription", "visual"]
    for line in lines:
        assert set(line) == {"query", "router", "valid", *MODALITIES, "reasoning", "errors", "latency_ms"}
        assert line["valid"] is True and line["errors"] == []
        assert math.fsum(line[m] for m in MODALITIES) == 1.0
        assert all(round(line[m] * 20, 9) == round(line[m] * 20) for m in MODALITIES)


def test_route_json_reports_an_empty_query_as_an_invalid_line(capsys):
    code, out, err = run_cli(capsys, "route", "--json", "   ", "red car driving")
    assert code == 0 and "Traceback" not in err
    empty, car = (json.loads(line) for line in out.splitlines())
    assert empty["valid"] is False and empty["errors"] and all(empty[m] is None for m in MODALITIES)
    assert car["valid"] is True


def test_route_reads_queries_from_a_file(capsys, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("crowd cheering in a stadium\n\nnews anchor says good evening\n")
    code, out, _ = run_cli(capsys, "route", "--json", "--router", "uniform", "--file", str(queries))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == ["crowd cheering in a stadium", "news anchor says good evening"]
    assert all(line["router"] == "uniform" and line["visual"] == 0.25 for line in lines)


def test_route_text_output_is_for_people(capsys):
    code, out, _ = run_cli(capsys, "route", "dog barking loudly")
    assert code == 0
    assert "audio" in out and "reasoning:" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["route", "--router", "nonsense", "x"], "Unknown router"),
        (["route"], "give at least one QUERY"),
        (["route", "--file", "/no/such/file.txt"], "cannot read"),
    ],
)
def test_user_mistakes_get_one_line_and_exit_2(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_python_dash_m_core_runs_as_a_program(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "core", "route", "--json", "sunset over mountains"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True


def test_bench_json_has_the_contract_shape(capsys):
    code, out, _ = run_cli(capsys, "bench", "--json", "--only", "router_latency")
    figures = json.loads(out)["figures"]
    names = {f["name"] for f in figures}
    assert {"teacher_latency_p50", "uniform_latency_p50"} <= names
    for figure in figures:
        assert set(figure) == {"name", "value", "unit", "budget", "ok"}
        assert figure["value"] > 0 and isinstance(figure["ok"], bool)
    assert code == (0 if all(f["ok"] for f in figures) else 1)


class _PaidRouter(UniformRouter):
    price_key = "nova-premier"
    calls = 0

    def route_many(self, queries):
        type(self).calls += len(queries)
        return super().route_many(queries)


def test_route_through_a_billable_router_asks_for_confirmation_first(capsys, monkeypatch):
    _PaidRouter.calls = 0
    monkeypatch.setattr(LocalBackend, "router", lambda backend, router_id: _PaidRouter(backend.prices(), router_id))
    code, out, err = run_cli(capsys, "route", "--json", "--router", "bedrock:x", "dog", "cat")
    assert code == 2 and out == ""
    assert "bills your AWS account" in err and "--yes" in err
    assert _PaidRouter.calls == 0
    code, out, _ = run_cli(capsys, "route", "--json", "--yes", "--router", "bedrock:x", "dog", "cat")
    assert code == 0 and len(out.splitlines()) == 2 and _PaidRouter.calls == 2


def test_synth_refuses_an_output_it_could_not_write_before_doing_any_work(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "synth", "--n", "100", "--seed", "1", "--out", str(blocker / "x.jsonl"))
    assert code == 2 and "not a folder" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "synth", "--n", "100", "--seed", "1", "--out", str(tmp_path / "x.txt"))
    assert code == 2 and ".jsonl" in err


def test_distill_refuses_an_unusable_output_folder_before_training(capsys, tmp_path):
    train = tmp_path / "train.jsonl"
    assert run_cli(capsys, "synth", "--n", "100", "--seed", "1", "--out", str(train))[0] == 0
    code, _, err = run_cli(capsys, "distill", "--train", str(train), "--out", str(train))
    assert code == 2 and "is a file" in err
    code, _, err = run_cli(capsys, "distill", "--train", str(train), "--out", str(tmp_path))
    assert code == 2 and "holds other files" in err


def test_synth_then_validate_then_distill_then_route_the_student(capsys, tmp_path):
    train, heldout, model = tmp_path / "train.jsonl", tmp_path / "heldout.jsonl", tmp_path / "model"
    assert run_cli(capsys, "synth", "--n", "600", "--seed", "7", "--out", str(train))[0] == 0
    assert run_cli(capsys, "synth", "--n", "200", "--seed", "8", "--out", str(heldout))[0] == 0
    code, out, _ = run_cli(capsys, "validate", str(train))
    assert code == 0 and out.strip().endswith("ready for Bedrock distillation.")
    code, out, _ = run_cli(
        capsys, "distill", "--train", str(train), "--heldout", str(heldout), "--out", str(model), "--json"
    )
    figures = json.loads(out)
    assert code == 0 and figures["heldout"]["n"] == 200 and 0 <= figures["heldout"]["dominant_accuracy"] <= 1
    code, out, _ = run_cli(capsys, "route", "--json", "--router", f"student:{model}", "crowd cheering loudly")
    line = json.loads(out)
    assert code == 0 and line["valid"] and line["router"] == f"student:{model}"


def test_bench_with_an_unknown_group_says_which_groups_exist(capsys):
    code, out, err = run_cli(capsys, "bench", "--json", "--only", "no_such_figure")
    assert code == 2 and out == "" and "router_latency" in err


def test_evaluate_json_scores_each_router_in_the_contract_shape(capsys, tmp_path):
    heldout = tmp_path / "heldout.jsonl"
    assert run_cli(capsys, "synth", "--n", "150", "--seed", "8", "--out", str(heldout))[0] == 0
    code, out, _ = run_cli(
        capsys, "evaluate", "--heldout", str(heldout), "--router", "teacher", "--router", "uniform", "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["n"] == 150 and set(report["routers"]) == {"teacher", "uniform"}
    for figures in report["routers"].values():
        # The contract's keys, first and in order; keys are only ever added after them.
        assert list(figures)[:8] == [
            "n",
            "validity",
            "rubric_mean",
            "mae",
            "dominant_accuracy",
            "latency_p50_ms",
            "latency_p95_ms",
            "cost_per_1k_usd",
        ]
    # The teacher labelled this set itself; the no-routing baseline is far from it.
    assert report["routers"]["teacher"]["rubric_mean"] == 5.0
    assert report["routers"]["uniform"]["rubric_mean"] < 2.5


def test_synth_is_reproducible_from_its_seed_and_writes_strict_bedrock_records(capsys, tmp_path):
    first, again, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for path, seed in ((first, "7"), (again, "7"), (other, "8")):
        assert run_cli(capsys, "synth", "--n", "1000", "--seed", seed, "--label", "teacher", "--out", str(path))[0] == 0
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    records = [json.loads(line) for line in first.read_text().splitlines()]
    queries = [r["messages"][0]["content"][0]["text"] for r in records]
    assert len(records) == 1000 and len(set(queries)) == 1000
    for record in records:
        assert set(record) == {"schemaVersion", "system", "messages"}
        assert record["schemaVersion"] == "bedrock-conversation-2024"
        assert [set(block) for block in record["system"]] == [{"text"}]
        assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
        for message in record["messages"]:
            assert set(message) == {"role", "content"} and [set(b) for b in message["content"]] == [{"text"}]
        answer = json.loads(record["messages"][1]["content"][0]["text"])
        assert set(answer) == {*MODALITIES, "reasoning"} and math.fsum(answer[m] for m in MODALITIES) == 1.0
    manifest = json.loads((tmp_path / "a.manifest.json").read_text())
    assert (manifest["seed"], manifest["record_count"], manifest["teacher_id"]) == (7, 1000, "Local reference teacher")
    assert len((tmp_path / "a.tags.jsonl").read_text().splitlines()) == 1000
    assert run_cli(capsys, "validate", str(first))[0] == 0
