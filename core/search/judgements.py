"""Relevance judgements: queries with the segments that truly match them, graded.

Grade 2: the segment truly matches (it has everything the query asks for); grade 1: it matches partly.
Recall and MRR count grade-2 segments only; NDCG@10 uses both grades (core.search.metrics).
A query's `channels` are the channels its words were written in, when known (the sample catalog knows;
an imported file may say): the "oracle" reference weights read them, never a router.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.schema import MODALITIES
from core.synth.mix import FOCI

FULL_MATCH = 2
PARTIAL_MATCH = 1
GRADES = (PARTIAL_MATCH, FULL_MATCH)
# An imported query may leave its focus out; its figures are then grouped under this name.
UNSPECIFIED_FOCUS = "unspecified"


@dataclass(frozen=True)
class JudgedQuery:
    id: str
    query: str
    focus: str  # one of core.synth.mix.FOCI, or UNSPECIFIED_FOCUS
    relevant: Mapping[str, int]  # segment id -> grade (1 or 2); segments not listed are not relevant
    channels: tuple[str, ...] = ()  # the channels the query is written in (in MODALITIES order), if known
    facets: Mapping[str, str] = field(default_factory=dict, compare=False)  # what the query asks for, if known

    def full_matches(self) -> list[str]:
        return [segment_id for segment_id, grade in self.relevant.items() if grade == FULL_MATCH]

    def to_json_dict(self) -> dict[str, object]:
        record: dict[str, object] = {"id": self.id, "query": self.query}
        if self.focus != UNSPECIFIED_FOCUS:
            record["focus"] = self.focus
        if self.channels:
            record["channels"] = list(self.channels)
        if self.facets:
            record["facets"] = dict(self.facets)
        record["relevant"] = dict(self.relevant)
        return record


def judged_query_from_dict(record: dict, number: int) -> JudgedQuery:
    """A judged query from an already validated line (`number` names it when the line has no id)."""
    channels = record.get("channels") or ()
    return JudgedQuery(
        id=str(record.get("id") or f"q{number:04d}"),
        query=record["query"],
        focus=record.get("focus") or UNSPECIFIED_FOCUS,
        relevant={str(k): int(v) for k, v in record["relevant"].items()},
        channels=tuple(m for m in MODALITIES if m in channels),
        facets=dict(record.get("facets") or {}),
    )


def judgements_to_jsonl(queries: Sequence[JudgedQuery]) -> str:
    return "".join(json.dumps(q.to_json_dict(), ensure_ascii=False) + "\n" for q in queries)


def focus_names() -> tuple[str, ...]:
    """Every focus a figure can be grouped under, in the order reports list them."""
    return (*FOCI, UNSPECIFIED_FOCUS)


def oracle_weights(query: JudgedQuery) -> dict[str, float] | None:
    """Equal weight on the channels the query is written in: a reference for perfect routing, not a router."""
    if not query.channels:
        return None
    share = 1.0 / len(query.channels)
    return {m: share if m in query.channels else 0.0 for m in MODALITIES}
