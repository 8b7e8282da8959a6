"""Gold labels: weights a person set, rounded to sum to 1, kept with a note, and exported per gold set as a
labelled dataset that can be chosen wherever a held-out set can (a job's held-out set, `evaluate --heldout`)."""

from __future__ import annotations

import json
import math

import pytest

from core.backends import LocalBackend
from core.cli import main
from core.datasets.files import read_dataset
from core.datasets.library import DatasetLibraryError
from core.gold import GOLD_REASONING, GoldLabelError, dataset_name, gold_weights, set_weight
from core.schema import MODALITIES
from core.settings import Settings
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise


@pytest.fixture
def backend(studio_env) -> LocalBackend:
    settings = Settings(data_dir=studio_env)
    return LocalBackend(settings, Store(settings.store_path))


WEIGHTS = {"visual": 0.1, "audio": 0.2, "transcription": 0.6, "metadata": 0.1}


def test_weights_are_rounded_to_steps_of_0_05_that_sum_to_exactly_one():
    rounded = gold_weights({"visual": 0.33, "audio": 0.33, "transcription": 0.34, "metadata": 0.0})

    assert math.fsum(rounded.values()) == 1.0
    assert all(round(w * 20, 9) == round(w * 20) for w in rounded.values())
    assert rounded == {"visual": 0.35, "audio": 0.3, "transcription": 0.35, "metadata": 0.0}


@pytest.mark.parametrize(
    ("weights", "problem"),
    [
        ({"visual": 1.0, "audio": 0.0, "transcription": 0.0}, "metadata weight must be a number"),
        ({**WEIGHTS, "audio": -0.1, "visual": 0.4}, "audio weight is -0.1"),
        ({**WEIGHTS, "visual": 1.5}, "keep every weight between 0 and 1"),
        ({**WEIGHTS, "visual": 0.0}, "add up to 0.90"),
        ({**WEIGHTS, "visual": float("nan")}, "visual weight must be a number"),
        ({**WEIGHTS, "visual": True}, "visual weight must be a number"),
        ({**WEIGHTS, "visual": "0.1"}, "visual weight must be a number"),
    ],
)
def test_weights_that_are_not_a_routing_are_refused_with_a_sentence(weights, problem):
    with pytest.raises(GoldLabelError, match=problem):
        gold_weights(weights)


def test_a_saved_label_exports_its_gold_set_as_a_labelled_dataset_marked_gold(backend):
    gold = backend.gold_labels()

    label = gold.save("launch", "Olivia talking about growing up in poverty", WEIGHTS, note="her words matter most")

    assert label.weights == WEIGHTS and label.note == "her words matter most"
    info = backend.datasets().find(dataset_name("launch"))
    assert info is not None and info.kind == "labelled" and info.records == 1 and info.is_gold
    assert info.manifest["teacher_id"] == "people"
    assert info.manifest["notes"] == {"gold": True, "labelled_by": "people", "gold_set": "launch", "labels": 1}
    loaded = read_dataset(info.path, min_records=1)
    assert loaded.ok and loaded.queries == ["Olivia talking about growing up in poverty"]
    assert loaded.decisions[0].weights() == WEIGHTS and loaded.decisions[0].reasoning == GOLD_REASONING
    assert "her words" not in info.path.read_text(), "notes stay in the store"
    assert loaded.tags[0].focus == "transcription"
    [listed] = gold.sets()
    assert listed.name == "launch" and listed.labels == 1 and listed.dataset.id == info.id


def test_more_labels_replace_the_export_and_a_query_labelled_again_keeps_one_label(backend):
    gold = backend.gold_labels()
    gold.save("launch", "red car driving", {"visual": 0.9, "audio": 0.0, "transcription": 0.0, "metadata": 0.1})
    gold.save("launch", "dog barking loudly", {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1})
    gold.save("launch", "red car driving", {"visual": 0.8, "audio": 0.1, "transcription": 0.0, "metadata": 0.1})

    datasets = [d for d in backend.datasets().list() if d.is_gold]
    assert [d.name for d in datasets] == ["gold-launch"] and datasets[0].records == 2
    loaded = read_dataset(datasets[0].path, min_records=1)
    assert dict(zip(loaded.queries, (d.visual for d in loaded.decisions), strict=True)) == {
        "red car driving": 0.8,
        "dog barking loudly": 0.3,
    }
    assert [label.query for label in gold.labels("launch")] == ["red car driving", "dog barking loudly"]


