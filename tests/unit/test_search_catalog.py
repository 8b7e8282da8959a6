"""The sample catalog: the same seed gives the same catalog and judgements, videos stay consistent, and every
judgement follows from the catalog's facets (never from a router)."""

import re
from collections import defaultdict

import pytest
from pydantic import ValidationError

from core.search.catalog import DEFAULT_SEGMENTS, MAX_SEGMENTS, VIDEO_FIELDS
from core.search.judgements import FULL_MATCH, PARTIAL_MATCH
from core.search.sample import FACET_CHANNELS, MAX_FULL_MATCHES, CatalogSpec, generate_catalog
from core.synth.mix import DEFAULT_FOCUS, DOMAINS, FOCI, allocate


def bare(text: str) -> str:
    return re.sub(r"^(?:a|an|the) ", "", text.lower())


@pytest.fixture(scope="module")
def sample():
    return generate_catalog()


def test_the_default_catalog_has_2000_segments_and_at_least_200_judged_queries(sample):
    assert len(sample.catalog) == DEFAULT_SEGMENTS == 2_000
    assert len(sample.judgements) >= 200
    assert len({q.query for q in sample.judgements}) == len(sample.judgements)


def test_the_same_seed_gives_the_same_catalog_and_judgements():
    spec = CatalogSpec(seed=11, segments=300, queries=40)
    first, again = generate_catalog.__wrapped__(spec), generate_catalog.__wrapped__(spec)
    assert first.catalog.to_jsonl() == again.catalog.to_jsonl()
    assert [q.to_json_dict() for q in first.judgements] == [q.to_json_dict() for q in again.judgements]
    other = generate_catalog.__wrapped__(CatalogSpec(seed=12, segments=300, queries=40))
    assert other.catalog.to_jsonl() != first.catalog.to_jsonl()


def test_segments_are_5_to_15_seconds_back_to_back_and_share_their_videos_metadata(sample):
    by_video = defaultdict(list)
    for segment in sample.catalog.segments:
        by_video[segment.video_id].append(segment)
    assert len({s.id for s in sample.catalog.segments}) == len(sample.catalog)
    for segments in by_video.values():
        assert segments[0].start_s == 0.0
        for before, after in zip(segments, segments[1:], strict=False):
            assert after.start_s == pytest.approx(before.end_s, abs=0.051)
        for segment in segments:
            assert 5.0 <= round(segment.end_s - segment.start_s, 1) <= 15.0
            assert segment.caption and segment.audio_description and segment.transcript
            for name in VIDEO_FIELDS:
                assert getattr(segment, name) == getattr(segments[0], name)


def test_videos_come_from_every_domain_of_the_data_mix(sample):
    genres = {segment.genre for segment in sample.catalog.segments}
    # Each domain has its own genre list, so ten domains show up as well over ten genres.
    assert len(genres) > len(DOMAINS)


def test_queries_are_split_over_the_data_mixs_foci(sample):
    counts = {focus: sum(q.focus == focus for q in sample.judgements) for focus in FOCI}
    assert counts == allocate(DEFAULT_FOCUS, len(sample.judgements))


def test_every_judged_query_has_a_true_match_and_is_specific(sample):
    for query in sample.judgements:
        full = query.full_matches()
        assert 1 <= len(full) <= MAX_FULL_MATCHES
        assert set(query.relevant.values()) <= {FULL_MATCH, PARTIAL_MATCH}
        assert all(segment_id in sample.catalog.positions for segment_id in query.relevant)


def test_a_query_is_written_in_the_words_of_its_own_channels(sample):
    for query in sample.judgements:
        channels = {FACET_CHANNELS[name] for name in query.facets}
        assert set(query.channels) == channels
        if query.focus == "mixed":
            assert len(channels) == 2
        else:
            assert channels == {query.focus}
        for value in query.facets.values():
            # {bare_sound} drops the article ("loud sirens" for "the sirens").
            assert bare(value) in query.query.lower()


def test_a_full_match_has_every_facet_the_query_names_in_its_own_text(sample):
    """Spot-check the judgements against the catalog text: the target's own words are in its fields."""
    fields = {"visual": "caption", "audio": "audio_description", "transcription": "transcript"}
    checked = 0
    for query in sample.judgements:
        for segment_id in query.full_matches()[:3]:
            segment = sample.catalog.segment(segment_id)
            for name, value in query.facets.items():
                channel = FACET_CHANNELS[name]
                if channel in fields and name not in {"speaker"}:
                    text = getattr(segment, fields[channel]).lower()
                    assert bare(value) in text, (query.query, name)
                    checked += 1
    assert checked > 500


def test_the_catalog_size_is_bounded():
    with pytest.raises(ValidationError):
        CatalogSpec(segments=MAX_SEGMENTS + 1)
    assert len(generate_catalog.__wrapped__(CatalogSpec(segments=MAX_SEGMENTS, queries=20)).catalog) == MAX_SEGMENTS
