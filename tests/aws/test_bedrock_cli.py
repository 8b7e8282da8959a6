"""The Bedrock commands (preflight, label, batch-label, write-queries, job, models) through the same core services
as the pages, on a Bedrock backend whose clients are stubbed: --json shapes, --yes for anything billable, one
error line for every refusal, exit codes."""

from __future__ import annotations

import io
import json

import pytest

from core.aws.jobs import request_token
from core.backends import BedrockBackend
from core.cli import main
from core.datasets.files import read_dataset
from core.datasets.library import DatasetLibrary
from core.settings import Settings
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise, write_synthesis
from tests.aws.bedrock_fixtures import (
    ACCOUNT,
    BUCKET,
    DATASET_URI,
    JOB_ARN,
    MODEL_ARN,
    REGION,
    ROLE,
    job_answer,
    phases,
    stubbed_clients,
)
from tests.aws.test_bedrock_jobs import EXPECTED_REQUEST, OUTPUT_URI
from tests.aws.test_labelling_at_scale import StubRuntime
from tests.aws.test_teacher_queries import WordClient

COMMAND_MODULES = ("preflight", "label", "batch_label", "write_queries", "job", "models")


@pytest.fixture
def bedrock(session, tmp_path, monkeypatch):
    """A Bedrock backend with Settings' bucket and role, its clients stubbed, opened by every command."""
    settings = Settings(data_dir=tmp_path / "studio", backend="bedrock", bedrock_bucket=BUCKET, bedrock_role_arn=ROLE)
    backend = BedrockBackend(settings, Store(settings.store_path))
    clients, stubs = stubbed_clients(session, "bedrock", "s3", "sts", "iam")
    backend._clients = clients
    for module in COMMAND_MODULES:
        monkeypatch.setattr(f"core.cli.{module}.open_backend", lambda: backend)
    yield backend, stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    write_synthesis(synthesise(DataMix(total=120, seed=3), None, name="prompts"), path)
    return path


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


def test_preflight_json_lists_every_check_and_exits_one_when_one_is_red(bedrock, capsys):
    backend, stubs = bedrock
    stubs["sts"].add_client_error("get_caller_identity", service_error_code="ExpiredToken", http_status_code=403)

    code, report = run_json(capsys, "preflight")

    assert code == 1 and report["ok"] is False and report["region"] == REGION
    assert [check["key"] for check in report["checks"]] == [
        "credentials",
        "region",
        "teacher-access",
        "teacher-profile",
        "student-access",
        "bucket",
        "role",
    ]
    assert set(report["checks"][0]) == {"key", "title", "level", "message", "action"}
    assert report["checks"][0]["level"] == "red" and "expired" in report["checks"][0]["action"]


def test_label_needs_yes_shows_the_estimate_and_then_labels_resumably(bedrock, prompts, tmp_path, capsys):
    backend, _ = bedrock
    runtime = StubRuntime(throttle_share=0.1)
    backend.aws_clients().put("bedrock-runtime", runtime)
    out = tmp_path / "labelled.jsonl"

    refused = main(["label", "--file", str(prompts), "--out", str(out)])
    err = capsys.readouterr().err
    assert refused == 2 and not out.exists() and sum(runtime.calls.values()) == 0
    assert "estimate:" in err and "Labelling with Amazon Nova Premier: $" in err
    assert err.strip().splitlines()[-1].startswith("error: Labelling 120 prompts with Amazon Nova Premier bills")

    code, outcome = run_json(capsys, "label", "--file", str(prompts), "--out", str(out), "--yes")

    assert code == 0 and outcome["labelled"] == 120 and outcome["failed"] == 0 and outcome["resumed"] == 0
    assert {"source", "out", "router", "n", "labelled", "failed", "resumed", "cost_usd", "estimate"} <= set(outcome)
    loaded = read_dataset(out)
    assert loaded.ok and loaded.manifest.teacher_id == "Amazon Nova Premier" and len(loaded.records) == 120

    again_code, again = run_json(capsys, "label", "--file", str(prompts), "--out", str(out), "--yes")
    assert again_code == 0 and again["resumed"] == 120  # the checkpoint answered everything: no call


def test_job_start_get_stop_and_list_go_through_the_job_service(bedrock, capsys):
    backend, stubs = bedrock
    made = synthesise(DataMix(total=120, seed=3), None)
    library = DatasetLibrary(backend.store, backend.settings.data_dir)
    dataset = library.set_s3_uri(
        library.save("router-prompts", made.records, made.tags, made.manifest_fields).id, DATASET_URI
    )

    refused = main(["job", "start", "router-distill-1", "--dataset", dataset.id])
    assert refused == 2 and "bills your AWS account" in capsys.readouterr().err

    stubs["bedrock"].add_response(
        "create_model_customization_job",
        {"jobArn": JOB_ARN},
        {**EXPECTED_REQUEST, "clientRequestToken": request_token(EXPECTED_REQUEST)},
    )
    code, started = run_json(capsys, "job", "start", "router-distill-1", "--dataset", dataset.id, "--yes")
    assert code == 0 and started["remote_arn"] == JOB_ARN and started["status"] == "InProgress"
    assert started["phases"] == {"Validation": "InProgress", "DataProcessing": "NotStarted", "Training": "NotStarted"}
    assert started["estimate"]["billable"] is True

    stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer("InProgress", phases("Completed", "InProgress"), output_uri=OUTPUT_URI),
        {"jobIdentifier": JOB_ARN},
    )
    code, got = run_json(capsys, "job", "get", started["id"])
    assert got["phase"] == "DataProcessing" and got["phases"]["Validation"] == "Completed" and got["metrics"] == []

    stubs["bedrock"].add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    code, stopped = run_json(capsys, "job", "stop", started["id"])
    assert stopped["status"] == "Stopping"


