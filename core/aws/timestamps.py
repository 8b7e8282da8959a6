"""AWS timestamps in the store's format (UTC, milliseconds: core.store NOW_SQL), so Bedrock's times and the
studio's own sort and show alike."""

from __future__ import annotations

from datetime import UTC, datetime

STORE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def stamp(value: object) -> str | None:
    """A boto3 datetime as the store writes times; None for anything else (a missing field)."""
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STORE_FORMAT)[:-3]


def now_stamp() -> str:
    return datetime.now(UTC).strftime(STORE_FORMAT)[:-3]


def age_s(value: str) -> float:
    """Seconds since a stored time (0 for one that does not parse)."""
    try:
        moment = datetime.strptime(value, STORE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - moment).total_seconds()
