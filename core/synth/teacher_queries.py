"""Teacher-written queries: a model on Amazon Bedrock writes the queries of each (focus, difficulty, domain) bucket
of a data mix, instead of the built-in templates.

Each bucket is one Converse call asking for a few more queries than the bucket needs; the reply must be
exactly `{"queries": [...]}` (a code fence around it is tolerated, nothing else), each query one line
within the length limit and free of the strings Nova training data must not hold. Queries are
deduplicated against each other and against an existing set (core.synth.quality near-duplicate keys);
a bucket left short is asked once more for the shortfall. The run is estimated and confirmed first,
replies are checkpointed as they arrive (a rerun pays only for what is missing), and the result is a
dataset like any other, its manifest saying how it was made.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from core.aws.errors import explain_aws_error
from core.aws.models import DEFAULT_TEACHER, MODELS
from core.aws.runtime import ConverseReply, converse
from core.datasets.files import DatasetTags, ManifestFields, make_record
from core.datasets.validation import RESERVED_STRINGS
from core.estimates import CostEstimate, CostItem, require_confirmation
from core.files import atomic_write_text, path_inside
from core.pricing import PriceTable, estimate_tokens
from core.routers.bedrock import APP_TAG
from core.synth.generator import SynthQuery
from core.synth.mix import CUSTOM_DOMAIN, DataMix
from core.synth.quality import near_duplicate_key

WRITER_VERSION = "teacher-queries-1"
QUERY_PROMPT_VERSION = "queries-v1"
CHECKPOINT_FORMAT = "vsrs-query-writer-1"
CHECKPOINTS_DIR = "query-writing"
MAX_QUERY_CHARS = 400
# Ask for a quarter more than a bucket needs, so duplicates and refused lines rarely leave it short.
OVERASK_SHARE = 0.25
MAX_ROUNDS = 2
TOKENS_PER_QUERY = 20
REPLY_OVERHEAD_TOKENS = 30
MAX_OUTPUT_TOKENS = 4000
# Variety matters more than repeatability here: the labels, not the queries, must be the same every time.
TEMPERATURE = 0.8
SHOWN_AVOIDED = 15
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)

WRITER_SYSTEM = (
    "You write realistic search queries that people type into a video search engine. "
    'Answer with JSON only, exactly {"queries": ["...", "..."]}: no numbering, no comments, no other keys.'
)
FOCUS_HINTS: dict[str, str] = {
    "visual": "found mostly by what is seen on screen: objects, colours, actions, places, camera shots",
    "audio": "found mostly by sounds that are not speech: music, instruments, noises, animals, loudness",
    "transcription": "found mostly by the words someone says: quotes, topics people talk about, interviews",
    "metadata": "found mostly by facts about the video: people's names, titles, channels, dates, genres, episodes",
    "mixed": "that need two of these at once, such as a named person saying something, or a sound at a place",
}
DIFFICULTY_HINTS: dict[str, str] = {
    "easy": "short and plain, two to five words",
    "medium": "a natural phrase of five to ten words with one detail",
    "hard": "longer, with several details, a negation or a comparison",
    "edge": "unusual: a typo, a single word, all capitals, a very long rambling request, or another language",
}


@dataclass(frozen=True)
class Bucket:
    focus: str
    difficulty: str
    domain: str
    count: int

    @property
    def key(self) -> str:
        return f"{self.focus}/{self.difficulty}/{self.domain}"


@dataclass(frozen=True)
class BucketFailure:
    """A bucket whose reply could not be used: why, and what the model wrote."""

    bucket: str
    errors: tuple[str, ...]
    raw_text: str


@dataclass
class WrittenQueries:
    mix: DataMix
    model_id: str
    queries: list[SynthQuery]
    requested: int
    duplicates_removed: int = 0
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (bucket, query, reason)
    failures: list[BucketFailure] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    resumed_calls: int = 0
    stopped: bool = False
    teacher_id: str = ""

    @property
    def short_by(self) -> int:
        return self.requested - len(self.queries)

    def records(self) -> list[dict]:
        """Prompt-only records, in bucket order (label them with a teacher like any prompt-only set)."""
        return [make_record(item.query, None) for item in self.queries]

    def tags(self) -> list[DatasetTags]:
        return [DatasetTags(focus=q.focus, difficulty=q.difficulty, domain=q.domain) for q in self.queries]

    def manifest_fields(self) -> ManifestFields:
        return ManifestFields(
            seed=self.mix.seed,
            mix=self.mix.model_dump(),
            generator_version=WRITER_VERSION,
            teacher_id=self.teacher_id or None,
            prompt_version=QUERY_PROMPT_VERSION,
            notes={
                "made_by": "teacher-written queries",
                "writer_model": self.model_id,
                "requested": self.requested,
                "written": len(self.queries),
                "duplicates_removed": self.duplicates_removed,
                "rejected": len(self.rejected),
                "failed_buckets": len(self.failures),
                "cost_usd": round(self.cost_usd, 6),
            },
        )


def buckets(mix: DataMix) -> list[Bucket]:
    """The mix's (focus, difficulty, domain) cells and how many queries each gets, the same for the same seed.

    The marginal counts are exact (DataMix.counts); shuffled with the seed and paired up, they give cells.
    """
    rng = random.Random(mix.seed)
    labels: dict[str, list[str]] = {}
    for group, counts in mix.counts().items():
        labels[group] = [key for key, count in counts.items() for _ in range(count)]
        rng.shuffle(labels[group])
    cells = collections.Counter(zip(labels["focus"], labels["difficulty"], labels["domain"], strict=True))
    return [Bucket(focus, difficulty, domain, count) for (focus, difficulty, domain), count in sorted(cells.items())]


def wanted_for(count: int) -> int:
    return count + math.ceil(count * OVERASK_SHARE)


def bucket_prompt(bucket: Bucket, wanted: int, custom_terms: Sequence[str] = (), avoid: Sequence[str] = ()) -> str:
    domain = (
        f"about these subjects of the user's own: {', '.join(custom_terms[:20])}"
        if bucket.domain == CUSTOM_DOMAIN
        else f"in the {bucket.domain} domain"
    )
    lines = [
        f"Write {wanted} different video search queries {domain}, "
        f"{FOCUS_HINTS[bucket.focus]}. Make them {DIFFICULTY_HINTS[bucket.difficulty]}.",
        f"Each query is one line of at most {MAX_QUERY_CHARS} characters, written as a person would type it.",
        "Never write the strings " + ", ".join(RESERVED_STRINGS) + ".",
    ]
    if avoid:
        lines.append("Do not repeat these or near copies of them: " + "; ".join(avoid[:SHOWN_AVOIDED]) + ".")
    lines.append('Answer with JSON only: {"queries": ["first query", "second query"]}')
    return "\n".join(lines)


def parse_queries(text: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """(queries, refused (query, reason), errors): strictly {"queries": [str, ...]}, a surrounding fence tolerated."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    body = fenced.group(1).strip() if fenced else stripped
    try:
        parsed = json.loads(body)
    except ValueError:
        return [], [], ['the reply is not the JSON object {"queries": [...]}']
    if not isinstance(parsed, dict) or set(parsed) != {"queries"} or not isinstance(parsed["queries"], list):
        return [], [], ['the reply must be exactly {"queries": [...]}, with no other keys']
    kept: list[str] = []
    refused: list[tuple[str, str]] = []
    for item in parsed["queries"]:
        if not isinstance(item, str):
            refused.append((json.dumps(item)[:80], "not text"))
            continue
        query = " ".join(item.split())
        reason = _query_problem(item, query)
        if reason:
            refused.append((query[:80], reason))
        else:
            kept.append(query)
    return kept, refused, []


