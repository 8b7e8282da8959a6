"""Comparing routers: agreement with the teacher, batches with progress and the disagreement filter, the
summary, failures kept to their own column, query files, CSV export, history and links."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Sequence

import pytest

from core.backends import LocalBackend
from core.compare import (
    MAX_BATCH_QUERIES,
    CompareError,
    CompareHistory,
    billing_estimate,
    compare_batch,
    compare_query,
    comparison_csv,
    comparison_rows,
    link_params,
    read_link,
    read_query_file,
)
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.pricing import ModelPrice, PriceTable
from core.routers.base import Router, RouterReply
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.routers.uniform import UniformRouter
from core.settings import Settings
from core.store import Store
from core.synth import DataMix, generate

PROSE_AROUND_BROKEN_JSON = (
    'Sure! Here are the weights: {"visual": 0.5, "audio": 0.4, "transcription": oops} Hope this helps.'
)


class ProseRouter(Router):
    """A model that breaks the format, as the undistilled Nova Micro did."""

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        return [RouterReply(text=PROSE_AROUND_BROKEN_JSON) for _ in queries]


class PricedRouter(UniformRouter):
    price_key = "nova-micro"


class ExplodingRouter(Router):
    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        raise RuntimeError("the model server fell over")


@pytest.fixture(scope="module")
def student() -> StudentRouter:
    queries = [q.query for q in generate(DataMix(total=400, seed=5))]
    decisions = [r.decision for r in ReferenceTeacher().route_batch(queries)]
    model = train_student(queries, decision_targets(decisions), TrainingConfig(epochs=4, validation_ratio=0.0))
    return StudentRouter(model, router_id="student")


def resolver(student: StudentRouter | None = None, **extra: Router):
    routers: dict[str, Router] = {
        "teacher": ReferenceTeacher(router_id="teacher"),
        "uniform": UniformRouter(),
        "deployment:prose": ProseRouter(router_id="deployment:prose"),
        **extra,
    }
    if student is not None:
        routers["student"] = student

    def resolve(router_id: str) -> Router:
        if router_id not in routers:
            raise LookupError(f"No router {router_id!r} here: deploy it first.")
        return routers[router_id]

    return resolve


def test_one_query_through_teacher_and_uniform_gives_agreement_with_the_teacher():
    comparison = compare_query(resolver(), "dog barking loudly", ["teacher", "uniform"])

    assert comparison.kind == "query" and comparison.reference == "teacher"
    item = comparison.queries[0]
    teacher, uniform = item.outcomes["teacher"], item.outcomes["uniform"]
    assert teacher.agreement is None and teacher.leading_channels() == ["audio"]
    assert uniform.agreement.leading == 0.25, "four tied leads, one of them the teacher's"
    assert uniform.agreement.l1 == pytest.approx(0.05 + 0.45 + 0.25 + 0.15)
    assert item.disagree and not uniform.agreement.agrees


def test_the_reference_is_the_teacher_wherever_it_is_listed_else_the_first_router():
    assert compare_query(resolver(), "red car driving", ["uniform", "teacher"]).reference == "teacher"
    assert compare_query(resolver(), "red car driving", ["uniform", "deployment:prose"]).reference == "uniform"


def test_a_router_answering_prose_around_broken_json_shows_its_raw_text_marked_invalid_beside_the_others():
    comparison = compare_query(resolver(), "dog barking loudly", ["teacher", "deployment:prose", "uniform"])

    outcomes = comparison.queries[0].outcomes
    prose = outcomes["deployment:prose"].result
    assert not prose.valid and prose.raw_text == PROSE_AROUND_BROKEN_JSON and prose.errors
    assert outcomes["teacher"].result.valid and outcomes["uniform"].result.valid
    assert outcomes["deployment:prose"].agreement.leading == 0.0 and outcomes["deployment:prose"].agreement.l1 is None
    assert comparison.summaries["deployment:prose"].validity == 0.0 and comparison.summaries["uniform"].validity == 1.0


def test_a_router_that_cannot_be_resolved_or_fails_shows_why_in_its_own_column():
    comparison = compare_query(
        resolver(**{"deployment:broken": ExplodingRouter()}),
        "crowd cheering",
        ["teacher", "deployment:nowhere", "deployment:broken"],
    )

    outcomes = comparison.queries[0].outcomes
    assert outcomes["deployment:nowhere"].result.errors == ["No router 'deployment:nowhere' here: deploy it first."]
    assert outcomes["deployment:broken"].result.errors == ["the model server fell over"]
    assert outcomes["teacher"].result.valid
    assert comparison.router_errors == {"deployment:nowhere": "No router 'deployment:nowhere' here: deploy it first."}
    assert comparison.summaries["deployment:nowhere"].error is not None


def test_a_batch_of_200_through_teacher_student_and_uniform_reports_progress_and_filters_disagreements(student):
    queries = [q.query for q in generate(DataMix(total=200, seed=11))]
    reports: list[tuple[int, int, str]] = []

    comparison = compare_batch(
        resolver(student),
        queries,
        ["teacher", "student", "uniform"],
        progress=lambda done, total: reports.append((done, total, threading.current_thread().name)),
    )

    assert len(comparison.queries) == 200
    assert reports[-1][:2] == (600, 600) and [d for d, _, _ in reports] == sorted(d for d, _, _ in reports)
    assert {name for _, _, name in reports} == {threading.current_thread().name}, "progress is drawn on the caller"
    summary = comparison.summaries["student"]
    assert summary.n == 200 and summary.validity == 1.0 and 0.5 < summary.agreement_rate <= 1.0
    assert 0.0 <= summary.mean_l1 < comparison.summaries["uniform"].mean_l1
    assert comparison.summaries["teacher"].agreement_rate is None
    assert summary.latency_p50_ms <= summary.latency_p95_ms and summary.total_cost_usd == 0.0
    assert comparison.summaries["uniform"].agreement_rate == pytest.approx(0.25, abs=0.1)
    disagreements = comparison_rows(comparison, only_disagreements=True)
    assert len(disagreements) == len(comparison.disagreements) and all(row["disagree"] for row in disagreements)
    assert comparison.agreement_rate == 1 - len(disagreements) / 200


def test_costs_are_totalled_and_quoted_per_million_queries():
    prices = PriceTable({"nova-micro": ModelPrice("nova-micro", 0.035, 0.14)})
    priced = PricedRouter(prices, router_id="deployment:priced")
    comparison = compare_batch(
        resolver(**{"deployment:priced": priced}), ["dog barking", "red car"], ["teacher", "deployment:priced"]
    )

    summary = comparison.summaries["deployment:priced"]
    per_query = [q.outcomes["deployment:priced"].result.cost_usd for q in comparison.queries]
    assert summary.total_cost_usd == pytest.approx(sum(per_query)) and summary.total_cost_usd > 0
    assert summary.cost_per_million_usd == pytest.approx(sum(per_query) / 2 * 1e6)
    assert summary.token_source == "estimated"
    billable, usd = billing_estimate({"teacher": ReferenceTeacher(), "deployment:priced": priced}, 1000)
    assert billable == ["deployment:priced"] and usd == pytest.approx(priced.estimate_batch_cost_usd(1000))


@pytest.mark.parametrize(
    ("queries", "router_ids", "problem"),
    [
        (["dog"], ["teacher", "uniform", "deployment:prose", "student", "deployment:x"], "compare at most 4"),
        (["dog"], [], "at least one router"),
        (["  ", ""], ["teacher"], "no queries"),
        (["dog"] * (MAX_BATCH_QUERIES + 1), ["teacher"], "at most 1,000"),
        (["x" * 2001], ["teacher"], "Query 1 is 2,001 characters long"),
    ],
)
def test_what_cannot_be_compared_is_one_sentence(queries, router_ids, problem):
    with pytest.raises(CompareError, match=problem):
        compare_batch(resolver(), queries, router_ids)


def test_an_empty_typed_query_is_refused():
    with pytest.raises(CompareError, match="Type a query"):
        compare_query(resolver(), "   ", ["teacher"])


# ---- query files ---------------------------------------------------------------------------------------------


def test_query_files_are_text_lines_csv_with_a_query_column_or_jsonl():
    assert read_query_file(b"dog barking\n\n  red car  \n", "q.txt") == ["dog barking", "red car"]
    assert read_query_file(b'id,Query\n1,dog barking\n2,\n3,"red car, fast"\n', "q.csv") == [
        "dog barking",
        "red car, fast",
    ]
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "crowd cheering"}]}],
    }
    jsonl = json.dumps({"query": "dog barking"}) + "\n" + json.dumps(record) + "\n"
    assert read_query_file(jsonl.encode(), "q.jsonl") == ["dog barking", "crowd cheering"]
    assert read_query_file("\ufeffdog\n".encode(), "q.txt") == ["dog"], "a byte-order mark is not part of a query"


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"id,text\n1,dog\n", "q.csv", "line 1: the CSV has no 'query' column \\(its columns: id, text\\)"),
        (b'{"query": "dog"}\n{"query": "cat"}\nnot json\n', "q.jsonl", "line 3: not a JSON object"),
        (b'{"query": "dog"}\n{"text": "cat"}\n', "q.jsonl", "line 2: no 'query' text"),
        (b"q\n" * (MAX_BATCH_QUERIES + 1), "q.txt", "holds 1,001 queries"),
    ],
)
def test_a_bad_query_file_names_the_line(data, name, problem):
    with pytest.raises(CompareError, match=problem):
        read_query_file(data, name)


# ---- export, history, links ------------------------------------------------------------------------------------


def test_the_csv_export_has_every_routers_weights_and_quotes_formula_like_cells():
    comparison = compare_batch(resolver(), ["=HYPERLINK(1)", "dog barking loudly"], ["teacher", "uniform"])

    rows = list(csv.DictReader(io.StringIO(comparison_csv(comparison).decode())))

    assert [row["query"] for row in rows] == ["'=HYPERLINK(1)", "dog barking loudly"]
    assert rows[1]["teacher audio"] == "0.7" and rows[1]["uniform audio"] == "0.25"
    assert rows[1]["uniform agreement"] == "0.25" and rows[1]["disagree"] == "True"
    only = list(csv.DictReader(io.StringIO(comparison_csv(comparison, only_disagreements=True).decode())))
    assert len(only) == len(comparison.disagreements)


def test_runs_are_kept_listed_shown_again_and_rerun(student, tmp_path):
    history = CompareHistory(Store(tmp_path / "studio.db"), "local")
    first = compare_batch(
        resolver(student), ["dog barking", "red car", "news anchor says hello"], ["teacher", "student"]
    )
    run_id = history.save(first)
    single = compare_query(resolver(), "sunset over mountains", ["teacher", "uniform"])
    history.save(single, source="cli")

    listed = history.list()
    assert [r.kind for r in listed] == ["query", "batch"] and listed[0].source == "cli"
    assert listed[1].query_count == 3 and listed[1].router_ids == ["teacher", "student"]
    shown = history.get(run_id)
    assert [q.query for q in shown.queries] == [q.query for q in first.queries]
    assert shown.summaries["student"].agreement_rate == first.summaries["student"].agreement_rate
    assert shown.queries[0].outcomes["student"].result == first.queries[0].outcomes["student"].result
    again = history.rerun(run_id, resolver(student))
    assert again.run_id not in (None, run_id) and len(history.list()) == 3
    assert [q.query for q in again.queries] == [q.query for q in first.queries]
    with pytest.raises(CompareError, match="There is no stored run"):
        CompareHistory(history.store, "bedrock").get(run_id)


def test_a_link_carries_the_query_and_router_ids_and_reads_back_safely():
    params = link_params(" dog barking ", ["teacher", "student"])
    assert params == {"q": "dog barking", "router": ["teacher", "student"]}
    link = read_link(params)
    assert link.query == "dog barking" and link.router_ids == ["teacher", "student"] and link.run_id is None

    messy = read_link(
        {
            "q": "x" * 5000,
            "router": ["teacher", "oracle", "teacher", "uniform", "a:b", "student", "deployment:p", "student:m"],
        }
    )
    assert len(messy.query) == 2000 and messy.router_ids == ["teacher", "uniform", "student", "deployment:p"]
    assert read_link({"run": "run-123"}).run_id == "run-123" and read_link({}).router_ids == []


def test_the_backend_offers_the_history_of_its_own_runs(tmp_path):
    settings = Settings(data_dir=tmp_path / "studio")
    backend = LocalBackend(settings, Store(settings.store_path))
    comparison = compare_query(backend.router, "dog barking loudly", ["teacher", "uniform"])

    backend.comparisons().save(comparison)

    assert [run.first_query for run in backend.comparisons().list()] == ["dog barking loudly"]


def test_the_sample_queries_are_one_short_generated_query_of_each_focus():
    from core.compare import sample_queries
    from core.synth import FOCI

    samples = sample_queries()

    assert list(samples) == list(FOCI)
    assert all(0 < len(query) <= 80 for query in samples.values())
