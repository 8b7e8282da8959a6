"""Synthetic video-search queries for a data mix, tagged by focus, difficulty and domain, all distinct.

Queries are built from templates and slot lists kept as data in `vocab/` (see the `_about` note of each
file). Counts per focus, difficulty and domain are allocated exactly first, then each query is made for
its cell; a query whose near-duplicate key (quality.near_duplicate_key) was already used is redrawn, and
after a few tries another phrasing is used while the query keeps its tags. The same mix and seed give the
same list: one random.Random(seed) drives everything and no set or dict order decides anything.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.synth.mix import CUSTOM_DOMAIN, DOMAINS, FOCI, DataMix, allocate, equal_shares
from core.synth.quality import near_duplicate_key

GENERATOR_VERSION = "1"
EDGE_VARIANTS: tuple[str, ...] = ("typo", "caps", "one_word", "long", "foreign", "injection")
VOCAB_DIR = Path(__file__).parent / "vocab"

_BASE_DIFFICULTIES = ("easy", "medium", "hard")
_EDGE_BASE_DIFFICULTIES = ("easy", "medium")
# Redraws of one phrasing before the next is tried; enough that a well-stocked cell rarely falls back.
_ATTEMPTS = 12
_LONG_MIN_CHARS = 200
_SLOT = re.compile(r"\{(\w+)\}")
_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[aeiou])(?!uni|use|usu|one|eu|uk|ut)")
# "{loud} {bare_sound}": a slot named bare_X takes X's values without a leading article.
_ARTICLE = re.compile(r"^(?:a|an|the) ")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True, slots=True)
class SynthQuery:
    query: str
    focus: str
    difficulty: str
    domain: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def tags(self) -> dict[str, str]:
        """The per-record tags kept in a dataset's sidecar file."""
        return {"focus": self.focus, "difficulty": self.difficulty, "domain": self.domain}


@dataclass(frozen=True, slots=True)
class _Template:
    literals: tuple[str, ...]
    slots: tuple[str, ...]
    repeats_a_slot: bool


Pools = dict[str, Any]
_Rng = random.Random


def _compile(text: str) -> _Template:
    parts = _SLOT.split(text)
    slots = tuple(parts[1::2])
    return _Template(tuple(parts[0::2]), slots, len(set(slots)) < len(slots))


