"""The evaluation engine: every kind of set, the figures beside the contract's, drilling into any figure,
teacher quality recovered and the monthly projection."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from core.datasets.files import DatasetTags, write_dataset
from core.datasets.library import DatasetLibrary
from core.evaluate import EVALUATE_KEYS, score_pairs
from core.evaluate.engine import INVALID, run_evaluation
from core.evaluate.projection import project_run
from core.evaluate.sets import (
    STUDIO_EXPECTATIONS,
    EvaluationSet,
    EvaluationSetError,
    from_expectations,
    load_labelled_file,
    load_library_set,
)
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.schema import MODALITIES
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise
from tests.unit.evaluation_helpers import Scripted, reply, weights


@pytest.fixture(scope="module")
def synthesis():
    return synthesise(DataMix(total=160, seed=11), ReferenceTeacher(), teacher_id="Local reference teacher")


@pytest.fixture
def heldout_file(tmp_path, synthesis):
    path = tmp_path / "heldout.jsonl"
    write_dataset(path, synthesis.records, synthesis.tags, synthesis.manifest_fields)
    return path


@pytest.fixture
def store(studio_env):
    return Store(studio_env / "studio.db")


# ---- loading every kind of set ------------------------------------------------------------------------------


def test_a_labelled_file_loads_as_a_teacher_labelled_set_with_its_tags(heldout_file, synthesis):
    loaded = load_labelled_file(heldout_file)
    assert loaded.kind == "heldout" and loaded.labelled and loaded.reference_is_teacher
    assert loaded.n == len(synthesis.records)
    assert loaded.tag_fields == ["focus", "difficulty", "domain"]
    assert loaded.lines[:3] == [1, 2, 3]


def test_a_broken_file_is_refused_with_its_line_numbered_problems(tmp_path, heldout_file):
    broken = tmp_path / "broken.jsonl"
    lines = heldout_file.read_text().splitlines()
    lines[2] = '{"schemaVersion": "bedrock-conversation-2024", "messages": []}'
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(EvaluationSetError) as caught:
        load_labelled_file(broken)
    assert any(line.startswith("line 3:") for line in caught.value.lines)


def test_a_prompt_only_file_is_refused_because_there_is_nothing_to_score_against(tmp_path):
    made = synthesise(DataMix(total=100, seed=2), None)
    path = tmp_path / "prompts.jsonl"
    write_dataset(path, made.records, made.tags, made.manifest_fields)
    with pytest.raises(EvaluationSetError, match="no labels"):
        load_labelled_file(path)


def test_a_library_dataset_is_gold_only_when_its_manifest_says_so(store, studio_env, synthesis):
    library = DatasetLibrary(store, studio_env)
    fields = synthesis.manifest_fields.model_copy(update={"notes": {"gold": True}})
    library.save("people-weights", synthesis.records, synthesis.tags, fields)
    library.save("teacher-heldout", synthesis.records, synthesis.tags, synthesis.manifest_fields)

    gold = load_library_set(library, "people-weights", kind="gold")
    assert gold.kind == "gold" and not gold.reference_is_teacher
    assert load_library_set(library, "teacher-heldout").kind == "heldout"
    with pytest.raises(EvaluationSetError, match="not a gold set"):
        load_library_set(library, "teacher-heldout", kind="gold")
    with pytest.raises(EvaluationSetError, match="no dataset named"):
        load_library_set(library, "nothing-here")


@dataclass(frozen=True)
class _Expectation:
    query: str
    expected: str
    source: str | None
    line: int


@dataclass
class _ExpectationFile:
    """The shape of core.datasets.expectations' ExpectationFile (the reader lands with the routing work)."""

    expectations: list[_Expectation]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.expectations)

    @property
    def verdict(self) -> str:
        return f"{len(self.problems)} problems; fix and try again" if self.problems else "fine"

    def lines(self) -> list[str]:
        return list(self.problems)


def studio_expectations() -> EvaluationSet:
    """The shipped expectation set, through the reader's shape (the reader itself is core.datasets.expectations)."""
    rows = [json.loads(line) for line in STUDIO_EXPECTATIONS.read_text(encoding="utf-8").splitlines()]
    expectations = [_Expectation(row["query"], row["expected"], row.get("source"), n) for n, row in enumerate(rows, 1)]
    return from_expectations(_ExpectationFile(expectations), "studio", str(STUDIO_EXPECTATIONS))


def test_the_shipped_expectation_set_is_balanced_over_the_four_channels():
    expectations = studio_expectations()
    assert expectations.n == 80
    assert {m: expectations.expected.count(m) for m in MODALITIES} == dict.fromkeys(MODALITIES, 20)
    assert len(set(expectations.queries)) == 80


