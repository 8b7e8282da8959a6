"""Job rules the pages show: the default job name and the name check, each phase's state, the elapsed time."""

from datetime import datetime

import pytest

from core.aws.names import check_job_name
from core.distill.job_names import default_job_name, job_name_problem
from core.distill.job_timeline import elapsed_seconds, parse_time, phase_states
from core.distill.jobs import Job, JobPhase
from dashboard.widgets.formatting import format_elapsed

BASE = dict(
    id="j",
    name="n",
    backend="local",
    progress=0.3,
    dataset_id=None,
    teacher=None,
    student=None,
    pid=None,
    stop_requested=False,
    failure_message=None,
    model_id=None,
    remote_arn=None,
    created_at="2026-01-01 10:00:00",
    started_at="2026-01-01 10:00:00",
    ended_at=None,
    updated_at="2026-01-01 10:00:00",
)


def test_phase_states_follow_bedrock_words():
    running = Job(status="InProgress", phase="DataProcessing", **BASE)
    assert phase_states(running) == [
        (JobPhase.VALIDATION, "Completed"),
        (JobPhase.DATA_PROCESSING, "InProgress"),
        (JobPhase.TRAINING, "NotStarted"),
    ]
    failed = Job(status="Failed", phase="Validation", **BASE)
    assert [state for _, state in phase_states(failed)] == ["Failed", "NotStarted", "NotStarted"]
    done = Job(status="Completed", phase="Training", **BASE)
    assert {state for _, state in phase_states(done)} == {"Completed"}
    ended = Job(status="Completed", phase="Training", **{**BASE, "ended_at": "2026-01-01 10:02:05.5"})
    assert format_elapsed(elapsed_seconds(ended)) == "2 min 05 s"


def test_default_job_name_is_bedrock_valid_and_skips_taken_names():
    now = datetime(2026, 4, 1, 9, 5)
    assert default_job_name(set(), now) == "router-distill-20260401-0905"
    assert default_job_name({"router-distill-20260401-0905"}, now) == "router-distill-20260401-0905-2"
    assert check_job_name(default_job_name(set(), now)) is None


def test_default_job_name_counts_on_past_every_taken_suffix():
    now = datetime(2026, 4, 1, 9, 5)
    base = "router-distill-20260401-0905"

    assert default_job_name({base, f"{base}-2", f"{base}-3"}, now) == f"{base}-4"


def test_a_job_name_must_follow_bedrocks_rule_then_be_free():
    taken = {"router-distill-a"}

    assert job_name_problem("router_distill", taken) == check_job_name("router_distill")
    assert job_name_problem("router-distill-a", taken) == (
        "A job named 'router-distill-a' already exists: choose another name (New name suggests one)."
    )
    assert job_name_problem("router-distill-b", taken) is None


def test_elapsed_time_runs_to_now_while_a_job_runs_and_is_unknown_without_a_start():
    running = Job(status="InProgress", phase="Training", **BASE)
    unreadable = Job(status="InProgress", phase="Training", **{**BASE, "created_at": "not a time"})

    assert elapsed_seconds(running, now=parse_time("2026-01-01 10:00:42")) == pytest.approx(42.0)
    assert elapsed_seconds(unreadable) is None
    assert parse_time(None) is None
