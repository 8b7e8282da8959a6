"""The command line's contract (DESIGN.md section 2): `route` lines and `bench` JSON."""

import json
import math
import subprocess
import sys

import pytest

from core.cli import main
from core.schema import MODALITIES


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_route_json_gives_the_published_dominant_modalities(capsys):
    code, out, _ = run_cli(
        capsys, "route", "--json",
        "dog barking loudly", "Olivia talking about growing up in poverty", "sunset over mountains",
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


@pytest.mark.parametrize("argv, message", [
    (["route", "--router", "nonsense", "x"], "Unknown router"),
    (["route"], "give at least one QUERY"),
    (["route", "--file", "/no/such/file.txt"], "cannot read"),
])
def test_user_mistakes_get_one_line_and_exit_2(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_python_dash_m_core_runs_as_a_program(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "core", "route", "--json", "sunset over mountains"],
        capture_output=True, text=True, timeout=120,
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
