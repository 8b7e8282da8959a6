"""Each page's script run with a 10,000-row dataset loaded.

The runs are driven by AppTest in a child process (tests/perf/page_timing.py, which lives with the app
tests because it drives pages the way they do): core never imports Streamlit.
"""

from __future__ import annotations

import json
import subprocess
import sys

from core.bench.figures import BenchFigure
from core.processes import REPO_ROOT

PAGE_RUN_BUDGET_S = 1.5
PAGE_TIMING_TIMEOUT_S = 900


def page_runs() -> list[BenchFigure]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.perf.page_timing"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMING_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"page timing failed: {done.stderr.strip().splitlines()[-1:]}")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return [BenchFigure(f"page_run_{page}_10k", value, "s", PAGE_RUN_BUDGET_S) for page, value in seconds.items()]
