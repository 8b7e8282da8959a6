"""LLM-as-judge: the full OverallQuality rubric (weights and reasoning) put to a judge model, and how far to
trust it.

Each judged query is one call: the query, the reference reply and every router's reply as candidates
labelled A, B, C... in an order drawn at random per query (so no router is always first: judges favour
positions). The judge must answer with one JSON object and nothing else, a score 1-5 and a reason per
label; anything else is counted as unparseable, never guessed at. **Calibration** compares the judge with
the deterministic rubric on the same pairs (exact agreement and within one point), and with a gold set's
weights when there is one; **spread** re-judges a sample with a fresh order and measures how often and by
how much the scores move. Judging bills the judge model, so it is estimated first and runs only when
confirmed. The judge itself is anything with `ask(prompts)` (core.aws.judge.BedrockJudge on Bedrock).
"""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.evaluate.engine import EvaluationRun
from core.evaluate.rubric import rubric_score
from core.evaluate.sets import EvaluationSet
from core.pricing import estimate_tokens
from core.routers.base import RouterReply
from core.schema import RoutingDecision

SCORES = (1, 2, 3, 4, 5)
OVERALL_QUALITY: dict[int, str] = {
    5: "every weight within 0.05 of the reference; the reasoning is specific to the query and consistent with the "
    "weights",
    4: "every weight within 0.10 of the reference; the reasoning is clear",
    3: "the leading channel matches the reference and the average weight error is under 0.15; the reasoning is generic",
    2: "the leading channel differs from the reference, or the average weight error is over 0.15",
    1: "not the router JSON (unparseable), a channel missing, or any weight off by more than 0.30",
}
JUDGE_SYSTEM_TEXT = (
    "You grade the replies of video-search intent routers against a reference reply, strictly by the rubric you "
    "are given, and answer with JSON only."
)
# A candidate's reply is cut here in the prompt (a broken model can write pages; the judge needs the start).
MAX_CANDIDATE_CHARS = 2000
# Output tokens a judge spends per candidate (score and one-sentence reason) and per reply, for estimates.
OUTPUT_TOKENS_PER_CANDIDATE = 45
OUTPUT_TOKENS_PER_REPLY = 10
DEFAULT_REJUDGE_SHARE = 0.1
DEFAULT_MAX_QUERIES = 100
LABELS = string.ascii_uppercase


def rubric_text() -> str:
    return "\n".join(f"{score}: {OVERALL_QUALITY[score]}." for score in sorted(OVERALL_QUALITY, reverse=True))


def judge_prompt(query: str, reference: str, candidates: Sequence[tuple[str, str]]) -> str:
    """The user text of one judge call: the task, the rubric, the reply format, then the query and replies."""
    labels = ", ".join(label for label, _ in candidates)
    shown = "\n".join(f"Candidate {label}: {_clipped(text)}" for label, text in candidates)
    example = ", ".join(f'"{label}": {{"score": <1-5>, "reason": "<one sentence>"}}' for label, _ in candidates)
    return (
        "A video-search intent router reads a search query and replies with JSON weights for four search channels, "
        "each between 0 and 1 and summing to 1: visual (what is seen: objects, colours, actions, scenes), audio "
        "(sounds, music, noise; not speech), transcription (spoken words, dialogue, narration) and metadata (names, "
        "titles, genres, dates, captions), with a short reasoning.\n\n"
        "Grade each candidate reply against the reference reply with the OverallQuality rubric, 1 to 5:\n"
        f"{rubric_text()}\n"
        "Weigh the weights first, then the reasoning. The candidates' labels and order are random and say nothing "
        "about their quality.\n\n"
        f"Answer with one JSON object and nothing else, one entry per candidate ({labels}): {{{example}}}\n\n"
        f"Query: {query}\nReference reply: {reference}\n{shown}"
    )


def _clipped(text: str) -> str:
    text = text if text.strip() else "(empty reply)"
    return text if len(text) <= MAX_CANDIDATE_CHARS else text[:MAX_CANDIDATE_CHARS] + " [cut]"


@dataclass(frozen=True)
class ParsedJudgement:
    scores: dict[str, int] | None
    reasons: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def parse_judge_reply(text: str, labels: Sequence[str]) -> ParsedJudgement:
    """The judge's scores per label, or the reason its reply cannot be used (never a guess).

    Strict: the reply is one JSON object (surrounding whitespace aside), keyed by exactly the labels given,
    each holding exactly an integer `score` from 1 to 5 and a string `reason`.
    """
    try:
        value = json.loads(text.strip()) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return ParsedJudgement(None, error="the reply is not one JSON object")
    if not isinstance(value, dict):
        return ParsedJudgement(None, error="the reply is not one JSON object")
    if set(value) != set(labels):
        missing = sorted(set(labels) - set(value))
        extra = sorted(set(value) - set(labels))
        problem = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(map(str, extra))}"
        return ParsedJudgement(None, error=f"the reply's candidates do not match ({problem})")
    scores: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for label in labels:
        entry = value[label]
        if not isinstance(entry, dict) or set(entry) != {"score", "reason"}:
            return ParsedJudgement(None, error=f"candidate {label} must hold exactly a score and a reason")
        score, reason = entry["score"], entry["reason"]
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
            return ParsedJudgement(None, error=f"candidate {label}'s score {score!r} is not a whole number from 1 to 5")
        if not isinstance(reason, str):
            return ParsedJudgement(None, error=f"candidate {label}'s reason is not text")
        scores[label], reasons[label] = score, reason
    return ParsedJudgement(scores, reasons)


