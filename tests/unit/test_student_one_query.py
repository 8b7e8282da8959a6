"""One query goes through the student's dense path (no sparse matrices); it must give what a batch gives."""

from __future__ import annotations

import numpy as np
import pytest

from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.routers.reference import ReferenceTeacher
from core.synth import DataMix, generate

ODD = [
    'Anna tells "Ben" she is LEAVING in 2019',
    "THE MATRIX (1999)",
    "it's Bob's car 1080p at 60fps",
    "x",
    "rain rain rain on a tin roof",
]


def test_one_query_gets_the_weights_and_reasoning_of_the_batch_path():
    queries = [q.query for q in generate(DataMix(total=600, seed=5))]
    targets = decision_targets([r.decision for r in ReferenceTeacher().route_batch(queries)])
    model = train_student(queries, targets, TrainingConfig(epochs=3, members=1))
    probe = [*queries[:200], *ODD]
    batch, reasons = model.predict_with_reasoning(probe)
    for query, row, reason in zip(probe, batch, reasons, strict=True):
        one = model.decisions([query])[0]  # one query: the dense path
        assert np.allclose(list(one.weights().values()), row, atol=1e-5), query
        assert one.reasoning == reason, query


def test_the_batch_rounding_and_the_reply_text_are_those_of_the_one_by_one_versions():
    import json

    from core.parsing import round_weight_rows, round_weights
    from core.routers.base import _decision_json
    from core.schema import MODALITIES, RoutingDecision

    rng = np.random.default_rng(0)
    rows = np.vstack([rng.dirichlet([0.5] * 4, size=3000), [[0.25] * 4, [0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]]])
    for row, fast in zip(rows, round_weight_rows(rows), strict=True):
        slow = round_weights(dict(zip(MODALITIES, row.tolist(), strict=True)))
        assert [slow[m] for m in MODALITIES] == fast.tolist()
    decision = RoutingDecision(visual=0.35, audio=0.05, transcription=0.6, metadata=0.0, reasoning='said "hi" — é\n')
    assert _decision_json(decision) == json.dumps(decision.to_json_dict(), ensure_ascii=False)


SHORT_WAY = {
    "sentence case": [
        "Rain on a tin roof at night",
        "Street vendors in a market, then street music",
        "A kettle. then a whistle",
        "Σοφία λέει ότι φεύγει",
        "İstanbul ferry horn",
        "Ǆ is a titlecase letter",
        "A supercalifragilisticexpialidociouslylongwordhere appears",
        "Ⅻ roman numeral clock chimes",
    ],
    "lower-case letters": [
        "rain on a tin roof at night",
        "the dog and the cat and the dog again",
        "straße café naïve",
        "cooking 料理 show",
        "one",
        "echo echo echo",
    ],
}


@pytest.mark.parametrize("kind", SHORT_WAY)
def test_a_query_of_a_short_kind_splits_as_the_general_way_splits_it(kind):
    from core.distill.features import _split_with_shapes, split_query

    for query in SHORT_WAY[kind]:
        assert split_query(query) == _split_with_shapes(query), query


def test_the_chunked_batch_path_is_bit_for_bit_the_unfused_sums(monkeypatch):
    from core.distill import student_model

    queries = [q.query for q in generate(DataMix(total=300, seed=6))]
    targets = decision_targets([r.decision for r in ReferenceTeacher().route_batch(queries)])
    model = train_student(queries, targets, TrainingConfig(epochs=1, members=1))
    long_query = " ".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(60))  # 60 distinct words
    probe = [*queries, *ODD, long_query]
    monkeypatch.setattr(student_model, "PART_CHUNK", 37)  # many chunks, and queries longer than one
    features = model.featurizer.features(probe)
    assert np.bincount(features.part_query).max() > student_model.PART_CHUNK
    probabilities, pushes = model._probabilities_and_pushes(features)
    hidden_input, part_embeddings = model._hidden_input(features)
    unfused_probabilities, unfused_pushes = model._pushes(hidden_input, part_embeddings, features.part_query)
    assert np.array_equal(probabilities, unfused_probabilities)
    assert np.array_equal(pushes, unfused_pushes)