def test_deleting_labels_re_exports_and_the_last_one_takes_the_dataset_with_it(backend):
    gold = backend.gold_labels()
    gold.save("launch", "red car driving", {"visual": 0.9, "audio": 0.0, "transcription": 0.0, "metadata": 0.1})
    gold.save("launch", "dog barking loudly", {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1})

    gold.delete("launch", "red car driving")
    assert backend.datasets().find("gold-launch").records == 1
    gold.delete("launch", "dog barking loudly")

    assert backend.datasets().find("gold-launch") is None and gold.sets() == []
    with pytest.raises(GoldLabelError, match="has no label"):
        gold.delete("launch", "dog barking loudly")


def test_a_gold_set_is_a_held_out_set_for_a_job_and_for_evaluate(backend, capsys):
    gold = backend.gold_labels()
    for query, modality in [("dog barking loudly", "audio"), ("red car driving", "visual")]:
        gold.save("launch", query, {m: 1.0 if m == modality else 0.0 for m in MODALITIES})
    heldout = backend.datasets().find("gold-launch")
    made = synthesise(DataMix(total=100, seed=2), backend.teacher(), teacher_id=backend.teacher_name)
    train = backend.datasets().save("router-train", made.records, made.tags, made.manifest_fields)

    job = backend.jobs().submit("router-distill-gold", train.id, {"heldout_dataset_id": heldout.id}, background=False)
    assert job.params["heldout_dataset_id"] == heldout.id

    assert main(["evaluate", "--heldout", str(heldout.path), "--router", "teacher", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["n"] == 2 and figures["routers"]["teacher"]["dominant_accuracy"] == 1.0


def test_a_dataset_of_the_same_name_that_is_not_the_gold_set_is_never_overwritten(backend):
    made = synthesise(DataMix(total=100, seed=2), None)
    backend.datasets().save("gold-launch", made.records, made.tags, made.manifest_fields)
    gold = backend.gold_labels()

    with pytest.raises(GoldLabelError, match="A dataset named 'gold-launch' already exists and is not gold set"):
        gold.save("launch", "red car driving", WEIGHTS)

    assert gold.labels("launch") == [] and backend.datasets().find("gold-launch").records == 100


def test_a_failed_export_keeps_the_label_and_the_next_save_exports_it(backend, monkeypatch):
    gold = backend.gold_labels()

    def full_disk(*args, **kwargs):
        raise DatasetLibraryError("The dataset could not be written (No space left on device).")

    monkeypatch.setattr(gold.library, "save", full_disk)
    with pytest.raises(GoldLabelError, match="The label is saved, but gold set 'launch' could not be exported"):
        gold.save("launch", "red car driving", WEIGHTS)
    assert [label.query for label in gold.labels("launch")] == ["red car driving"]
    assert gold.sets()[0].dataset is None

    monkeypatch.undo()
    gold.save("launch", "dog barking loudly", WEIGHTS)
    assert backend.datasets().find("gold-launch").records == 2


@pytest.mark.parametrize(
    ("gold_set", "query", "note", "problem"),
    [
        ("", "red car", "", "needs a name"),
        ("launch/../x", "red car", "", "is not valid"),
        ("launch", "  ", "", "needs a query"),
        ("launch", "User: show me cars", "", "contains 'User:'"),
        ("launch", "red car", "n" * 1001, "note is 1,001 characters"),
    ],
)
def test_a_label_that_cannot_be_saved_says_why_and_saves_nothing(backend, gold_set, query, note, problem):
    with pytest.raises(GoldLabelError, match=problem):
        backend.gold_labels().save(gold_set, query, WEIGHTS, note=note)
    assert backend.gold_labels().sets() == []


def test_moving_one_weight_rescales_the_others_so_the_four_still_sum_to_one_in_0_05_steps():
    moved = set_weight({"visual": 0.6, "audio": 0.2, "transcription": 0.1, "metadata": 0.1}, "audio", 0.5)

    assert moved == {"visual": 0.4, "audio": 0.5, "transcription": 0.05, "metadata": 0.05}
    alone = set_weight({"visual": 1.0, "audio": 0.0, "transcription": 0.0, "metadata": 0.0}, "visual", 0.5)
    assert alone["visual"] == 0.5 and math.fsum(alone.values()) == 1.0
    assert gold_weights(alone) == alone


def test_a_gold_set_is_offered_as_a_held_out_set_but_never_becomes_the_default_training_set(backend):
    made = synthesise(DataMix(total=100, seed=3), backend.teacher(), teacher_id=backend.teacher_name)
    training = backend.datasets().save("router-train", made.records, made.tags, made.manifest_fields)

    backend.gold_labels().save("launch", "dog barking loudly", WEIGHTS)

    library = backend.datasets()
    gold = library.find(dataset_name("launch"))
    assert gold is not None and gold.is_gold and library.list()[0].id == gold.id  # the newest dataset
    assert library.default_training_set().id == training.id
    assert [d.id for d in library.heldout_choices(training.id)] == [gold.id]