# ---- the judge and a plan of calls --------------------------------------------------------------------------


class Judge(Protocol):
    judge_id: str
    name: str

    def ask(self, prompts: Sequence[str]) -> list[RouterReply]:
        """One reply per prompt, in order; a failed call is a reply with `error` set."""
        ...

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float: ...

    def input_text(self, prompt: str) -> str:
        """Everything the judge reads for a prompt (the system text too), for token estimates."""
        ...


@dataclass(frozen=True)
class JudgeCall:
    index: int  # the record index of the query
    order: tuple[str, ...]  # router ids in candidate order (A first)
    prompt: str
    rejudge: bool = False


@dataclass(frozen=True)
class JudgeEstimate:
    calls: int
    queries: int
    rejudged: int
    input_tokens: int
    output_tokens: int
    cost_usd: float

    def sentence(self, judge_name: str) -> str:
        return (
            f"Judging {self.queries:,} queries with {judge_name} makes {self.calls:,} calls (with {self.rejudged:,} "
            f"re-judged for spread), about {self.input_tokens + self.output_tokens:,} tokens and "
            f"${self.cost_usd:,.4f}"
        )


class JudgeConfirmationRequired(Exception):
    """Judging bills the judge model: the estimate, to show before the user confirms."""

    def __init__(self, estimate: JudgeEstimate, judge_name: str):
        super().__init__(f"{estimate.sentence(judge_name)}: confirm to go on.")
        self.estimate = estimate


@dataclass(frozen=True)
class JudgePlan:
    router_ids: tuple[str, ...]
    calls: tuple[JudgeCall, ...]
    seed: int

    def estimate(self, judge: Judge) -> JudgeEstimate:
        input_tokens = sum(estimate_tokens(judge.input_text(call.prompt)) for call in self.calls)
        per_call = OUTPUT_TOKENS_PER_REPLY + OUTPUT_TOKENS_PER_CANDIDATE * len(self.router_ids)
        output_tokens = per_call * len(self.calls)
        return JudgeEstimate(
            calls=len(self.calls),
            queries=sum(not call.rejudge for call in self.calls),
            rejudged=sum(call.rejudge for call in self.calls),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=judge.cost_usd(input_tokens, output_tokens),
        )


def plan_judging(
    run: EvaluationRun,
    router_ids: Sequence[str] | None = None,
    *,
    max_queries: int | None = DEFAULT_MAX_QUERIES,
    rejudge_share: float = DEFAULT_REJUDGE_SHARE,
    seed: int = 0,
) -> JudgePlan:
    """Which queries are judged, each with its own random candidate order, and the sample judged again."""
    routers = tuple(router_ids or run.routers)
    if not routers:
        raise ValueError("Choose at least one router to judge.")
    if len(routers) > len(LABELS):
        raise ValueError(f"A judge call compares at most {len(LABELS)} routers.")
    if not 0.0 <= rejudge_share <= 1.0:
        raise ValueError("The re-judged share is a fraction from 0 to 1.")
    first = run.routers[routers[0]].records
    if first and first[0].reference is None:
        raise ValueError("The judge needs reference weights: judge a held-out or gold set, not an expectation set.")
    rng = random.Random(seed)
    indices = [r.index for r in first]
    if max_queries is not None and len(indices) > max_queries:
        indices = sorted(rng.sample(indices, max_queries))
    calls = [_call(run, routers, index, rng) for index in indices]
    n_again = math.ceil(len(calls) * rejudge_share) if rejudge_share > 0 and calls else 0
    again = sorted(rng.sample(indices, n_again))
    calls += [_call(run, routers, index, rng, rejudge=True) for index in again]
    return JudgePlan(routers, tuple(calls), seed)


def _call(
    run: EvaluationRun, routers: Sequence[str], index: int, rng: random.Random, rejudge: bool = False
) -> JudgeCall:
    order = tuple(rng.sample(list(routers), len(routers)))
    record = run.routers[order[0]].records[index]
    reference = json.dumps(record.reference, separators=(",", ":"))
    candidates = [(LABELS[i], run.routers[r].records[index].raw_text) for i, r in enumerate(order)]
    return JudgeCall(index, order, judge_prompt(record.query, reference, candidates), rejudge)


# ---- running, calibration and spread ------------------------------------------------------------------------