def test_models_delete_on_bedrock_needs_yes(bedrock, capsys):
    backend, stubs = bedrock
    model = backend.models().register("router-distill-1", None, None, None, {}, arn=MODEL_ARN)

    refused = main(["models", "delete", model.id])
    assert refused == 2 and "run again with --yes to confirm" in capsys.readouterr().err

    stubs["bedrock"].add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})
    assert main(["models", "delete", model.id, "--yes"]) == 0
    assert "deleted router-distill-1" in capsys.readouterr().out


def test_models_list_json_carries_lineage_and_the_notice(bedrock, capsys):
    backend, stubs = bedrock
    stubs["bedrock"].add_client_error(
        "list_custom_models", service_error_code="AccessDeniedException", http_status_code=403,
        service_message="User is not authorized to perform: bedrock:ListCustomModels",
    )  # fmt: skip
    backend.models().register("router-distill-1", None, None, None, {}, arn=MODEL_ARN)

    code, listed = run_json(capsys, "models", "list")

    assert code == 0 and [m["arn"] for m in listed["models"]] == [MODEL_ARN]
    assert {"id", "name", "arn", "lineage", "job", "dataset"} <= set(listed["models"][0])
    assert "bedrock:ListCustomModels" in listed["notice"]


def test_write_queries_writes_a_prompt_only_dataset_after_yes(bedrock, tmp_path, capsys):
    backend, _ = bedrock
    backend.aws_clients().put("bedrock-runtime", WordClient())
    out = tmp_path / "written.jsonl"

    assert main(["write-queries", "--n", "120", "--seed", "5", "--out", str(out)]) == 2
    assert "Query writing with Amazon Nova Premier" in capsys.readouterr().err

    code, outcome = run_json(capsys, "write-queries", "--n", "120", "--seed", "5", "--out", str(out), "--yes")

    assert code == 0 and outcome["written"] == 120 and outcome["requested"] == 120
    loaded = read_dataset(out)
    assert (
        loaded.ok and loaded.manifest.generator_version == "teacher-queries-1" and loaded.manifest.kind == "prompt-only"
    )


def test_batch_label_start_then_collect_writes_the_labelled_dataset(bedrock, prompts, tmp_path, capsys):
    backend, stubs = bedrock
    from tests.aws.test_bedrock_batch import service_run_id

    queries = [q or "" for q in read_dataset(prompts).queries]
    run_id = service_run_id("router-labels-1")
    base = f"video-search-router/batch/{run_id}"
    stubs["s3"].add_response("put_object", {})
    stubs["bedrock"].add_response(
        "create_model_invocation_job",
        {"jobArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/abcdef123456"},
    )
    code, started = run_json(
        capsys, "batch-label", "start", "--file", str(prompts), "--name", "router-labels-1", "--yes"
    )
    assert code == 0 and started["status"] == "Submitted" and started["records"] == 120
    assert started["input_s3_uri"] == f"s3://{BUCKET}/{base}/input.jsonl"

    backend.store.execute("UPDATE batch_runs SET status = 'Completed' WHERE id = ?", (run_id,))
    answer = {"visual": 0.1, "audio": 0.1, "transcription": 0.7, "metadata": 0.1, "reasoning": "said"}
    lines = [
        json.dumps(
            {
                "recordId": f"r{i:010d}",
                "modelInput": {},
                "modelOutput": {
                    "output": {"message": {"role": "assistant", "content": [{"text": json.dumps(answer)}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 400, "outputTokens": 40, "totalTokens": 440},
                },
            }
        )
        for i in range(len(queries))
    ]
    key = f"{base}/output/abcdef123456/input.jsonl.out"
    stubs["s3"].add_response("list_objects_v2", {"Contents": [{"Key": key}], "IsTruncated": False})
    stubs["s3"].add_response("get_object", {"Body": io.BytesIO("\n".join(lines).encode())})
    out = tmp_path / "batch-labelled.jsonl"

    code, collected = run_json(capsys, "batch-label", "collect", run_id, "--out", str(out))

    assert code == 0 and collected["labelled"] == 120 and collected["failed"] == 0
    loaded = read_dataset(out)
    assert loaded.ok and loaded.manifest.kind == "labelled" and loaded.decisions[0].transcription == 0.7
    assert [tag.focus for tag in loaded.tags] == [tag.focus for tag in read_dataset(prompts).tags]
