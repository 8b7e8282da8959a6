"""Every command ends in one `error:` line, never a traceback: a damaged store, bad VSRS_* values, arguments that
are not UTF-8, a closed pipe, and anything unforeseen. An empty VSRS_DATA_DIR means the default folder."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.pricing import ModelPrice, save_price
from core.settings import DEFAULT_DATA_DIR, load_settings
from core.store import Store


def run_cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def damage_the_prices_table(db: Path) -> None:
    """Overwrite the prices table's root page with garbage, as a bad sector or a stray write would."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'prices'").fetchone()[0]
    with open(db, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)


def test_fault_a_damaged_page_in_the_store_is_one_error_line_for_route_and_evaluate(capsys, tmp_path, studio_env):
    heldout = tmp_path / "heldout.jsonl"
    assert run_cli(capsys, "synth", "--n", 100, "--seed", 3, "--out", heldout)[0] == 0
    store = Store(load_settings().store_path)
    save_price(store, ModelPrice("nova-micro", 0.04, 0.15))
    damage_the_prices_table(store.path)

    for argv in (
        ("route", "--router", "uniform", "red car"),
        ("evaluate", "--heldout", heldout, "--router", "uniform"),
    ):
        err = one_error_line(*run_cli(capsys, *argv)[::2])
        assert "studio.db is damaged or is not a SQLite file" in err


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        ("VSRS_BACKEND", "bogus", "VSRS_BACKEND='bogus' is not valid: the backend must be local or bedrock"),
        (
            "VSRS_AWS_REGION",
            "../../x",
            "VSRS_AWS_REGION='../../x' is not valid: the AWS region must look like us-east-1",
        ),
    ],
)
def test_bad_input_a_bad_vsrs_value_is_one_sentence_in_every_command(
    capsys, tmp_path, monkeypatch, variable, value, sentence
):
    monkeypatch.setenv(variable, value)
    commands = [
        ("route", "red car"),
        ("synth", "--n", 100, "--seed", 1, "--out", tmp_path / "x.jsonl"),
        ("evaluate", "--heldout", tmp_path / "none.jsonl", "--router", "uniform"),
        ("distill", "--train", tmp_path / "none.jsonl", "--out", tmp_path / "model"),
    ]
    for argv in commands:
        err = one_error_line(*run_cli(capsys, *argv)[::2])
        assert sentence in err, argv


def test_bad_input_a_bad_vsrs_value_is_one_sentence_for_the_program_too(tmp_path):
    env = {**os.environ, "VSRS_BACKEND": "bogus"}
    done = subprocess.run(
        [sys.executable, "-m", "core", "route", "red car"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: VSRS_BACKEND='bogus' is not valid") and "Traceback" not in done.stderr


def test_bad_input_arguments_that_are_not_utf8_are_refused_with_a_sentence(tmp_path):
    out = tmp_path / "x.jsonl"
    for argv, option in (
        ([b"synth", b"--n", b"100", b"--seed", b"1", b"--custom", b"\xff\xfe", b"--out", bytes(out)], "--custom"),
        ([b"route", b"--json", b"red \xff car"], "QUERY"),
    ):
        done = subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, timeout=120)
        err = done.stderr.decode("utf-8", errors="replace")
        assert done.returncode == 2 and done.stdout == b"", err
        assert err.startswith(f"error: {option} is not valid UTF-8 text") and "Traceback" not in err
    assert not out.exists()


def test_fault_route_into_a_pipe_closed_early_exits_quietly(tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(f"red car number {i}\n" for i in range(50_000)))
    with subprocess.Popen(
        [sys.executable, "-m", "core", "route", "--json", "--router", "uniform", "--file", str(queries)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        first = child.stdout.readline()
        child.stdout.close()  # `| head -1`
        err = child.stderr.read().decode()
        code = child.wait(timeout=120)
    assert first.startswith(b'{"query": "red car number 0"')
    assert err == "" and code == 141  # as a program killed by SIGPIPE reports it


def test_fault_an_unforeseen_error_is_one_line_not_a_traceback(capsys, monkeypatch):
    import core.cli.route as route_command

    def broken(args):
        raise RuntimeError("something nobody planned for\nsecond line")

    monkeypatch.setattr(route_command, "run", broken)
    code, _, err = run_cli(capsys, "route", "red car")
    assert code == 70 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: unexpected RuntimeError: something nobody planned for")


def test_bad_input_an_empty_vsrs_data_dir_means_the_default_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("VSRS_DATA_DIR", "")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.data_dir == DEFAULT_DATA_DIR and settings.data_dir.is_absolute()
    assert settings.store_path != Path("studio.db").resolve()
