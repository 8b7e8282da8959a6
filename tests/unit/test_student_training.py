"""Local distillation: the student learns the teacher's soft weights, stops early, stops on request, and routes."""

import math
import random

import numpy as np
import pytest

from core.distill.features import (
    CAPITALISED,
    CHARACTER,
    NAME_START,
    QUOTATION,
    SCENE,
    TITLE_CASE,
    FeatureConfig,
    QueryFeaturizer,
    lexicon_category,
    split_query,
)
from core.distill.student_model import NO_DRIVER_REASONING, Provenance, StudentModel
from core.distill.trainer import EpochReport, TrainingConfig, TrainingStopped, train_student
from core.routers.base import EMPTY_QUERY_ERROR
from core.routers.student import StudentRouter

# Each kind of query has its own words and one fixed soft target (visual, audio, transcription, metadata).
KINDS = {
    "animal sounds": (
        ["dog", "barking", "loudly", "howling", "wolf", "growling", "rooster", "crowing", "birds", "chirping"],
        (0.4, 0.6, 0.0, 0.0),
    ),
    "scenery": (
        ["sunset", "mountains", "ocean", "waves", "forest", "red", "car", "snowy", "street", "aerial"],
        (0.8, 0.0, 0.0, 0.2),
    ),
    "speech": (
        ["interview", "explains", "lecture", "says", "quote", "discussing", "podcast", "speech", "asks"],
        (0.2, 0.1, 0.6, 0.1),
    ),
    "catalogue": (
        ["season", "episode", "2019", "director", "trailer", "licensed", "documentary", "channel", "4k"],
        (0.1, 0.0, 0.0, 0.9),
    ),
}
FILLERS = ["the", "a", "of", "with", "in", "clip", "video", "footage"]
SMALL = TrainingConfig(n_features=2**14, epochs=60, patience=4, seed=3)


def labelled(n, seed=0):
    rng = random.Random(seed)
    queries, targets, kinds = [], [], []
    for index in range(n):
        kind = list(KINDS)[index % len(KINDS)]
        words, target = KINDS[kind]
        picked = rng.sample(words, rng.randint(1, 3)) + rng.sample(FILLERS, rng.randint(0, 2))
        rng.shuffle(picked)
        queries.append(" ".join(picked))
        targets.append(target)
        kinds.append(kind)
    return queries, np.array(targets, dtype=float), kinds


@pytest.fixture(scope="module")
def trained():
    queries, targets, _ = labelled(800)
    reports: list[EpochReport] = []
    model = train_student(queries, targets, SMALL, heldout=labelled(200, seed=1)[:2], on_epoch=reports.append)
    return model, reports


def test_training_converges_and_agrees_with_the_teacher(trained):
    model, reports = trained
    assert reports[-1].train_loss < reports[0].train_loss
    assert reports[-1].validation_agreement >= 0.95
    assert model.manifest.heldout_metrics["dominant_accuracy"] >= 0.95
    assert model.manifest.heldout_metrics["rubric_mean"] >= 4.0


def test_soft_targets_are_learnt_not_just_the_top_modality(trained):
    model, _ = trained
    queries, _, kinds = labelled(200, seed=7)
    predicted = model.predict_proba(queries)
    for kind, (_, target) in KINDS.items():
        mean = predicted[[k == kind for k in kinds]].mean(axis=0)
        assert mean == pytest.approx(np.array(target), abs=0.05), kind
    # Argmax-style training would give audio near 1.0 and visual near 0.0 on every one of these.
    sounds = predicted[[k == "animal sounds" for k in kinds]]
    assert np.all(sounds[:, :2] >= 0.25), "both visual and audio keep a real share"


