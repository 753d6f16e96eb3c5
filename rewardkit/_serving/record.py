"""Recording: a JSONL copy of each scored request and its answer, written off the request path.

The scoring route hands the recorder what it already holds (body, parsed
samples, outcomes, rendered answer) with one `put_nowait` on a bounded queue;
a thread builds the lines, writes them and rotates the files. When the queue is
full the record is dropped and counted (`rewardkit_records_dropped_total`): a
request never waits for the disk.

Each line is a fixture record (rewardkit/_replay/fixtures.py reads it): the
request as it came, `expect` holding the answer it got, and `recorded` with what
the report reads (per sample: score, components, failure code, reason, step,
job and sample ids, response length, a prompt group key). So `rewardkit replay
FOLDER` checks that the rewards still answer as they did, and `rewardkit report`
draws the run. Headers are not recorded, except the trace ids.

Only requests that reached the rewards are recorded: refusals before scoring
(a bad body, an unknown reward, 503 busy, a client gone) have no answer to
replay; the metrics and the access log count them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import AbstractSet, Any, Callable, Mapping

from pydantic_core import to_json

from .._errors import RewardkitError
from .._outcome import Outcome
from .._registry import AnySpec
from .._sample import Sample
from .._settings import Settings
from ..contracts import Contract, Parsed

log = logging.getLogger("rewardkit")

# Records waiting for the writer. A record holds its request body, up to --max-body-mb: 1,000 bodies of a
# typical few kB are a few MB; past this the writer is behind by far more than a burst, and records are dropped.
QUEUE_SIZE = 1000
BATCH = 256  # records written between flushes, at most
SUFFIX = ".reward.jsonl"  # what `rewardkit replay FOLDER` picks up
REDACTED = "[redacted]"
PIECE_CHARS = 8  # a part of a prompt turn shorter than this stays: below it, ids and numbers match by chance
EXCERPT_CHARS = 600  # of each response, for the report's examples (the whole response stays in `request`)
# Keys whose string values name the body's structure, never the prompt's text (a role "user" is a substring
# of many prompts): redaction leaves them, so a redacted body still parses.
STRUCTURE_KEYS = frozenset({"role", "type", "name", "id", "tool_call_id", "mime_type", "mimeType"})
# Headers a record keeps: the caller's trace ids, to find the request's trace and logs. Nothing else (secrets).
KEPT_HEADERS = (b"traceparent", b"x-cloud-trace-context", b"x-fc-request-id")
UNSUPPORTED_SCHEMES = ("gs://", "oss://", "s3://")


class RecordError(RewardkitError):
    """A --record destination rewardkit cannot write to."""


@dataclass(frozen=True)
class Scored:
    """What the scoring route hands over: everything is already built; the writer thread makes the line."""

    contract: Contract
    spec: AnySpec
    raw: Any
    parsed: Parsed
    outcomes: list[Outcome]
    status: int
    content: Any
    seconds: float
    headers: Mapping[bytes, bytes]
    at: float  # time.time() when answered


def _prompt_texts(sample: Sample) -> set[str]:
    """The prompt's text as a reward sees it: user and system turns, the system instruction."""
    turns = (*sample.prompt, *sample.trajectory)
    texts = {m.text for m in turns if m.role in ("user", "system") and m.text}
    if sample.system:
        texts.add(sample.system)
    return texts


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _scored_texts(sample: Sample) -> set[str]:
    """What the reward scores: the response and the gold answer, never redacted (the record must replay)."""
    return {t for t in (sample.response, sample.thinking, *_strings(sample.references), *_strings(sample.ground_truth))
            if t}


def redact(body: Any, prompts: AbstractSet[str], kept: AbstractSet[str] = frozenset()) -> Any:
    """`body` with each string that is (a piece of) a prompt text replaced: a contract may split a turn into
    parts, each a piece of the text the Sample holds. A string that is also (in) a response or a gold answer
    stays: it is written anyway, and the reward reads it."""
    if isinstance(body, dict):
        return {k: v if k in STRUCTURE_KEYS and isinstance(v, str) else redact(v, prompts, kept)
                for k, v in body.items()}
    if isinstance(body, list):
        return [redact(v, prompts, kept) for v in body]
    if isinstance(body, str) and _is_prompt(body, prompts) and not any(body in text for text in kept):
        return REDACTED
    return body


