"""Labelling a saved prompt-only dataset on the Data Mix page: on the local backend at once; on Amazon Bedrock
(stubbed Converse, exact params) estimated and confirmed, resumed from its checkpoint, failures shown with the
teacher's raw reply as text and asked again on retry, saved as a labelled dataset; a batch job estimated at the
batch price, confirmed, and polled with Bedrock's statuses."""

from __future__ import annotations

import hashlib
import itertools
import json

from core.aws.batch import BATCH_ROOT, INPUT_FILE, batch_records, invocation_token
from core.backends import BedrockBackend
from core.datasets.files import make_record, read_dataset
from core.datasets.library import DatasetLibrary
from core.labelling import label_dataset
from core.settings import load_settings
from core.store import Store
from core.synth import DataMix
from core.synth.teacher_queries import buckets, wanted_for
from dashboard import data_mix_views as mix_views
from dashboard import labelling_views as labelling
from dashboard import query_writing_views as queries_views
from tests.app.bedrock_app import StubbedBedrock
from tests.app.helpers import alerts, open_page, run_app, texts
from tests.aws.bedrock_fixtures import ACCOUNT, BUCKET, CREATED, REGION, ROLE

QUERIES = ["red car driving at night", "dog barking loudly", "interview about poverty"]
ANSWER = {"visual": 0.7, "audio": 0.1, "transcription": 0.1, "metadata": 0.1, "reasoning": "what is seen"}


def prompt_only(studio_env, queries=QUERIES, name="router-prompts"):
    store = Store(studio_env / "studio.db")
    return store, DatasetLibrary(store, studio_env).save(name, [make_record(query, None) for query in queries])


def reply(text: str) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 400, "outputTokens": 60, "totalTokens": 460},
        "metrics": {"latencyMs": 120},
    }


def teacher_of(store):
    return BedrockBackend(load_settings(), store).teacher()


def answered(stubbed: StubbedBedrock, store, query: str, text: str) -> None:
    stubbed.stubs["bedrock-runtime"].add_response("converse", reply(text), teacher_of(store).converse_request(query))


def test_on_the_local_backend_a_prompt_only_dataset_is_labelled_and_saved(studio_env):
    store, info = prompt_only(studio_env)
    at = open_page(run_app(), "data_mix.py")
    assert not [b for b in at.button if b.key == labelling.BATCH_KEY]  # no batch on the local backend

    at = at.button(key=labelling.LABEL_KEY).click().run()  # free: no question asked
    assert not at.exception, [e.value for e in at.exception]
    at = at.button(key=labelling.SAVE_KEY).click().run()

    assert not at.exception, [e.value for e in at.exception]
    saved = DatasetLibrary(store, studio_env).find("router-prompts-labelled")
    assert saved is not None and (saved.kind, saved.records) == ("labelled", 3)
    assert saved.manifest["teacher_id"] == "Local reference teacher"


