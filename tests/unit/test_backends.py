"""Backends: router ids resolve to the right router or a sentence, the local backend needs no AWS, and the
Bedrock teacher carries the prompt it is given."""

from __future__ import annotations

import os

import pytest

from core.backends import BackendUnavailable, BedrockBackend, LocalBackend
from core.distill.artifact import save_student
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.labelling import prompt_version_of
from core.prompts import DEFAULT_TEACHER_PROMPT, teacher_prompt
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.schema import MODALITIES
from core.settings import Settings
from core.store import Store

SUBJECTS = ("red car", "dog", "crowd", "piano", "CEO", "storm", "chef", "drone shot", "train", "guitar")
TEMPLATES = (
    "{} driving at night",
    "{} barking loudly",
    "interview where the {} talks",
    "{} in season 2 trailer",
    "close-up of a {}",
)
EDITED_PROMPT = teacher_prompt('Weigh the four channels for "{query}" and answer with JSON.')


def make_settings(tmp_path, backend: str) -> Settings:
    return Settings(data_dir=tmp_path / "studio", backend=backend)


def local_backend(tmp_path) -> LocalBackend:
    settings = make_settings(tmp_path, "local")
    return LocalBackend(settings, Store(settings.store_path))


def bedrock_backend(tmp_path) -> BedrockBackend:
    settings = make_settings(tmp_path, "bedrock")
    return BedrockBackend(settings, Store(settings.store_path))


@pytest.fixture
def sealed_aws_environment(monkeypatch, tmp_path):
    """No real profile, key, SSO cache or instance metadata can reach these tests (as in tests/aws)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = tmp_path / name.lower()
        empty.write_text("")
        monkeypatch.setenv(name, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def fake_credentials(sealed_aws_environment, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    """A tiny student distilled from the reference teacher's labels on 50 queries."""
    queries = [template.format(subject) for template in TEMPLATES for subject in SUBJECTS]
    decisions = [result.decision for result in ReferenceTeacher().route_batch(queries)]
    targets = decision_targets(decisions)
    model = train_student(queries, targets, TrainingConfig(epochs=3, n_features=2**10, validation_ratio=0.0))
    return save_student(model, tmp_path_factory.mktemp("backends") / "student")


# ---- local backend --------------------------------------------------------------------------------------------


def test_the_local_backend_is_ready_without_any_account(tmp_path):
    status = local_backend(tmp_path).status()

    assert status.ready and status.message is None
    assert status.details["teacher"] == "Local reference teacher"
    assert local_backend(tmp_path).aws_session() is None


def test_teacher_and_uniform_ids_resolve_to_their_routers(tmp_path):
    backend = local_backend(tmp_path)

    teacher = backend.router("teacher")
    assert isinstance(teacher, ReferenceTeacher) and teacher.router_id == "teacher"
    uniform = backend.router(" uniform ")
    assert isinstance(uniform, UniformRouter)
    assert uniform.route("dog barking loudly").decision.weights() == {m: 0.25 for m in MODALITIES}


def test_the_local_teacher_reads_no_prompt_so_an_edited_one_changes_nothing(tmp_path):
    backend = local_backend(tmp_path)
    query = "interview where the CEO talks"

    edited = backend.teacher(EDITED_PROMPT)
    assert prompt_version_of(edited) is None
    assert edited.route(query).decision == backend.teacher().route(query).decision


def test_a_student_directory_id_loads_the_saved_student(tmp_path, student_dir):
    router = local_backend(tmp_path).router(f"student:{student_dir}")

    result = router.route("red car driving at night")
    assert router.router_id == f"student:{student_dir}"
    assert result.valid
    assert sum(result.decision.weights().values()) == pytest.approx(1.0)


def test_a_missing_student_directory_is_unavailable_with_a_sentence(tmp_path):
    missing = tmp_path / "no-such-student"

    with pytest.raises(BackendUnavailable, match=r"Cannot load the student model from .*no-such-student: "):
        local_backend(tmp_path).router(f"student:{missing}")


def test_an_unknown_router_id_names_the_ids_that_exist(tmp_path):
    with pytest.raises(BackendUnavailable) as raised:
        local_backend(tmp_path).router("oracle")
    assert str(raised.value) == (
        "Unknown router 'oracle': use 'teacher', 'uniform', 'student', 'student:<model id or directory>', "
        "'deployment:<name>' or 'cascade:<student id>|<teacher id>@<threshold>'."
    )


# ---- Bedrock backend (no call leaves this machine: constructing a router sends nothing) ----------------------


def test_the_bedrock_teacher_carries_the_prompt_it_is_given(tmp_path, fake_credentials):
    backend = bedrock_backend(tmp_path)

    teacher = backend.teacher(EDITED_PROMPT)

    assert teacher.router_id == "teacher" and teacher.billable
    assert teacher.prompt == EDITED_PROMPT
    sent = teacher.converse_request("dog barking loudly")["messages"][0]["content"][0]["text"]
    assert sent == 'Weigh the four channels for "dog barking loudly" and answer with JSON.'
    assert backend.teacher().prompt == DEFAULT_TEACHER_PROMPT


def test_the_bedrock_backend_hands_out_its_session_for_the_chosen_region(tmp_path, fake_credentials):
    session = bedrock_backend(tmp_path).aws_session()

    assert session is not None
    assert session.region_name == "us-east-1"


def test_bedrock_without_credentials_is_not_ready_and_says_what_to_do(tmp_path, sealed_aws_environment):
    status = bedrock_backend(tmp_path).status()

    assert not status.ready
    assert status.message.startswith("No AWS credentials found: run 'aws configure'")
    assert status.details["profile"] == "default chain"


def test_a_profile_that_does_not_exist_makes_the_session_and_teacher_unavailable(tmp_path, sealed_aws_environment):
    settings = Settings(data_dir=tmp_path / "studio", backend="bedrock", aws_profile="no-such-profile")
    backend = BedrockBackend(settings, Store(settings.store_path))

    with pytest.raises(BackendUnavailable, match="no-such-profile") as raised:
        backend.aws_session()
    with pytest.raises(BackendUnavailable, match="no-such-profile"):
        backend.teacher()
    assert not backend.status().ready
    assert backend.status().message == str(raised.value)