def _is_prompt(text: str, prompts: AbstractSet[str]) -> bool:
    """A whole prompt text, or a piece of one long enough not to be an id or a number that happens to occur in
    it (a Vertex job id "7" in "What is 7 * 6?" must stay: the body would no longer parse)."""
    if text in prompts:
        return True
    return len(text) >= PIECE_CHARS and any(text in prompt for prompt in prompts)


def group_key(sample: Sample) -> str:
    """The same for every response to one prompt: what the report groups by (GRPO's group)."""
    digest = hashlib.blake2b(digest_size=8)
    for message in sample.prompt:
        digest.update(f"{message.role}\0{message.text}\0".encode())
    digest.update(json.dumps(sample.reference(), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _outcome_fields(outcome: Outcome) -> dict[str, Any]:
    fields: dict[str, Any] = {"score": outcome.value}
    if outcome.score is not None and outcome.score.reason:
        fields["reason"] = outcome.score.reason
    if outcome.failure is not None:
        fields["failure"] = {"code": outcome.failure.code, "message": outcome.failure.message}
    return fields


def sample_fields(sample: Sample, outcome: Outcome) -> dict[str, Any]:
    meta = sample.metadata
    fields: dict[str, Any] = {"reward": outcome.reward, **_outcome_fields(outcome)}
    if outcome.components:
        fields["components"] = {c.name: _outcome_fields(c.outcome) for c in outcome.components}
    ids = {"step": meta.step, "job_id": meta.job_id, "sample_id": meta.sample_id, "rollout_id": meta.rollout_id}
    fields.update({k: v for k, v in ids.items() if v is not None})
    fields["group"] = group_key(sample)
    fields["response_chars"] = len(sample.response)
    fields["response"] = sample.response[:EXCERPT_CHARS]
    return fields


def expectation(contract: Contract, status: int, answer: Any) -> dict[str, Any]:
    """The answer as a fixture's `expect`: what a replay must get again."""
    read = contract.read_answer(status, answer)
    expect: dict[str, Any] = {"status": status}
    if len(read.scores) == 1:
        expect["score"] = read.scores[0]
    elif read.scores:
        expect["scores"] = list(read.scores)
    if read.error_code is not None:
        expect["error_code"] = read.error_code
    return expect


def record_line(item: Scored, *, redact_prompt: bool) -> dict[str, Any]:
    answer = json.loads(to_json(item.content))
    samples = [sample_fields(s, o) for s, o in zip(item.parsed.samples, item.outcomes, strict=True)]
    request = item.raw
    if redact_prompt:
        prompts = set().union(*(_prompt_texts(s) for s in item.parsed.samples))
        kept = set().union(*(_scored_texts(s) for s in item.parsed.samples))
        request = redact(request, prompts, kept)
    headers = {k.decode(): item.headers[k].decode("latin-1") for k in KEPT_HEADERS if k in item.headers}
    recorded = {
        "at": datetime.fromtimestamp(item.at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "contract": item.contract.name, "http_status": item.status, "latency_ms": round(item.seconds * 1000, 3),
        "ids": dict(item.parsed.log_fields), "headers": headers, "redacted": ["prompt"] if redact_prompt else [],
        "samples": samples, "answer": answer,
    }
    return {"id": uuid.uuid4().hex[:16], "reward": item.spec.name, "request": request,
            "expect": expectation(item.contract, item.status, answer), "recorded": recorded}


def check_destination(destination: str) -> Path:
    """The folder to record into, created; RecordError names what is wrong."""
    if destination.startswith(UNSUPPORTED_SCHEMES):
        raise RecordError(f"--record {destination}: object-store prefixes are not supported yet; mount the bucket "
                          "as a volume (Cloud Storage FUSE, an OSS mount) and record to its folder")
    folder = Path(destination)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordError(f"--record {destination}: cannot create the folder: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RecordError(f"--record {destination}: the folder is not writable by this process")
    return folder


class RotatingFile:
    """Record files in one folder, a new one past a size or an age; each named for when and where it began."""

    def __init__(self, folder: Path, max_bytes: int, max_seconds: float) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._file: Any = None
        self._opened = 0.0
        self._count = 0

    def write(self, lines: list[bytes]) -> None:
        """Write the lines, each whole in one file; flushed, so a reader sees every line written."""
        for line in lines:
            if self._file is None:
                self._open()
            self._file.write(line)
            if self._file.tell() >= self.max_bytes:
                self.close()
        if self._file is not None:
            self._file.flush()

    def expire(self) -> None:
        """Close the file once it is older than the rotation age (a new one opens with the next record)."""
        if self._file is not None and time.monotonic() - self._opened >= self.max_seconds:
            self.close()

    def _open(self) -> None:
        self._count += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = self.folder / f"records-{stamp}-{os.getpid()}-{self._count:04d}{SUFFIX}"
        self._file = open(path, "ab")  # noqa: SIM115 - kept open across batches; closed by close()
        self._opened = time.monotonic()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                os.fsync(file.fileno())
            finally:
                file.close()


class Recorder:
    """The bounded queue and its writer thread. `offer` is the request path's only cost."""

    def __init__(self, folder: Path, *, rate: float = 1.0, redact_prompt: bool = False, max_bytes: int = 64 << 20,
                 max_seconds: float = 3600.0, queue_size: int = QUEUE_SIZE) -> None:
        self.rate = rate
        self.redact_prompt = redact_prompt
        self.file = RotatingFile(folder, max_bytes, max_seconds)
        self._queue: queue.Queue[Scored | None] = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self.on_dropped: Callable[[str, int], None] = lambda reason, count: None
        self.on_written: Callable[[int], None] = lambda count: None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def offer(self, item: Scored) -> None:
        """Queue a record (or skip it, by the sampling rate); never waits."""
        if self.rate < 1.0 and random.random() >= self.rate:
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.on_dropped("queue_full", 1)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rewardkit-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, close the file. Called at shutdown, after the last request was answered."""
        if self._thread is None:
            return
        self._queue.put(None)  # after every record: the writer drains them all before it stops
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the recorder did not finish writing within %g s; %d record(s) may be lost",
                      timeout, self._queue.qsize())
        self._thread = None

    def _run(self) -> None:
        done = False
        while not done:
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                self.file.expire()
                continue
            batch = [first]
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = batch[-1] is None
            self._write([item for item in batch if item is not None])
            self.file.expire()
        self.file.close()

    def _write(self, items: list[Scored]) -> None:
        lines = []
        for item in items:
            try:
                lines.append(to_json(record_line(item, redact_prompt=self.redact_prompt)) + b"\n")
            except Exception:  # a record that cannot be built is lost, never the writer
                log.exception("could not build the record of a %s request", item.spec.name)
                self.on_dropped("unrecordable", 1)
        if not lines:
            return
        try:
            self.file.write(lines)
        except OSError as exc:
            log.error("could not write %d record(s) to %s: %s", len(lines), self.file.folder, exc)
            self.on_dropped("write_error", len(lines))
            try:
                self.file.close()  # the next batch opens a new file: a full or broken one is left as it is
            except OSError:
                pass
            return
        self.on_written(len(lines))


def recorder_for(settings: Settings) -> Recorder | None:
    """The recorder the settings ask for (None without --record); RecordError when it cannot write there."""
    if not settings.record:
        return None
    folder = check_destination(settings.record)
    log.info("recording %s of the scored requests into %s%s", "all" if settings.record_rate >= 1 else
             f"{settings.record_rate:.0%}", folder, " (prompts redacted)" if settings.record_redact_prompt else "")
    return Recorder(folder, rate=settings.record_rate, redact_prompt=settings.record_redact_prompt,
                    max_bytes=int(settings.record_rotate_mb * 1024 * 1024),
                    max_seconds=settings.record_rotate_minutes * 60)
