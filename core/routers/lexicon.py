"""The reference teacher's knowledge, read from data: cue lexicons, names and rule settings in `lexicons/`.

One `[category]` section per cue kind in each channel's list; `settings.json` gives each category its
channel vector, the prior, the negation rules and the input bounds. Terms and query words meet through
one small stemmer, so "barks", "barking" and "barked" share an entry; long listed words also get a
narrow typo index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from core.schema import MODALITIES
from core.text_patterns import WORD_RE

LEXICON_DIR = Path(__file__).parent / "lexicons"
# The hand-written lists, then the lists scripts/build_lexicons.py generates from WordNet (hand-written wins).
CUE_FILES = ("visual.txt", "audio.txt", "transcription.txt", "metadata.txt", "wordnet.txt")
NAMES_FILE = "names.txt"
VERBS_FILE = "verbs.txt"
VEHICLES_FILE = "vehicles.txt"
SETTINGS_FILE = "settings.json"
# Categories the entity and context rules file cues under; settings.json must define them.
RULE_CATEGORIES = (
    "name",
    "year",
    "number",
    "picture format",
    "episode",
    "quote",
    "topic",
    "character",
    "sound process",
    "music quality",
)
VOWELS = frozenset("aeiouy")
# Consonants kept doubled after a suffix is removed ("falling" -> "fall", not "fal"), as in Porter.
KEEP_DOUBLE = frozenset("lsz")
STEM_CACHE_LIMIT = 50_000
# Typo tolerance stays narrow because English is dense: "taking" is one letter from "talking", "police" from
# "policy". Only swapped neighbours ("skatebaord") and doubled letters ("eppisode") in words of 6+ letters,
# and a dropped letter from listed words of 8+ letters ("intervew", "presdent"), are read as slips.
TYPO_MIN_LENGTH = 6
TYPO_DROPPED_LETTER_MIN_LENGTH = 8


@dataclass(frozen=True)
class Category:
    name: str
    modality: str
    vector: tuple[float, ...]  # log-odds per channel, in MODALITIES order


@dataclass(frozen=True)
class ContextRules:
    """The word sets of the teacher's context rules (settings.json "context")."""

    character_links: frozenset[str]
    character_auxiliaries: frozenset[str]
    catalogue_words: frozenset[str]
    reporting_words: frozenset[str]
    object_pronouns: frozenset[str]
    heard_subjects: frozenset[str]
    heard_gap: int
    backdrop_words: frozenset[str]
    backdrop_scale: float
    music_subjects: frozenset[str]
    performers: frozenset[str]
    performing_verbs: frozenset[str]
    music_refiled: frozenset[str]
    music_refiled_words: frozenset[str]


@dataclass
class Lexicon:
    categories: dict[str, Category]
    words: dict[str, Category]
    phrases: dict[tuple[str, ...], Category]
    names: frozenset[str]
    verbs: frozenset[str]  # WordNet's one-word verbs, as stems: a name followed by one is a character
    vehicles: frozenset[str]  # WordNet's vehicles, as stems: the verb after one is heard
    negators: frozenset[str]
    topic_markers: frozenset[str]
    topic_stops: frozenset[str]
    clause_breaks: frozenset[str]
    function_words: frozenset[str]
    unstemmed: frozenset[str]
    context: ContextRules
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

    def agrees(self, word: str, stem: str) -> bool:
        """A verb agreeing with a subject before it ("Anna tells", "Ben walked"), the test of the character
        rule: a listed verb in the third person or the past, not a bare word that may be a noun or a title's
        ("Marquee TV stand-up", "City News breaking") nor a catalogue word ("movie", "directed")."""
        if word in self.context.catalogue_words or stem not in self.verbs:
            return False
        return word.endswith(("s", "ed")) and not word.endswith("ss")

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
    if word.endswith("ies") and len(word) == 5:
        return word[:-3] + "y"  # "cries", "flies": the listed three-letter base ("cry", "fly") is never stemmed
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
        verbs=frozenset(),
        vehicles=frozenset(),
        negators=frozenset(negation["words"]),
        topic_markers=frozenset(settings["talked_about"]["markers"]),
        topic_stops=frozenset(settings["talked_about"]["stops"]),
        clause_breaks=frozenset(settings["talked_about"]["clause_breaks"]),
        function_words=frozenset(settings["function_words"]),
        unstemmed=frozenset(settings["unstemmed"]),
        context=_context_rules(settings["context"]),
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
    lexicon.verbs = frozenset(lexicon.stem(verb) for verb in _read_names(directory / VERBS_FILE))
    lexicon.vehicles = frozenset(lexicon.stem(vehicle) for vehicle in _read_names(directory / VEHICLES_FILE))
    for key in lexicon.phrases:
        lexicon.longest_phrase_from[key[0]] = max(len(key), lexicon.longest_phrase_from.get(key[0], 0))
    return lexicon


def _context_rules(spec: dict) -> ContextRules:
    return ContextRules(
        character_links=frozenset(spec["character_links"]),
        character_auxiliaries=frozenset(spec["character_auxiliaries"]),
        catalogue_words=frozenset(spec["catalogue_words"]),
        reporting_words=frozenset(spec["reporting_words"]),
        object_pronouns=frozenset(spec["object_pronouns"]),
        heard_subjects=frozenset(spec["heard_subjects"]),
        heard_gap=int(spec["heard_gap"]),
        backdrop_words=frozenset(spec["backdrop_words"]),
        backdrop_scale=float(spec["backdrop_scale"]),
        music_subjects=frozenset(spec["music_subjects"]),
        performers=frozenset(spec["performers"]),
        performing_verbs=frozenset(spec["performing_verbs"]),
        music_refiled=frozenset(spec["music_refiled"]),
        music_refiled_words=frozenset(spec["music_refiled_words"]),
    )


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def slip_repairs(word: str) -> set[str]:
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