def test_an_invalid_expectation_file_is_refused_with_the_readers_lines():
    problem = "line 2: 'visuals' is not a channel; use visual, audio, transcription or metadata"
    with pytest.raises(EvaluationSetError, match="the expectation file mine.csv cannot be used") as caught:
        from_expectations(_ExpectationFile([], [problem]), "mine.csv", "mine.csv")
    assert caught.value.lines == [problem]


# The keys `evaluate --expectations --json` gives per router (core.datasets.expectations' command).
EXPECTATION_KEYS = (
    "n",
    "accuracy",
    "validity",
    "invalid",
    "per_channel",
    "per_source",
    "latency_p50_ms",
    "cost_per_1k_usd",
)


def test_an_expectation_set_also_gives_the_expectation_figures_per_channel_and_per_source():
    rows = [
        _Expectation("dog barking loudly", "audio", "ours", 1),
        _Expectation("sunset over mountains", "visual", "ours", 2),
        _Expectation("films directed by Greta Gerwig", "metadata", None, 3),
        _Expectation("an unroutable query", "audio", "theirs", 4),
    ]
    evaluation_set = from_expectations(_ExpectationFile(rows), "mine", "mine.jsonl")
    assert evaluation_set.tag_fields == ["source"]
    texts = {r.query: reply(weights(0.1, 0.6, 0.1, 0.2)) for r in rows}
    texts["sunset over mountains"] = reply(weights(0.8, 0.0, 0.0, 0.2))
    texts["an unroutable query"] = "no JSON here"
    run = run_evaluation(evaluation_set, {"scripted": Scripted(texts)})
    figures = run.figures()["scripted"]
    assert set(EXPECTATION_KEYS) <= set(figures)
    assert figures["accuracy"] == figures["dominant_accuracy"] == 0.5
    assert figures["invalid"] == 1 and figures["validity"] == 0.75
    assert figures["per_channel"]["audio"] == {"n": 2, "accuracy": 0.5}
    assert figures["per_channel"]["transcription"] == {"n": 0, "accuracy": None}
    assert figures["per_source"] == {"ours": {"n": 2, "accuracy": 1.0}, "theirs": {"n": 1, "accuracy": 0.0}}
    assert [r.query for r in run.records("scripted", slice_by=("source", "ours"))] == [rows[0].query, rows[1].query]
    assert run.to_cli_json()["expectations"] == "mine.jsonl"


# ---- figures ------------------------------------------------------------------------------------------------


def test_each_router_gets_the_contract_figures_of_score_pairs_and_the_added_ones(heldout_file):
    evaluation_set = load_labelled_file(heldout_file)
    teacher = ReferenceTeacher()
    run = run_evaluation(evaluation_set, {"teacher": teacher, "uniform": UniformRouter()})

    uniform = run.figures()["uniform"]
    expected = score_pairs(UniformRouter().route_batch(evaluation_set.queries), evaluation_set.references)
    for key in EVALUATE_KEYS[:5]:
        assert uniform[key] == pytest.approx(expected[key])
    assert list(uniform)[: len(EVALUATE_KEYS)] == list(EVALUATE_KEYS)
    for added in ("latency_mean_ms", "mae_per_channel", "dominant_accuracy_per_channel", "confusion"):
        assert added in uniform
    assert run.figures()["teacher"]["rubric_mean"] == 5.0
    assert run.figures()["teacher"]["quality_recovered"] == 1.0
    assert uniform["quality_recovered"] == 0.0
    assert sum(uniform["rubric_histogram"].values()) == evaluation_set.n


def test_every_figure_can_be_drilled_into_its_records():
    reference = weights(0.7, 0.1, 0.1, 0.1)
    evaluation_set = EvaluationSet(
        kind="heldout",
        name="tiny",
        source="tiny",
        queries=["a", "b", "c", "d"],
        references=[reference] * 4,
        tags=[DatasetTags(focus=f) for f in ("visual", "visual", "audio", "audio")],
    )
    router = Scripted(
        {
            "a": reply(reference),
            "b": reply(weights(0.1, 0.7, 0.1, 0.1)),
            "c": "not json at all",
            "d": reply(weights(0.4, 0.4, 0.1, 0.1)),
        }
    )
    run = run_evaluation(evaluation_set, {"scripted": router})
    figures = run.figures()["scripted"]

    confusion = figures["confusion"]
    assert confusion["visual"]["visual"] == 1.5  # the exact reply, and half of the visual-audio tie
    assert confusion["visual"]["audio"] == 1.5
    assert confusion["visual"][INVALID] == 1.0
    assert sum(sum(row.values()) for row in confusion.values()) == pytest.approx(4.0)
    assert confusion["visual"]["visual"] / 4 == pytest.approx(figures["dominant_accuracy"])
    assert [r.query for r in run.records("scripted", cell=("visual", "audio"))] == ["b", "d"]
    assert [r.query for r in run.records("scripted", cell=("visual", INVALID))] == ["c"]
    assert run.records("scripted", cell=("visual", INVALID))[0].errors

    assert figures["slices"]["focus"]["visual"]["n"] == 2
    assert figures["slices"]["focus"]["audio"]["validity"] == 0.5
    assert [r.query for r in run.records("scripted", slice_by=("focus", "audio"))] == ["c", "d"]
    assert [r.query for r in run.records("scripted", rubric=1)] == ["b", "c"]
    assert figures["rubric_histogram"] == {"1": 2, "2": 1, "3": 0, "4": 0, "5": 1}