def run_judging(
    run: EvaluationRun,
    judge: Judge,
    plan: JudgePlan,
    *,
    confirmed: bool,
    gold: EvaluationSet | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Judge the plan's calls (only when confirmed), write each record's judge score and each router's
    `judge_mean` and `judge_unparseable`, and return the report kept in `run.details["judge"]`."""
    estimate = plan.estimate(judge)
    if not confirmed:
        raise JudgeConfirmationRequired(estimate, judge.name)
    replies: list[RouterReply] = []
    for start in range(0, len(plan.calls), batch_size):
        replies.extend(judge.ask([call.prompt for call in plan.calls[start : start + batch_size]]))
        if on_progress is not None:
            on_progress(len(replies), len(plan.calls))
    first: dict[tuple[int, str], int] = {}
    second: dict[tuple[int, str], int] = {}
    unparseable: list[dict[str, Any]] = []
    spent_in = spent_out = 0
    for call, reply in zip(plan.calls, replies, strict=True):
        spent_in += reply.input_tokens or 0
        spent_out += reply.output_tokens or 0
        labels = [LABELS[i] for i in range(len(call.order))]
        parsed = ParsedJudgement(None, error=reply.error) if reply.error else parse_judge_reply(reply.text, labels)
        if parsed.scores is None:
            unparseable.append(
                {"index": call.index, "rejudge": call.rejudge, "error": parsed.error, "reply": reply.text}
            )
            continue
        target = second if call.rejudge else first
        for label, router_id in zip(labels, call.order, strict=True):
            target[(call.index, router_id)] = parsed.scores[label]
    judged_indices = {call.index for call in plan.calls if not call.rejudge}
    failed_indices = {u["index"] for u in unparseable if not u["rejudge"]}
    for router_id in plan.router_ids:
        records = run.routers[router_id].records
        for index in judged_indices:
            records[index].judge = first.get((index, router_id))
        scores = [first[(i, router_id)] for i in sorted(judged_indices) if (i, router_id) in first]
        figures = run.routers[router_id].figures
        figures["judge_mean"] = math.fsum(scores) / len(scores) if scores else None
        figures["judge_unparseable"] = len(failed_indices)
    report = {
        "judge": judge.judge_id,
        "judge_name": judge.name,
        "seed": plan.seed,
        "routers": list(plan.router_ids),
        "queries": len(judged_indices),
        "calls": len(plan.calls),
        "unparseable": len(unparseable),
        "unparseable_replies": unparseable,
        "orders": [{"index": c.index, "order": list(c.order), "rejudge": c.rejudge} for c in plan.calls],
        "estimate_usd": estimate.cost_usd,
        "cost_usd": judge.cost_usd(spent_in, spent_out),
        "calibration": calibrate(run, plan.router_ids, first, gold),
        "spread": spread(first, second),
    }
    run.details["judge"] = report
    return report


def agreement(pairs: Sequence[tuple[int, int]]) -> dict[str, float | int | None]:
    """How often two 1-5 scorers agree exactly and within one point, and the mean of (first - second)."""
    n = len(pairs)
    if not n:
        return {"n": 0, "exact": None, "within_1": None, "mean_difference": None}
    return {
        "n": n,
        "exact": sum(a == b for a, b in pairs) / n,
        "within_1": sum(abs(a - b) <= 1 for a, b in pairs) / n,
        "mean_difference": math.fsum(a - b for a, b in pairs) / n,
    }


def calibrate(
    run: EvaluationRun,
    router_ids: Sequence[str],
    judged: Mapping[tuple[int, str], int],
    gold: EvaluationSet | None = None,
) -> dict[str, Any]:
    """The judge against the deterministic rubric on the same reference, and against a gold set's weights.

    On a gold set the reference is people's weights, so the rubric comparison is already the gold one. A
    separate gold set is matched to the judged queries by their text.
    """
    rubric_pairs = [
        (score, run.routers[r].records[i].rubric)
        for (i, r), score in judged.items()
        if r in router_ids and run.routers[r].records[i].rubric is not None
    ]
    result: dict[str, Any] = {"vs_rubric": agreement([(a, b) for a, b in rubric_pairs if b is not None])}
    if run.set.get("kind") == "gold":
        result["vs_gold"] = result["vs_rubric"]
    elif gold is not None and gold.references is not None:
        by_query: dict[str, RoutingDecision] = dict(zip(gold.queries, gold.references, strict=True))
        pairs = []
        for (i, r), score in judged.items():
            record = run.routers[r].records[i]
            reference = by_query.get(record.query)
            if reference is not None:
                pairs.append((score, rubric_score(record.decision(), reference)))
        result["vs_gold"] = agreement(pairs)
    else:
        result["vs_gold"] = None
    return result


def spread(first: Mapping[tuple[int, str], int], second: Mapping[tuple[int, str], int]) -> dict[str, Any]:
    """How re-judging the same replies (in a new order) moves the scores."""
    pairs = [(first[key], score) for key, score in second.items() if key in first]
    n = len(pairs)
    return {
        "n": n,
        "changed": sum(a != b for a, b in pairs) / n if n else None,
        "mean_abs_change": math.fsum(abs(a - b) for a, b in pairs) / n if n else None,
    }
