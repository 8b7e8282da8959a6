"""Local deployments: real endpoint processes on 127.0.0.1, from Creating to Active, killed, restarted, swapped
without a gap, deleted, and found again by a new service instance (as after an app restart).

Waiting is always polling the store against a deadline, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from core.backends import LocalBackend
from core.datasets.library import DatasetLibrary
from core.deploy.client import EndpointRouter
from core.deploy.layout import LOG_FILE
from core.deploy.protocol import MAX_QUERIES_PER_REQUEST
from core.deploy.server import OneSendTransport
from core.deploy.service import LocalDeploymentService
from core.deployments import SELF_TEST_QUERY, STOPPED_UNEXPECTEDLY, DeploymentError, DeploymentStatus
from core.distill.artifact import save_student
from core.distill.jobs import JobRunner
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.model_registry import ModelInUseError, ModelRegistry
from core.processes import process_alive
from core.routers.reference import ReferenceTeacher
from core.schema import MODALITIES
from core.settings import Settings
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise

DEADLINE_S = 60.0
QUERIES = [
    f"{subject} {action}"
    for subject in ("dog", "car", "crowd", "chef", "anchor")
    for action in ("barking", "racing", "cheering", "talking", "at night")
]


def train(path: Path, epochs: int) -> Path:
    decisions = [result.decision for result in ReferenceTeacher().route_batch(QUERIES)]
    config = TrainingConfig(epochs=epochs, n_features=2**10, validation_ratio=0.0)
    return save_student(train_student(QUERIES, decision_targets(decisions), config), path)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A data directory with a dataset, a job and two registered models (the second one to swap to)."""
    data_dir = tmp_path_factory.mktemp("deployments")
    store = Store(data_dir / "studio.db")
    made = synthesise(DataMix(total=100, seed=3), ReferenceTeacher(), teacher_id=ReferenceTeacher.name)
    dataset = DatasetLibrary(store, data_dir).save("router-train", made.records, made.tags, made.manifest_fields)
    job = JobRunner(store, data_dir).submit("router-distill-1", dataset.id, background=False)
    registry = ModelRegistry(store, data_dir)
    first = registry.register(
        "student-one", job.id, dataset.id, train(registry.model_dir("model-one"), 2), {}, model_id="model-one"
    )
    second = registry.register(
        "student-two", job.id, dataset.id, train(registry.model_dir("model-two"), 4), {}, model_id="model-two"
    )
    yield {"data_dir": data_dir, "store": store, "first": first, "second": second, "dataset": dataset, "job": job}
    service = LocalDeploymentService(store, data_dir)
    for deployment in service.list():
        service.delete(deployment.name)


@pytest.fixture
def service(studio) -> LocalDeploymentService:
    return LocalDeploymentService(studio["store"], studio["data_dir"])


def wait_for(service, name, predicate, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        deployment = service.get(name)
        if predicate(deployment):
            return deployment
        time.sleep(0.05)
    log = service.log_text(name)
    raise AssertionError(f"deployment {name} never became {what}: {service.get(name)}\n{log}")


def active(service, name):
    return wait_for(service, name, lambda d: d.status == DeploymentStatus.ACTIVE, "Active")


def post(endpoint: str, body: object) -> tuple[int, dict]:
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request("POST", "/route", raw, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def pid_of(studio, name) -> int:
    row = studio["store"].query_one("SELECT pid FROM deployments WHERE name = ? AND deleted_at IS NULL", (name,))
    return int(row["pid"])


def test_a_deployment_is_creating_then_active_on_localhost_and_answers_route_and_health(studio, service):
    created = service.create("router-live", "model-one", description="the launch student", tags={"team": "search"})
    assert created.status == DeploymentStatus.CREATING and created.kind == "endpoint"

    deployment = active(service, "router-live")

    assert deployment.endpoint.startswith("http://127.0.0.1:")
    assert deployment.serving_model_id == "model-one" and deployment.tags == {"team": "search"}
    assert deployment.lineage.describe() == (
        "dataset router-train -> job router-distill-1 -> model student-one -> deployment router-live"
    )
    status, single = post(deployment.endpoint, {"query": "red car driving"})
    assert status == 200
    assert set(single) == {"deployment", "model_id", "query", "valid", "output", "errors", "latency_ms"}
    assert single["valid"] is True and set(single["output"]) == {*MODALITIES, "reasoning"}
    assert sum(single["output"][m] for m in MODALITIES) == pytest.approx(1.0)
    status, batch = post(deployment.endpoint, {"queries": ["dog barking loudly", "   "]})
    assert status == 200 and batch["model_id"] == "model-one" and len(batch["results"]) == 2
    assert batch["results"][0]["valid"] and not batch["results"][1]["valid"] and batch["results"][1]["errors"]
    health = EndpointRouter(deployment.endpoint, "probe").health()
    assert health["status"] == "ok" and health["deployment"] == "router-live"
    # The self-test and the three queries above are counted once the server flushes its counter.
    wait_for(service, "router-live", lambda d: d.requests_served >= 4, "counted")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        ({"text": "dog"}, "either 'query' or 'queries'"),
        ({"query": "dog", "queries": ["cat"]}, "either 'query' or 'queries'"),
        ({"queries": []}, "non-empty list"),
        ({"queries": ["dog"] * (MAX_QUERIES_PER_REQUEST + 1)}, "at most 1,000"),
        ({"query": 7}, "must be text"),
        ({"query": "x" * 2001}, "keep it to 2,000"),
    ],
)
def test_a_bad_request_gets_http_400_and_one_sentence(studio, service, body, says):
    if not any(d.name == "router-strict" for d in service.list()):
        service.create("router-strict", "model-one")
    deployment = active(service, "router-strict")

    status, answer = post(deployment.endpoint, body)

    assert status == 400 and set(answer) == {"error"} and says in answer["error"]


