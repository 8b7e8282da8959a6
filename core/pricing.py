"""Token prices (editable defaults, docs/ARCHITECTURE.md, prices) and the cost of a routed query."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

# USD per 1M tokens, on-demand, US regions; users can override each in Settings.
DEFAULT_PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "nova-micro": (0.035, 0.14),
    "nova-lite": (0.06, 0.24),
    "nova-pro": (0.80, 3.20),
    "nova-premier": (2.50, 12.50),
    "claude-haiku-4.5": (1.00, 5.00),
    "claude-3-haiku": (0.25, 1.25),
    "claude-sonnet-4.5": (3.00, 15.00),
}

# Rough size of a token in characters for English text; used only where no model reported usage.
CHARS_PER_TOKEN = 4
# Tokens a router reply (four weights and a one-sentence reasoning) takes, for estimates made before any call.
TYPICAL_REPLY_TOKENS = 60
# Batch inference bills about half the on-demand price per token (docs/ARCHITECTURE.md, prices).
BATCH_PRICE_FACTOR = 0.5


@dataclass(frozen=True)
class ModelPrice:
    model_key: str
    input_per_million: float
    output_per_million: float

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6


class PriceTable:
    def __init__(self, prices: dict[str, ModelPrice] | None = None):
        self._prices = dict(prices) if prices is not None else default_prices()

    def get(self, model_key: str) -> ModelPrice | None:
        return self._prices.get(model_key)

    def all(self) -> list[ModelPrice]:
        return [self._prices[k] for k in sorted(self._prices)]

    def cost_usd(self, model_key: str | None, input_tokens: int, output_tokens: int) -> float:
        if model_key is None:
            return 0.0
        price = self._prices.get(model_key)
        return price.cost_usd(input_tokens, output_tokens) if price else 0.0


def default_prices() -> dict[str, ModelPrice]:
    return {k: ModelPrice(k, i, o) for k, (i, o) in DEFAULT_PRICES_PER_MILLION.items()}


def estimate_tokens(text: str) -> int:
    """A rough token count for text no model has measured (about four characters a token)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN  # rounded up: 0 only for no text


def parse_price(
    model_key: str, model_name: str, input_value: object, output_value: object
) -> tuple[ModelPrice | None, list[str]]:
    """A price as typed into a table (a cell may hold anything), or the problems that stop it being saved: empty,
    not a number, not finite, negative. Each problem names the model and the price, e.g. "Amazon Nova Pro,
    output price is empty"."""
    values: list[float] = []
    problems: list[str] = []
    for side, raw in (("input", input_value), ("output", output_value)):
        where = f"{model_name}, {side} price"
        value = _as_number(raw)
        if value is None:
            problems.append(f"{where} is not a number")
        elif not math.isfinite(value):
            problems.append(f"{where} is empty" if math.isnan(value) else f"{where} must be a finite number")
        elif value < 0:
            problems.append(f"{where} cannot be negative")
        else:
            values.append(value)
    return (ModelPrice(model_key, values[0], values[1]) if len(values) == 2 else None), problems


def _as_number(raw: object) -> float | None:
    """A cell's value as a float (an empty numeric cell is NaN), or None when it holds no number at all."""
    if not isinstance(raw, numbers.Real | str):
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def load_price_table(store) -> PriceTable:
    """Defaults overlaid with the user's edits kept in the store."""
    prices = default_prices()
    for row in store.query("SELECT model_key, input_per_million, output_per_million FROM prices"):
        prices[row["model_key"]] = ModelPrice(row["model_key"], row["input_per_million"], row["output_per_million"])
    return PriceTable(prices)


def save_price(store, price: ModelPrice) -> None:
    if price.input_per_million < 0 or price.output_per_million < 0:
        raise ValueError("prices cannot be negative")
    store.execute(
        "INSERT INTO prices (model_key, input_per_million, output_per_million, updated_at) "
        "VALUES (?, ?, ?, datetime('now')) ON CONFLICT(model_key) DO UPDATE SET "
        "input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million, "
        "updated_at = excluded.updated_at",
        (price.model_key, price.input_per_million, price.output_per_million),
    )


def reset_prices(store) -> None:
    store.execute("DELETE FROM prices")


# Prices AWS does not publish in a form the studio can know: the user enters them in Settings, and until
# then every meter and estimate that needs one says "price unknown". (kind, unit) per rate kind; a rate is
# named "<kind>:<model key>", e.g. "provisioned_hour:nova-micro".
RATE_KINDS: dict[str, str] = {
    "provisioned_hour": "USD per model unit per hour (provisioned throughput)",
    "training_per_million_tokens": "USD per 1M training tokens (model customization)",
    "storage_per_month": "USD per custom model per month (storage)",
}


def rate_name(kind: str, model_key: str) -> str:
    if kind not in RATE_KINDS:
        raise ValueError(f"unknown rate kind {kind!r}; expected one of {', '.join(RATE_KINDS)}")
    return f"{kind}:{model_key}"


def load_rates(store) -> dict[str, float]:
    """Every rate the user has entered, by name."""
    return {row["name"]: float(row["usd"]) for row in store.query("SELECT name, usd FROM billing_rates")}


def billing_rate(store, kind: str, model_key: str) -> float | None:
    """The rate the user entered for this kind and model, or None (shown as "price unknown")."""
    row = store.query_one("SELECT usd FROM billing_rates WHERE name = ?", (rate_name(kind, model_key),))
    return float(row["usd"]) if row is not None else None


def save_rate(store, kind: str, model_key: str, usd: float | None) -> None:
    """Enter (or, with None, forget) a rate; a negative or non-finite one is refused with a sentence."""
    name = rate_name(kind, model_key)
    if usd is None:
        store.execute("DELETE FROM billing_rates WHERE name = ?", (name,))
        return
    if not math.isfinite(usd) or usd < 0:
        raise ValueError(f"The rate {name} must be a non-negative number of US dollars.")
    store.execute(
        "INSERT INTO billing_rates (name, usd, updated_at) VALUES (?, ?, datetime('now')) "
        "ON CONFLICT(name) DO UPDATE SET usd = excluded.usd, updated_at = excluded.updated_at",
        (name, float(usd)),
    )
