"""Synthesis with teacher labels, and export with validation."""

from __future__ import annotations

import tempfile
from pathlib import Path

from core.bench.figures import BenchFigure, best_seconds
from core.datasets.files import write_dataset
from core.datasets.validation import validate_file
from core.labelling import build_dataset_rows, label_queries
from core.routers.reference import ReferenceTeacher
from core.synth import DataMix, generate
from core.synth.pipeline import synthesise


def synthesis_and_export() -> list[BenchFigure]:
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
