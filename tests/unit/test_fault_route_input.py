"""`route --file` reads hostile input safely and streams: one query per '\\n'-ended line whatever else the line
holds, a line that is not UTF-8 is an invalid result (and the JSON stays UTF-8), devices and over-long lines are
refused, and the first results are out before the last line is read."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from core.cli import main
from core.cli.common import MAX_QUERY_LINE_BYTES
from core.schema import MODALITIES

CHILD_TIMEOUT_S = 60
# Far longer than the start of a command; the results of lines already given must come out within it.
FIRST_LINE_WAIT_S = 30


def run_cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_bad_input_route_file_splits_lines_on_newlines_only(capsys, tmp_path):
    lines = [
        "red car\rdriving fast",
        "page\x0cbreak in a lecture",
        "next\x85line of a song",
        "paragraph\u2028separator in a speech",
        "crowd cheering",
        "windows line ending",
        "dog barking",
        "last line without an ending",
    ]
    queries = tmp_path / "queries.txt"
    queries.write_bytes(("\n".join(lines[:5]) + "\n" + lines[5] + "\r\n" + lines[6] + "\n" + lines[7]).encode())

    code, out, _ = run_cli(capsys, "route", "--json", "--router", "uniform", "--file", queries)

    assert code == 0
    # JSON lines end at '\n' only (a reader splitting on every Unicode line break would cut them too).
    assert [json.loads(line)["query"] for line in out.split("\n")[:-1]] == lines


def test_bad_input_a_line_that_is_not_utf8_is_an_invalid_result_and_the_json_stays_utf8(tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_bytes(b"red car\n\xff\xfe broken bytes\ndog barking\n")

    done = subprocess.run(
        [sys.executable, "-m", "core", "route", "--json", "--router", "uniform", "--file", str(queries)],
        capture_output=True,
        timeout=CHILD_TIMEOUT_S,
    )

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]  # strict UTF-8
    assert [line["valid"] for line in lines] == [True, False, True]
    broken = lines[1]
    assert broken["errors"] == ["line 2 is not valid UTF-8 (byte 1); save the file as UTF-8"]
    assert all(broken[m] is None for m in MODALITIES) and broken["query"] == "\ufffd\ufffd broken bytes"


def test_bad_input_route_file_refuses_a_device_at_once():
    done = subprocess.run(
        [sys.executable, "-m", "core", "route", "--router", "uniform", "--file", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr == "error: cannot read /dev/zero: not a regular file (a device)\n"


def test_bad_input_an_over_long_line_on_stdin_stops_with_a_sentence():
    with open("/dev/zero", "rb") as zeros:
        done = subprocess.run(
            [sys.executable, "-m", "core", "route", "--router", "uniform", "--file", "-"],
            stdin=zeros,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    assert done.returncode == 2
    assert done.stderr == (
        f"error: line 1 of standard input is longer than {MAX_QUERY_LINE_BYTES:,} bytes; give one query per line\n"
    )


def test_fault_route_file_streams_its_first_results_before_the_input_ends(tmp_path):
    """A pipe that gives a few lines and then waits: their results must come out while it waits."""
    read_fd, write_fd = os.pipe()
    with subprocess.Popen(
        [sys.executable, "-m", "core", "route", "--json", "--router", "uniform", "--file", "-"],
        stdin=read_fd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        os.close(read_fd)
        os.write(write_fd, b"red car\ndog barking\n")
        started = time.monotonic()
        ready, _, _ = select.select([child.stdout], [], [], FIRST_LINE_WAIT_S)
        waited = time.monotonic() - started
        if not ready:
            os.close(write_fd)
            child.kill()
            raise AssertionError(f"no result after {waited:.0f} s while the input stayed open")
        first = child.stdout.readline()
        os.write(write_fd, b"crowd cheering\n")
        os.close(write_fd)
        rest = child.stdout.read().decode().splitlines()
        assert child.wait(timeout=CHILD_TIMEOUT_S) == 0, child.stderr.read()
    assert json.loads(first)["query"] == "red car"
    assert [json.loads(line)["query"] for line in rest] == ["dog barking", "crowd cheering"]


def test_fault_route_file_memory_stays_flat_in_the_number_of_queries(tmp_path):
    """Peak memory routing 200,000 queries is within a few MB of routing 2,000 (it grew by gigabytes before)."""

    def peak_rss_routing(n: int) -> int:
        queries = tmp_path / f"queries-{n}.txt"
        queries.write_text("".join(f"red car number {i} driving through the rain\n" for i in range(n)))
        # The child's own peak (VmHWM): getrusage's maximum would include the forking test process's size.
        code = (
            "import re, sys; from pathlib import Path; from core.cli import main; "
            "sys.stdout = open('/dev/null', 'w'); "
            f"main(['route', '--json', '--router', 'uniform', '--file', {str(queries)!r}]); "
            "sys.stderr.write(re.search(r'VmHWM:\\s+(\\d+)', Path('/proc/self/status').read_text()).group(1))"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return int(done.stderr.strip().splitlines()[-1]) * 1024

    small, large = peak_rss_routing(2_000), peak_rss_routing(200_000)
    assert large - small < 40 * 1024**2, f"{small / 1e6:.0f} MB for 2,000 queries, {large / 1e6:.0f} MB for 200,000"
