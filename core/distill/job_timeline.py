"""Where a job stands: each phase's state in Bedrock's words, and how long the job has run."""

from __future__ import annotations

from datetime import UTC, datetime

from core.distill.jobs import Job, JobPhase, JobStatus

PHASES: tuple[JobPhase, ...] = (JobPhase.VALIDATION, JobPhase.DATA_PROCESSING, JobPhase.TRAINING)
# Phase states use Bedrock's words (statusDetails of get_model_customization_job).
NOT_STARTED = "NotStarted"


def phase_states(job: Job) -> list[tuple[JobPhase, str]]:
    """Each phase with its state, as Bedrock reports them: done before the current phase, not started after."""
    current = PHASES.index(JobPhase(job.phase)) if job.phase in set(PHASES) else 0
    states = []
    for index, phase in enumerate(PHASES):
        if job.status == JobStatus.COMPLETED or index < current:
            states.append((phase, JobStatus.COMPLETED.value))
        elif index == current:
            states.append((phase, job.status))
        else:
            states.append((phase, NOT_STARTED))
    return states


def parse_time(timestamp: str | None) -> datetime | None:
    """A store timestamp (UTC, 'YYYY-MM-DD HH:MM:SS[.fff]') as an aware datetime; None when absent or unreadable."""
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp).replace(tzinfo=UTC)
    except ValueError:
        return None


def elapsed_seconds(job: Job, now: datetime | None = None) -> float | None:
    """From submission (as Bedrock counts it, worker start-up included) to the end, or to now while it runs."""
    start = parse_time(job.created_at)
    end = parse_time(job.ended_at) or (now or datetime.now(UTC))
    return None if start is None else max(0.0, (end - start).total_seconds())
