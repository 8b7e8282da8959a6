"""`python -m core bench`: the performance figures of DESIGN.md section 5, measured on this machine.

Speed is measured here, never by timed tests: the machines are shared and noisy, so each figure is the
median of repeated runs and is reported with its budget and the ratio to it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WARMUP_CALLS = 200
LATENCY_CALLS = 2000
REPEATS = 3


@dataclass(frozen=True)
class BenchFigure:
    name: str
    value: float
    unit: str
    budget: float
    # "max": value must stay at or under the budget; "min": at or over it (throughput).
    kind: str = "max"

    @property
    def ok(self) -> bool:
        return self.value <= self.budget if self.kind == "max" else self.value >= self.budget

    @property
    def ratio(self) -> float:
        """Value over budget for ceilings, budget over value for floors: under 1.0 means within budget."""
        if self.kind == "max":
            return self.value / self.budget
        return self.budget / self.value if self.value else float("inf")

    def to_json_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": round(self.value, 6),
            "unit": self.unit,
            "budget": self.budget,
            "ok": self.ok,
        }


def median_call_ms(call: Callable[[str], object], queries: Sequence[str]) -> float:
    """Median wall time of one call, in milliseconds, over the given queries (after a warm-up)."""
    for query in queries[:WARMUP_CALLS]:
        call(query)
    timings = []
    for query in queries[:LATENCY_CALLS]:
        started = time.perf_counter()
        call(query)
        timings.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(timings)


def best_seconds(work: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of a few runs: the figure least disturbed by other load on a shared machine."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def bench_queries(n: int = LATENCY_CALLS) -> list[str]:
    from core.synth.generator import generate
    from core.synth.mix import DataMix

    return [q.query for q in generate(DataMix(total=max(100, n), seed=20261125))][:n]


def _router_latency() -> list[BenchFigure]:
    from core.routers.reference import ReferenceTeacher
    from core.routers.uniform import UniformRouter

    queries = bench_queries()
    return [
        BenchFigure("teacher_latency_p50", median_call_ms(ReferenceTeacher().route, queries), "ms", 0.5),
        BenchFigure("uniform_latency_p50", median_call_ms(UniformRouter().route, queries), "ms", 0.5),
    ]


def _synthesis_and_export() -> list[BenchFigure]:
    import tempfile
    from pathlib import Path

    from core.dataset import write_dataset
    from core.dataset_validation import validate_file
    from core.labelling import build_dataset_rows, label_queries
    from core.routers.reference import ReferenceTeacher
    from core.synth import DataMix, generate
    from core.synthesis import synthesise

    teacher = ReferenceTeacher()
    synth_and_label = best_seconds(lambda: synthesise(DataMix(total=10_000, seed=7), teacher))

    queries = generate(DataMix(total=15_000, seed=7))
    run = label_queries(teacher, [q.query for q in queries])

    def export_and_validate(path: Path) -> None:
        records, tags = build_dataset_rows(queries, run)
        write_dataset(path, records, tags)
        if not validate_file(path).ok:
            raise RuntimeError("the benchmark dataset did not validate")

    with tempfile.TemporaryDirectory() as folder:
        export = best_seconds(lambda: export_and_validate(Path(folder) / "bench.jsonl"))
    return [
        BenchFigure("synthesise_and_label_10k", synth_and_label, "s", 5.0),
        BenchFigure("export_and_validate_15k", export, "s", 2.0),
    ]


def _distillation() -> list[BenchFigure]:

    from core.distill.trainer import decision_targets, train_student
    from core.labelling import label_queries
    from core.routers.reference import ReferenceTeacher
    from core.routers.student import StudentRouter
    from core.synth import DataMix, generate

    queries = [q.query for q in generate(DataMix(total=10_000, seed=7))]
    decisions = label_queries(ReferenceTeacher(), queries).decisions
    kept = [(q, d) for q, d in zip(queries, decisions, strict=True) if d is not None]
    targets = decision_targets([d for _, d in kept])
    texts = [q for q, _ in kept]
    models = []
    training = best_seconds(lambda: models.append(train_student(texts, targets)), repeats=1)
    student = StudentRouter(models[-1])
    heldout = [q.query for q in generate(DataMix(total=10_000, seed=8))]
    batch = best_seconds(lambda: student.route_batch(heldout))
    return [
        BenchFigure("distill_local_10k", training, "s", 30.0),
        BenchFigure("student_latency_p50", median_call_ms(student.route, heldout), "ms", 2.0),
        BenchFigure("student_batch_10k_throughput", len(heldout) / batch, "queries/s", 20_000.0, kind="min"),
    ]


def _page_runs() -> list[BenchFigure]:
    """Each page's script run (AppTest) with 10,000 rows loaded, measured in a child process: the UI
    lives in dashboard/, and core never imports Streamlit."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.page_timing"], cwd=root, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"page timing failed: {done.stderr.strip().splitlines()[-1:]}")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return [BenchFigure(f"page_run_{page}_10k", value, "s", 1.5) for page, value in seconds.items()]


# Each entry measures one group of figures; later components add theirs here.
FIGURE_GROUPS: list[tuple[str, Callable[[], list[BenchFigure]]]] = [
    ("router_latency", _router_latency),
    ("synthesis_and_export", _synthesis_and_export),
    ("distillation", _distillation),
    ("page_runs", _page_runs),
]


def run_bench(only: Sequence[str] = ()) -> list[BenchFigure]:
    """Every figure group, or the groups whose name contains one of the `only` words."""
    groups = [(name, measure) for name, measure in FIGURE_GROUPS if not only or any(word in name for word in only)]
    if not groups:
        known = ", ".join(name for name, _ in FIGURE_GROUPS)
        raise ValueError(f"no figure group matches {', '.join(only)}; the groups are {known}")
    return [figure for _, measure in groups for figure in measure()]


def format_figures(figures: Sequence[BenchFigure]) -> str:
    lines = [f"{'figure':<34} {'measured':>12} {'budget':>12}  ratio  ok"]
    for f in figures:
        bound = "<=" if f.kind == "max" else ">="
        lines.append(
            f"{f.name:<34} {f.value:>9.3f} {f.unit:<3}{bound}{f.budget:>8g} {f.unit:<3} {f.ratio:5.2f}  "
            f"{'yes' if f.ok else 'NO'}"
        )
    return "\n".join(lines)
