"""The data mix: how many synthetic queries to make and how they split over focus, difficulty and domain."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

# A custom term must not bring in the strings that make Nova training data invalid.
from core.datasets.validation import RESERVED_STRINGS

FOCI: tuple[str, ...] = ("visual", "audio", "transcription", "metadata", "mixed")
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard", "edge")
DOMAINS: tuple[str, ...] = (
    "news",
    "sports",
    "entertainment",
    "documentary",
    "education",
    "music",
    "cooking",
    "travel",
    "technology",
    "business",
)
CUSTOM_DOMAIN = "custom"
GROUPS: tuple[str, ...] = ("focus", "difficulty", "domain")

# Bedrock accepts 100 to 15,000 prompts per distillation job.
MIN_TOTAL = 100
MAX_TOTAL = 15_000
SHARE_TOLERANCE = 1e-6
MAX_CUSTOM_TERMS = 500
MAX_CUSTOM_TERM_LENGTH = 80

# Balanced over the four modalities like the published 10,000-example set, with some two-modality queries.
DEFAULT_FOCUS: dict[str, float] = {
    "visual": 0.22,
    "audio": 0.22,
    "transcription": 0.22,
    "metadata": 0.22,
    "mixed": 0.12,
}
DEFAULT_DIFFICULTY: dict[str, float] = {"easy": 0.35, "medium": 0.35, "hard": 0.2, "edge": 0.1}


def equal_shares(keys: Sequence[str]) -> dict[str, float]:
    return {key: 1.0 / len(keys) for key in keys}


# About 1/11: the share a new custom domain starts with beside ten built-in ones, in whole percent.
CUSTOM_DOMAIN_SHARE = 0.09


def domain_keys(custom_vocabulary: Sequence[str]) -> tuple[str, ...]:
    """The domain keys a mix has: the built-in domains, plus "custom" once the user has added terms."""
    return DOMAINS + (CUSTOM_DOMAIN,) if custom_vocabulary else DOMAINS


def _check_shares(group: str, shares: Mapping[str, Any], keys: Sequence[str]) -> dict[str, float]:
    """Shares in canonical key order (left-out keys are 0), or a ValueError naming the group and its sum."""
    unknown = [key for key in shares if key not in keys]
    if unknown:
        raise ValueError(f"unknown {group} key(s) {', '.join(map(repr, unknown))}; expected some of {', '.join(keys)}")
    checked: dict[str, float] = {}
    for key in keys:
        value = float(shares.get(key, 0.0))
        if not math.isfinite(value) or value < 0.0 or value > 1.0:
            raise ValueError(f"{group} share {key}={value!r} must be between 0 and 1")
        checked[key] = value
    total = sum(checked.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"{group} shares must add up to 1.0 (100%), but they add up to {total:.6g} ({total:.2%})")
    return checked


class DataMix(BaseModel):
    """How many queries to synthesise, their split over focus, difficulty and domain, and the seed.

    Share groups are dicts of key -> share (0-1). Keys left out count as 0; each group must add up to 1.0.
    The "custom" domain exists only when `custom_vocabulary` holds terms; it then gets an equal default share.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    total: int = Field(default=1_000, ge=MIN_TOTAL, le=MAX_TOTAL)
    # Non-negative: random.Random(-n) is the same stream as Random(n), so -1 would silently repeat seed 1.
    seed: int = Field(default=7, ge=0)
    # Before the share groups, so the domain check can see it.
    custom_vocabulary: list[str] = Field(default_factory=list)
    focus: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_FOCUS))
    difficulty: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DIFFICULTY))
    domain: dict[str, float] = Field(default_factory=lambda: equal_shares(DOMAINS))

    @model_validator(mode="before")
    @classmethod
    def _default_domain_with_custom_terms(cls, data: Any) -> Any:
        if isinstance(data, dict) and "domain" not in data:
            terms = data.get("custom_vocabulary") or []
            if any(str(term).strip() for term in terms):
                return {**data, "domain": equal_shares(DOMAINS + (CUSTOM_DOMAIN,))}
        return data

    @field_validator("custom_vocabulary")
    @classmethod
    def _clean_terms(cls, terms: list[str]) -> list[str]:
        cleaned: list[str] = []
        seen: set[str] = set()
        for term in terms:
            text = " ".join(term.split())
            if not text or text.casefold() in seen:
                continue
            reserved = [marker for marker in RESERVED_STRINGS if marker in text]
            if reserved:
                raise ValueError(
                    f"custom term {text!r} contains {reserved[0]!r}, which Nova training data must not hold"
                )
            if len(text) > MAX_CUSTOM_TERM_LENGTH:
                raise ValueError(f"custom term {text[:30]!r}... is longer than {MAX_CUSTOM_TERM_LENGTH} characters")
            seen.add(text.casefold())
            cleaned.append(text)
        if len(cleaned) > MAX_CUSTOM_TERMS:
            raise ValueError(f"at most {MAX_CUSTOM_TERMS} custom terms, got {len(cleaned)}")
        return cleaned

    @field_validator("focus")
    @classmethod
    def _check_focus(cls, shares: dict[str, float]) -> dict[str, float]:
        return _check_shares("focus", shares, FOCI)

    @field_validator("difficulty")
    @classmethod
    def _check_difficulty(cls, shares: dict[str, float]) -> dict[str, float]:
        return _check_shares("difficulty", shares, DIFFICULTIES)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, shares: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        terms = info.data.get("custom_vocabulary") or []
        if not terms and shares.get(CUSTOM_DOMAIN, 0.0) > 0.0:
            raise ValueError("the custom domain needs custom_vocabulary terms (none were given)")
        if not terms:
            shares = {key: value for key, value in shares.items() if key != CUSTOM_DOMAIN}
        return _check_shares("domain", shares, domain_keys(terms))

    def groups(self) -> dict[str, dict[str, float]]:
        return {"focus": dict(self.focus), "difficulty": dict(self.difficulty), "domain": dict(self.domain)}

    def counts(self) -> dict[str, dict[str, int]]:
        """Exact query counts per key of each group (largest remainder), each summing to `total`."""
        return {group: allocate(shares, self.total) for group, shares in self.groups().items()}

    def with_share(self, group: str, key: str, value: float) -> DataMix:
        """A copy with one share moved and the rest of its group rescaled, as a UI slider does."""
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}; expected one of {', '.join(GROUPS)}")
        return DataMix.model_validate(self.model_dump() | {group: rebalance(getattr(self, group), key, value)})

    def with_custom_terms(self, terms: Sequence[str]) -> DataMix:
        """The mix with new custom terms, as the Data Mix page and `synth --custom` both make it: the custom
        domain appears with CUSTOM_DOMAIN_SHARE (the others rescaled, in whole percent) or goes."""
        domain = dict(self.domain)
        if terms and CUSTOM_DOMAIN not in domain:
            domain = rebalance({**domain, CUSTOM_DOMAIN: 0.0}, CUSTOM_DOMAIN, CUSTOM_DOMAIN_SHARE)
        elif not terms and CUSTOM_DOMAIN in domain:
            domain = rebalance(domain, CUSTOM_DOMAIN, 0.0)
            del domain[CUSTOM_DOMAIN]
        return DataMix.model_validate({**self.model_dump(), "custom_vocabulary": list(terms), "domain": domain})

    @classmethod
    def from_cli(cls, spec: str, n: int, seed: int, custom_vocabulary: Iterable[str] = ()) -> DataMix:
        """Build a mix from "visual=.25,audio=.25,transcription=.25,metadata=.25"-style text.

        Keys may come from any group and groups may be combined in one spec; values are fractions (".25")
        or percentages ("25%"). A group you name is taken as complete: its keys you leave out are 0, and
        the keys you give must add up to 1. So "visual=.5,audio=.5" means no transcription, metadata or
        mixed queries. Groups you do not name keep their defaults.
        """
        given: dict[str, dict[str, float]] = {}
        owners = {key: "focus" for key in FOCI} | {key: "difficulty" for key in DIFFICULTIES}
        owners |= {key: "domain" for key in DOMAINS + (CUSTOM_DOMAIN,)}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, raw = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise ValueError(f"mix item {item!r} is not key=value")
            if key not in owners:
                raise ValueError(f"unknown mix key {key!r}; expected one of {', '.join(owners)}")
            group = given.setdefault(owners[key], {})
            if key in group:
                raise ValueError(f"mix key {key!r} is given twice")
            group[key] = _parse_share(key, raw)
        terms = list(custom_vocabulary)
        if "domain" in given:
            return cls.model_validate({"total": n, "seed": seed, "custom_vocabulary": terms, **given})
        return cls.model_validate({"total": n, "seed": seed, **given}).with_custom_terms(terms)