def _query_problem(raw: str, query: str) -> str | None:
    if not query:
        return "empty"
    if _CONTROL.search(raw.strip()):
        return "more than one line"
    if len(query) > MAX_QUERY_CHARS:
        return f"longer than {MAX_QUERY_CHARS} characters"
    reserved = next((marker for marker in RESERVED_STRINGS if marker in query), None)
    if reserved:
        return f"contains {reserved!r}, which Nova training data must not hold"
    return None


class QueryWriter:
    """A Bedrock model that writes the queries of a data mix, bucket by bucket."""

    def __init__(
        self,
        client,
        *,
        model_key: str = DEFAULT_TEACHER,
        prices: PriceTable | None = None,
        concurrency: int = 4,
        teacher_name: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.model = MODELS[model_key]
        self.model_id = self.model.invoke_id
        self.prices = prices or PriceTable()
        self.concurrency = max(1, concurrency)
        self.teacher_name = teacher_name or self.model.name
        self._sleep = sleep

    def request(self, bucket: Bucket, wanted: int, custom_terms: Sequence[str] = (), avoid: Sequence[str] = ()) -> dict:
        """The exact Converse arguments for one bucket."""
        return {
            "modelId": self.model_id,
            "system": [{"text": WRITER_SYSTEM}],
            "messages": [{"role": "user", "content": [{"text": bucket_prompt(bucket, wanted, custom_terms, avoid)}]}],
            "inferenceConfig": {
                "maxTokens": min(MAX_OUTPUT_TOKENS, REPLY_OVERHEAD_TOKENS + wanted * TOKENS_PER_QUERY * 2),
                "temperature": TEMPERATURE,
            },
            "requestMetadata": {"app": APP_TAG, "mode": "queries", "prompt": QUERY_PROMPT_VERSION},
        }

    def estimate(self, mix: DataMix) -> CostEstimate:
        """One call per bucket (a short bucket may be asked once more); output sized by the queries asked for."""
        plan = buckets(mix)
        input_tokens = sum(
            estimate_tokens(WRITER_SYSTEM + bucket_prompt(b, wanted_for(b.count), mix.custom_vocabulary)) for b in plan
        )
        output_tokens = sum(REPLY_OVERHEAD_TOKENS + wanted_for(b.count) * TOKENS_PER_QUERY for b in plan)
        price = self.prices.get(self.model.key)
        usd = price.cost_usd(input_tokens, output_tokens) if price else None
        detail = (
            f"{len(plan):,} calls for {mix.total:,} queries, "
            f"about {input_tokens:,} input and {output_tokens:,} output tokens"
        )
        return CostEstimate(
            (CostItem(f"Query writing with {self.model.name}", usd, detail),),
            ("A bucket left short by duplicates is asked once more, for what it lacks.",),
        )

    def write(
        self,
        mix: DataMix,
        *,
        existing: Sequence[str] = (),
        confirm: bool = False,
        checkpoint_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> WrittenQueries:
        """Write the mix's queries (ConfirmationRequired with the estimate unless confirmed)."""
        require_confirmation(f"Writing {mix.total:,} queries with {self.model.name}", self.estimate(mix), confirm)
        plan = buckets(mix)
        result = WrittenQueries(mix, self.model_id, [], mix.total, teacher_id=self.teacher_name)
        seen = {near_duplicate_key(query) for query in existing}
        kept: dict[str, list[str]] = {b.key: [] for b in plan}
        checkpoint = _Checkpoint(self._checkpoint_path(checkpoint_dir, mix, existing)) if checkpoint_dir else None
        done = checkpoint.load() if checkpoint else {}
        try:
            for round_number in range(1, MAX_ROUNDS + 1):
                todo = [b for b in plan if len(kept[b.key]) < b.count]
                if not todo or result.stopped:
                    break
                asks = {
                    b.key: (b, wanted_for(b.count - len(kept[b.key])), kept[b.key] if round_number > 1 else [])
                    for b in todo
                }
                replies = self._ask(asks, round_number, done, checkpoint, result, on_progress, should_stop)
                for b in todo:  # in bucket order, so the same replies always keep the same queries
                    reply = replies.get(b.key)
                    if reply is not None:
                        self._keep(b, reply, round_number, kept, seen, result)
        finally:
            if checkpoint is not None:
                checkpoint.close()
        result.queries = [SynthQuery(q, b.focus, b.difficulty, b.domain) for b in plan for q in kept[b.key][: b.count]]
        return result

    # ---- internals ----------------------------------------------------------------------------------------

    def _ask(self, asks, round_number, done, checkpoint, result, on_progress, should_stop) -> dict[str, dict]:
        replies: dict[str, dict] = {}
        pending = []
        for key, (bucket, wanted, avoid) in asks.items():
            previous = done.get((key, round_number))
            if previous is not None:
                replies[key] = previous
                result.resumed_calls += 1
            else:
                pending.append((key, self.request(bucket, wanted, result.mix.custom_vocabulary, avoid)))
        finished = len(replies)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="queries") as pool:
            futures = {pool.submit(self._call, request): key for key, request in pending}
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                key = futures[future]
                entry = future.result()
                replies[key] = entry
                result.calls += 1
                if checkpoint is not None and "e" not in entry:
                    checkpoint.append({"b": key, "r": round_number, **entry})
                finished += 1
                if on_progress is not None:
                    on_progress(finished, len(asks))
                if not result.stopped and should_stop is not None and should_stop():
                    # Calls already running are paid for: they are kept; the rest are not sent.
                    result.stopped = True
                    for other in futures:
                        other.cancel()
        return replies

    def _call(self, request: dict) -> dict[str, Any]:
        try:
            reply: ConverseReply = converse(self.client, request, sleep=self._sleep)
        except Exception as exc:  # one bucket's failure is listed; the others go on
            return {"e": str(explain_aws_error(exc)), "t": "", "it": 0, "ot": 0}
        return {"t": reply.text or "", "it": reply.input_tokens or 0, "ot": reply.output_tokens or 0}

    def _keep(self, bucket: Bucket, reply: dict, round_number: int, kept, seen, result: WrittenQueries) -> None:
        result.input_tokens += reply["it"]
        result.output_tokens += reply["ot"]
        result.cost_usd += self.prices.cost_usd(self.model.key, reply["it"], reply["ot"])
        if "e" in reply:
            result.failures.append(BucketFailure(bucket.key, (reply["e"],), ""))
            return
        queries, refused, errors = parse_queries(reply["t"])
        if errors:
            result.failures.append(BucketFailure(bucket.key, tuple(errors), reply["t"]))
            return
        result.rejected += [(bucket.key, query, reason) for query, reason in refused]
        for query in queries:
            duplicate_key = near_duplicate_key(query)
            if duplicate_key in seen:
                result.duplicates_removed += 1
                continue
            seen.add(duplicate_key)
            kept[bucket.key].append(query)

    def _checkpoint_path(self, folder: Path | None, mix: DataMix, existing: Sequence[str]) -> Path:
        identity = json.dumps(
            {
                "model": self.model_id,
                "prompt": QUERY_PROMPT_VERSION,
                "mix": mix.model_dump(),
                "existing": hashlib.sha256("\n".join(existing).encode("utf-8")).hexdigest(),
            },
            sort_keys=True,
        )
        name = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]
        return path_inside(Path(folder or "."), CHECKPOINTS_DIR, f"{name}.ckpt.jsonl")


class _Checkpoint:
    """Finished replies, one JSON line each after a header; a torn last line is ignored."""

    def __init__(self, path: Path):
        self.path = path
        self._handle: TextIO | None = None

    def load(self) -> dict[tuple[str, int], dict]:
        try:
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except FileNotFoundError:
            lines = []
        if not lines or lines[0] != json.dumps({"format": CHECKPOINT_FORMAT}):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps({"format": CHECKPOINT_FORMAT}) + "\n")
            return {}
        found: dict[tuple[str, int], dict] = {}
        for line in lines[1:-1]:  # the last piece is empty, or a line a crash cut short
            try:
                entry = json.loads(line)
                found[(str(entry["b"]), int(entry["r"]))] = {
                    "t": str(entry["t"]),
                    "it": int(entry["it"]),
                    "ot": int(entry["ot"]),
                }
            except (ValueError, KeyError, TypeError):
                continue
        if lines[-1]:
            with open(self.path, "r+b") as handle:
                handle.truncate(len("\n".join(lines[:-1]).encode("utf-8")) + 1)
        return found

    def append(self, entry: dict) -> None:
        if self._handle is None:
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