def test_manifest_records_how_the_model_was_made():
    queries, targets, _ = labelled(120)
    provenance = Provenance(dataset_sha256="ab" * 32, teacher_id="teacher", prompt_version="v3")
    model = train_student(queries, targets, SMALL.model_copy(update={"epochs": 3}), provenance=provenance)
    manifest = model.manifest
    assert (manifest.dataset_sha256, manifest.teacher_id, manifest.prompt_version) == ("ab" * 32, "teacher", "v3")
    assert manifest.seed == 3
    assert manifest.hyperparameters["n_features"] == 2**14
    assert manifest.training_metrics["n_train"] + manifest.training_metrics["n_validation"] == 120
    assert manifest.heldout_metrics is None


def test_early_stopping_ends_before_max_epochs_when_validation_stops_improving():
    queries, _, _ = labelled(400)
    # Targets unrelated to the words: nothing generalises, so validation loss soon stops falling.
    noise = np.random.default_rng(0).dirichlet(np.ones(4), size=len(queries))
    reports: list[EpochReport] = []
    config = SMALL.model_copy(update={"epochs": 200, "patience": 2, "learning_rate": 0.2})
    model = train_student(queries, noise, config, on_epoch=reports.append)
    metrics = model.manifest.training_metrics
    assert metrics["stopped_early"] is True
    assert metrics["epochs_run"] == len(reports) < 200
    assert metrics["best_epoch"] == metrics["epochs_run"] - 2
    best = reports[metrics["best_epoch"] - 1]
    assert metrics["validation_loss"] == pytest.approx(best.validation_loss)


def test_without_a_validation_split_all_epochs_run():
    queries, targets, _ = labelled(100)
    reports: list[EpochReport] = []
    config = SMALL.model_copy(update={"epochs": 4, "validation_ratio": 0.0})
    train_student(queries, targets, config, on_epoch=reports.append)
    assert [r.epoch for r in reports] == [1, 2, 3, 4]
    assert all(r.validation_loss is None for r in reports)


def test_should_stop_ends_training_with_training_stopped():
    queries, targets, _ = labelled(200)
    reports: list[EpochReport] = []
    with pytest.raises(TrainingStopped) as stopped:
        train_student(queries, targets, SMALL, on_epoch=reports.append, should_stop=lambda: len(reports) >= 2)
    assert stopped.value.epochs_completed == 2
    assert len(reports) == 2


def test_should_stop_before_the_first_epoch():
    queries, targets, _ = labelled(50)
    with pytest.raises(TrainingStopped, match="after 0 completed epoch"):
        train_student(queries, targets, SMALL, should_stop=lambda: True)


def test_training_is_deterministic_for_a_seed():
    queries, targets, _ = labelled(300)
    first = train_student(queries, targets, SMALL.model_copy(update={"epochs": 5}))
    second = train_student(queries, targets, SMALL.model_copy(update={"epochs": 5}))
    other_seed = train_student(queries, targets, SMALL.model_copy(update={"epochs": 5, "seed": 4}))
    for name in ("rows", "embeddings", "hidden_bias", "output_weights", "output_bias"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert not np.array_equal(first.embeddings, other_seed.embeddings)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (np.full((3, 3), 1 / 3), "shape"),
        (np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]]), "3 queries but 2"),
        (np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [1.2, -0.2, 0, 0]]), "row 2 has a negative"),
        (np.array([[1.0, 0, 0, 0], [0.5, 0.2, 0, 0], [1.0, 0, 0, 0]]), "row 1 sums to 0.7"),
        (np.array([[1.0, 0, 0, 0], [np.nan, 0, 0, 1], [1.0, 0, 0, 0]]), "non-finite"),
    ],
)
def test_unusable_targets_are_refused_with_the_row(targets, message):
    with pytest.raises(ValueError, match=message):
        train_student(["a dog", "a cat", "a car"], targets, SMALL)


def shapes_by_part(query):
    split = split_query(query)
    found = {name: [] for name in split.names}
    for part, shape in zip(split.shape_parts, split.shapes, strict=True):
        found[split.names[part]].append(shape)
    return found, split.whole


