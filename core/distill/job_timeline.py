"""Where a job stands: each phase's state in Bedrock's words, and how long the job has run."""

from __future__ import annotations

from datetime import UTC, datetime

from core.distill.jobs import Job, JobPhase

PHASES: tuple[JobPhase, ...] = (JobPhase.VALIDATION, JobPhase.DATA_PROCESSING, JobPhase.TRAINING)
# Phase states use Bedrock's words (statusDetails of get_model_customization_job).
NOT_STARTED = "NotStarted"


def phase_states(job: Job) -> list[tuple[JobPhase, str]]:
    """Each phase with its state in Bedrock's words: the service's own sub-statuses where it reports them (a
    Bedrock job's statusDetails), else done before the current phase and not started after (Job.phases)."""
    return [(JobPhase(phase), phase_state) for phase, phase_state in job.phases()]


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
