"""Synthesise a dataset from a DataMix: generate, deduplicate, label with a teacher, and build the files.

The CLI's `synth` and the Data Mix page both call `synthesise`, so a dataset made either way is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.datasets.files import DatasetManifest, DatasetTags, ManifestFields, write_dataset
from core.labelling import LabelRun, build_dataset_rows, checkpoint_path_for, label_queries
from core.prompts import DEFAULT_TEACHER_PROMPT, RouterPrompt
from core.routers.base import Router
from core.synth import GENERATOR_VERSION, DataMix, SynthQuery, generate
from core.synth.quality import deduplicate

ProgressCallback = Callable[[int, int], None]


@dataclass
class Synthesis:
    mix: DataMix
    queries: list[SynthQuery]
    duplicates_removed: int
    run: LabelRun | None
    records: list[dict]
    tags: list[DatasetTags]
    manifest_fields: ManifestFields

    @property
    def labelled(self) -> bool:
        return self.run is not None


def synthesise(
    mix: DataMix,
    teacher: Router | None,
    *,
    teacher_id: str | None = None,
    prompt: RouterPrompt = DEFAULT_TEACHER_PROMPT,
    name: str | None = None,
    checkpoint_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> Synthesis:
    """Generate the mix's queries and, with a teacher, label them (failures kept, not fatal).

    A billable teacher's labels are checkpointed under `checkpoint_dir` batch by batch, so a crash or a
    closed tab resumes the same run without paying twice; an on-box teacher is quicker to rerun than to
    checkpoint.
    """
    queries, removed = deduplicate(generate(mix))
    run = None
    if teacher is not None:
        texts = [q.query for q in queries]
        checkpoint = (
            checkpoint_path_for(checkpoint_dir, teacher, texts) if checkpoint_dir and teacher.billable else None
        )
        run = label_queries(teacher, texts, checkpoint_path=checkpoint, on_progress=on_progress)
    records, tags = build_dataset_rows(queries, run)
    labelling = run.manifest_fields(teacher_id) if run is not None else {}
    if run is not None and labelling.get("prompt_version") is None:
        labelling["prompt_version"] = prompt.version
    fields = ManifestFields.model_validate(
        {
            "name": name,
            "seed": mix.seed,
            "mix": mix.model_dump(),
            "generator_version": GENERATOR_VERSION,
            "notes": {"duplicates_removed": removed},
            **labelling,
        }
    )
    return Synthesis(mix, queries, removed, run, records, tags, fields)


def write_synthesis(synthesis: Synthesis, path: Path) -> DatasetManifest:
    return write_dataset(path, synthesis.records, synthesis.tags, synthesis.manifest_fields)
