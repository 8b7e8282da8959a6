"""The local reference teacher: an explainable, deterministic router built from cue lexicons.

Each cue found in a query (a lexicon word or phrase, a name, a year, a quotation) adds its category's vector
of log-odds to the four channels; the weights are the softmax of prior + cue evidence, with a soft cap so a
pile of cues never gives an all-or-nothing answer. Keeping the teacher log-linear in its cues is deliberate:
the compact student is a linear softmax over word and character n-grams and has to be able to copy it.
Two small context rules sit on top: a negator ("no music") lowers the channel of the cue it governs, and
what someone talks about ("explaining the housing market") counts as a topic of speech, not as a sight.

The lexicons live in `lexicons/` as data (one `[category]` section per cue kind); `settings.json` gives
each category its channel vector, the prior, the negation rules and the input bounds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path

from core.pricing import PriceTable
from core.routers.base import Router, RouterReply
from core.schema import MODALITIES, RoutingDecision
from core.text_patterns import QUOTE_RE, SENTENCE_ENDS, WORD_RE

LEXICON_DIR = Path(__file__).parent / "lexicons"
CUE_FILES = ("visual.txt", "audio.txt", "transcription.txt", "metadata.txt")
NAMES_FILE = "names.txt"
SETTINGS_FILE = "settings.json"
# Categories the entity and context rules file cues under; settings.json must define them.
RULE_CATEGORIES = ("name", "year", "number", "format", "episode", "quote", "topic")

DECADE_RE = re.compile(r"(?:1[89]|20)?\d0s")
RESOLUTION_RE = re.compile(r"\d{3,4}p|\d{1,2}k|\d{2,3}fps|\d{2,3}hz")
EPISODE_CODE_RE = re.compile(r"s\d{1,2}(?:e\d{1,3})?|ep?\d{1,3}")
VOWELS = frozenset("aeiouy")
# Consonants kept doubled after a suffix is removed ("falling" -> "fall", not "fal"), as in Porter.
KEEP_DOUBLE = frozenset("lsz")
CHAINING_WORDS = frozenset({"or", "nor"})
MAX_CUE_TEXT = 40
MAX_QUOTES = 8
CUES_NAMED_PER_CHANNEL = 3
STEM_CACHE_LIMIT = 50_000
# Typo tolerance stays narrow because English is dense: "taking" is one letter from "talking", "police" from
# "policy". Only swapped neighbours ("skatebaord") and doubled letters ("eppisode") in words of 6+ letters,
# and a dropped letter from listed words of 8+ letters ("intervew", "presdent"), are read as slips.
TYPO_MIN_LENGTH = 6
TYPO_DROPPED_LETTER_MIN_LENGTH = 8
NO_CUE_REASONING = "No specific cue found, so the weights keep a default spread that leans to what is seen."


@dataclass(frozen=True)
class Cue:
    """One piece of evidence: the query text that matched, the channel it speaks for and how strongly."""

    modality: str
    text: str
    strength: float  # log-odds added to `modality`; negative when the cue lowers it
    kind: str  # lexicon category ("sound event", "speech verb") or rule ("name", "year", "quote")
    negated: bool = False


@dataclass(frozen=True)
class Analysis:
    cues: tuple[Cue, ...]
    weights: dict[str, float]  # unrounded; the Router base rounds to 0.05 for the contract
    reasoning: str


@dataclass(frozen=True)
class Category:
    name: str
    modality: str
    vector: tuple[float, ...]  # log-odds per channel, in MODALITIES order


@dataclass
class Lexicon:
    categories: dict[str, Category]
    words: dict[str, Category]
    phrases: dict[tuple[str, ...], Category]
    names: frozenset[str]
    negators: frozenset[str]
    topic_markers: frozenset[str]
    topic_stops: frozenset[str]
    clause_breaks: frozenset[str]
    function_words: frozenset[str]
    unstemmed: frozenset[str]
    prior: tuple[float, ...]
    saturation: float
    negation_scope: int
    negation_factor: float
    max_chars: int
    max_tokens: int
    # First stem of a phrase -> the longest phrase starting with it (most tokens start none).
    longest_phrase_from: dict[str, int] = field(default_factory=dict)
    # Listed single words as written, and long ones with a letter dropped -> category (None where two meet).
    typo_index: dict[str, Category | None] = field(default_factory=dict)
    _stems: dict[str, str] = field(default_factory=dict, repr=False)

    def stem(self, word: str) -> str:
        cached = self._stems.get(word)
        if cached is None:
            if len(self._stems) >= STEM_CACHE_LIMIT:
                self._stems.clear()
            cached = self._stems[word] = stem(word, self.unstemmed)
        return cached


def stem(word: str, unstemmed: frozenset[str] = frozenset()) -> str:
    """A small suffix stripper so that "barks", "barking" and "barked" all meet "bark".

    Lexicon entries go through the same function, so it only has to be consistent, not linguistic.
    """
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if word in unstemmed or len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "i"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6 and _has_vowel(word[:-3]):
        word = _undouble(word[:-3])
    elif word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "i"
    elif word.endswith("ed") and not word.endswith("eed") and len(word) >= 5 and _has_vowel(word[:-2]):
        word = _undouble(word[:-2])
    elif word.endswith("ly") and len(word) >= 6 and not word.endswith(("ily", "fly")):
        word = word[:-2]
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"
    if word.endswith("e") and len(word) > 3 and not word.endswith("ee"):
        word = word[:-1]
    return word


def _has_vowel(text: str) -> bool:
    return any(ch in VOWELS for ch in text)


def _undouble(word: str) -> str:
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in VOWELS and word[-1] not in KEEP_DOUBLE:
        return word[:-1]
    return word


def _tokens_of(text: str) -> list[str]:
    return [t.lower() for t in WORD_RE.findall(text.replace("’", "'"))]


def _read_sections(path: Path) -> list[tuple[str, str]]:
    """(category, term) pairs from a `[category]`-sectioned list; '#' starts a comment line."""
    pairs: list[tuple[str, str]] = []
    section: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section is None:
            raise ValueError(f"{path.name} line {number}: term before any [category] header")
        else:
            pairs.append((section, line))
    return pairs


@cache
def load_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    """Read and precompile the lexicons once; a term whose stem lands in two categories is a data error."""
    settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
    categories = {
        name: Category(name, spec["modality"], tuple(float(spec["vector"].get(m, 0.0)) for m in MODALITIES))
        for name, spec in settings["categories"].items()
    }
    missing = [name for name in RULE_CATEGORIES if name not in categories]
    if missing:
        raise ValueError(f"{SETTINGS_FILE}: categories missing: {', '.join(missing)}")
    negation = settings["negation"]
    lexicon = Lexicon(
        categories=categories,
        words={},
        phrases={},
        names=frozenset(_read_names(directory / NAMES_FILE)),
        negators=frozenset(negation["words"]),
        topic_markers=frozenset(settings["talked_about"]["markers"]),
        topic_stops=frozenset(settings["talked_about"]["stops"]),
        clause_breaks=frozenset(settings["talked_about"]["clause_breaks"]),
        function_words=frozenset(settings["function_words"]),
        unstemmed=frozenset(settings["unstemmed"]),
        prior=tuple(float(settings["prior"][m]) for m in MODALITIES),
        saturation=float(settings["saturation"]),
        negation_scope=int(negation["scope_tokens"]),
        negation_factor=float(negation["factor"]),
        max_chars=int(settings["max_chars"]),
        max_tokens=int(settings["max_tokens"]),
    )
    for file_name in CUE_FILES:
        for category_name, term in _read_sections(directory / file_name):
            if category_name not in categories:
                raise ValueError(f"{file_name}: unknown category [{category_name}]")
            _add_term(lexicon, categories[category_name], term, file_name)
    for key in lexicon.phrases:
        lexicon.longest_phrase_from[key[0]] = max(len(key), lexicon.longest_phrase_from.get(key[0], 0))
    return lexicon


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _slip_repairs(word: str) -> set[str]:
    """The word with one pair of neighbours swapped back, or one doubled letter made single."""
    swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1) if word[i] != word[i + 1]}
    singles = {word[:i] + word[i + 1 :] for i in range(len(word) - 1) if word[i] == word[i + 1]}
    return swaps | singles


def _read_names(path: Path) -> list[str]:
    lines = (line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _add_term(lexicon: Lexicon, category: Category, term: str, file_name: str) -> None:
    key = tuple(lexicon.stem(token) for token in _tokens_of(term))
    if not key:
        raise ValueError(f"{file_name}: term {term!r} has no words")
    table: dict = lexicon.words if len(key) == 1 else lexicon.phrases
    lookup = key[0] if len(key) == 1 else key
    known = table.get(lookup)
    if known is not None and known.name != category.name:
        raise ValueError(f"{file_name}: {term!r} is both [{known.name}] and [{category.name}] after stemming")
    table[lookup] = category
    word = term.lower()
    if len(key) == 1 and len(word) >= TYPO_MIN_LENGTH and word.isalpha():
        variants = {word} | (_deletions(word) if len(word) >= TYPO_DROPPED_LETTER_MIN_LENGTH else set())
        for variant in variants:
            known = lexicon.typo_index.get(variant, category)
            lexicon.typo_index[variant] = category if known is category else None


@dataclass
class _Match:
    start: int  # first token index
    end: int  # one past the last token index
    category: Category
    negated_from: int | None = None  # index of the negator that lowers this cue


@dataclass
class _Token:
    text: str
    lower: str
    stem: str
    start: int
    end: int
    quoted: bool


class ReferenceTeacher(Router):
    """The local backend's teacher: cue lexicons in, smooth channel weights and a one-line reason out."""

    router_id = "teacher"
    price_key = None

    def __init__(self, prices: PriceTable | None = None, router_id: str | None = None):
        super().__init__(prices, router_id)
        self.lexicon = load_lexicon()

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        return [RouterReply(text="", decision=self.decide(query)) for query in queries]

    def decide(self, query: str) -> RoutingDecision:
        analysis = self.analyse(query)
        return RoutingDecision(**analysis.weights, reasoning=analysis.reasoning)

    def explain(self, query: str) -> list[Cue]:
        """The cues that drove the weights, in the order they appear in the query (quotations last)."""
        return list(self.analyse(query).cues)

    def analyse(self, query: str) -> Analysis:
        text = query[: self.lexicon.max_chars] if isinstance(query, str) else ""
        cues = self._cues(text)
        weights = self._weights(cues)
        return Analysis(tuple(cues), weights, _reasoning(cues, weights))

    def _weights(self, cues: list[Cue]) -> dict[str, float]:
        lexicon = self.lexicon
        evidence = [0.0] * len(MODALITIES)
        for cue in cues:
            category = lexicon.categories[cue.kind]
            if cue.negated:
                evidence[MODALITIES.index(cue.modality)] += cue.strength
            else:
                for index, value in enumerate(category.vector):
                    evidence[index] += value
        # tanh keeps a pile of cues from saturating the softmax while staying linear for the usual few.
        cap = lexicon.saturation
        logits = [p + cap * math.tanh(e / cap) for p, e in zip(lexicon.prior, evidence, strict=True)]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = math.fsum(exps)
        return {m: e / total for m, e in zip(MODALITIES, exps, strict=True)}

    def _cues(self, text: str) -> list[Cue]:
        lexicon = self.lexicon
        quotes = [match.span() for match in islice(QUOTE_RE.finditer(text), MAX_QUOTES)]
        tokens = self._tokenise(text, quotes)
        matches: dict[int, _Match] = {}
        negators: list[int] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.quoted:
                index += 1
                continue
            match = self._phrase_at(tokens, index) or self._word_at(token, index)
            if match is not None:
                matches[index] = match
                index = match.end
                continue
            if token.lower in lexicon.negators:
                negators.append(index)
            index += 1
        self._merge_capitalised_names(text, tokens, matches)
        ordered = [matches[i] for i in sorted(matches)]
        self._apply_negation(tokens, ordered, negators)
        self._mark_talked_about(tokens, ordered)
        cues = [self._cue(text, tokens, match) for match in ordered]
        cues.extend(self._quote_cues(text, quotes))
        return _distinct(cues)

    def _tokenise(self, text: str, quotes: list[tuple[int, int]]) -> list[_Token]:
        tokens = []
        for found in islice(WORD_RE.finditer(text.replace("’", "'")), self.lexicon.max_tokens):
            start, end = found.span()
            lower = found.group().lower()
            quoted = bool(quotes) and any(q_start < start < q_end for q_start, q_end in quotes)
            tokens.append(_Token(found.group(), lower, self.lexicon.stem(lower), start, end, quoted))
        return tokens

    def _phrase_at(self, tokens: list[_Token], index: int) -> _Match | None:
        phrases = self.lexicon.phrases
        longest = self.lexicon.longest_phrase_from.get(tokens[index].stem, 0)
        for length in range(min(longest, len(tokens) - index), 1, -1):
            span = tokens[index : index + length]
            if any(t.quoted for t in span):
                continue
            category = phrases.get(tuple(t.stem for t in span))
            if category is not None:
                return _Match(index, index + length, category)
        return None

    def _word_at(self, token: _Token, index: int) -> _Match | None:
        lexicon = self.lexicon
        category = lexicon.words.get(token.stem)
        if category is None and token.lower in lexicon.names:
            category = lexicon.categories["name"]
        if category is None and not token.lower.isalpha():
            category = self._numeric_category(token.lower)
        if category is None and len(token.lower) >= TYPO_MIN_LENGTH and token.text[0].islower():
            category = self._typo_category(token.lower)
        return _Match(index, index + 1, category) if category is not None else None

    def _typo_category(self, word: str) -> Category | None:
        """The category of the one listed word this looks like a slip of, if exactly one fits."""
        index = self.lexicon.typo_index
        found = {index[variant] for variant in (word, *_slip_repairs(word)) if variant in index}
        return found.pop() if len(found) == 1 else None

    def _numeric_category(self, word: str) -> Category | None:
        categories = self.lexicon.categories
        if word.isdigit():
            is_year = len(word) == 4 and 1900 <= int(word) <= 2099
            return categories["year" if is_year else "number"]
        if DECADE_RE.fullmatch(word):
            return categories["year"]
        if RESOLUTION_RE.fullmatch(word):
            return categories["format"]
        if EPISODE_CODE_RE.fullmatch(word):
            return categories["episode"]
        return None

    def _merge_capitalised_names(self, text: str, tokens: list[_Token], matches: dict[int, _Match]) -> None:
        """Capitalised words not at a sentence start are names (metadata); a run of them is one name."""
        lexicon = self.lexicon
        candidates = [
            t.text[0].isupper()
            and t.text.isalpha()
            and t.lower not in lexicon.function_words
            and t.lower != "i"
            and not t.quoted
            for t in tokens
        ]
        content = [t for t in tokens if t.text.isalpha() and t.lower not in lexicon.function_words]
        if len(content) >= 3 and all(t.text[0].isupper() for t in content):
            return  # Title Case or ALL CAPS: capitals say nothing about names here
        index = 0
        while index < len(tokens):
            if not candidates[index]:
                index += 1
                continue
            run_end = index
            while run_end < len(tokens) and candidates[run_end]:
                run_end += 1
            self._name_from_run(text, tokens, matches, index, run_end)
            index = run_end

    def _name_from_run(self, text: str, tokens: list[_Token], matches: dict[int, _Match], start: int, end: int) -> None:
        name = self.lexicon.categories["name"]
        owner_of = {i: first for first, m in matches.items() for i in range(m.start, m.end)}

        def is_lexicon_word(i: int) -> bool:
            return i in owner_of and matches[owner_of[i]].category is not name

        if _at_sentence_start(text, tokens[start].start) and is_lexicon_word(start):
            start += 1
        if start >= end:
            return
        if end - start == 1:
            if start not in owner_of and not _at_sentence_start(text, tokens[start].start):
                matches[start] = _Match(start, end, name)
            return
        if all(is_lexicon_word(i) for i in range(start, end)):
            return
        # One name spans the run, replacing the matches it overlaps (and stretching over a phrase it cuts into).
        for first in sorted({owner_of[i] for i in range(start, end) if i in owner_of}):
            start = min(start, matches[first].start)
            end = max(end, matches[first].end)
            del matches[first]
        matches[start] = _Match(start, end, name)

    def _apply_negation(self, tokens: list[_Token], ordered: list[_Match], negators: list[int]) -> None:
        """A negator ("no", "without") lowers the first cue within its scope, and cues chained to it by "or"."""
        for negator in negators:
            target = self._negation_target(tokens, ordered, negator)
            text_start = negator  # the first lowered cue reads "no music"; cues chained by "or" read as themselves
            while target is not None:
                target.negated_from = min(text_start, target.start)
                text_start = len(tokens)
                target = self._chained_after(tokens, ordered, target)

    def _negation_target(self, tokens: list[_Token], ordered: list[_Match], negator: int) -> _Match | None:
        following = next((m for m in ordered if m.start > negator), None)
        if following is None:
            return None
        words_between = [t for t in tokens[negator + 1 : following.start] if t.lower not in self.lexicon.function_words]
        return following if len(words_between) < self.lexicon.negation_scope else None

    def _chained_after(self, tokens: list[_Token], ordered: list[_Match], match: _Match) -> _Match | None:
        position = ordered.index(match)
        if position + 1 >= len(ordered):
            return None
        follower = ordered[position + 1]
        gap = [t.lower for t in tokens[match.end : follower.start]]
        links = [w for w in gap if w in CHAINING_WORDS]
        others = [w for w in gap if w not in CHAINING_WORDS and w not in self.lexicon.function_words]
        return follower if links and not others else None

    def _mark_talked_about(self, tokens: list[_Token], ordered: list[_Match]) -> None:
        """In "explaining the housing market" or "talking about cars" the market and the cars are what is said,
        not what is seen: sights and sounds after a verb of saying, or after "about" once someone speaks, count
        as topic cues until a place ("in the park"), an addressee ("to her dog") or the clause ends."""
        lexicon = self.lexicon
        topic = lexicon.categories["topic"]
        starts = {match.start: match for match in ordered}
        speaking = False
        in_topic = False
        for index, token in enumerate(tokens):
            if token.lower in lexicon.clause_breaks:
                speaking = in_topic = False
            elif token.lower in lexicon.topic_stops:
                in_topic = False
            elif token.lower in lexicon.topic_markers and speaking:
                in_topic = True
            match = starts.get(index)
            if match is None:
                continue
            if in_topic and match.negated_from is None and match.category.modality in ("visual", "audio"):
                match.category = topic
            if match.category.modality == "transcription":
                speaking = True
                ends_with_marker = tokens[match.end - 1].lower in lexicon.topic_markers
                in_topic = in_topic or ends_with_marker or match.category.name == "speech verb"

    def _cue(self, text: str, tokens: list[_Token], match: _Match) -> Cue:
        category = match.category
        first = match.start if match.negated_from is None else match.negated_from
        surface = _clip(text[tokens[first].start : tokens[match.end - 1].end])
        primary = category.vector[MODALITIES.index(category.modality)]
        if match.negated_from is not None:
            return Cue(category.modality, surface, -self.lexicon.negation_factor * primary, category.name, True)
        return Cue(category.modality, surface, primary, category.name)

    def _quote_cues(self, text: str, quotes: list[tuple[int, int]]) -> list[Cue]:
        quote = self.lexicon.categories["quote"]
        strength = quote.vector[MODALITIES.index(quote.modality)]
        return [Cue(quote.modality, _clip(text[start:end]), strength, quote.name) for start, end in quotes]