def test_a_word_weighs_the_same_in_a_short_and_a_long_query():
    featurizer = QueryFeaturizer(FeatureConfig(n_features=2**12))
    short, long = featurizer.transform(["dog", "dog barking at the mailman in the rain on a cold winter morning"])
    column = featurizer.column("dog")
    assert short[0, column] == long[0, column] == 1.0, "no length normalisation dilutes a cue in a long query"
    repeated = featurizer.transform(["dog dog dog"])[0]
    assert repeated[0, column] == 1.0, "a word counts once however often it is repeated"


def test_capitals_inside_a_sentence_mark_a_name_but_not_at_its_start_or_in_title_case():
    found, whole = shapes_by_part("a dog named Biscuit Jones at the beach. Later the sun sets")
    assert found["Biscuit"] == [NAME_START, CAPITALISED]
    assert found["Jones"] == [CAPITALISED], "one run of capitals starts one name"
    assert found["Later"] == [] and found["a"] == [], "a capital after a full stop starts a sentence"
    assert whole == []
    found, whole = shapes_by_part("The Great Bake Off Finale")
    assert all(shapes == [] for shapes in found.values())
    assert whole == [TITLE_CASE]


def test_names_that_act_make_a_scene_of_characters_and_names_in_a_catalogue_query_do_not():
    found, whole = shapes_by_part("Marta tells Jonas why she missed the train.")
    assert whole == [SCENE]
    assert CHARACTER in found["Marta"] and CHARACTER in found["Jonas"], "the first word acts, so it is a name too"
    found, whole = shapes_by_part("the coach warns Ilse about the weather")
    assert whole == [SCENE] and CHARACTER in found["Ilse"], "a name after an agreeing verb is acted on"
    found, whole = shapes_by_part("Priya and Tom are arguing about the rent")
    assert whole == [SCENE] and CHARACTER in found["Priya"] and CHARACTER in found["Tom"]
    for catalogue in ("films directed by Agnes Varda", "Street Eats with Carlos Nguyen, S7E18", "Maya Patel"):
        found, whole = shapes_by_part(catalogue)
        assert SCENE not in whole and not any(CHARACTER in shapes for shapes in found.values()), catalogue
    assert shapes_by_part("Rain falls on the roof")[1] == [], "a sentence's first word alone is no name"


def test_a_vehicle_is_a_kind_of_word_the_student_reads_from_the_teachers_lexicon():
    assert lexicon_category("tractor") == "vehicle" == lexicon_category("tractors")
    assert lexicon_category("saxophone") == "instrument"


def test_quoted_words_count_as_a_quotation_not_as_what_the_query_shows():
    split = split_query('a man says "red car on fire" in the kitchen')
    assert "red" not in split.words and "car" not in split.words
    assert {"man", "says", "kitchen"} <= set(split.words)
    quote = split.names.index('"red car on fire"')
    assert split.words[quote] is None
    assert (quote, QUOTATION) in set(zip(split.shape_parts, split.shapes, strict=True))


def test_numbers_count_by_their_shape_so_an_unseen_year_is_still_a_year():
    featurizer = QueryFeaturizer(FeatureConfig(n_features=2**12, char_weight=0.0, pair_weight=0.0))
    a, b = featurizer.transform(["season 1987", "season 1962"])
    assert (a != b).nnz == 0, "two years of the same century look the same"
    found, _ = shapes_by_part("trailer 1080p s01e02")
    assert found["1080p"] == ["<number>", "<digits ddddx>"]
    assert found["s01e02"] == ["<number>", "<digits xddxdd>"]


def test_a_batch_gives_each_query_the_features_it_has_alone():
    featurizer = QueryFeaturizer(FeatureConfig(n_features=2**12))
    queries = [
        "Dog  barking\tloudly",
        "",
        "   ",
        "café ÉCOLE",
        "a\u3000b\nc",
        "x" * 50,
        "Olivia's 'quote' 2019!",
        'Bob says "hi there" to Ann',
        "dog's bark",
        "the dog",
    ]
    batch = featurizer.transform(queries).toarray()
    alone = np.vstack([featurizer.transform([query]).toarray() for query in queries])
    assert np.array_equal(batch, alone)
    assert not batch[1].any() and not batch[2].any()


