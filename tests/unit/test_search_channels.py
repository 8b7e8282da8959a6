"""The local channels: n-gram TF-IDF that matches scikit-learn's own, BM25 over the metadata, ties by row."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from core.search.channels import CHAR_NGRAMS, BM25Channel, CharNgrams, LocalTextSimilarity, top_hits
from core.search.engine import SearchIndex
from core.search.sample import CatalogSpec, generate_catalog

TEXTS = [
    "Distant sirens, then a helicopter overhead.",
    "A dog barking at the mailman.",
    "Loud sizzling bacon over calm jazz music.",
    "Sirens wailing in the rain; tense piano music underneath.",
]


def test_local_similarity_is_cosine_of_scikit_learns_char_wb_tfidf():
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True)
    matrix = reference.fit_transform(TEXTS)
    channel = LocalTextSimilarity("audio", TEXTS)
    for query in ("distant sirens", "dog barks", "jazz", "qqq"):
        expected = (matrix @ reference.transform([query]).T).toarray().ravel()
        found = channel.search(query, depth=10)
        got = np.zeros(len(TEXTS))
        got[found.rows] = found.scores
        assert got == pytest.approx(expected, abs=1e-6)
    assert set(channel.search("sirens", depth=10).rows.tolist()[:2]) == {0, 3}


def test_ngrams_of_joined_fields_are_the_sum_of_each_fields():
    ngrams = CharNgrams(TEXTS)
    joined = ngrams.count([" ".join(TEXTS[:2])])
    assert (joined != ngrams.count(TEXTS[:1]) + ngrams.count(TEXTS[1:2])).nnz == 0


def test_bm25_finds_metadata_words_and_nothing_for_unknown_ones():
    channel = BM25Channel("metadata", ["Salt and Smoke cooking show Nonna Rosa", "City Desk news report Tom Okafor"])
    found = channel.search("Nonna Rosa cooking")
    assert found.rows.tolist() == [0] and found.scores[0] > 0
    assert len(channel.search("zzzz")) == 0
    assert len(channel.search("the and")) == 0  # stopwords only


def test_top_hits_keep_positive_scores_best_first_with_ties_to_the_lower_row():
    found = top_hits("visual", np.array([0.0, 0.5, 0.9, 0.5, 0.5, -1.0]), depth=3)
    assert found.rows.tolist() == [2, 1, 3]
    assert found.scores.tolist() == [0.9, 0.5, 0.5]


def test_the_index_finds_the_segment_a_query_was_written_from():
    sample = generate_catalog.__wrapped__(CatalogSpec(segments=200, queries=20))
    index = SearchIndex.build(sample.catalog)
    segment = sample.catalog.segments[17]
    channel_fields = {
        "visual": segment.caption,
        "audio": segment.audio_description,
        "transcription": segment.transcript,
    }
    for name, text in channel_fields.items():
        assert index.channels[name].search(text, depth=5).rows[0] == 17
    assert 17 in index.combined.search(segment.combined_text(), depth=5).rows.tolist()