def _at_sentence_start(text: str, position: int) -> bool:
    before = text[:position].rstrip(" \t\"'“«([")
    return not before or before[-1] in SENTENCE_ENDS


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CUE_TEXT else text[: MAX_CUE_TEXT - 1] + "…"


def _distinct(cues: list[Cue]) -> list[Cue]:
    """One cue per (kind, text, negation): repeating a word does not repeat its evidence."""
    seen: set[tuple[str, str, bool]] = set()
    unique = []
    for cue in cues:
        key = (cue.kind, cue.text.lower(), cue.negated)
        if key not in seen:
            seen.add(key)
            unique.append(cue)
    return unique


def _reasoning(cues: list[Cue], weights: dict[str, float]) -> str:
    if not cues:
        return NO_CUE_REASONING
    parts = []
    for modality in sorted(MODALITIES, key=lambda m: -weights[m]):
        raised = sorted((c for c in cues if c.modality == modality and c.strength > 0), key=lambda c: -c.strength)
        lowered = [c for c in cues if c.modality == modality and c.strength <= 0]
        if raised:
            named = ", ".join(f"'{c.text}'" for c in raised[:CUES_NAMED_PER_CHANNEL])
            parts.append(f"{modality} cue{'s' if len(raised) > 1 else ''} {named}")
        if lowered:
            named = ", ".join(f"'{c.text}'" for c in lowered[:CUES_NAMED_PER_CHANNEL])
            parts.append(f"{modality} lowered by {named}")
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."
