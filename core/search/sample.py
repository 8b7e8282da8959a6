"""The sample catalog and its relevance judgements, made together from one seed.

Videos come from the data mix's domains (core.synth.mix.DOMAINS) and its vocabulary. Each video draws a
small world first: its metadata (a series title and episode, one to three people, a genre, an upload
date, a channel), a cast, objects with fixed colours, one or two settings, a light, sounds, a soundtrack,
speakers and topics. Each of its 5-15 s segments then picks from that world, so a video stays consistent
(the red skillet stays red, the same chef keeps talking about the same topics). Every segment's facets
(what it shows, what is heard, what is said, what the metadata says) are kept beside its text.

Real segments also carry words of one channel in another: a sign in view quotes a catchphrase, someone
talks about a sound or a person from another video. With probability `mention_rate` each caption and
each transcript gets one such mention, drawn from the same domain and never made a facet. That is what
makes weights matter: an audio query's words then also appear in some transcript, and only a search that
trusts the audio channel for it keeps those transcripts out of the top ranks.

Queries are written from a random target segment's facets, in one channel's words (or two, for mixed
queries), from the templates in vocab.json. The judgements come from the facets alone, never from a
router: a segment with every facet the query asks for is a full match (grade 2), one with at least half of
them a partial match (grade 1). A query matching more than MAX_FULL_MATCHES segments is too vague to judge
a ranking by and is drawn again. One random.Random(seed) drives everything, and no set order decides
anything, so one seed always gives the same catalog and the same judgements.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.schema import MODALITIES
from core.search.catalog import DEFAULT_SEGMENTS, MAX_SEGMENTS, Catalog, Segment
from core.search.judgements import FULL_MATCH, PARTIAL_MATCH, JudgedQuery
from core.synth.generator import VOCAB_DIR as SYNTH_VOCAB_DIR
from core.synth.mix import DEFAULT_FOCUS, DOMAINS, allocate

GENERATOR_VERSION = "1"
DEFAULT_SEED = 7
# About a thousand judged queries keep a figure's sampling error near one point (300 left it near two).
DEFAULT_QUERIES = 1_000
MAX_QUERIES = 2_000
DEFAULT_MENTION_RATE = 0.3
MAX_FULL_MATCHES = 50
SEGMENT_SECONDS = (5.0, 15.0)
SEGMENTS_PER_VIDEO = (6, 20)
MIN_LAST_VIDEO_SEGMENTS = 3
UPLOAD_YEARS = (2012, 2025)
# How often a segment shows the video's main setting and light, has a quote, plays the soundtrack, has a second sound.
MAIN_SETTING_SHARE = 0.75
MAIN_LIGHT_SHARE = 0.8
QUOTE_SHARE = 0.5
SOUNDTRACK_SHARE = 0.5
SECOND_SOUND_SHARE = 0.4
# How often a person of the video speaks (rather than one of the domain's speakers).
PERSON_SPEAKS_SHARE = 0.3
_QUERY_ATTEMPTS = 60
# Facets that only qualify another one: a segment sharing nothing but these (the colour, the loudness) with a
# query is no partial match of it.
MODIFIER_FACETS = frozenset({"colour", "light", "loudness", "music_mood", "year"})

VOCAB_FILE = Path(__file__).parent / "vocab.json"
_SLOT = re.compile(r"\{(\w+)\}")
_ARTICLE = re.compile(r"^(?:a|an|the) ")

# Which channel each facet belongs to.
FACET_CHANNELS: dict[str, str] = {
    "actor": "visual",
    "action": "visual",
    "object": "visual",
    "colour": "visual",
    "setting": "visual",
    "light": "visual",
    "sound": "audio",
    "loudness": "audio",
    "music_mood": "audio",
    "music_style": "audio",
    "speaker": "transcription",
    "topic": "transcription",
    "quote": "transcription",
    "person": "metadata",
    "genre": "metadata",
    "year": "metadata",
    "channel": "metadata",
    "title": "metadata",
}


class CatalogTooSmall(ValueError):
    """The catalog cannot give as many distinct, specific judged queries as were asked for."""


class CatalogSpec(BaseModel):
    """What a sample catalog is made from; the same spec always makes the same catalog and judgements."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=DEFAULT_SEED, ge=0)
    segments: int = Field(default=DEFAULT_SEGMENTS, ge=50, le=MAX_SEGMENTS)
    queries: int = Field(default=DEFAULT_QUERIES, ge=10, le=MAX_QUERIES)
    mention_rate: float = Field(default=DEFAULT_MENTION_RATE, ge=0.0, le=1.0)


