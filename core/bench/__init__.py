"""`python -m core bench`: the performance figures of docs/ARCHITECTURE.md (budgets), measured on this machine.

Speed is measured here, never by timed tests: the machines are shared and noisy, so each figure is the
median of repeated runs (or the best of a few) and is reported with its budget and the ratio to it.
Each area measures its own figures in a module of this package; FIGURE_GROUPS lists them.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

from core.bench.figures import BenchFigure

# (group name, "module:function" returning that group's figures). A new area adds one line here.
FIGURE_GROUPS: tuple[tuple[str, str], ...] = (
    ("router_latency", "core.bench.routers:router_latency"),
    ("synthesis_and_export", "core.bench.datasets:synthesis_and_export"),
    ("distillation", "core.bench.distillation:distillation"),
    ("page_runs", "core.bench.pages:page_runs"),
    ("search", "core.bench.search:search"),
    ("bedrock_labelling", "core.bench.bedrock_labelling:bedrock_labelling"),
    ("deploy_and_compare", "core.bench.deployments:deploy_and_compare"),
    ("evaluation", "core.bench.evaluation:evaluation"),
    ("route_file", "core.bench.route_file:route_file"),
)


def group_names() -> list[str]:
    return [name for name, _ in FIGURE_GROUPS]


def run_bench(only: Sequence[str] = (), expectations: Path | None = None) -> list[BenchFigure]:
    """Every figure group, or the groups whose name contains one of the `only` words. A group whose function
    takes `expectations` also scores its routers on that expectation file."""
    groups = [(name, target) for name, target in FIGURE_GROUPS if not only or any(word in name for word in only)]
    if not groups:
        raise ValueError(f"no figure group matches {', '.join(only)}; the groups are {', '.join(group_names())}")
    figures = []
    for _, target in groups:
        measure = _measure(target)
        takes = "expectations" in inspect.signature(measure).parameters
        figures.extend(measure(expectations=expectations) if takes else measure())
    return figures


def _measure(target: str) -> Callable[..., list[BenchFigure]]:
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def format_figures(figures: Sequence[BenchFigure]) -> str:
    lines = [f"{'figure':<34} {'measured':>12} {'budget':>12}  ratio  ok"]
    for f in figures:
        bound = {"max": "<=", "min": ">="}.get(f.kind, "vs")
        lines.append(
            f"{f.name:<34} {f.value:>9.3f} {f.unit:<3} {bound}{f.budget:>8g} {f.unit:<3} {f.ratio:5.2f}  "
            f"{'-' if f.kind == 'info' else 'yes' if f.ok else 'NO'}"
        )
    return "\n".join(lines)


__all__ = ["FIGURE_GROUPS", "BenchFigure", "format_figures", "group_names", "run_bench"]