def _parse_share(key: str, raw: str) -> float:
    text = raw.strip()
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1].strip(), 0.01
    try:
        value = float(text) * scale
    except ValueError:
        raise ValueError(f"mix value for {key!r} is not a number: {raw.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"mix value for {key!r} is not a finite number: {raw.strip()!r}")
    return value


def allocate(shares: Mapping[str, float], n: int) -> dict[str, int]:
    """Exact counts summing to n, by the largest-remainder method; ties go to the earlier key."""
    if n < 0:
        raise ValueError(f"cannot allocate a negative count ({n})")
    if any(not math.isfinite(v) or v < 0 for v in shares.values()):
        raise ValueError("shares must be finite and non-negative")
    total = sum(shares.values())
    if not shares or total <= 0:
        raise ValueError("shares must have at least one positive value")
    raw = {key: value / total * n for key, value in shares.items()}
    counts = {key: math.floor(value) for key, value in raw.items()}
    keys = list(raw)
    remainders = [raw[key] - counts[key] for key in keys]
    order = sorted(range(len(keys)), key=lambda i: (-remainders[i], i))
    for i in order[: n - sum(counts.values())]:
        counts[keys[i]] += 1
    return counts


def rebalance(shares: Mapping[str, float], changed_key: str, new_value: float, step: float = 0.01) -> dict[str, float]:
    """Set one share and rescale the others in proportion so the group still adds up to exactly 100%.

    Results are whole multiples of `step` (a slider's resolution). When the other shares are all 0, the
    remainder is split equally between them.
    """
    if changed_key not in shares:
        raise ValueError(f"unknown key {changed_key!r}; expected one of {', '.join(shares)}")
    units = round(1 / step)
    keys = list(shares)
    if len(keys) == 1:
        return {changed_key: 1.0}
    fixed = min(max(round(float(new_value) * units), 0), units)
    others = [key for key in keys if key != changed_key]
    weights = {key: max(float(shares[key]), 0.0) for key in others}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(others, 1.0)
    spread = allocate(weights, units - fixed)
    spread[changed_key] = fixed
    return {key: round(spread[key] / units, 10) for key in keys}
