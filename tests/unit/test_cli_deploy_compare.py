"""The `deploy` and `compare` commands' contract (docs/ARCHITECTURE.md, command line): JSON shapes, exit codes,
one-line errors, --yes before anything that bills, and the same core functions as the pages."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.backends import LocalBackend
from core.cli import main
from core.distill.artifact import save_student
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.model_registry import ModelRegistry
from core.routers.reference import ReferenceTeacher
from core.schema import MODALITIES
from core.settings import Settings
from core.store import Store

DEPLOYMENT_KEYS = {
    "name",
    "kind",
    "status",
    "model_id",
    "serving_model_id",
    "endpoint",
    "description",
    "tags",
    "failure_message",
    "active_student",
    "requests_served",
    "created_at",
    "updated_at",
    "lineage",
    "billing",
}
ROUTE_KEYS = {"query", "router", "valid", *MODALITIES, "reasoning", "errors", "latency_ms"}
SUMMARY_KEYS = {
    "n",
    "validity",
    "agreement_rate",
    "mean_l1",
    "latency_p50_ms",
    "latency_p95_ms",
    "total_cost_usd",
    "cost_per_million_usd",
    "input_tokens",
    "output_tokens",
    "token_source",
    "error",
}
QUERIES = [f"{s} {a}" for s in ("dog", "car", "crowd", "chef") for a in ("barking", "racing", "talking")]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def backend(data_dir) -> LocalBackend:
    settings = Settings(data_dir=data_dir)
    return LocalBackend(settings, Store(settings.store_path))


@pytest.fixture
def models(studio_env):
    registry = ModelRegistry(Store(studio_env / "studio.db"), studio_env)
    decisions = [r.decision for r in ReferenceTeacher().route_batch(QUERIES)]
    for model_id, epochs in (("model-one", 2), ("model-two", 3)):
        model = train_student(QUERIES, decision_targets(decisions), TrainingConfig(epochs=epochs, n_features=2**10))
        registry.register(
            model_id, None, None, save_student(model, registry.model_dir(model_id)), {}, model_id=model_id
        )
    yield registry
    service = backend(studio_env).deployments()  # a failed test leaves no endpoint process running
    for deployment in service.list():
        service.delete(deployment.name)


# ---- compare ---------------------------------------------------------------------------------------------------


def test_compare_json_gives_each_routers_answer_and_agreement_with_the_teacher(capsys, studio_env):
    code, out, err = run_cli(
        capsys, "compare", "--router", "teacher", "--router", "uniform", "--json", "dog barking loudly", "red car"
    )

    assert code == 0 and err == ""
    answer = json.loads(out)
    assert set(answer) == {
        "run_id",
        "reference",
        "routers",
        "n",
        "agreement_rate",
        "disagreements",
        "queries",
        "summary",
    }
    assert answer["reference"] == "teacher" and answer["routers"] == ["teacher", "uniform"] and answer["n"] == 2
    first = answer["queries"][0]
    assert first["query"] == "dog barking loudly" and first["disagree"] is True
    teacher, uniform = first["results"]["teacher"], first["results"]["uniform"]
    extra = {"leading", "agreement", "l1", "input_tokens", "output_tokens", "token_source", "cost_usd"}
    assert set(teacher) == set(uniform) == ROUTE_KEYS | extra
    assert teacher["leading"] == ["audio"] and teacher["agreement"] is None
    assert uniform["agreement"] == 0.25 and uniform["l1"] == pytest.approx(0.9)
    assert set(answer["summary"]["uniform"]) == SUMMARY_KEYS
    runs = backend(studio_env).comparisons().list()
    assert [(r.id, r.source, r.kind) for r in runs] == [(answer["run_id"], "cli", "batch")]


def test_compare_reads_a_csv_file_filters_to_disagreements_and_writes_the_table(capsys, tmp_path):
    source = tmp_path / "queries.csv"
    source.write_text("id,query\n1,dog barking loudly\n2,Olivia talking about growing up in poverty\n")
    table = tmp_path / "out.csv"

    code, out, _ = run_cli(
        capsys, "compare", "--router", "teacher", "--router", "teacher", "--router", "uniform",
        "--file", str(source), "--only-disagreements", "--csv", str(table), "--json",
    )  # fmt: skip

    assert code == 0
    answer = json.loads(out)
    assert answer["routers"] == ["teacher", "uniform"], "a router named twice is compared once"
    assert answer["n"] == 2 and len(answer["queries"]) == answer["disagreements"] == 2
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [row["query"] for row in rows] == ["dog barking loudly", "Olivia talking about growing up in poverty"]


def test_compare_prints_a_readable_table_with_the_summary(capsys):
    code, out, _ = run_cli(capsys, "compare", "--router", "teacher", "--router", "uniform", "sunset over mountains")

    assert code == 0
    assert "sunset over mountains  [they disagree]" in out
    assert "differs (L1" in out and "1 queries against teacher; 1 where they disagree" in out
    assert out.splitlines()[-1].startswith("uniform") and "25%" in out.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--router", "oracle", "dog"], "Unknown router 'oracle'"),
        (["--router", "teacher"], "give at least one QUERY or --file F"),
        (
            [
                "--router",
                "teacher",
                "--router",
                "uniform",
                "--router",
                "student:a",
                "--router",
                "student:b",
                "--router",
                "deployment:c",
                "dog",
            ],
            "compare at most 4",
        ),  # fmt: skip
        (["--router", "deployment:nowhere", "dog"], "There is no deployment 'nowhere'"),
    ],
)
def test_compare_mistakes_are_one_line_and_exit_2(capsys, argv, says):
    code, out, err = run_cli(capsys, "compare", *argv)

    assert code == 2 and out == "" and err.startswith("error: ") and says in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_bad_query_file_names_its_line(capsys, tmp_path):
    source = tmp_path / "queries.jsonl"
    source.write_text('{"query": "dog"}\nnot json\n')

    code, _, err = run_cli(capsys, "compare", "--router", "teacher", "--file", str(source))

    assert code == 2 and err.strip() == f"error: {source}: line 2: not a JSON object (each line must be one)."


def test_compare_through_a_billable_router_needs_yes_and_quotes_the_cost(capsys, monkeypatch):
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")

    code, out, err = run_cli(capsys, "compare", "--router", "teacher", "--router", "uniform", "dog barking")

    assert code == 2 and out == ""
    assert err.startswith("error: comparing 1 queries through teacher bills your AWS account (about $")
    assert err.strip().endswith("run again with --yes to confirm")


# ---- deploy ----------------------------------------------------------------------------------------------------


def test_deploy_create_list_test_update_activate_and_delete(capsys, models, studio_env):
    code, out, err = run_cli(
        capsys, "deploy", "create", "router-live", "--model", "model-one", "--tag", "team=search", "--json"
    )
    assert code == 0, err
    created = json.loads(out)
    assert set(created) == DEPLOYMENT_KEYS and created["status"] == "Active" and created["tags"] == {"team": "search"}
    assert created["endpoint"].startswith("http://127.0.0.1:") and created["billing"] is None

    code, out, _ = run_cli(capsys, "deploy", "list", "--json")
    assert code == 0 and [d["name"] for d in json.loads(out)] == ["router-live"]

    code, out, _ = run_cli(capsys, "deploy", "test", "router-live", "dog barking loudly", "red car", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [set(line) for line in lines] == [ROUTE_KEYS, ROUTE_KEYS]
    assert all(line["valid"] and line["router"] == "deployment:router-live" for line in lines)

    code, out, _ = run_cli(capsys, "deploy", "update", "router-live", "--model", "model-two", "--json")
    swapped = json.loads(out)
    assert code == 0 and swapped["serving_model_id"] == "model-two" and swapped["endpoint"] == created["endpoint"]

    code, out, _ = run_cli(capsys, "deploy", "activate", "router-live")
    assert code == 0 and out.strip() == "router-live is now the active student"
    code, out, _ = run_cli(capsys, "compare", "--router", "teacher", "--router", "student", "--json", "crowd cheering")
    assert code == 0 and json.loads(out)["queries"][0]["results"]["student"]["valid"] is True

    code, out, _ = run_cli(capsys, "deploy", "snippets", "router-live")
    assert code == 0 and f"curl -s -X POST {created['endpoint']}/route" in out and "urlopen" in out

    code, out, _ = run_cli(capsys, "deploy", "delete", "router-live")
    assert code == 0 and out.strip() == "deleted router-live"
    code, out, _ = run_cli(capsys, "deploy", "list")
    assert out.startswith("no deployments yet")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["create", "live student", "--model", "model-one"], "cannot contain a space"),
        (["create", "router-live", "--model", "model-none"], "There is no model 'model-none'"),
        (["create", "router-live", "--model", "model-one", "--tag", "team"], "not KEY=VALUE"),
        (["create", "router-pt", "--model", "model-one", "--provisioned", "--yes"], "only on Amazon Bedrock"),
        (["update", "router-none", "--model", "model-one"], "There is no deployment 'router-none'"),
        (["delete", "router-none"], "There is no deployment 'router-none'"),
        (["test", "router-none"], "There is no deployment 'router-none'"),
    ],
)
def test_deploy_mistakes_are_one_line_and_exit_2(capsys, models, argv, says):
    code, out, err = run_cli(capsys, "deploy", *argv)

    assert code == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1


def test_provisioned_throughput_on_bedrock_shows_the_estimate_and_needs_yes(capsys, monkeypatch, studio_env):
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"

    code, _, err = run_cli(
        capsys, "deploy", "create", "router-pt", "--model", arn, "--provisioned", "--model-units", "2"
    )
    assert code == 2 and "Provisioned throughput bills by the hour whether it is used or not: 2 model units" in err
    assert "price unknown" in err and err.strip().endswith("Run again with --yes to confirm")

    code, _, err = run_cli(capsys, "deploy", "create", "router-pt", "--model", arn, "--provisioned", "--yes")
    assert code == 2 and err.startswith("error: No AWS credentials found: run 'aws configure'")
    assert backend(studio_env).store.query("SELECT * FROM deployments") == [], "nothing is recorded"