@dataclass(frozen=True)
class SampleCatalog:
    spec: CatalogSpec
    catalog: Catalog
    judgements: tuple[JudgedQuery, ...]


Facets = dict[str, tuple[str, ...]]


@dataclass
class _Video:
    id: str
    domain: str
    title: str
    series: str
    people: tuple[str, ...]
    genre: str
    upload_date: str
    channel: str
    cast: list[str]
    objects: list[tuple[str, str]]  # (colour, object), fixed for the whole video
    settings: list[str]
    lights: list[str]
    sounds: list[str]
    soundtrack: tuple[str, str]  # (mood, style)
    speakers: list[str]
    topics: list[str]


@functools.cache
def _vocabulary() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(this catalog's templates, the data mix's domain lists, its shared lists)."""
    own = json.loads(VOCAB_FILE.read_text(encoding="utf-8"))
    domains = json.loads((SYNTH_VOCAB_DIR / "domains.json").read_text(encoding="utf-8"))
    common = json.loads((SYNTH_VOCAB_DIR / "common.json").read_text(encoding="utf-8"))
    return own, domains, common


@functools.lru_cache(maxsize=4)
def generate_catalog(spec: CatalogSpec | None = None) -> SampleCatalog:
    """The catalog and judgements of a spec (the default spec when None); kept for the last few specs."""
    spec = spec or CatalogSpec()
    rng = random.Random(spec.seed)
    segments: list[Segment] = []
    facets: list[Facets] = []
    for video, count in _video_plan(rng, spec.segments):
        for segment, segment_facets in _segments_of(rng, video, count, spec.mention_rate):
            segments.append(segment)
            facets.append(segment_facets)
    catalog = Catalog(tuple(segments))
    return SampleCatalog(spec, catalog, tuple(_judged_queries(rng, catalog, facets, spec.queries)))


# ---- videos -----------------------------------------------------------------------------------------------


def _video_plan(rng: random.Random, total: int) -> list[tuple[_Video, int]]:
    """Videos and their segment counts, summing to exactly `total`; domains take turns in a shuffled order."""
    counts: list[int] = []
    while sum(counts) < total:
        counts.append(rng.randint(*SEGMENTS_PER_VIDEO))
    counts[-1] -= sum(counts) - total
    if counts[-1] < MIN_LAST_VIDEO_SEGMENTS and len(counts) > 1:
        last = counts.pop()
        counts[-1] += last
    order = list(DOMAINS)
    plan = []
    for index, count in enumerate(counts):
        if index % len(order) == 0:
            rng.shuffle(order)
        plan.append((_video(rng, f"v{index + 1:04d}", order[index % len(order)]), count))
    return plan


def _pool(domain: str, name: str) -> list[str]:
    _, domains, common = _vocabulary()
    return list(domains[domain].get(name) or common[name])


def _sample(rng: random.Random, items: Sequence[str], k: int) -> list[str]:
    return rng.sample(list(items), min(k, len(items)))


def _person(rng: random.Random, domain: str) -> str:
    if rng.random() < 0.5:
        return rng.choice(_pool(domain, "dname"))
    return f"{rng.choice(_pool(domain, 'first'))} {rng.choice(_pool(domain, 'last'))}"


def _video(rng: random.Random, video_id: str, domain: str) -> _Video:
    people: list[str] = []
    for _ in range(rng.randint(1, 3)):
        name = _person(rng, domain)
        if name not in people:
            people.append(name)
    year = rng.randint(*UPLOAD_YEARS)
    upload_date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    series = rng.choice(_pool(domain, "title"))
    colours = _pool(domain, "colour")
    style_pool = _pool(domain, "instrument") + _pool(domain, "music_style")
    return _Video(
        id=video_id,
        domain=domain,
        title=f"{series}, episode {rng.randint(1, 40)}",
        series=series,
        people=tuple(people),
        genre=rng.choice(_pool(domain, "genre")),
        upload_date=upload_date,
        channel=rng.choice(_pool(domain, "channel")),
        cast=_sample(rng, _pool(domain, "actor"), 3),
        objects=[(rng.choice(colours), item) for item in _sample(rng, _pool(domain, "object"), 5)],
        settings=_sample(rng, _pool(domain, "setting"), 2),
        lights=_sample(rng, _pool(domain, "light"), 2),
        sounds=_sample(rng, _pool(domain, "sound"), 5),
        soundtrack=(rng.choice(_pool(domain, "mood")), rng.choice(style_pool)),
        speakers=_sample(rng, _pool(domain, "speaker"), 2),
        topics=_sample(rng, _pool(domain, "topic"), 3),
    )


# ---- segments ---------------------------------------------------------------------------------------------


def _segments_of(rng: random.Random, video: _Video, count: int, mention_rate: float) -> list[tuple[Segment, Facets]]:
    own, _, _ = _vocabulary()
    domain = video.domain
    made = []
    start = 0.0
    for index in range(count):
        length = round(rng.uniform(*SEGMENT_SECONDS), 1)
        colour, item = rng.choice(video.objects)
        setting = video.settings[0] if rng.random() < MAIN_SETTING_SHARE else video.settings[-1]
        light = video.lights[0] if rng.random() < MAIN_LIGHT_SHARE else video.lights[-1]
        sounds = _sample(rng, video.sounds, 2 if rng.random() < SECOND_SOUND_SHARE else 1)
        music = video.soundtrack if rng.random() < SOUNDTRACK_SHARE else None
        speaker = rng.choice(list(video.people)) if rng.random() < PERSON_SPEAKS_SHARE else rng.choice(video.speakers)
        quote = rng.choice(_pool(domain, "quote")) if rng.random() < QUOTE_SHARE else None
        values = {
            "actor": rng.choice(video.cast),
            "action": rng.choice(_pool(domain, "action")),
            "object": item,
            "colour": colour,
            "setting": setting,
            "light": light,
            "sound": sounds[0],
            "second_sound": sounds[-1],
            "loudness": rng.choice(_pool(domain, "loud")),
            "music_mood": music[0] if music else "",
            "music_style": music[1] if music else "",
            "speaker": speaker,
            "topic": rng.choice(video.topics),
            "quote": quote or "",
        }
        caption = _render(rng.choice(own["caption"]), values)
        audio_templates = [t for t in own["audio"] if ("music_" in t.lower()) == bool(music)]
        audio_templates = [t for t in audio_templates if ("second_sound" in t) == (len(sounds) > 1)]
        audio = _render(rng.choice(audio_templates), values)
        transcript_templates = [t for t in own["transcript"] if ("{Quote}" in t) == bool(quote)]
        transcript = _render(rng.choice(transcript_templates), values)
        if rng.random() < mention_rate:
            caption += " " + _render(rng.choice(own["caption_mention"]), _others(rng, video, values))
        if rng.random() < mention_rate:
            transcript += " " + _render(rng.choice(own["transcript_mention"]), _others(rng, video, values))
        if rng.random() < mention_rate:
            audio += " " + rng.choice(own["audio_mention"])
        segment = Segment(
            id=f"{video.id}-s{index + 1:02d}",
            video_id=video.id,
            start_s=round(start, 1),
            end_s=round(start + length, 1),
            caption=caption,
            audio_description=audio,
            transcript=transcript,
            title=video.title,
            people=video.people,
            genre=video.genre,
            upload_date=video.upload_date,
            channel=video.channel,
        )
        facets: Facets = {
            "actor": (values["actor"],),
            "action": (values["action"],),
            "object": (item,),
            "colour": (colour,),
            "setting": (setting,),
            "light": (light,),
            "sound": tuple(sounds),
            "loudness": (values["loudness"],),
            "music_mood": (music[0],) if music else (),
            "music_style": (music[1],) if music else (),
            "speaker": (speaker,),
            "topic": (values["topic"],),
            "quote": (quote,) if quote else (),
            "person": video.people,
            "genre": (video.genre,),
            "year": (video.upload_date[:4],),
            "channel": (video.channel,),
            "title": (video.series,),
        }
        made.append((segment, facets))
        start += length
    return made


def _others(rng: random.Random, video: _Video, values: Mapping[str, str]) -> dict[str, str]:
    """Values of the same domain that this segment does not have, for a mention in another channel's words."""
    domain = video.domain

    def other(pool: list[str], *own_values: str) -> str:
        candidates = [item for item in pool if item not in own_values]
        return rng.choice(candidates)

    return {
        "other_quote": other(_pool(domain, "quote"), values["quote"]),
        "other_title": other(_pool(domain, "title"), video.series),
        "other_person": other(_pool(domain, "dname"), *video.people),
        "other_topic": other(_pool(domain, "topic"), *video.topics),
        "other_sound": _bare(other(_pool(domain, "sound"), *video.sounds)),
        "other_object": other(_pool(domain, "object"), *(item for _, item in video.objects)),
        "other_actor": other(_pool(domain, "actor"), *video.cast),
        "other_action": other(_pool(domain, "action"), values["action"]),
    }


