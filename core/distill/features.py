"""Query features for the student: hashed words, word pairs, character n-grams and the shape of the text.

A query is cut into parts: each distinct word (lower-cased, a trailing "'s" dropped), each number and
each quotation. A word brings its own hashed column (1.0) and, lightly weighted, its in-word character
n-grams (so an unseen inflection or slip shares columns with known words) and the pair it makes with
the word before it (so "talk show" can differ from "talk" and "show"). Evidence adds up the way a
reader weighs cues: every part counts once, whatever the query's length (no normalisation that would
dilute a cue in a long query).

Shape features are read from the text alone, never from a word list: a capitalised word inside a
sentence (most likely a name), where such a run of capitals starts, a number's digit pattern
(any number, then "dddd", "ddddx" for 1080p, "19dd" for a year), a quotation, and whether the whole query is in
Title Case or capitals (then capitals say nothing about names). A name that acts ("Anna tells Ben", "Ben and
Anna are dancing") makes the query a scene and its names characters, the test of the teacher's character
rule; it reads the teacher's verb and link words, as a word's cue category does. Words inside quotation marks are
what someone says, not what the query describes, so they count only as "a quotation".

Two hashed blocks: words and shapes first, then character n-grams and word pairs (the columns that
training may drop when they are too rare to learn from). Parts are kept with their columns, which is
what the student's explanations rest on: the model can take one part out of a query and see how its
weights move.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import count
from typing import Any

import numpy as np
import scipy.sparse as sp
from mmh3 import hash as murmurhash3_32  # the same MurmurHash3 (x86, 32-bit) sklearn exposes, without its import cost
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.routers.lexicon import load_lexicon
from core.text_patterns import QUOTE_RE, SENTENCE_ENDS, WORD_RE

FEATURE_DTYPE = np.float32

# A word, and the text between it and the previous word (which tells whether it starts a sentence).
GAP_AND_WORD_RE = re.compile(r"([\W_]*?)([^\W_]+(?:'[^\W_]+)*)")
DIGIT_RE = re.compile(r"\d")
LETTERS_RE = re.compile(r"[^\W\d_]+")
# Besides capitals, what can give a shape feature: digits and quotation marks.
DIGIT_OR_QUOTE_RE = re.compile(r'\d|["“«]')
QUOTE_CHARS_RE = re.compile(r'["“«]')
# Characters that may sit between a sentence end and the next word ('. "Hello').
OPENERS = " \t\"'“«(["
# Long pastes are cut here: the cues of a search query are in its first sentences.
MAX_QUERY_CHARS = 2000
MAX_WORDS = 64
# Title Case needs this many longer words (short ones like "of", "the" are often left lower-case).
TITLE_MIN_WORDS = 3
TITLE_WORD_MIN_LENGTH = 4
MAX_PART_NAME = 40
# Strings remembered with their columns between batches (a cache, cleared when full).
CACHE_LIMIT = 100_000
# Seeds of the hashes of words and shapes, and of character n-grams.
WORD_SEED, CHAR_SEED = 0, 1
# A word pair's column mixes its two words' columns (64-bit multiply-xorshift, as in splitmix64).
PAIR_MULTIPLIER = 0x9E3779B97F4A7C15
PAIR_MIXER = 0xBF58476D1CE4E5B9

CAPITALISED = "<capitalised>"
NAME_START = "<capitalised run>"
# A capitalised word that acts ("Anna tells Ben", "Ben and Anna are dancing"): the query is a scene, and
# its capitalised words are characters in it rather than catalogue names, as the teacher reads them.
SCENE = "<scene>"
CHARACTER = "<character>"
QUOTATION = "<quotation>"
TITLE_CASE = "<title case>"
ALL_CAPS = "<all caps>"


class FeatureConfig(BaseModel):
    """Everything needed to rebuild the feature columns; stored in the artifact's model.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Columns per block (words and shapes; character n-grams and word pairs); the matrix has twice as many.
    n_features: int = Field(default=2**18, ge=2**8, le=2**22)
    char_ngram_range: tuple[int, int] = (2, 4)
    # What a word's character n-grams and its pair with the previous word count each, beside the word's
    # own column (1.0): enough to carry an unseen inflection or a set phrase, too little to drown the word.
    char_weight: float = Field(default=0.05, ge=0.0, le=1.0)
    pair_weight: float = Field(default=0.2, ge=0.0, le=1.0)
    # What a word's cue category in the teacher's lexicon (core/routers/lexicons: "sound source", "speech
    # verb", "name" ...) counts, as one more column of the word: a word the student saw rarely or never
    # still shares what it learnt about its kind. 0 (the value of models saved before it) leaves it out.
    lexicon_weight: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _range_is_ordered(self) -> FeatureConfig:
        low, high = self.char_ngram_range
        if not 1 <= low <= high <= 6:
            raise ValueError(f"char_ngram_range must be 1 <= min <= max <= 6, got {(low, high)}")
        return self

    @property
    def n_columns(self) -> int:
        return 2 * self.n_features