def test_slices_over_every_value_add_up_to_the_whole(heldout_file):
    evaluation_set = load_labelled_file(heldout_file)
    run = run_evaluation(evaluation_set, {"uniform": UniformRouter()})
    figures = run.figures()["uniform"]
    for field_name, values in figures["slices"].items():
        assert sum(v["n"] for v in values.values()) == evaluation_set.n, field_name
        weighted = sum(v["n"] * v["rubric_mean"] for v in values.values()) / evaluation_set.n
        assert weighted == pytest.approx(figures["rubric_mean"])


def test_an_expectation_set_gives_leading_channel_accuracy_per_channel():
    expectations = studio_expectations()
    run = run_evaluation(expectations, {"teacher": ReferenceTeacher(), "uniform": UniformRouter()})
    teacher, uniform = run.figures()["teacher"], run.figures()["uniform"]

    assert teacher["rubric_mean"] is None and teacher["mae"] is None and teacher["quality_recovered"] is None
    per_channel = teacher["dominant_accuracy_per_channel"]
    assert set(per_channel) == set(MODALITIES)
    assert all(0.0 <= per_channel[m] <= 1.0 for m in MODALITIES)
    # Each channel leads a quarter of the set, so the overall accuracy is the mean of the four.
    assert sum(per_channel.values()) / 4 == pytest.approx(teacher["dominant_accuracy"])
    assert teacher["dominant_accuracy"] > 0.8
    assert uniform["dominant_accuracy_per_channel"] == dict.fromkeys(MODALITIES, 0.25)
    records = run.records("teacher", cell=("audio", "visual"))
    assert all(r.expected == "audio" and "visual" in r.leaders for r in records)
    # On an expectation set the teacher is measured like any router: its accuracy is what is recovered towards.
    assert teacher["accuracy_recovered"] == 1.0 and uniform["accuracy_recovered"] == 0.0
    assert run.details["recovery"]["teacher"]["basis"] == "measured"


def test_recovery_uses_the_teachers_labels_on_a_held_out_set_when_the_teacher_was_not_run(heldout_file):
    evaluation_set = load_labelled_file(heldout_file)
    run = run_evaluation(evaluation_set, {"uniform": UniformRouter()})
    assert run.details["recovery"]["teacher"] == {"rubric_mean": 5.0, "dominant_accuracy": 1.0, "basis": "labels"}
    assert run.figures()["uniform"]["quality_recovered"] == 0.0


def test_on_a_gold_set_without_a_teacher_run_there_is_nothing_to_recover_towards(heldout_file):
    gold = load_labelled_file(heldout_file, kind="gold")
    run = run_evaluation(gold, {"baseline": UniformRouter(router_id="baseline")})
    assert run.figures()["baseline"]["quality_recovered"] is None
    assert run.details["recovery"]["uniform"]["basis"] == "computed"


def test_monthly_projection_scales_cost_and_time_with_the_volume(heldout_file):
    from tests.app.helpers import BillableRouter

    evaluation_set = load_labelled_file(heldout_file)
    run = run_evaluation(evaluation_set, {"billable": BillableRouter(router_id="billable")})
    (projection,) = project_run(run, 2_000_000)
    figures = run.figures()["billable"]
    assert projection.cost_usd == pytest.approx(figures["cost_per_1k_usd"] * 2000)
    assert projection.cost_usd > 0
    assert projection.routing_hours == pytest.approx(figures["latency_mean_ms"] * 2_000_000 / 3_600_000)
    with pytest.raises(ValueError, match="between 0 and"):
        project_run(run, -5)


def test_an_uploaded_expectation_file_is_named_as_uploaded_never_by_its_temporary_copy(monkeypatch):
    from core.evaluate import sets
    from core.evaluate.sets import EvaluationSetError, load_expectation_upload

    seen = []

    def read_expectations(path):
        seen.append(path.suffix)
        return _ExpectationFile([], ["line 2: unknown channel 'colour'"])

    monkeypatch.setattr(sets, "read_expectations", read_expectations)
    with pytest.raises(EvaluationSetError) as raised:
        load_expectation_upload(b'{"query": "a", "expected": "audio"}\n', "team.CSV")
    assert seen == [".csv"]
    assert str(raised.value) == "the expectation file team.CSV cannot be used: 1 problems; fix and try again"
    assert raised.value.lines == ["line 2: unknown channel 'colour'"]
