"""Gold labels: queries whose four weights a person set, kept in named gold sets.

Each label (query, weights rounded to 0.05 steps that sum to exactly 1, a note) lives in the store. Every
change re-exports its gold set as a labelled bedrock-conversation-2024 dataset in the dataset library,
named `gold-<set>`, with a manifest saying it is a gold set labelled by people (notes {"gold": true,
"labelled_by": "people", "gold_set": <set>}), so it can be chosen wherever a held-out set can. The notes
stay in the store only: a dataset record holds nothing but the query and the weights.
"""

from __future__ import annotations

import math
import re
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from core.datasets.files import DatasetTags, make_record
from core.datasets.library import DatasetInfo, DatasetLibrary
from core.datasets.validation import RESERVED_STRINGS
from core.parsing import SUM_TOLERANCE, round_weights
from core.schema import MODALITIES, RoutingDecision
from core.store import NOW_SQL, Store
from core.synth.mix import rebalance

GOLD_PREFIX = "gold-"
LABELLED_BY = "people"
GOLD_REASONING = "Weights set by a person (gold label)."
MAX_NOTE_CHARS = 1000
MAX_QUERY_CHARS = 2000
MAX_SET_NAME_CHARS = 60
# The resolution people set weights at: the same 0.05 steps every router's reply is rounded to.
WEIGHT_STEP = 0.05
_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]*")
_STAGING = ".saving-"


class GoldLabelError(ValueError):
    """A gold label or set that cannot be saved as given; the message says why and what to do."""


@dataclass(frozen=True)
class GoldLabel:
    id: str
    gold_set: str
    query: str
    weights: dict[str, float]
    note: str
    run_id: str | None
    created_at: str
    updated_at: str

    def decision(self) -> RoutingDecision:
        return RoutingDecision(**self.weights, reasoning=GOLD_REASONING)


@dataclass(frozen=True)
class GoldSet:
    name: str
    labels: int
    updated_at: str
    dataset: DatasetInfo | None  # the exported dataset, None if the last export failed