def _bare(text: str) -> str:
    return _ARTICLE.sub("", text)


def _render(template: str, values: Mapping[str, str]) -> str:
    """Fill {slot}, {Slot} (first letter capitalised) and {bare_slot} (leading article dropped)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        bare = name.startswith("bare_")
        key = name.removeprefix("bare_").lower()
        value = values[key]
        if bare:
            value = _bare(value)
        if name[0].isupper():
            value = value[:1].upper() + value[1:]
        return value

    return " ".join(_SLOT.sub(fill, template).split())


# ---- judged queries ---------------------------------------------------------------------------------------


def _judged_queries(rng: random.Random, catalog: Catalog, facets: list[Facets], n: int) -> list[JudgedQuery]:
    own, _, _ = _vocabulary()
    postings: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, segment_facets in enumerate(facets):
        for name, values in segment_facets.items():
            for value in dict.fromkeys(values):
                postings[(name, value)].append(position)
    counts = allocate(DEFAULT_FOCUS, n)
    seen: set[str] = set()
    queries: list[JudgedQuery] = []
    for focus, count in counts.items():
        templates = own["queries"][focus]
        for _ in range(count):
            for _attempt in range(_QUERY_ATTEMPTS):
                made = _query_from(rng, rng.choice(templates), facets, postings, catalog)
                if made is not None and made[0] not in seen:
                    break
            else:
                raise CatalogTooSmall(
                    f"A sample catalog of {len(catalog):,} segments cannot give {n:,} distinct judged queries "
                    f"(it ran out of {focus} ones): ask for fewer queries or more segments."
                )
            text, asked, relevant = made
            seen.add(text)
            channels = tuple(m for m in MODALITIES if m in _channels_of(asked))
            queries.append(JudgedQuery(f"q{len(queries) + 1:04d}", text, focus, relevant, channels, asked))
    return queries


def _channels_of(asked: Mapping[str, str]) -> set[str]:
    return {FACET_CHANNELS[name] for name in asked}


def _query_from(
    rng: random.Random,
    template: Mapping[str, Any],
    facets: list[Facets],
    postings: Mapping[tuple[str, str], list[int]],
    catalog: Catalog,
) -> tuple[str, dict[str, str], dict[str, int]] | None:
    """A query written from a random target segment's facets, and its graded matches; None if it cannot be."""
    target = facets[rng.randrange(len(facets))]
    asked: dict[str, str] = {}
    for name in template["facets"]:
        values = target[name]
        if not values:
            return None
        asked[name] = rng.choice(values)
    # A person of the video who speaks makes a query about speech a query about metadata too: leave those to
    # the mixed templates, so that each focus is written in its own channel's words.
    if "person" not in asked and asked.get("speaker") in target["person"]:
        return None
    text = _render(template["text"], asked)
    matched: Counter[int] = Counter()
    matched_core: Counter[int] = Counter()
    for name, value in asked.items():
        matched.update(postings[(name, value)])
        if name not in MODIFIER_FACETS:
            matched_core.update(postings[(name, value)])
    wanted = len(asked)
    relevant: dict[str, int] = {}
    for position, hits in sorted(matched.items()):
        if hits == wanted:
            relevant[catalog.segments[position].id] = FULL_MATCH
        elif 2 * hits >= wanted and matched_core[position]:
            relevant[catalog.segments[position].id] = PARTIAL_MATCH
    full = sum(1 for grade in relevant.values() if grade == FULL_MATCH)
    if full > MAX_FULL_MATCHES:
        return None
    return text, asked, relevant
