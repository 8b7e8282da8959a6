"""The distilled local student as a router: on-box, free per query, with reasoning from its own features."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.distill.artifact import load_student
from core.distill.student_model import StudentModel
from core.parsing import round_weight_rows
from core.pricing import PriceTable
from core.routers.base import Router, RouterReply
from core.schema import RoutingDecision, known_valid


class StudentRouter(Router):
    router_id = "student"
    price_key = None

    def __init__(self, model: StudentModel, prices: PriceTable | None = None, router_id: str | None = None):
        super().__init__(prices, router_id)
        self.model = model

    @classmethod
    def from_directory(
        cls, path: Path | str, prices: PriceTable | None = None, router_id: str | None = None
    ) -> StudentRouter:
        """Load a saved student; a bad folder raises StudentArtifactError with a sentence for the user."""
        return cls(load_student(path), prices, router_id)

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        # One featurisation and one matrix product for the whole batch, and the weights rounded for the whole
        # batch at once (the base would round them one by one); the base writes the reply text. Rounded
        # weights are steps of 0.05 from 0 to 1, so the decisions need no validation.
        probabilities, reasonings = self.model.predict_with_reasoning(queries)
        rounded = round_weight_rows(probabilities).tolist()
        return [
            RouterReply(
                text="",
                decision=known_valid(
                    RoutingDecision,
                    {
                        "visual": row[0],
                        "audio": row[1],
                        "transcription": row[2],
                        "metadata": row[3],
                        "reasoning": reasoning,
                    },
                ),
                rounded=True,
            )
            for row, reasoning in zip(rounded, reasonings, strict=True)
        ]

    # ---- confidence, for a cascade (core.routers.cascade) ----------------------------------------------------

    def confidences(self, queries: Sequence[str]) -> list[float]:
        """How far each query's leading channel is ahead of the runner-up, on the unrounded probabilities."""
        ranked = np.sort(self.model.predict_proba(queries), axis=1)
        return (ranked[:, -1] - ranked[:, -2]).tolist()
