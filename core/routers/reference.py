"""The local reference teacher: an explainable, deterministic router built from cue lexicons.

Each cue found in a query (a lexicon word or phrase, a name, a year, a quotation) adds its category's vector
of log-odds to the four channels; the weights are the softmax of prior + cue evidence, with a soft cap so a
pile of cues never gives an all-or-nothing answer. Keeping the teacher log-linear in its cues is deliberate:
the compact student is a linear softmax over word and character n-grams and has to be able to copy it.
Two small context rules sit on top: a negator ("no music") lowers the channel of the cue it governs, and
what someone talks about ("explaining the housing market") counts as a topic of speech, not as a sight.

The lexicons are data, read by core.routers.lexicon.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

from core.pricing import PriceTable
from core.routers.base import Router, RouterReply
from core.routers.lexicon import TYPO_MIN_LENGTH, Category, load_lexicon, slip_repairs
from core.schema import MODALITIES, RoutingDecision
from core.text_patterns import QUOTE_RE, SENTENCE_ENDS, WORD_RE

DECADE_RE = re.compile(r"(?:1[89]|20)?\d0s")
RESOLUTION_RE = re.compile(r"\d{3,4}p|\d{1,2}k|\d{2,3}fps|\d{2,3}hz")
EPISODE_CODE_RE = re.compile(r"s\d{1,2}(?:e\d{1,3})?|ep?\d{1,3}")
TITLE_YEAR_RE = re.compile(r"\w[^()]*\((?:1[89]|20)\d\d\)\s*$")
CHAINING_WORDS = frozenset({"or", "nor"})
MAX_CUE_TEXT = 40
MAX_QUOTES = 8
CUES_NAMED_PER_CHANNEL = 3
NO_CUE_REASONING = "No specific cue found, so the weights keep a default spread that leans to what is seen."


@dataclass(frozen=True)
class Cue:
    """One piece of evidence: the query text that matched, the channel it speaks for and how strongly."""

    modality: str
    text: str
    strength: float  # log-odds added to `modality`; negative when the cue lowers it
    kind: str  # lexicon category ("sound event", "speech verb") or rule ("name", "year", "quote")
    negated: bool = False
    scale: float = 1.0  # below 1 in a backdrop clause ("... while talking to Amy")


@dataclass(frozen=True)
class Analysis:
    cues: tuple[Cue, ...]
    weights: dict[str, float]  # unrounded; the Router base rounds to 0.05 for the contract
    reasoning: str


@dataclass
class _Match:
    start: int  # first token index
    end: int  # one past the last token index
    category: Category
    negated_from: int | None = None  # index of the negator that lowers this cue
    backdrop: bool = False  # in a clause opened by "while", "as", "when" after the main one


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
    # The teacher's one name, recorded wherever its labels go (manifests, jobs, models).
    name = "Local reference teacher"

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
                    evidence[index] += value * cue.scale
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
        self._mark_characters(text, tokens, matches)
        self._mark_sound_names(matches)
        self._mark_heard(tokens, matches)
        ordered = [matches[i] for i in sorted(matches)]
        self._mark_performance(tokens, ordered)
        self._mark_music(tokens, ordered)
        self._mark_backdrop(tokens, ordered)
        self._apply_negation(tokens, ordered, negators)
        self._mark_talked_about(tokens, ordered)
        cues = [self._cue(text, tokens, match) for match in ordered]
        cues.extend(self._quote_cues(text, quotes))
        cues.extend(self._title_year_cue(text))
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
        found = {index[variant] for variant in (word, *slip_repairs(word)) if variant in index}
        return found.pop() if len(found) == 1 else None

    def _numeric_category(self, word: str) -> Category | None:
        categories = self.lexicon.categories
        if word.isdigit():
            is_year = len(word) == 4 and 1900 <= int(word) <= 2099
            return categories["year" if is_year else "number"]
        if DECADE_RE.fullmatch(word):
            return categories["year"]
        if RESOLUTION_RE.fullmatch(word):
            return categories["picture format"]
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

    def _mark_characters(self, text: str, tokens: list[_Token], matches: dict[int, _Match]) -> None:
        """A name followed by a verb ("Anna tells Ben", "Ben and Anna are dancing") is a character in a scene,
        not a fact of the catalogue: then every name of the query is a character, and the verbs decide."""
        context = self.lexicon.context
        name = self.lexicon.categories["name"]
        self._name_at_start(tokens, matches)
        names = [m for m in matches.values() if m.category is name]
        if not names:
            return
        owner = {i: m for m in matches.values() for i in range(m.start, m.end)}
        links = context.character_links
        for match in names:
            index = match.end
            while index < len(tokens) and (
                tokens[index].lower in links or (index in owner and owner[index].category is name)
            ):
                index = owner[index].end if index in owner else index + 1
            if index < len(tokens) and self._acts(tokens[index], owner.get(index)):
                break
            if index + 1 < len(tokens) and self._shows_someone(tokens[index], tokens[index + 1], owner.get(index + 1)):
                break
            before = match.start - 1
            while before >= 0 and tokens[before].lower in links:
                before -= 1
            if before >= 0 and self._acts_on(tokens[before], owner.get(before)):
                break
        else:
            return
        character = self.lexicon.categories["character"]
        for match in names:
            match.category = character
        # In a scene, a capitalised word inside a sentence is a character even when it is also a listed word
        # ("Ted", "Castle", "House" as people).
        for match in list(matches.values()):
            first = tokens[match.start]
            if (
                match.category is not character
                and match.category.modality in ("metadata", "visual")
                and all(t.text[:1].isupper() and t.text.isalpha() for t in tokens[match.start : match.end])
                and not _at_sentence_start(text, first.start)
            ):
                match.category = character
        self._mark_reported(tokens, matches, owner)

    def _mark_reported(self, tokens: list[_Token], matches: dict[int, _Match], owner: dict[int, _Match]) -> None:
        """In a scene with characters, a verb followed by "that", "what", "why"... reports what someone says
        ("Anna admits that she lied", "Ben tells Anna where he was"); a character may sit between them."""
        context = self.lexicon.context
        reported = self.lexicon.categories["reported speech"]
        character = self.lexicon.categories["character"]
        for index, token in enumerate(tokens):
            if token.lower not in context.reporting_words or index in owner or index == 0:
                continue
            before = index - 1
            if before in owner and owner[before].category is character:
                before = owner[before].start - 1
            if before < 0 or before in owner:
                continue
            verb = tokens[before]
            if verb.stem in self.lexicon.verbs and verb.lower.endswith(("s", "ed")):
                matches[before] = owner[before] = _Match(before, index + 1, reported)

    def _name_at_start(self, tokens: list[_Token], matches: dict[int, _Match]) -> None:
        """A capitalised unknown word opening the query and followed by a verb ("Gunther confirms ...") is a name."""
        if len(tokens) < 2 or 0 in matches or (1 in matches and matches[1].category.modality == "metadata"):
            return
        first, second = tokens[0], tokens[1]
        if (
            first.text[:1].isupper()
            and first.text[1:].islower()
            and first.text.isalpha()
            and first.lower not in self.lexicon.function_words
            and first.stem not in self.lexicon.verbs
            and second.stem in self.lexicon.verbs
            and second.lower.endswith("s")
        ):
            matches[0] = _Match(0, 1, self.lexicon.categories["name"])

    def _acts(self, token: _Token, match: _Match | None) -> bool:
        context = self.lexicon.context
        if token.lower in context.character_auxiliaries:
            return True
        if not self.lexicon.agrees(token.lower, token.stem):
            return False
        return match is None or match.category.modality != "metadata"

    def _shows_someone(self, token: _Token, after: _Token, match: _Match | None) -> bool:
        """ "Ryan shows Beckett a ring", "Anna shows him the way": "shows" is a verb when someone follows it."""
        if token.lower not in ("show", "shows", "showed"):
            return False
        return after.lower in self.lexicon.context.object_pronouns or (
            match is not None and match.category.name == "name"
        )

    def _acts_on(self, token: _Token, match: _Match | None) -> bool:
        """A verb in the third person or the past before a name ("Ben tells Anna", "helped Anna")."""
        if token.lower in self.lexicon.context.catalogue_words or token.stem not in self.lexicon.verbs:
            return False
        return token.lower.endswith(("s", "ed")) and (match is None or match.category.modality != "metadata")

    def _mark_sound_names(self, matches: dict[int, _Match]) -> None:
        """An object named right before a sound names that sound's source ("car alarm", "phone ringing", "door
        knocking"): in an English noun compound the last word is the thing, so the pair is one sound."""
        for start in sorted(matches):
            match = matches.get(start)
            if match is None or match.category.name != "object":
                continue
            sound = matches.get(match.end)
            if sound is not None and sound.category.name == "sound event":
                del matches[start], matches[match.end]
                matches[start] = _Match(start, sound.end, sound.category)

    def _mark_heard(self, tokens: list[_Token], matches: dict[int, _Match]) -> None:
        """What a source of sound does is heard: "wind blows", "an engine is idling", "rain falling on a roof"
        (the verb after a sound source, within a few words of the same clause, is a sound, not a sight); a
        vehicle heard doing something ("a tractor idling") is then a sight and a sound, not only an object."""
        lexicon = self.lexicon
        context = lexicon.context
        process = lexicon.categories["sound process"]
        owner = {i: m for m in matches.values() for i in range(m.start, m.end)}
        heard = [
            m
            for m in matches.values()
            if m.category.name in context.heard_subjects or tokens[m.end - 1].stem in lexicon.vehicles
        ]
        for match in heard:
            described = [m for m in matches.values() if match.start - 3 <= m.end <= match.start]
            if any(m.category.name in ("colour", "appearance") for m in described):
                continue  # "a red car driving": a thing described by its looks is seen
            index, content = match.end, 0
            while index < len(tokens) and content < context.heard_gap:
                token = tokens[index]
                if token.lower in lexicon.clause_breaks or token.quoted:
                    break
                found = owner.get(index)
                if found is not None:
                    if found.category.name == "action":
                        found.category = process
                        if match.category.name == "object":
                            match.category = lexicon.categories["sight and sound"]
                    if found.category.name not in ("sound manner", "loudness"):
                        break
                    index = found.end
                    continue
                if token.lower not in lexicon.function_words:
                    if token.stem in lexicon.verbs and token.lower.endswith(("s", "ing", "ed")):
                        matches[index] = owner[index] = _Match(index, index + 1, process)
                        if match.category.name == "object":
                            match.category = lexicon.categories["sight and sound"]
                        break
                    content += 1
                index += 1

    def _mark_backdrop(self, tokens: list[_Token], ordered: list[_Match]) -> None:
        """The main clause says what the moment is; a clause opened later by "while", "as" or "when" sets the
        scene around it ("Sheldon gestures with his hand while talking to Amy"), so its cues count for less."""
        context = self.lexicon.context
        opened: int | None = None
        for index, token in enumerate(tokens):
            if token.lower in context.backdrop_words and any(m.start < index for m in ordered):
                opened = index
                break
        if opened is None:
            return
        for match in ordered:
            if match.start > opened:
                match.backdrop = True

    def _mark_performance(self, tokens: list[_Token], ordered: list[_Match]) -> None:
        """Someone playing an instrument ("a man is playing piano", "a band plays on a stage") is a performance
        one watches as much as hears: the instrument after a performer and a verb of playing counts both ways."""
        context = self.lexicon.context
        performance = self.lexicon.categories["performance"]
        performer_seen = verb_seen = False
        for match in ordered:
            if match.category.name in context.performers:
                performer_seen = True
            elif performer_seen and any(t.lower in context.performing_verbs for t in tokens[: match.start]):
                verb_seen = True
            if verb_seen and match.category.name in ("instrument", "music"):
                match.category = performance

    def _mark_music(self, tokens: list[_Token], ordered: list[_Match]) -> None:
        """With music in the query, its mood and recording quality (and what a recording "features") describe
        what is heard, not the catalogue."""
        context = self.lexicon.context
        if not any(m.category.name in context.music_subjects for m in ordered):
            return
        quality = self.lexicon.categories["music quality"]
        for match in ordered:
            refiled = match.category.name in context.music_refiled or (
                match.end - match.start == 1 and tokens[match.start].lower in context.music_refiled_words
            )
            if refiled and match.negated_from is None:
                match.category = quality

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
        if match.backdrop:
            scale = self.lexicon.context.backdrop_scale
            return Cue(category.modality, surface, primary * scale, category.name, scale=scale)
        return Cue(category.modality, surface, primary, category.name)

    def _title_year_cue(self, text: str) -> list[Cue]:
        """A title ending in its year in brackets ("Some Title (1999)") is a catalogue entry."""
        found = TITLE_YEAR_RE.search(text)
        if found is None:
            return []
        category = self.lexicon.categories["title year"]
        return [Cue(category.modality, _clip(found.group().strip()), category.vector[3], category.name)]

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