def test_on_bedrock_labelling_resumes_from_its_checkpoint_and_retries_only_the_failures(
    stubbed_bedrock, studio_env, monkeypatch
):
    stubbed = stubbed_bedrock
    monkeypatch.setenv("VSRS_BEDROCK_CONCURRENCY", "1")  # one call at a time: the stubbed answers come in order
    store, info = prompt_only(studio_env)
    # An earlier run stopped after its first answer (a closed tab): that answer is in the checkpoint.
    answered(stubbed, store, QUERIES[0], json.dumps(ANSWER))
    earlier = label_dataset(
        teacher_of(store),
        read_dataset(info.path, min_records=1),
        teacher_id="Amazon Nova Premier",
        source_name=info.name,
        checkpoint_dir=studio_env,
        concurrency=1,
        should_stop=lambda: True,
    )
    assert (earlier.run.labelled, earlier.run.pending) == (1, 2)

    at = open_page(run_app(), "data_mix.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("1 calls at once (the pool size in Settings)" in c.value for c in at.caption)
    assert any(line.startswith("Labelling with Amazon Nova Premier: $") for line in texts(at))
    at = at.button(key=labelling.LABEL_KEY).click().run()
    assert any("AWS bills it" in body for body in alerts(at))  # nothing sent before the confirmation

    answered(stubbed, store, QUERIES[1], json.dumps(ANSWER))
    answered(stubbed, store, QUERIES[2], "Sure! The weights are mostly visual.")
    at = at.button(key=f"{labelling.LABEL_KEY}_confirm").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert figures(at) == {"Labelled": "2 of 3", "Failed": "1", "Not done": "0"}
    assert any(value.startswith(QUERIES[2]) for value in texts(at))  # the failed record, as plain text
    assert "Sure! The weights are mostly visual." in [code.value for code in at.code]  # its raw reply

    at = at.button(key=labelling.RETRY_KEY).click().run()
    answered(stubbed, store, QUERIES[2], json.dumps(ANSWER))
    at = at.button(key=f"{labelling.RETRY_KEY}_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Sure! The weights are mostly visual." not in [code.value for code in at.code]
    assert figures(at) == {"Labelled": "3 of 3", "Failed": "0", "Not done": "0"}

    at = at.button(key=labelling.SAVE_KEY).click().run()
    saved = DatasetLibrary(store, studio_env).find("router-prompts-labelled")
    assert saved is not None and (saved.kind, saved.records) == ("labelled", 3)
    assert saved.manifest["teacher_id"] == "Amazon Nova Premier"
    stubbed.done()  # exactly the calls the checkpoint did not hold: none was bought twice


def test_a_large_set_goes_as_a_batch_job_estimated_confirmed_and_polled(stubbed_bedrock, studio_env):
    stubbed = stubbed_bedrock
    queries = [f"red car number {index} driving" for index in range(100)]
    store, info = prompt_only(studio_env, queries)
    at = open_page(run_app(), "data_mix.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("**Batch of 100 prompts:**" in m.value for m in at.markdown)  # the batch price, before anything

    at = at.button(key=labelling.BATCH_KEY).click().run()
    assert any("Start a batch job labelling 100 prompts?" in body for body in alerts(at))
    name = at.text_input(key=labelling.BATCH_NAME_KEY).value
    # Exactly what Bedrock's batch is sent: the Converse records in S3, then the job.
    teacher = teacher_of(store)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch_records(teacher, queries)).encode()
    base = f"{BATCH_ROOT}/batch-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    stubbed.stubs["s3"].add_response(
        "put_object",
        {},
        {
            "Bucket": BUCKET,
            "Key": f"{base}/{INPUT_FILE}",
            "Body": body,
            "ContentType": "application/jsonl",
            "ServerSideEncryption": "AES256",
        },
    )
    request = {
        "jobName": name,
        "roleArn": ROLE,
        "modelId": "us.amazon.nova-premier-v1:0",
        "inputDataConfig": {
            "s3InputDataConfig": {"s3InputFormat": "JSONL", "s3Uri": f"s3://{BUCKET}/{base}/{INPUT_FILE}"}
        },
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/{base}/output/"}},
        "modelInvocationType": "Converse",
    }
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/abcdefghij12"
    stubbed.stubs["bedrock"].add_response(
        "create_model_invocation_job",
        {"jobArn": arn},
        {**request, "clientRequestToken": invocation_token(request, body)},
    )
    for status in ("Submitted", "InProgress", "Completed"):
        stubbed.stubs["bedrock"].add_response(
            "get_model_invocation_job",
            {
                **{key: request[key] for key in ("jobName", "roleArn", "modelId", "inputDataConfig")},
                "outputDataConfig": request["outputDataConfig"],
                "jobArn": arn,
                "status": status,
                "submitTime": CREATED,
                "processedRecordCount": 100 if status == "Completed" else 0,
            },
            {"jobIdentifier": arn},
        )

    at = at.button(key=f"{labelling.BATCH_KEY}_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    statuses = [run_status(at)]
    for _ in range(2):  # the fragment polls while the batch runs
        at.run()
        statuses.append(run_status(at))

    assert statuses == ["Submitted", "InProgress", "Completed"]
    [run] = BedrockBackend(load_settings(), store).batch_inference().list()
    assert (run.name, run.records, run.job_arn, run.status) == (name, 100, arn, "Completed")
    assert any(b.key == f"{labelling.COLLECT_KEY}_{run.id}" for b in at.button)
    stubbed.done()


def figures(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric if m.label in {"Labelled", "Failed", "Not done"}}


def run_status(at) -> str:
    found = [value for value in texts(at) if value in {"Submitted", "Validating", "InProgress", "Completed"}]
    return found[-1] if found else ""


def test_teacher_written_queries_are_estimated_confirmed_and_saved_as_a_dataset(
    stubbed_bedrock, studio_env, monkeypatch
):
    stubbed = stubbed_bedrock
    monkeypatch.setenv("VSRS_BEDROCK_CONCURRENCY", "1")  # one bucket at a time: the stubbed answers come in order
    store = Store(studio_env / "studio.db")
    at = open_page(run_app(), "data_mix.py")
    at.text_input(key=mix_views.TOTAL_KEY).input("100").run()
    assert any("**Writing 100 queries:**" in m.value for m in at.markdown)  # the estimate, before anything

    at = at.button(key=queries_views.WRITE_KEY).click().run()
    assert any("write 100 queries? AWS bills it" in body for body in alerts(at))
    mix = DataMix.model_validate_json(at.session_state[f"{queries_views.WRITE_KEY}_waiting"])
    writer = BedrockBackend(load_settings(), store).query_writer()
    words = ("".join(letters) for letters in itertools.product("bcdfghjklmnp", "aeiou", "rstvz", "aeiou"))
    for bucket in buckets(mix):
        wanted = wanted_for(bucket.count)
        written = [f"{next(words)} {next(words)} {bucket.focus} clip" for _ in range(wanted)]
        stubbed.stubs["bedrock-runtime"].add_response(
            "converse", reply(json.dumps({"queries": written})), writer.request(bucket, wanted, mix.custom_vocabulary)
        )

    at = at.button(key=f"{queries_views.WRITE_KEY}_confirm").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert any("Saved 100 teacher-written queries as teacher-queries-100" in body for body in alerts(at))
    [saved] = DatasetLibrary(store, studio_env).list()
    assert (saved.kind, saved.records) == ("prompt-only", 100)
    assert saved.manifest["notes"]["made_by"] == "teacher-written queries"
    stubbed.done()
