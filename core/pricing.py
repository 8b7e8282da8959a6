"""Token prices (editable defaults, docs/ARCHITECTURE.md, prices) and the cost of a routed query."""

from __future__ import annotations

import math
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
CHARS_PER_TOKEN = 4.0


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
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


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