def test_a_killed_endpoint_shows_failed_stopped_unexpectedly_and_comes_back_on_restart(studio, service):
    service.create("router-crash", "model-one")
    before = active(service, "router-crash")
    pid = pid_of(studio, "router-crash")

    os.kill(pid, signal.SIGKILL)
    failed = wait_for(service, "router-crash", lambda d: d.status == DeploymentStatus.FAILED, "Failed")

    assert failed.failure_message == STOPPED_UNEXPECTEDLY
    with pytest.raises(DeploymentError, match="is Failed \\(stopped unexpectedly\\): restart it"):
        service.router("router-crash")
    restarted = service.restart("router-crash")
    assert restarted.status == DeploymentStatus.CREATING
    again = active(service, "router-crash")
    assert again.endpoint == before.endpoint, "the endpoint keeps its port, so copied snippets still work"
    assert pid_of(studio, "router-crash") != pid
    assert service.router("router-crash").route("crowd cheering").valid


def test_an_update_swaps_the_model_behind_the_same_endpoint_without_a_gap(studio, service):
    service.create("router-swap", "model-one")
    deployment = active(service, "router-swap")
    router = service.router("router-swap")
    answers: list[tuple[bool, str | None]] = []
    done = threading.Event()

    def hammer():
        client = EndpointRouter(deployment.endpoint, "hammer")
        while not done.is_set():
            answers.append((client.route("dog barking loudly").valid, client.health()["model_id"]))

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        service.update("router-swap", "student-two")  # by name as well as by id
        swapped = wait_for(service, "router-swap", lambda d: d.serving_model_id == "model-two", "swapped")
        time.sleep(0.2)
    finally:
        done.set()
        thread.join()

    assert swapped.status == DeploymentStatus.ACTIVE and swapped.endpoint == deployment.endpoint
    assert swapped.model_id == "model-two" and not swapped.swapping and swapped.failure_message is None
    assert answers and all(valid for valid, _ in answers), "every request during the swap was answered"
    served = [model for _, model in answers]
    assert served[0] == "model-one" and served[-1] == "model-two"
    assert router.route("red car driving").valid


def test_a_swap_to_a_model_that_cannot_load_keeps_serving_the_old_one(studio, service, tmp_path):
    registry = ModelRegistry(studio["store"], studio["data_dir"])
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    (broken_dir / "model.json").write_text("{not json")
    broken = registry.register("student-broken", None, None, broken_dir, {})
    service.create("router-keep", "model-one")
    active(service, "router-keep")

    service.update("router-keep", broken.id)
    kept = wait_for(service, "router-keep", lambda d: d.failure_message is not None, "told of the failed swap")

    assert kept.status == DeploymentStatus.ACTIVE and kept.model_id == kept.serving_model_id == "model-one"
    assert "The swap to model" in kept.failure_message and "it still serves model-one" in kept.failure_message
    assert service.router("router-keep").route("red car").valid


def test_a_model_that_cannot_load_leaves_the_deployment_failed_with_the_reason(studio, service, tmp_path):
    registry = ModelRegistry(studio["store"], studio["data_dir"])
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    broken = registry.register("student-empty", None, None, broken_dir, {})

    service.create("router-broken", broken.id)
    failed = wait_for(service, "router-broken", lambda d: d.status == DeploymentStatus.FAILED, "Failed")

    assert failed.failure_message.startswith("The model 'student-empty' could not be loaded")
    assert "Traceback" not in failed.failure_message


