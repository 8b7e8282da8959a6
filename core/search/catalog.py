"""A search catalog: video segments with what is seen, heard and said, and their video's metadata.

One segment is one line of a catalog file (JSONL), with these fields:
`id`, `video_id`, `start_s`, `end_s` (seconds into the video), `caption` (what is seen), `audio_description`
(what is heard besides speech), `transcript` (what is said), and the video's metadata: `title`, `people`
(a list of names), `genre`, `upload_date` (YYYY-MM-DD) and `channel`. A video's metadata is the same on
every one of its segments. core.search.importing checks a user's file line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

# The fields of a catalog line, in the order files are written.
SEGMENT_FIELDS: tuple[str, ...] = (
    "id",
    "video_id",
    "start_s",
    "end_s",
    "caption",
    "audio_description",
    "transcript",
    "title",
    "people",
    "genre",
    "upload_date",
    "channel",
)
# Fields every segment of one video shares.
VIDEO_FIELDS: tuple[str, ...] = ("title", "people", "genre", "upload_date", "channel")
# The text each channel searches (metadata is the video fields).
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "visual": ("caption",),
    "audio": ("audio_description",),
    "transcription": ("transcript",),
    "metadata": VIDEO_FIELDS,
}
DEFAULT_SEGMENTS = 2_000
MAX_SEGMENTS = 10_000


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    video_id: str
    start_s: float
    end_s: float
    caption: str
    audio_description: str
    transcript: str
    title: str
    people: tuple[str, ...]
    genre: str
    upload_date: str
    channel: str

    def metadata_text(self) -> str:
        """What the metadata channel indexes: title, people, genre, the upload date in words and digits, channel."""
        return " ".join((self.title, ", ".join(self.people), self.genre, date_words(self.upload_date), self.channel))

    def combined_text(self) -> str:
        """Every field in one text: what the single combined index of the baseline sees."""
        return " ".join((self.caption, self.audio_description, self.transcript, self.metadata_text()))

    def time_range(self) -> str:
        return f"{clock(self.start_s)}-{clock(self.end_s)}"

    def to_json_dict(self) -> dict[str, object]:
        return {name: list(self.people) if name == "people" else getattr(self, name) for name in SEGMENT_FIELDS}


@dataclass(frozen=True)
class Catalog:
    """Segments in file order; a segment's position is its row in every channel's index."""

    segments: tuple[Segment, ...]

    def __len__(self) -> int:
        return len(self.segments)

    @cached_property
    def positions(self) -> dict[str, int]:
        return {segment.id: index for index, segment in enumerate(self.segments)}

    @cached_property
    def video_count(self) -> int:
        return len({segment.video_id for segment in self.segments})

    def segment(self, segment_id: str) -> Segment:
        return self.segments[self.positions[segment_id]]

    def to_jsonl(self) -> str:
        return "".join(json.dumps(s.to_json_dict(), ensure_ascii=False) + "\n" for s in self.segments)


def catalog_of(segments: Iterable[Segment]) -> Catalog:
    return Catalog(tuple(segments))


def segment_from_dict(record: dict) -> Segment:
    """A segment from an already validated catalog line."""
    return Segment(
        id=record["id"],
        video_id=record["video_id"],
        start_s=float(record["start_s"]),
        end_s=float(record["end_s"]),
        caption=record["caption"],
        audio_description=record["audio_description"],
        transcript=record["transcript"],
        title=record["title"],
        people=tuple(record["people"]),
        genre=record["genre"],
        upload_date=record["upload_date"],
        channel=record["channel"],
    )


MONTHS: Sequence[str] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def date_words(iso_date: str) -> str:
    """'2021-03-14' as '14 March 2021 2021-03-14', so "March 2021" and the digits both find it."""
    day = date.fromisoformat(iso_date)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year} {iso_date}"


def clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:04.1f}"
