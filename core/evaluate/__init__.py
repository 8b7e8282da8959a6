"""Evaluation: is a router good enough, at what cost and speed? (docs/ARCHITECTURE.md, evaluation)

- `rubric`: the one scorer (the deterministic rubric and the `evaluate --json` contract figures), re-exported
  here because the trainer, the distillation pipeline and the CLI all score through it;
- `sets`: the three kinds of evaluation set (teacher-labelled held-out, gold, expectation) loaded one way;
- `engine`: runs routers over a set and keeps every record's scores, the figures, slices and confusion;
- `recovery`, `projection`, `cascade_curve`: teacher quality recovered, monthly cost and time at a volume,
  and the student-first cascade's quality against cost over thresholds;
- `history`: runs kept in the store, a pinned baseline, deltas, comparisons, CSV and JSON exports;
- `judging`: the LLM-as-judge rubric, strict reply parsing and its calibration (core.aws.judge calls Bedrock).
"""

from core.evaluate.rubric import (
    EVALUATE_KEYS,
    QUALITY_KEYS,
    USAGE_KEYS,
    dominant_credit,
    expected_channel_credit,
    rubric_score,
    rubric_scores,
    score_decisions,
    score_pairs,
    usable_decision,
    usage_figures,
    weight_errors,
)

__all__ = [
    "EVALUATE_KEYS",
    "QUALITY_KEYS",
    "USAGE_KEYS",
    "dominant_credit",
    "expected_channel_credit",
    "rubric_score",
    "rubric_scores",
    "score_decisions",
    "score_pairs",
    "usable_decision",
    "usage_figures",
    "weight_errors",
]
