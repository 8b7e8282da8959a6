"""What billable work will cost, said before it runs: one estimate shape for labelling, batch runs, teacher-written
queries and distillation jobs, and the confirmation every one of them needs.

A price the studio does not know (training and storage until the user enters them, a custom model's tokens)
is `None` and shown as "price unknown", never as zero; docs/ARCHITECTURE.md lists the prices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.pricing import BATCH_PRICE_FACTOR, TYPICAL_REPLY_TOKENS, PriceTable, estimate_tokens

UNKNOWN_PRICE = "price unknown"


@dataclass(frozen=True)
class CostItem:
    """One part of an estimate: what bills, how much (None: the price is unknown), and how it was counted."""

    label: str
    usd: float | None
    detail: str = ""
    # "per month" for a charge that goes on (custom model storage); None for a one-off charge.
    recurring: str | None = None
    # What to do to learn an unknown price.
    advice: str = ""

    def shown_usd(self) -> str:
        if self.usd is None:
            return UNKNOWN_PRICE
        return f"${self.usd:,.4f}" if self.usd < 1 else f"${self.usd:,.2f}"

    def to_json_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "usd": self.usd,
            "detail": self.detail,
            "recurring": self.recurring,
            "advice": self.advice,
        }


@dataclass(frozen=True)
class CostEstimate:
    items: tuple[CostItem, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def billable(self) -> bool:
        return any(item.usd is None or item.usd > 0 for item in self.items)

    @property
    def known_usd(self) -> float:
        """The one-off charges whose price is known (a lower bound when some price is unknown)."""
        return sum(item.usd for item in self.items if item.usd is not None and item.recurring is None)

    @property
    def unknown(self) -> list[str]:
        return [item.label for item in self.items if item.usd is None]

    def sentence(self) -> str:
        """One line: the one-off total, its parts, then what keeps billing."""
        once = [item for item in self.items if item.recurring is None]
        going = [item for item in self.items if item.recurring is not None]
        if not self.billable:
            return "Nothing here is billed."
        if once and all(item.usd is None for item in once):
            text = UNKNOWN_PRICE.capitalize()  # "At least $0.0000" would read as free
        else:
            prefix = "At least" if any(item.usd is None for item in once) else "About"
            text = f"{prefix} ${self.known_usd:,.4f}" if self.known_usd < 1 else f"{prefix} ${self.known_usd:,.2f}"
        if len(once) == 1:
            text = f"{once[0].label}: {once[0].shown_usd()}"
        elif once:
            text += " (" + "; ".join(f"{item.label} {item.shown_usd()}" for item in once) + ")"
        for item in going:
            text += f", then {item.label} {item.shown_usd()} {item.recurring}"
        return text + "."

    def lines(self) -> list[str]:
        """Every item with how it was counted, then the notes: for a confirmation step."""
        out = []
        for item in self.items:
            line = f"{item.label}: {item.shown_usd()}{' ' + item.recurring if item.recurring else ''}"
            if item.detail:
                line += f" ({item.detail})"
            if item.usd is None and item.advice:
                line += f"; {item.advice}"
            out.append(line)
        return out + list(self.notes)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "billable": self.billable,
            "known_usd": self.known_usd,
            "unknown": self.unknown,
            "sentence": self.sentence(),
            "items": [item.to_json_dict() for item in self.items],
            "notes": list(self.notes),
        }


NOTHING_BILLED = CostEstimate(())


class ConfirmationRequired(Exception):
    """Billable work asked for without confirmation: the message quotes the estimate and says how to confirm."""

    def __init__(self, doing: str, estimate: CostEstimate):
        super().__init__(f"{doing} bills your AWS account. {estimate.sentence()} Confirm to go ahead.")
        self.doing = doing
        self.estimate = estimate


def require_confirmation(doing: str, estimate: CostEstimate, confirm: bool) -> None:
    """Raise ConfirmationRequired unless nothing bills or the caller confirmed."""
    if estimate.billable and not confirm:
        raise ConfirmationRequired(doing, estimate)


def token_cost_item(
    label: str,
    texts: Sequence[str],
    price_key: str | None,
    prices: PriceTable,
    input_text: Callable[[str], str],
    *,
    output_tokens_each: int = TYPICAL_REPLY_TOKENS,
    batch: bool = False,
) -> CostItem:
    """Model calls, one per text: input tokens of what the model reads, a typical reply's output tokens."""
    input_tokens = sum(estimate_tokens(input_text(text)) for text in texts)
    output_tokens = output_tokens_each * len(texts)
    price = prices.get(price_key) if price_key is not None else None
    usd = None if price is None else price.cost_usd(input_tokens, output_tokens) * (BATCH_PRICE_FACTOR if batch else 1)
    how = "batch price, about half of on demand" if batch else "on demand"
    detail = (
        f"{len(texts):,} calls, about {_tokens(input_tokens)} input and {_tokens(output_tokens)} output tokens, {how}"
    )
    advice = "the studio has no token price for this model; check its pricing page before confirming"
    return CostItem(label, usd, detail, advice=advice)


def router_labelling_estimate(
    router, queries: Sequence[str], *, batch: bool = False, teacher: str | None = None
) -> CostEstimate:
    """What labelling these queries with this router (named `teacher` when given) costs; nothing when on box."""
    if not router.billable:
        return NOTHING_BILLED
    label = f"Labelling with {teacher or router.router_id}"
    item = token_cost_item(label, queries, router.price_key, router.prices, router.input_text, batch=batch)
    return CostEstimate((item,))


def _tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k"
    return str(count)