def test_delete_stops_the_process_and_frees_the_endpoint(studio, service):
    service.create("router-gone", "model-one")
    deployment = active(service, "router-gone")
    pid = pid_of(studio, "router-gone")

    service.delete("router-gone")

    assert not process_alive(pid)
    assert "router-gone" not in {d.name for d in service.list()}
    with pytest.raises(OSError):
        post(deployment.endpoint, {"query": "dog"})
    with pytest.raises(DeploymentError, match="There is no deployment 'router-gone'"):
        service.get("router-gone")


def test_a_new_service_instance_finds_running_endpoints_and_notices_dead_ones(studio, service):
    service.create("router-survivor", "model-one")
    before = active(service, "router-survivor")

    after_restart = LocalDeploymentService(studio["store"], studio["data_dir"])  # as the app does at start-up
    found = after_restart.get("router-survivor")
    assert found.status == DeploymentStatus.ACTIVE and found.endpoint == before.endpoint
    assert after_restart.router("router-survivor").route("piano music playing").valid

    os.kill(pid_of(studio, "router-survivor"), signal.SIGKILL)
    failed = wait_for(after_restart, "router-survivor", lambda d: d.status == DeploymentStatus.FAILED, "Failed")
    assert failed.failure_message == STOPPED_UNEXPECTEDLY


def test_the_same_request_twice_makes_one_deployment_and_a_taken_name_is_refused(studio, service):
    first = service.create("router-twice", "model-one")
    second = service.create("router-twice", "model-one")

    assert first.id == second.id and [d.name for d in service.list()].count("router-twice") == 1
    with pytest.raises(DeploymentError, match="A deployment named 'router-twice' already exists"):
        service.create("router-twice", "model-two")
    active(service, "router-twice")
    service.delete("router-twice")


def test_a_served_model_cannot_be_deleted_and_the_active_student_routes_as_student(studio, service):
    settings = Settings(data_dir=studio["data_dir"])
    backend = LocalBackend(settings, studio["store"])
    service.create("router-main", "model-one")
    active(service, "router-main")

    with pytest.raises(ModelInUseError, match="router-main"):
        backend.models().delete("model-one")
    service.set_active_student("router-main")
    result = backend.router("student").route(SELF_TEST_QUERY)
    assert result.valid and result.router_id == "student"
    choices = {choice.router_id: choice.label for choice in backend.router_choices()}
    assert choices["student"] == "Active student (router-main)" and "deployment:router-main" in choices
    self_test = service.self_test("router-main")
    assert self_test.valid and self_test.latency_ms > 0


def test_snippets_call_the_endpoint_as_written(studio, service):
    service.create("router-docs", "model-one")
    deployment = active(service, "router-docs")

    snippets = service.snippets(deployment)

    assert f"curl -s -X POST {deployment.endpoint}/route" in snippets.curl
    assert f"{deployment.endpoint}/health" in snippets.curl
    namespace: dict = {}
    exec(compile(snippets.python.replace("print(", "result = ("), "snippet", "exec"), namespace)  # noqa: S102
    assert namespace["answer"]["valid"] is True and namespace["answer"]["deployment"] == "router-docs"


def test_the_server_log_holds_the_story_and_binds_nothing_but_localhost(studio, service):
    service.create("router-log", "model-one")
    deployment = active(service, "router-log")

    log = (service.folder(deployment.id) / LOG_FILE).read_text()
    assert "serving model model-one on 127.0.0.1:" in log and "is Active" in log
    assert "0.0.0.0" not in log


def test_what_the_server_writes_in_one_turn_of_its_loop_leaves_in_one_send():
    class Recorder:
        def __init__(self):
            self.sent: list[bytes] = []
            self.closed = False

        def write(self, data):
            self.sent.append(data)

        def is_closing(self):
            return self.closed

        def close(self):
            self.closed = True

        def get_write_buffer_size(self):
            return 0

        def get_extra_info(self, name, default=None):
            return ("127.0.0.1", 8000) if name == "sockname" else default

    async def respond(transport):
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        transport.write(b"")
        assert transport.get_write_buffer_size() == 40 and inner.sent == [], "held until the turn ends"
        await asyncio.sleep(0)
        transport.write(b"next")
        transport.close()

    inner = Recorder()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(respond(OneSendTransport(inner, loop)))
    finally:
        loop.close()

    assert inner.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"next"] and inner.closed
    assert OneSendTransport(inner, loop).get_extra_info("sockname") == ("127.0.0.1", 8000)