def gold_weights(weights: Mapping[str, object]) -> dict[str, float]:
    """The four weights a person set, checked (each 0-1, summing to 1 within 0.01) and rounded to 0.05 steps
    that sum to exactly 1 (core.parsing.round_weights); otherwise one sentence."""
    values: dict[str, float] = {}
    for modality in MODALITIES:
        raw = weights.get(modality)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise GoldLabelError(f"The {modality} weight must be a number between 0 and 1.")
        if not 0.0 <= raw <= 1.0:
            raise GoldLabelError(f"The {modality} weight is {raw:g}: keep every weight between 0 and 1.")
        values[modality] = float(raw)
    total = math.fsum(values.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise GoldLabelError(f"The four weights add up to {total:.2f}: make them add up to 1.")
    return round_weights(values)


def set_weight(weights: Mapping[str, float], modality: str, value: float) -> dict[str, float]:
    """One channel set to `value` and the other three rescaled in proportion, so the four still sum to exactly 1
    in 0.05 steps (what a gold-label control shows after a change)."""
    return rebalance({m: float(weights.get(m, 0.0)) for m in MODALITIES}, modality, value, step=WEIGHT_STEP)


def dataset_name(gold_set: str) -> str:
    return GOLD_PREFIX + gold_set


class GoldLabels:
    def __init__(self, store: Store, library: DatasetLibrary):
        self.store = store
        self.library = library

    def save(
        self, gold_set: str, query: str, weights: Mapping[str, object], note: str = "", run_id: str | None = None
    ) -> GoldLabel:
        """Save (or replace) the label of a query in a gold set, then export the set to the dataset library.

        A label already saved stays saved when the export fails; the error says so and the next save exports again.
        """
        gold_set = check_set_name(gold_set)
        query = check_query(query)
        rounded = gold_weights(weights)
        note = (note or "").strip()
        if len(note) > MAX_NOTE_CHARS:
            raise GoldLabelError(f"The note is {len(note):,} characters long: keep it to {MAX_NOTE_CHARS:,}.")
        self._check_name_free(gold_set)
        self.store.execute(
            "INSERT INTO gold_labels (id, gold_set, query, visual, audio, transcription, metadata, note, run_id, "
            f"created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW_SQL}, {NOW_SQL}) "
            "ON CONFLICT(gold_set, query) DO UPDATE SET visual = excluded.visual, audio = excluded.audio, "
            "transcription = excluded.transcription, metadata = excluded.metadata, note = excluded.note, "
            "run_id = excluded.run_id, updated_at = excluded.updated_at",
            ("gold-" + uuid.uuid4().hex[:12], gold_set, query, *(rounded[m] for m in MODALITIES), note, run_id),
        )
        self._export_or_explain(gold_set)
        label = next(label for label in self.labels(gold_set) if label.query == query)
        return label

    def labels(self, gold_set: str) -> list[GoldLabel]:
        rows = self.store.query(
            "SELECT * FROM gold_labels WHERE gold_set = ? ORDER BY created_at, rowid", (gold_set.strip(),)
        )
        return [_label(row) for row in rows]

    def sets(self) -> list[GoldSet]:
        rows = self.store.query(
            "SELECT gold_set, COUNT(*) AS n, MAX(updated_at) AS updated FROM gold_labels GROUP BY gold_set "
            "ORDER BY updated DESC"
        )
        return [
            GoldSet(row["gold_set"], int(row["n"]), row["updated"], self._exported(row["gold_set"])) for row in rows
        ]

    def delete(self, gold_set: str, query: str) -> None:
        """Remove one label; the exported dataset follows (and goes when the set is empty)."""
        changed = self.store.execute(
            "DELETE FROM gold_labels WHERE gold_set = ? AND query = ?", (gold_set.strip(), query.strip())
        )
        if not changed:
            raise GoldLabelError(f"Gold set {gold_set!r} has no label for {query!r}.")
        self._export_or_explain(gold_set.strip())

    def export(self, gold_set: str) -> DatasetInfo | None:
        """Write the set as the labelled dataset `gold-<set>` (replacing the previous export); None when it is empty."""
        gold_set = check_set_name(gold_set)
        final = dataset_name(gold_set)
        existing = self._check_name_free(gold_set)
        for stale in self._staged(gold_set):  # left by an export that was interrupted
            self.library.delete(stale.id)
        labels = self.labels(gold_set)
        if not labels:
            if existing is not None:
                self.library.delete(existing.id)
            return None
        records = [make_record(label.query, label.decision()) for label in labels]
        tags = [DatasetTags(focus=label.decision().dominant()) for label in labels]
        fields = {
            "teacher_id": LABELLED_BY,
            "notes": {"gold": True, "labelled_by": LABELLED_BY, "gold_set": gold_set, "labels": len(labels)},
        }
        # Written beside the old export first, so a failure leaves the old one in place.
        staged = self.library.save(f"{final}{_STAGING}{uuid.uuid4().hex[:8]}", records, tags, fields)
        try:
            if existing is not None:
                self.library.delete(existing.id)
            return self.library.rename(staged.id, final)
        except BaseException:
            self.library.delete(staged.id)
            raise

    def _check_name_free(self, gold_set: str) -> DatasetInfo | None:
        """The set's current export; refuses a set whose dataset name another dataset already has."""
        existing = self.library.find(dataset_name(gold_set))
        if existing is not None and not self._belongs(existing, gold_set):
            raise GoldLabelError(
                f"A dataset named {existing.name!r} already exists and is not gold set {gold_set!r}: rename that "
                "dataset or choose another gold set name."
            )
        return existing

    def _export_or_explain(self, gold_set: str) -> None:
        try:
            self.export(gold_set)
        except (ValueError, OSError, sqlite3.Error) as exc:
            if isinstance(exc, GoldLabelError):
                raise
            raise GoldLabelError(
                f"The label is saved, but gold set {gold_set!r} could not be exported as a dataset ({exc}); "
                "saving another label tries again."
            ) from exc

    def _exported(self, gold_set: str) -> DatasetInfo | None:
        found = self.library.find(dataset_name(gold_set))
        return found if found is not None and self._belongs(found, gold_set) else None

    def _staged(self, gold_set: str) -> list[DatasetInfo]:
        prefix = dataset_name(gold_set) + _STAGING
        return [info for info in self.library.list() if info.name.startswith(prefix) and self._belongs(info, gold_set)]

    @staticmethod
    def _belongs(info: DatasetInfo, gold_set: str) -> bool:
        return info.is_gold and (info.manifest.get("notes") or {}).get("gold_set") == gold_set


def check_set_name(name: str) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise GoldLabelError("The gold set needs a name, such as launch-queries.")
    if len(name) > MAX_SET_NAME_CHARS or _SET_NAME.fullmatch(name) is None:
        raise GoldLabelError(
            f"The gold set name {name!r} is not valid: use up to {MAX_SET_NAME_CHARS} letters, digits, spaces, "
            "'_', '-' or '.', starting with a letter or digit."
        )
    return name


def check_query(query: str) -> str:
    text = (query or "").strip() if isinstance(query, str) else ""
    if not text:
        raise GoldLabelError("A gold label needs a query.")
    if len(text) > MAX_QUERY_CHARS:
        raise GoldLabelError(f"The query is {len(text):,} characters long: keep it to {MAX_QUERY_CHARS:,}.")
    reserved = next((s for s in RESERVED_STRINGS if s in text), None)
    if reserved is not None:
        raise GoldLabelError(f"The query contains {reserved!r}, which Nova training data may not hold: rephrase it.")
    return text


def _label(row: sqlite3.Row) -> GoldLabel:
    return GoldLabel(
        id=row["id"],
        gold_set=row["gold_set"],
        query=row["query"],
        weights={m: float(row[m]) for m in MODALITIES},
        note=row["note"],
        run_id=row["run_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