def test_student_router_returns_valid_decisions_with_reasoning_naming_query_words(trained):
    model, _ = trained
    router = StudentRouter(model)
    queries = ["dog barking loudly", "sunset over the ocean", "interview where she explains", "season 2019 trailer"]
    results = router.route_batch(queries)
    for query, result in zip(queries, results, strict=True):
        assert result.valid and result.router_id == "student" and result.cost_usd == 0.0
        assert math.fsum(result.decision.weights().values()) == 1.0
        assert result.decision.reasoning.startswith("Student: ")
        assert any(f"'{word}'" in result.decision.reasoning for word in query.split())
    assert [r.decision.dominant() for r in results] == ["audio", "visual", "transcription", "metadata"]
    assert "'barking'" in results[0].decision.reasoning and "pushed audio" in results[0].decision.reasoning


def test_student_router_reports_an_empty_query_without_routing_it(trained):
    model, _ = trained
    empty, real = StudentRouter(model).route_batch(["   ", "dog barking"])
    assert not empty.valid and empty.errors == [EMPTY_QUERY_ERROR]
    assert real.valid


def test_queries_without_known_words_still_route_and_say_so(trained):
    model, _ = trained
    result = StudentRouter(model).route("zzqx vvkw")
    assert result.valid
    assert result.decision.reasoning.startswith("Student: ")
    assert model.explain("!!").reasoning == NO_DRIVER_REASONING


def test_explain_names_the_words_that_raised_each_weight(trained):
    model, _ = trained
    explanation = model.explain("dog barking loudly")
    assert max(explanation.weights, key=explanation.weights.get) == "audio"
    assert len(explanation.pushes["audio"]) <= 3
    # In this data any one of these words already makes a query "animal sounds": the explanation must
    # still credit them although taking one out changes little.
    audio_drivers = [word for word, _ in explanation.pushes["audio"]]
    assert set(audio_drivers) & {"barking", "loudly", "dog"}
    assert all(push > 0 for pushes in explanation.pushes.values() for _, push in pushes)
    assert explanation.reasoning == StudentRouter(model).route("dog barking loudly").decision.reasoning


def test_batch_and_single_predictions_agree(trained):
    model, _ = trained
    queries = ["dog barking", "season 2019 trailer", "the interview"]
    batch = model.predict_proba(queries)
    singles = np.vstack([model.predict_proba([q]) for q in queries])
    assert np.allclose(batch, singles, atol=1e-6)
    assert np.allclose(batch.sum(axis=1), 1.0)


def test_the_members_are_kept_as_one_wider_network():
    queries, targets, _ = labelled(120)
    model = train_student(queries, targets, SMALL.model_copy(update={"epochs": 2, "members": 2, "hidden_units": 5}))
    assert model.hidden_units == 10
    assert model.embeddings.shape == (len(model.rows), 10)


def test_a_student_model_checks_its_shapes():
    config = FeatureConfig(n_features=2**8)
    rows = np.arange(10)
    with pytest.raises(ValueError, match="output_weights must have shape"):
        StudentModel(rows, np.zeros((10, 8)), np.zeros(8), np.zeros((8, 3)), np.zeros(4), config)
    with pytest.raises(ValueError, match="embeddings must have shape"):
        StudentModel(rows, np.zeros((9, 8)), np.zeros(8), np.zeros((8, 4)), np.zeros(4), config)
    with pytest.raises(ValueError, match="rows must be sorted"):
        StudentModel(rows[::-1], np.zeros((10, 8)), np.zeros(8), np.zeros((8, 4)), np.zeros(4), config)