def test_softmax_and_row_max_are_bit_for_bit_numpys_row_reductions():
    from core.distill.student_model import row_max, softmax

    rng = np.random.default_rng(1)
    for scale in (1e-6, 1.0, 30.0, 1e4):
        logits = rng.standard_normal((5000, 4)) * scale
        logits[::5, 3] = logits[::5, 0]  # ties
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        assert np.array_equal(softmax(logits), shifted / shifted.sum(axis=1, keepdims=True))
        assert np.array_equal(row_max(logits), logits.max(axis=1))


def test_words_found_by_split_are_those_the_word_pattern_finds():
    from core.distill.features import _words
    from core.text_patterns import WORD_RE

    texts = [
        "rain on a tin roof",
        "  two  spaces   apart ",
        "Σοφία λέει ότι φεύγει",
        "日本語 の 動画",
        "x",
        "ǅemal İstanbul straße",
        "tab\tand\nnewline",
        "dog's bark, then: rain_drops 2019",
        "",
    ]
    for text in texts:
        assert _words(text) == WORD_RE.findall(text), text


def test_word_sums_remembered_from_an_earlier_batch_are_bit_for_bit_new_ones():
    from core.distill.student_model import StudentModel

    queries = [q.query for q in generate(DataMix(total=300, seed=8))]
    targets = decision_targets([r.decision for r in ReferenceTeacher().route_batch(queries)])
    model = train_student(queries, targets, TrainingConfig(epochs=1, members=1))
    arrays = (model.rows, model.embeddings, model.hidden_bias, model.output_weights, model.output_bias)
    fresh = StudentModel(*arrays, model.features)
    model.predict_with_reasoning(queries[:200])  # remembers the words of the first 200
    later = [*queries[100:], *ODD]
    for remembered, new in zip(model.predict_with_reasoning(later), fresh.predict_with_reasoning(later), strict=True):
        assert np.array_equal(remembered, new) if isinstance(new, np.ndarray) else remembered == new
    assert np.array_equal(model.predict_proba(later), fresh.predict_proba(later))


def test_the_reasoning_names_each_part_as_written_grouped_by_the_channel_it_pushed():
    from core.distill.student_model import NO_DRIVER_REASONING, _reasoning_sentences

    names = ['"{0} or {x}"', "rain", "Anna", "roof", "quiet"]
    pushes = np.array(
        [
            [0.30, -0.30, 0.0, 0.0],  # query 0: visual
            [-0.05, 0.25, -0.2, 0.0],  # query 0: audio
            [0.10, 0.0, -0.1, 0.0],  # query 0: visual
            [0.2, 0.0, 0.0, -0.2],  # query 1: visual
            [0.001, -0.001, 0.0, 0.0],  # query 2: too weak to name
        ]
    )
    sentences = _reasoning_sentences(3, np.array([0, 0, 0, 1, 2]), names, pushes, top_k=3)
    assert sentences == [
        "Student: '\"{0} or {x}\"' and 'Anna' pushed visual; 'rain' pushed audio.",
        "Student: 'roof' pushed visual.",
        NO_DRIVER_REASONING,
    ]


def test_one_query_names_the_parts_a_batch_names_it_for_any_number_asked():
    from core.distill.student_model import _reasoning_sentences

    pushes = np.array([[0.3, -0.3, 0.0, 0.0], [0.1, 0.2, -0.3, 0.0], [0.2, -0.2, 0.0, 0.0]])
    names = ["rain", "roof", "tin"]
    for top_k in (0, 1, 2, 5):
        alone = _reasoning_sentences(1, np.zeros(3, dtype=np.int64), names, pushes, top_k)
        batch = _reasoning_sentences(2, np.array([0, 0, 0, 1, 1, 1]), names * 2, np.vstack([pushes, pushes]), top_k)
        assert alone == batch[:1] == batch[1:], top_k