@dataclass(slots=True)
class SplitQuery:
    """A query's parts in order (distinct words, numbers, quotations) and its whole-query features.

    Shape features are listed flat, each with the index of the part it belongs to; `sequence` gives the
    query's words in order as part indices (-1 for a number), from which word pairs are made.
    """

    names: list[str]  # how each part is named in explanations (its first spelling in the query)
    words: list[str | None]  # the part's word, None for a number or a quotation
    shape_parts: list[int]
    shapes: list[str]
    sequence: list[int]
    whole: list[str]


@dataclass
class QueryFeatures:
    """A batch of featurised queries, part by part.

    Every column a query has belongs either to one of its parts or to the query as a whole (its
    case). A part is a word (columns: `word_matrix[part_word]` plus `part_extra`), a number or a
    quotation (columns: `part_extra` only, `part_word` is -1).
    """

    n_queries: int
    words: list[str]  # distinct words of the batch
    part_query: np.ndarray  # the query of each part, in query order
    part_word: np.ndarray  # index into `words`, or -1
    part_names: list[str]
    part_extra: sp.csr_matrix  # part x column: shapes (capitals, digit patterns, quotation) and word pairs
    query_extra: sp.csr_matrix  # query x column: whole-query columns (Title Case, all caps)
    featurizer: QueryFeaturizer  # which makes the word rows when they are asked for

    @cached_property
    def word_matrix(self) -> sp.csr_matrix:
        """Word x column: each word's own column and its weighted character n-grams."""
        return self.featurizer.word_matrix(self.words)

    def word_rows(self, picked: Sequence[int]) -> sp.csr_matrix:
        """The rows of word_matrix for these words only (a student that remembers the sums of the words it
        has seen asks for the new ones alone); each row is the one word_matrix has."""
        return self.featurizer.word_matrix([self.words[i] for i in picked])

    def part_matrix(self) -> sp.csr_matrix:
        """Part x column: every column each part brings."""
        has_word = self.part_word >= 0
        picks = sp.csr_matrix(
            (
                np.ones(int(has_word.sum()), dtype=FEATURE_DTYPE),
                self.part_word[has_word],
                np.concatenate([[0], np.cumsum(has_word)]),
            ),
            shape=(len(self.part_word), len(self.words)),
        )
        return (picks @ self.word_matrix + self.part_extra).tocsr()

    def query_sum(self) -> sp.csr_matrix:
        """Query x part: adds up each query's parts."""
        n_parts = len(self.part_query)
        indptr = np.searchsorted(self.part_query, np.arange(self.n_queries + 1)).astype(np.int64)
        return sp.csr_matrix(
            (np.ones(n_parts, dtype=FEATURE_DTYPE), np.arange(n_parts), indptr), shape=(self.n_queries, n_parts)
        )

    def matrix(self) -> sp.csr_matrix:
        """Query x column, the model's input."""
        return (self.query_sum() @ self.part_matrix() + self.query_extra).tocsr()


