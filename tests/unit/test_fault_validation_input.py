"""Hostile dataset files get a line-numbered problem, never a traceback, a hang or unbounded memory: huge integers,
lone surrogates, devices, pipes, endless streams, over-long lines and files over the size limit."""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys

import pytest

from core.cli import main
from core.datasets.files import make_record
from core.datasets.library import DatasetImportError, DatasetLibrary
from core.datasets.validation import MAX_LINE_BYTES, validate_file
from core.schema import RoutingDecision
from core.store import Store

DECISION = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="Mostly what is seen.")
# Generous for a refusal; an unbounded read of a device never finishes inside it.
SUBPROCESS_TIMEOUT_S = 60
MEMORY_CAP_BYTES = 1024**3  # less than the 1.1 GB file below: reading it whole fails


def good_lines(n: int = 100) -> list[bytes]:
    return [json.dumps(make_record(f"query {i} about a red car", DECISION)).encode() for i in range(n)]


def write_lines(path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def validate_in_a_child(path) -> subprocess.CompletedProcess:
    """`python -m core validate PATH` in a child with capped memory and time (an unbounded read fails, not hangs)."""

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))

    return subprocess.run(
        [sys.executable, "-m", "core", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        preexec_fn=cap_memory,
    )


def test_bad_input_an_integer_of_more_than_4300_digits_is_a_line_problem(tmp_path, capsys, studio_env):
    lines = good_lines()
    lines.insert(41, b'{"schemaVersion": ' + b"9" * 5000 + b"}")
    path = tmp_path / "digits.jsonl"
    write_lines(path, lines)

    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and err == ""
    assert "line 42: a number on this line has more than 4,300 digits" in out
    assert not validate_file(io.BytesIO(path.read_bytes())).ok  # the upload check
    with pytest.raises(DatasetImportError, match="not imported"):
        DatasetLibrary(Store(studio_env / "studio.db"), studio_env).import_file("digits", path)


def test_bad_input_lone_surrogates_are_a_line_problem_not_an_import_failure(tmp_path, capsys, studio_env):
    lines = good_lines()
    lines[7] = lines[7].replace(b"red car", b"red \\ud800 car")
    path = tmp_path / "surrogate.jsonl"
    write_lines(path, lines)

    code = main(["validate", str(path)])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "line 8: messages[0].content[0].text holds a lone surrogate (\\ud800)" in out
    with pytest.raises(DatasetImportError) as refused:
        DatasetLibrary(Store(studio_env / "studio.db"), studio_env).import_file("surrogate", path)
    assert refused.value.report.problems[0].line == 8


def test_bad_input_a_lone_surrogate_in_a_key_is_reported_printably(tmp_path, capsys):
    lines = good_lines()
    lines[2] = lines[2][:-1] + b', "\\udcff": 1}'
    path = tmp_path / "key.jsonl"
    write_lines(path, lines)

    code = main(["validate", "--json", str(path)])
    out, _ = capsys.readouterr()

    assert code == 1 and "\\udcff" in out
    out.encode("utf-8")  # printable: no raw surrogate reached stdout


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_bad_input_validate_refuses_a_device_at_once(device):
    done = validate_in_a_child(device)
    assert done.returncode == 1, done.stderr
    assert "could not read the file: not a regular file (a device)" in done.stdout
    assert "Traceback" not in done.stderr


def test_bad_input_validate_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "queries.jsonl"
    os.mkfifo(fifo)
    done = validate_in_a_child(fifo)
    assert done.returncode == 1 and "not a regular file (a pipe)" in done.stdout


def test_bad_input_a_file_over_the_size_limit_is_refused_before_reading_it(tmp_path):
    huge = tmp_path / "huge.jsonl"
    with open(huge, "wb") as handle:
        handle.truncate(1_100_000_000)  # sparse: 1.1 GB of zeros that take no disk
    done = validate_in_a_child(huge)
    assert done.returncode == 1, done.stderr
    assert "file: the file is 1.1 GB; Bedrock accepts at most 1.0 GB" in done.stdout


class EndlessZeros(io.RawIOBase):
    """An upload that never ends; it fails the test if it is read far past the limit."""

    def __init__(self, guard_bytes: int):
        self.served = 0
        self.guard = guard_bytes

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.served > self.guard:
            raise AssertionError(f"read {self.served:,} bytes of an endless stream")
        buffer[:] = b"\0" * len(buffer)
        self.served += len(buffer)
        return len(buffer)


def test_bad_input_an_endless_stream_is_read_only_up_to_the_size_limit():
    stream = io.BufferedReader(EndlessZeros(guard_bytes=20 * MAX_LINE_BYTES))
    report = validate_file(stream, max_bytes=10 * MAX_LINE_BYTES)
    assert not report.ok
    assert (
        report.lines()[-1]
        == "file: the file is more than 40.0 MB; Bedrock accepts at most 40.0 MB (it was read no further)"
    )


def test_bad_input_an_over_long_line_is_one_problem_and_the_lines_after_it_are_still_checked(tmp_path):
    lines = good_lines(101)
    lines[50] = b'{"schemaVersion": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    lines[80] = b"{not json"
    path = tmp_path / "long.jsonl"
    write_lines(path, lines)

    report = validate_file(path)

    assert report.lines() == [
        f"line 51: the line is {len(lines[50]):,} bytes long; a record may be at most {MAX_LINE_BYTES:,}",
        "line 81: not valid JSON: Expecting property name enclosed in double quotes at column 2",
    ]
    assert report.records == 101