def _pick(rng: _Rng, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def _name(rng: _Rng, pools: Pools) -> str:
    if rng.random() < 0.35:
        return _pick(rng, pools["dname"])
    return f"{_pick(rng, pools['first'])} {_pick(rng, pools['last'])}"


def _year(rng: _Rng, pools: Pools) -> str:
    return str(rng.randint(1965, 2025))


def _number(rng: _Rng, pools: Pools) -> str:
    return str(rng.randint(1, 12))


def _date(rng: _Rng, pools: Pools) -> str:
    year, month, day = rng.randint(1995, 2025), rng.randrange(12), rng.randint(1, 28)
    month_name = pools["month"][month]
    style = rng.randrange(5)
    if style == 0:
        return f"{month_name} {year}"
    if style == 1:
        return f"{day} {month_name} {year}"
    if style == 2:
        return f"{year}-{month + 1:02d}-{day:02d}"
    if style == 3:
        return f"{month_name} {day}, {year}"
    return _pick(rng, pools["relative_date"])


def _season_episode(rng: _Rng, pools: Pools) -> str:
    return _pick(rng, pools["episode_format"]).format(season=rng.randint(1, 9), episode=rng.randint(1, 24))


_GENERATED: dict[str, Callable[[_Rng, Pools], str]] = {
    "name": _name,
    "year": _year,
    "num": _number,
    "date": _date,
    "season_episode": _season_episode,
}


def _fill(template: _Template, pools: Pools, rng: _Rng, extra: dict[str, list[str]] | None = None) -> str:
    out = [template.literals[0]]
    used: list[str] = []
    for slot, literal in zip(template.slots, template.literals[1:], strict=True):
        source = extra[slot] if extra and slot in extra else pools[slot]
        value = source[int(rng.random() * len(source))] if isinstance(source, list) else source(rng, pools)
        if template.repeats_a_slot:
            # "{actor} and {actor}" should name two different people.
            for _ in range(3):
                if value not in used:
                    break
                value = source[int(rng.random() * len(source))] if isinstance(source, list) else source(rng, pools)
            used.append(value)
        out.append(value)
        out.append(literal)
    return "".join(out)


def _tidy(text: str) -> str:
    text = " ".join(text.split()).strip(" ,")
    if " a " in text or text.startswith(("a ", "A ")):
        text = _A_BEFORE_VOWEL.sub(r"\1n ", text)
    return text


def _neighbours() -> dict[str, str]:
    near: dict[str, str] = {}
    for row_index, row in enumerate(_KEYBOARD_ROWS):
        for i, letter in enumerate(row):
            keys = row[max(i - 1, 0) : i] + row[i + 1 : i + 2]
            for other in (row_index - 1, row_index + 1):
                if 0 <= other < len(_KEYBOARD_ROWS) and i < len(_KEYBOARD_ROWS[other]):
                    keys += _KEYBOARD_ROWS[other][i]
            near[letter] = keys
    return near


_NEAR_KEYS = _neighbours()


def _misspell(word: str, rng: _Rng) -> str:
    """One human typo: two letters swapped, one dropped, one doubled, or a neighbouring key hit."""
    i = rng.randint(1, len(word) - 2)
    kind = rng.randrange(4)
    if kind == 0 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[: i + 1] + word[i] + word[i + 1 :]
    near = _NEAR_KEYS.get(word[i].lower())
    if near:
        return word[:i] + _pick(rng, near) + word[i + 1 :]
    return word[:i] + word[i + 1 :]


class _Vocabulary:
    """The vocab/ data files, loaded once, with templates compiled and every slot checked."""

    def __init__(self, directory: Path) -> None:
        def load(name: str) -> dict[str, Any]:
            data = json.loads((directory / name).read_text(encoding="utf-8"))
            data.pop("_about", None)
            return data

        common, domains = load("common.json"), load("domains.json")
        self.common_one_word: dict[str, list[str]] = common.pop("one_word")
        self.one_word = {domain: lists.pop("one_word") for domain, lists in domains.items()}
        self.pools: dict[str, Pools] = {}
        for domain in DOMAINS:
            lists = {**common, **domains[domain]}
            bare = {f"bare_{key}": [_ARTICLE.sub("", value) for value in values] for key, values in lists.items()}
            self.pools[domain] = lists | bare | _GENERATED
        self.templates = self._compile_groups(load("templates.json"), {})
        self.custom_templates = self._compile_groups(load("custom.json"), {"custom": []})
        self.edge = load("edge.json")
        self.injections = [_compile(text) for text in self.edge["injection"]]
        self.languages: list[tuple[dict[str, list[_Template]], dict[str, Pools]]] = []
        for code, language in load("languages.json").items():
            templates = {focus: [_compile(t) for t in texts] for focus, texts in language.pop("templates").items()}
            words_for_domain = language.pop("dom")
            # The language's own lists win over the English ones of the same name.
            pools = {domain: {**self.pools[domain], **language, "dom": words_for_domain[domain]} for domain in DOMAINS}
            self._check(code, [t for texts in templates.values() for t in texts], pools, {})
            if set(templates) != set(FOCI):
                raise ValueError(f"languages.json: {code} needs templates for {', '.join(FOCI)}")
            self.languages.append((templates, pools))

    def _compile_groups(self, groups: dict[str, Any], extra: dict[str, list[str]]) -> dict[str, dict[str, list]]:
        compiled = {
            focus: {difficulty: [_compile(t) for t in groups[focus][difficulty]] for difficulty in _BASE_DIFFICULTIES}
            for focus in FOCI
        }
        for focus in FOCI:
            for difficulty in _BASE_DIFFICULTIES:
                self._check(f"{focus}/{difficulty}", compiled[focus][difficulty], self.pools, extra)
        return compiled

    @staticmethod
    def _check(where: str, templates: list[_Template], pools: dict[str, Pools], extra: dict[str, list[str]]) -> None:
        if not templates:
            raise ValueError(f"vocabulary: no templates for {where}")
        for domain, domain_pools in pools.items():
            for template in templates:
                missing = [s for s in template.slots if s not in domain_pools and s not in extra]
                if missing:
                    raise ValueError(f"vocabulary: {where} uses unknown slot(s) {missing} (domain {domain})")


@functools.lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    return _Vocabulary(VOCAB_DIR)


class _Run:
    """One generation run: the random stream, the custom terms and the keys of every query made so far."""

    def __init__(self, vocabulary: _Vocabulary, mix: DataMix) -> None:
        self.vocab = vocabulary
        self.rng = random.Random(mix.seed)
        self.terms = list(mix.custom_vocabulary)
        self.protected = {word.lower() for term in self.terms for word in term.split()}
        self.single_word_terms = [term for term in self.terms if " " not in term]
        self.seen: set[str] = set()

    def make(self, focus: str, difficulty: str, domain: str, variant: str | None) -> str:
        for phrasing in self._phrasings(focus, difficulty, domain, variant):
            for _ in range(_ATTEMPTS):
                text = phrasing()
                if text is None:
                    break
                key = near_duplicate_key(text)
                if key not in self.seen:
                    self.seen.add(key)
                    return text
        raise RuntimeError(f"could not make a new distinct {focus}/{difficulty}/{domain} query; vocabulary exhausted")

    def _phrasings(
        self, focus: str, difficulty: str, domain: str, variant: str | None
    ) -> Iterator[Callable[[], str | None]]:
        if variant is None:
            yield lambda: self._base(focus, difficulty, domain)
        else:
            start = EDGE_VARIANTS.index(variant)
            for name in EDGE_VARIANTS[start:] + EDGE_VARIANTS[:start]:
                yield functools.partial(self._edge, name, focus, domain)
        # Two phrasings of the same cell joined: a last resort that keeps the tags and stays distinct.
        for _ in range(10):
            yield lambda: self._joined(focus, difficulty, domain)

    def _context(self, domain: str) -> tuple[Pools, dict[str, list[str]] | None, dict[str, dict[str, list]]]:
        if domain == CUSTOM_DOMAIN:
            flavour = _pick(self.rng, DOMAINS)
            return self.vocab.pools[flavour], {"custom": [_pick(self.rng, self.terms)]}, self.vocab.custom_templates
        return self.vocab.pools[domain], None, self.vocab.templates

    def _base(self, focus: str, difficulty: str, domain: str, styled: bool = True) -> str:
        pools, extra, templates = self._context(domain)
        text = _tidy(_fill(_pick(self.rng, templates[focus][difficulty]), pools, self.rng, extra))
        if styled:
            roll = self.rng.random()
            if roll < 0.25:
                text = text.lower()
            elif roll < 0.35:
                text = text[:1].upper() + text[1:]
        return text

    def _edge_base(self, focus: str, domain: str) -> str:
        return self._base(focus, _pick(self.rng, _EDGE_BASE_DIFFICULTIES), domain, styled=False)

    def _joined(self, focus: str, difficulty: str, domain: str) -> str:
        first_difficulty = difficulty if difficulty in _BASE_DIFFICULTIES else "medium"
        first = self._base(focus, first_difficulty, domain, styled=False)
        return f"{first}{_pick(self.rng, (', ', ' - ', ' / '))}{self._base(focus, 'easy', domain, styled=False)}"

    def _edge(self, variant: str, focus: str, domain: str) -> str | None:
        rng = self.rng
        if variant == "typo":
            return self._typo(self._edge_base(focus, domain))
        if variant == "caps":
            return self._edge_base(focus, domain).upper() + _pick(rng, self.vocab.edge["caps_ending"])
        if variant == "one_word":
            return self._one_word(focus, domain)
        if variant == "long":
            return self._long(focus, domain)
        if variant == "foreign":
            return self._foreign(focus, domain)
        if variant == "injection":
            extra = {"q": [self._edge_base(focus, domain)], "inject": self.vocab.edge["inject"]}
            return _tidy(_fill(_pick(rng, self.vocab.injections), {}, rng, extra))
        raise ValueError(f"unknown edge variant {variant!r}; expected one of {', '.join(EDGE_VARIANTS)}")

    def _typo(self, text: str) -> str | None:
        tokens = text.split(" ")
        candidates = [
            i
            for i, token in enumerate(tokens)
            if len(token) >= 4 and token.isascii() and token.isalpha() and token.lower() not in self.protected
        ]
        if not candidates:
            return None
        for _ in range(1 if self.rng.random() < 0.7 else 2):
            i = _pick(self.rng, candidates)
            tokens[i] = _misspell(tokens[i], self.rng)
        return " ".join(tokens)

    def _one_word(self, focus: str, domain: str) -> str | None:
        if focus == "mixed":
            return None  # one word cannot carry two modalities
        if domain == CUSTOM_DOMAIN:
            pool = self.single_word_terms
        else:
            pool = self.vocab.common_one_word[focus] + self.vocab.one_word[domain][focus]
        return _pick(self.rng, pool) if pool else None

    def _long(self, focus: str, domain: str) -> str:
        rng, edge = self.rng, self.vocab.edge
        suffix = _pick(rng, edge["long_suffix"])
        text = _pick(rng, edge["long_prefix"]) + self._edge_base(focus, domain)
        while len(text) + len(suffix) < _LONG_MIN_CHARS:
            more = self._base(focus, _pick(rng, _BASE_DIFFICULTIES), domain, styled=False)
            text += _pick(rng, edge["long_joiner"]) + more
        return _tidy(text + suffix)

    def _foreign(self, focus: str, domain: str) -> str:
        templates, pools = _pick(self.rng, self.vocab.languages)
        flavour = _pick(self.rng, DOMAINS) if domain == CUSTOM_DOMAIN else domain
        text = _tidy(_fill(_pick(self.rng, templates[focus]), pools[flavour], self.rng))
        if domain == CUSTOM_DOMAIN:
            text = f"{_pick(self.rng, self.terms)} {text}"
        return text


def generate(mix: DataMix) -> list[SynthQuery]:
    """Queries for `mix`: exactly its counts per focus, difficulty and domain, all distinct, in shuffled order.

    Edge queries split equally over EDGE_VARIANTS; a variant that cannot make a new query for a cell (one
    word for a two-modality query, a used-up one-word list) hands over to the next variant.
    """
    run = _Run(_vocabulary(), mix)
    counts = mix.counts()
    labels: dict[str, list[str]] = {}
    for group, group_counts in counts.items():
        labels[group] = [key for key, count in group_counts.items() for _ in range(count)]
        run.rng.shuffle(labels[group])
    edge_counts = allocate(equal_shares(EDGE_VARIANTS), counts["difficulty"].get("edge", 0))
    variants = [variant for variant, count in edge_counts.items() for _ in range(count)]
    run.rng.shuffle(variants)
    next_variant = iter(variants)
    queries = []
    for focus, difficulty, domain in zip(labels["focus"], labels["difficulty"], labels["domain"], strict=True):
        variant = next(next_variant) if difficulty == "edge" else None
        queries.append(SynthQuery(run.make(focus, difficulty, domain, variant), focus, difficulty, domain))
    return queries


def vocabulary_summary() -> dict[str, int]:
    """Load the vocab/ files (ValueError if a template names a slot no list provides) and count what they hold."""
    vocabulary = _vocabulary()
    return {
        "templates": sum(len(t) for groups in vocabulary.templates.values() for t in groups.values()),
        "custom_templates": sum(len(t) for groups in vocabulary.custom_templates.values() for t in groups.values()),
        "languages": len(vocabulary.languages),
        "slot_values": sum(
            len(values)
            for pools in vocabulary.pools.values()
            for key, values in pools.items()
            if isinstance(values, list) and not key.startswith("bare_")
        ),
    }