class QueryFeaturizer:
    def __init__(self, config: FeatureConfig | None = None):
        self.config = config or FeatureConfig()
        self._columns: dict[int, dict[str, int]] = {WORD_SEED: {}, CHAR_SEED: {}}
        self._word_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def n_columns(self) -> int:
        return self.config.n_columns

    def transform(self, queries: Sequence[str]) -> sp.csr_matrix:
        return self.features(queries).matrix()

    def features(self, queries: Sequence[str]) -> QueryFeatures:
        part_counts: list[int] = []
        part_words: list[str | None] = []
        part_names: list[str] = []
        shape_parts: list[int] = []
        shapes: list[str] = []
        sequences: list[int] = []
        sequence_lengths: list[int] = []
        whole_queries: list[int] = []
        wholes: list[str] = []
        for query_id, query in enumerate(queries):
            split = split_query(query)
            if split.shapes:
                offset = len(part_names)
                shape_parts.extend([offset + part for part in split.shape_parts])
                shapes.extend(split.shapes)
            part_counts.append(len(split.names))
            part_names.extend(split.names)
            part_words.extend(split.words)
            sequences.extend(split.sequence)
            sequence_lengths.append(len(split.sequence))
            if split.whole:
                whole_queries.extend([query_id] * len(split.whole))
                wholes.extend(split.whole)
        # Each distinct word numbered as it first comes (-1: no word), in one loop in C.
        word_index: defaultdict[str | None, int] = defaultdict(count().__next__, {None: -1})
        part_word = np.fromiter(map(word_index.__getitem__, part_words), dtype=np.int64, count=len(part_words))
        words = [word for word in word_index if word is not None]
        part_query_array = np.repeat(np.arange(len(queries), dtype=np.int64), part_counts)
        n_parts = len(part_names)
        part_extra = self._hashed(shape_parts, shapes, n_parts, WORD_SEED, 1.0)
        if self.config.pair_weight > 0:
            first_parts = np.searchsorted(part_query_array, np.arange(len(queries)))
            part_extra = part_extra + self._pair_matrix(
                np.asarray(sequences, dtype=np.int64),
                np.asarray(sequence_lengths, dtype=np.int64),
                first_parts,
                part_word,
                words,
            )
        return QueryFeatures(
            n_queries=len(queries),
            words=words,
            part_query=part_query_array,
            part_word=part_word,
            part_names=part_names,
            part_extra=part_extra.tocsr(),
            query_extra=self._hashed(whole_queries, wholes, len(queries), WORD_SEED, 1.0),
            featurizer=self,
        )

    def _pair_matrix(
        self,
        sequences: np.ndarray,
        lengths: np.ndarray,
        first_parts: np.ndarray,
        part_word: np.ndarray,
        words: list[str],
    ) -> sp.csr_matrix:
        """Part x column: each word pair (pair_weight) on the part of its second word, counted once.

        Built with array arithmetic over the whole batch: a pair's column mixes its two words' columns,
        so no pair string is ever made.
        """
        n_parts = len(part_word)
        query_of_token = np.repeat(np.arange(len(lengths)), lengths)
        tokens = np.where(sequences >= 0, sequences + first_parts[query_of_token], -1)
        linked = (query_of_token[1:] == query_of_token[:-1]) & (tokens[1:] >= 0) & (tokens[:-1] >= 0)
        firsts, seconds = tokens[:-1][linked], tokens[1:][linked]
        word_columns = np.array([self.column(word) for word in words], dtype=np.uint64)
        mixed = word_columns[part_word[firsts]] * np.uint64(PAIR_MULTIPLIER) + word_columns[part_word[seconds]]
        mixed ^= mixed >> np.uint64(29)
        mixed *= np.uint64(PAIR_MIXER)
        mixed ^= mixed >> np.uint64(32)
        n_features = self.config.n_features
        columns = (mixed % np.uint64(n_features)).astype(np.int64) + n_features
        matrix = sp.csr_matrix(
            (np.ones(len(columns), dtype=FEATURE_DTYPE), (seconds, columns)), shape=(n_parts, self.n_columns)
        )
        matrix.sum_duplicates()
        matrix.data[:] = self.config.pair_weight
        return matrix

    def pair_column(self, first: str, second: str) -> int:
        """The column of one word pair, as _pair_matrix computes it for a whole batch."""
        mask = (1 << 64) - 1
        mixed = (self.column(first) * PAIR_MULTIPLIER + self.column(second)) & mask
        mixed ^= mixed >> 29
        mixed = (mixed * PAIR_MIXER) & mask
        mixed ^= mixed >> 32
        return mixed % self.config.n_features + self.config.n_features

    def word_columns(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """A word's columns and values: its own column (1.0) and its character n-grams (char_weight each)."""
        return self._word_row(word)

    def word_matrix(self, words: Sequence[str]) -> sp.csr_matrix:
        """Each word's own column (1.0) and its character n-grams (char_weight each)."""
        rows = [self._word_row(word) for word in words]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(columns) for columns, _ in rows], out=indptr[1:])
        columns = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
        values = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, dtype=FEATURE_DTYPE)
        return sp.csr_matrix((values, columns, indptr), shape=(len(rows), self.n_columns))

    def column(self, feature: str, seed: int = WORD_SEED) -> int:
        """The column of a word or shape feature (first block) or of a character n-gram (second)."""
        cache = self._columns[seed]
        found = cache.get(feature)
        if found is None:
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            n_features = self.config.n_features
            block_start = 0 if seed == WORD_SEED else n_features
            found = cache[feature] = block_start + murmurhash3_32(feature, seed, signed=False) % n_features
        return found

    def _word_row(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        found = self._word_rows.get(word)
        if found is None:
            if len(self._word_rows) >= CACHE_LIMIT:
                self._word_rows.clear()
            found = self._word_rows[word] = self._hash_word(word)
        return found

    def _hash_word(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        config = self.config
        counts: dict[int, float] = {self.column(word): 1.0}
        if config.char_weight > 0:
            padded = f" {word} "
            low, high = config.char_ngram_range
            for size in range(low, min(high, len(padded)) + 1):
                for start in range(len(padded) - size + 1):
                    column = self.column(padded[start : start + size], CHAR_SEED)
                    counts[column] = counts.get(column, 0.0) + config.char_weight
        if config.lexicon_weight > 0 and (category := lexicon_category(word)) is not None:
            column = self.column(f"<lexicon {category}>")
            counts[column] = counts.get(column, 0.0) + config.lexicon_weight
        columns = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        return columns, np.array([counts[c] for c in columns.tolist()], dtype=FEATURE_DTYPE)

    def _hashed(self, rows: list[int], features: list[str], n_rows: int, seed: int, value: float) -> sp.csr_matrix:
        """A row x column matrix with `value` at (rows[i], column of features[i]) for each i."""
        cache = self._columns[seed]
        columns = np.fromiter(
            (c if (c := cache.get(f)) is not None else self.column(f, seed) for f in features),
            dtype=np.int64,
            count=len(features),
        )
        matrix = sp.csr_matrix(
            (np.full(len(columns), value, dtype=FEATURE_DTYPE), (np.asarray(rows, dtype=np.int64), columns)),
            shape=(n_rows, self.n_columns),
        )
        matrix.sum_duplicates()
        return matrix


def lexicon_category(word: str) -> str | None:
    """The teacher's cue category of a single word (after its stemmer), "vehicle" for a vehicle its heard rule
    reads (the verb after one is a sound), "name" for a listed given name."""
    lexicon = load_lexicon()
    stem = lexicon.stem(word)
    found = lexicon.words.get(stem)
    # A vehicle, even one the cue lists file as an object, is the subject of the heard rule.
    if stem in lexicon.vehicles and (found is None or found.name == "object"):
        return "vehicle"
    if found is not None:
        return found.name
    return "name" if word in lexicon.names else None


def split_query(query: str) -> SplitQuery:
    """Cut a query into its parts. Written for speed, as it runs once per query of every batch: most
    queries are plain lower-case words and take the short way."""
    text = query[:MAX_QUERY_CHARS].replace("’", "'") if isinstance(query, str) else ""
    if text.islower() and text.replace(" ", "").isalpha():  # lower-case letters and spaces: the words themselves
        return _split_words(text.split())
    if not text.islower() or DIGIT_OR_QUOTE_RE.search(text):
        # A sentence's capital first letter says nothing: such a query takes a short way too.
        sentence_case = text[:1].isupper() and "'" not in text and (rest := text[1:]).lower() == rest
        if sentence_case and DIGIT_OR_QUOTE_RE.search(text) is None:
            return _split_sentence_case(text)
        return _split_with_shapes(text)
    words = _words(text)
    return _split_words([_without_possessive(w) for w in words] if "'" in text else words)


def _split_words(words: list[Any]) -> SplitQuery:  # typed as _words is: the list serves as names and as words
    """The parts of a lower-case query without digits or quotation marks: its distinct words, in order."""
    del words[MAX_WORDS:]
    distinct = list(dict.fromkeys(words))
    if len(distinct) == len(words):  # no word said twice (most queries): the parts are the words in order
        return SplitQuery(distinct, distinct, [], [], list(range(len(words))), [])
    position = {word: part for part, word in enumerate(distinct)}
    return SplitQuery(distinct, distinct, [], [], list(map(position.__getitem__, words)), [])


def _split_sentence_case(text: str) -> SplitQuery:
    """What _split_with_shapes gives for a query whose only capital is its first letter, without digits,
    quotation marks or apostrophes: no shapes (a sentence's first word is no name), the first word lower-cased
    and named as written."""
    words = _words(text)
    del words[MAX_WORDS:]
    first = words[0]
    words[0] = first.lower()
    distinct = list(dict.fromkeys(words))
    position = dict(zip(distinct, range(len(distinct)), strict=True))
    names = [first, *distinct[1:]]
    if max(map(len, names)) > MAX_PART_NAME:
        names = [name if len(name) <= MAX_PART_NAME else name[: MAX_PART_NAME - 1] + "…" for name in names]
    return SplitQuery(names, distinct, [], [], list(map(position.__getitem__, words)), [])


def _words(text: str) -> list[Any]:  # typed as re.findall is: the list serves as names and as words
    """WORD_RE.findall(text), found by str.split when the text is letters and spaces only (most queries)."""
    return text.split() if text.replace(" ", "").isalpha() else WORD_RE.findall(text)


def _split_with_shapes(text: str) -> SplitQuery:
    quotes = [m.span() for m in QUOTE_RE.finditer(text)] if QUOTE_CHARS_RE.search(text) else []
    if quotes:
        tokens = [m.groups() for m in GAP_AND_WORD_RE.finditer(text) if not _inside(m.start(2), quotes)]
    else:
        tokens = GAP_AND_WORD_RE.findall(text)
    del tokens[MAX_WORDS:]
    whole: list[str] = []
    surfaces = [surface for _, surface in tokens]
    capitals = [i for i, surface in enumerate(surfaces) if surface[0].isupper()]
    # Title Case needs TITLE_MIN_WORDS capitalised words at least: fewer (most queries) need no closer look.
    long_words = (
        [w for w in surfaces if len(w) >= TITLE_WORD_MIN_LENGTH and w.isalpha()]
        if len(capitals) >= TITLE_MIN_WORDS
        else []
    )
    title_case = len(long_words) >= TITLE_MIN_WORDS and all(w[0].isupper() for w in long_words)
    if title_case:
        whole.append(TITLE_CASE)
        if all(w.isupper() for w in long_words):
            whole.append(ALL_CAPS)

    lowered: list[Any] = list(map(str.lower, surfaces))  # as _words types it
    if "'" in text:
        lowered = [_without_possessive(word) for word in lowered]
    distinct = list(dict.fromkeys(lowered))
    position = {word: part for part, word in enumerate(distinct)}  # part key -> part index
    repeated = len(distinct) < len(lowered)
    if repeated:
        # Reversed, so that each word keeps its first spelling.
        first_spelling = dict(zip(reversed(lowered), reversed(surfaces), strict=True))
        names = list(map(first_spelling.__getitem__, distinct))
    else:  # no word twice (most queries): each part is named as written, the parts are the words in order
        names = surfaces.copy()
    numbers = (
        dict.fromkeys(w for w in distinct if not w.isalpha() and DIGIT_RE.search(w))
        if DIGIT_RE.search(text) is not None
        else {}
    )
    words: list[str | None]
    if numbers:
        words = [None if word in numbers else word for word in distinct]
        sequence = [-1 if word in numbers else position[word] for word in lowered]  # -1: a number breaks a pair
    else:
        words = distinct
        sequence = list(map(position.__getitem__, lowered)) if repeated else list(range(len(lowered)))
    shapes: dict[tuple[int, str], None] = {}  # (part, shape), distinct: a part counts once like a cue read twice
    for number in numbers:
        for shape in _digit_shapes(number):
            shapes[(position[number], shape)] = None
    if not title_case:
        inside: list[int] = []  # capitalised words inside a sentence
        for index in capitals:
            word = lowered[index]
            before = tokens[index][0].rstrip(OPENERS)
            if not word.isalpha() or ((before[-1] in SENTENCE_ENDS) if before else index == 0):
                continue
            if not inside or inside[-1] != index - 1:
                shapes[(position[word], NAME_START)] = None
            shapes[(position[word], CAPITALISED)] = None
            inside.append(index)
        characters = _characters(surfaces, lowered, inside)
        if characters:
            whole.append(SCENE)
            for index in characters:
                shapes[(position[lowered[index]], CHARACTER)] = None
    for start, end in quotes:
        quoted = " ".join(text[start:end].split())
        if quoted.lower() not in position:
            position[quoted.lower()] = len(names)
            names.append(quoted)
            words.append(None)
        shapes[(position[quoted.lower()], QUOTATION)] = None
    if names and max(map(len, names)) > MAX_PART_NAME:
        names = [name if len(name) <= MAX_PART_NAME else name[: MAX_PART_NAME - 1] + "…" for name in names]
    if not shapes:
        return SplitQuery(names, words, [], [], sequence, whole)
    return SplitQuery(names, words, [part for part, _ in shapes], [shape for _, shape in shapes], sequence, whole)


def _characters(surfaces: list[str], lowered: list[str], inside: list[int]) -> list[int]:
    """The characters of a scene: when a name (a capitalised word inside the sentence, or the query's first
    word beside one) is followed by a verb that agrees with it ("tells", "walked") or an auxiliary ("is",
    "gets"), across "and", "Dr" or another name, or follows such a verb ("tells Anna"), every name is a
    character; the test of the teacher's character rule (core.routers.reference), read from the query's
    shape. Empty when nobody acts."""
    if not inside:
        return []
    lexicon = load_lexicon()
    links = lexicon.context.character_links
    opener = [0] if surfaces[0][0].isupper() and lowered[0] not in lexicon.function_words else []
    for index in opener + inside:
        after = index + 1
        while after < len(surfaces) and (lowered[after] in links or surfaces[after][0].isupper()):
            after += 1
        if after < len(surfaces) and _agrees(lowered[after]):
            return inside if index not in opener else opener + inside
    for index in inside:
        before = index - 1
        while before >= 0 and lowered[before] in links:
            before -= 1
        if before >= 0 and lowered[before] not in lexicon.context.character_auxiliaries and _agrees(lowered[before]):
            return inside
    return []


@lru_cache(maxsize=CACHE_LIMIT)  # asked of the words beside every name of every batch
def _agrees(word: str) -> bool:
    """An auxiliary, or a verb that agrees (Lexicon.agrees) and is no catalogue cue ("named", "aired")."""
    lexicon = load_lexicon()
    if word in lexicon.context.character_auxiliaries:
        return True
    stem = lexicon.stem(word)
    cue = lexicon.words.get(stem)
    return lexicon.agrees(word, stem) and (cue is None or cue.modality != "metadata")


def _without_possessive(word: str) -> str:
    return word[:-2] if word.endswith("'s") and len(word) > 2 else word


@lru_cache(maxsize=CACHE_LIMIT)  # years and episode numbers come back in batch after batch
def _digit_shapes(word: str) -> tuple[str, ...]:
    pattern = DIGIT_RE.sub("d", LETTERS_RE.sub("x", word))
    shapes = ["<number>", f"<digits {pattern}>"]
    if pattern == "dddd":
        shapes.append(f"<digits {word[:2]}dd>")
    return tuple(shapes)


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)
