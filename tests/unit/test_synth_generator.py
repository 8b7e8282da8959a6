"""The query generator: deterministic, all distinct, exact shares, real edge cases, custom terms, domain flavour."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from core.synth import DataMix, SynthQuery, generate
from core.synth.generator import VOCAB_DIR, vocabulary_summary
from core.synth.mix import CUSTOM_DOMAIN, DOMAINS, RESERVED_STRINGS, allocate
from core.synth.quality import count_tags, deduplicate, words


@pytest.fixture(scope="module")
def default_15k() -> list[SynthQuery]:
    return generate(DataMix(total=15_000, seed=7))


@pytest.fixture(scope="module")
def default_1k() -> list[SynthQuery]:
    return generate(DataMix(total=1_000, seed=7))


def _words_in(value) -> set[str]:
    """Every word in a JSON value: its strings, keys included."""
    if isinstance(value, str):
        return set(words(value))
    if isinstance(value, dict):
        return set().union(*(_words_in(key) | _words_in(item) for key, item in value.items()))
    if isinstance(value, list):
        return set().union(*(_words_in(item) for item in value))
    return set()


def _vocab_words(exclude: str = "") -> set[str]:
    """Every word that occurs anywhere in the vocab data files (but `exclude`)."""
    paths = sorted(p for p in Path(VOCAB_DIR).glob("*.json") if p.name != exclude)
    return set().union(*(_words_in(json.loads(p.read_text(encoding="utf-8"))) for p in paths))


def test_the_vocabulary_loads_and_every_template_slot_resolves():
    summary = vocabulary_summary()
    assert summary["templates"] >= 300
    assert summary["languages"] >= 5
    assert summary["slot_values"] > 5_000


def test_synth_query_is_a_small_frozen_record_with_its_tags():
    query = SynthQuery("dog barking", "audio", "easy", "news")
    assert query.to_dict() == {"query": "dog barking", "focus": "audio", "difficulty": "easy", "domain": "news"}
    assert query.tags() == {"focus": "audio", "difficulty": "easy", "domain": "news"}
    with pytest.raises(FrozenInstanceError):
        query.query = "cat"  # type: ignore[misc]


def test_same_mix_and_seed_give_byte_identical_output():
    mix = DataMix(total=2_000, seed=7)
    first = json.dumps([q.to_dict() for q in generate(mix)], ensure_ascii=False)
    second = json.dumps([q.to_dict() for q in generate(DataMix(total=2_000, seed=7))], ensure_ascii=False)
    assert first == second


def test_a_different_seed_gives_a_different_list():
    seven = [q.query for q in generate(DataMix(total=1_000, seed=7))]
    eight = [q.query for q in generate(DataMix(total=1_000, seed=8))]
    assert seven != eight
    assert len(set(seven) & set(eight)) < 200


def test_15000_default_queries_are_all_distinct_even_as_near_duplicates(default_15k):
    assert len(default_15k) == 15_000
    assert len({q.query for q in default_15k}) == 15_000
    assert deduplicate(default_15k)[1] == 0


def test_15000_queries_of_one_focus_in_one_domain_are_all_distinct():
    queries = generate(DataMix(total=15_000, seed=7, focus={"visual": 1.0}, domain={"cooking": 1.0}))
    assert len(queries) == 15_000
    assert {(q.focus, q.domain) for q in queries} == {("visual", "cooking")}
    assert deduplicate(queries)[1] == 0


@pytest.mark.parametrize("total", [1_000, 10_000])
def test_every_share_is_met_within_two_points(total):
    mix = DataMix(total=total, seed=11)
    queries = generate(mix)
    counts = count_tags(queries)
    for group, shares in mix.groups().items():
        for key, share in shares.items():
            assert abs(counts[group].get(key, 0) / total - share) <= 0.02, (group, key)
        # Counts are allocated exactly first, so they match the largest-remainder allocation.
        assert {k: v for k, v in allocate(shares, total).items() if v} == counts[group]


def test_queries_are_tidy_text(default_15k):
    for q in default_15k:
        assert q.query == q.query.strip() and q.query, q
        assert "  " not in q.query, q
        assert not re.search(r"\{[a-z_]+\}", q.query), q


def test_no_query_holds_a_string_that_nova_training_data_forbids(default_15k):
    for q in default_15k:
        assert not any(marker in q.query for marker in RESERVED_STRINGS), q


def test_non_edge_queries_are_spelled_from_the_vocabulary(default_15k):
    vocabulary = _vocab_words()
    for q in default_15k:
        if q.difficulty != "edge":
            assert {w for w in words(q.query) if w.isalpha()} <= vocabulary, q


class TestEdgeQueries:
    @pytest.fixture
    def edge(self, default_15k) -> list[str]:
        return [q.query for q in default_15k if q.difficulty == "edge"]

    def test_all_caps(self, edge):
        assert sum(1 for q in edge if q.upper() == q and len(q.split()) > 1 and re.search("[A-Z]", q)) >= 100

    def test_one_word(self, edge):
        assert sum(1 for q in edge if len(q.split()) == 1 and q.isascii()) >= 100

    def test_very_long(self, edge):
        assert sum(1 for q in edge if len(q) >= 200) >= 100

    def test_injection_like(self, edge):
        markers = ("ignore previous instructions", "ignore all previous", "disregard the rules", "override")
        assert sum(1 for q in edge if any(m in q.lower() for m in markers)) >= 50

    def test_other_languages(self, edge):
        japanese = [q for q in edge if re.search("[\u3040-\u30ff\u4e00-\u9fff]", q)]
        romance_or_german = [q for q in edge if set(q.lower().split()) & {"sobre", "avec", "mit", "com", "con", "über"}]
        assert len(japanese) >= 10
        assert len(romance_or_german) >= 30

    def test_typos_make_words_that_are_not_in_the_vocabulary(self, edge):
        vocabulary = _vocab_words()
        misspelt = [q for q in edge if q.isascii() and any(w.isalpha() and w not in vocabulary for w in words(q))]
        assert len(misspelt) >= 150

    def test_two_modality_queries_are_never_one_word(self, default_15k):
        # Japanese writes no spaces, so only space-separated scripts are checked.
        assert all(len(q.query.split()) > 1 for q in default_15k if q.focus == "mixed" and q.query.isascii())


def test_custom_terms_appear_in_every_custom_domain_query():
    terms = ["Acme RoboVac", "zeppelin", "quarterly town hall"]
    queries = generate(DataMix(total=2_000, seed=5, custom_vocabulary=terms))
    custom = [q for q in queries if q.domain == CUSTOM_DOMAIN]
    assert len(custom) == allocate(DataMix(custom_vocabulary=terms).domain, 2_000)[CUSTOM_DOMAIN]
    for q in custom:
        assert any(term.casefold() in q.query.casefold() for term in terms), q
    used = Counter(term for q in custom for term in terms if term.casefold() in q.query.casefold())
    assert set(used) == set(terms)


def test_a_mix_made_only_of_custom_terms_still_gives_distinct_queries():
    queries = generate(DataMix(total=3_000, seed=2, custom_vocabulary=["Acme RoboVac"], domain={"custom": 1.0}))
    assert deduplicate(queries)[1] == 0
    assert all("acme robovac" in q.query.casefold() for q in queries)


def test_the_domain_flavours_the_vocabulary(default_15k):
    # Words found in one domain's lists and nowhere else in the vocabulary: a query of that domain should
    # mostly carry some of them, and queries of other built-in domains almost never.
    domain_lists = json.loads((Path(VOCAB_DIR) / "domains.json").read_text(encoding="utf-8"))
    per_domain = {d: {w for values in domain_lists[d].values() for w in _words_in(values)} for d in DOMAINS}
    shared = _vocab_words(exclude="domains.json")
    for domain in DOMAINS:
        own = per_domain[domain] - shared - set().union(*(per_domain[o] for o in DOMAINS if o != domain))
        base = [q for q in default_15k if q.difficulty != "edge"]
        flavoured = [q for q in base if q.domain == domain and set(words(q.query)) & own]
        assert len(flavoured) / sum(1 for q in base if q.domain == domain) >= 0.6, domain
        others = [q for q in base if q.domain not in (domain, CUSTOM_DOMAIN)]
        leaked = [q for q in others if set(words(q.query)) & own]
        assert len(leaked) / len(others) < 0.01, domain
