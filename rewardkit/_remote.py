"""The remote trainer adapters' client: batches posted to a served rewardkit's AWS Nova batch route.

`POST {url}/rewards/{name}/nova` takes a JSON list of `{"id", "messages", "reference_answer", "metadata"}`
and answers, in the order received, a list of `{"id", "aggregate_reward_score", "metrics_list": [{"name",
"value", "type"}]}` (the reward Lambda contract of Nova reinforcement fine-tuning, which `rewardkit serve`
speaks). A trainer's batch is cut into `batch_size` items per request, at most `concurrency` requests in
flight; 408/429/5xx answers and connection errors are retried (clients/_retry.py's policy) until `deadline`
seconds have passed, then the items fail with SERVICE_UNAVAILABLE. The route answers a batch in which a
reward failed on some items (and declares no fallback) with 500 (422 if only gold answers are missing) and
`failed: [{id, index, error_code, error}]`, scoring none of it (rewardkit/contracts/nova.py): those items
take their failure and the others are posted again. Any other error status raises RemoteError: a wrong
URL, reward name, token or body is a configuration mistake, not a bad completion.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import httpx

from ._embedded import AdapterError
from ._invoke import ComponentOutcome, Failure, Outcome
from ._score import Score
from .clients._retry import delay, should_retry

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
REMOTE_FAILED = "REMOTE_FAILED"  # the server scored nothing for an item and said no more
NOVA_ROUTE = "/rewards/{name}/nova"
DEFAULT_BATCH = 32
DEFAULT_CONCURRENCY = 8
DEFAULT_DEADLINE = 300.0  # seconds one request may spend on retries before its items fail
DEFAULT_TIMEOUT = 600.0  # seconds for one answer: a batch of slow rewards takes a while


class RemoteError(AdapterError):
    """The served rewardkit refused the request for a reason retrying cannot fix (status and its message)."""


def jsonable(value: Any) -> Any:
    """`value` as JSON can carry it: numpy scalars and arrays (verl's non-tensor batch) as plain values."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars, torch tensors
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def nova_item(index: int, messages: Sequence[Mapping[str, Any]], reference_answer: Any,
              metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One item of the route's body. The route reads a text `reference_answer` as the ground truth and the
    keys of `metadata` as references; `messages` must end with the answer's assistant turn."""
    item: dict[str, Any] = {"id": str(index), "messages": jsonable(list(messages))}
    if reference_answer is not None:
        item["reference_answer"] = jsonable(reference_answer)
    if metadata:
        item["metadata"] = jsonable(metadata)
    return item


@dataclass(frozen=True)
class RemoteOptions:
    concurrency: int = DEFAULT_CONCURRENCY
    batch_size: int = DEFAULT_BATCH
    deadline: float = DEFAULT_DEADLINE
    timeout: float = DEFAULT_TIMEOUT
    auth_token: str | None = None


def _outcome(reward: str, answer: Any) -> Outcome:
    """One answered item as the Outcome the in-process engine would have given: the score, the reward's
    metrics (`<reward>.<metric>` entries), its components ("Reward" entries of other names, with their own
    metrics), and a fallback's failure (the Metric `<reward>.error.<CODE>`)."""
    if not isinstance(answer, Mapping):
        return Outcome(reward, failure=Failure(REMOTE_FAILED, f"the server answered {answer!r:.200} for an item"))
    value = answer.get("aggregate_reward_score")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return Outcome(reward, failure=Failure(REMOTE_FAILED, f"the server gave no score for item {answer.get('id')!r}"))
    parts: dict[str, float] = {}  # component -> its score
    metrics: dict[str, dict[str, float]] = {}  # reward or component -> its metrics
    failure: Failure | None = None
    for entry in answer.get("metrics_list") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), (int, float)):
            continue
        name, number = str(entry.get("name", "")), float(entry["value"])
        if entry.get("type") == "Reward":
            if name != reward:
                parts[name] = number
        elif name.startswith(f"{reward}.error."):
            failure = Failure(name.rsplit(".", 1)[1], "the server scored this item with the reward's fallback")
        elif "." in name and not name.split(".", 1)[1].startswith("error."):
            owner, metric = name.split(".", 1)
            metrics.setdefault(owner, {})[metric] = number
    components = tuple(ComponentOutcome(name, 1.0, Outcome(name, Score(score, None, metrics.get(name, {}))))
                       for name, score in parts.items())
    return Outcome(reward, Score(float(value), None, metrics.get(reward, {})), failure, components=components)


def _failed_items(body: Any, size: int) -> dict[int, Failure] | None:
    """The items a failed batch names (rewardkit's Nova route answers 500, or 422 when only gold answers are
    missing, with `failed: [{index, error_code, error}]` and scores none of the batch); None if it names none."""
    failed = body.get("failed") if isinstance(body, Mapping) else None
    if not isinstance(failed, list) or not failed:
        return None
    found = {entry["index"]: Failure(str(entry.get("error_code") or REMOTE_FAILED), str(entry.get("error", "")))
             for entry in failed if isinstance(entry, Mapping) and isinstance(entry.get("index"), int)
             and 0 <= entry["index"] < size}
    return found or None


class NovaClient:
    """Posts batches to one served rewardkit; thread-safe, one connection pool for every caller."""

    def __init__(self, url: str, options: RemoteOptions | None = None) -> None:
        self.url = url.rstrip("/")
        self.options = options or RemoteOptions()
        headers = {"Authorization": f"Bearer {self.options.auth_token}"} if self.options.auth_token else {}
        bound = self.options.concurrency
        limits = httpx.Limits(max_connections=bound, max_keepalive_connections=bound)
        self._http = httpx.Client(headers=headers, limits=limits, timeout=self.options.timeout)
        self._pool = concurrent.futures.ThreadPoolExecutor(bound, thread_name_prefix="rewardkit-remote")

    def score(self, reward: str, items: Sequence[dict[str, Any]]) -> list[Outcome]:
        """An Outcome per item, in order; chunks of `batch_size` posted `concurrency` at a time."""
        size = max(self.options.batch_size, 1)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        outcomes: list[Outcome] = []
        for answered in self._pool.map(lambda chunk: self._chunk(reward, chunk), chunks):
            outcomes.extend(answered)
        return outcomes

    def _chunk(self, reward: str, chunk: Sequence[dict[str, Any]]) -> list[Outcome]:
        """The chunk's outcomes. A batch that failed on some items answers for none: those items take their
        failure, and the rest go again (each round settles at least one item, so this ends)."""
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(chunk)))
        while pending:
            answered = self._post(reward, [chunk[i] for i in pending])
            if isinstance(answered, list):
                outcomes.update(zip(pending, answered))
                break
            outcomes.update((pending[i], Outcome(reward, failure=failure)) for i, failure in answered.items())
            pending = [index for i, index in enumerate(pending) if i not in answered]
        return [outcomes[i] for i in range(len(chunk))]

    def _post(self, reward: str, items: Sequence[dict[str, Any]]) -> list[Outcome] | dict[int, Failure]:
        """The items' outcomes, or the failures of the items a failed batch names (by position in `items`)."""
        url = self.url + NOVA_ROUTE.format(name=reward)
        give_up = time.monotonic() + self.options.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.post(url, json=list(items))
            except httpx.TransportError as exc:
                why, headers = f"{type(exc).__name__}: {exc}", {}
            else:
                if response.status_code == 200:
                    return self._read(reward, items, response)
                failed = _failed_items(_json(response), len(items))
                if failed is not None:
                    return failed
                if not should_retry(response.status_code, response.headers):
                    raise RemoteError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
                why, headers = f"HTTP {response.status_code}: {response.text[:200]}", dict(response.headers)
            wait = delay(attempt, headers)
            if time.monotonic() + wait > give_up:
                failure = Failure(SERVICE_UNAVAILABLE, f"POST {url} failed {attempt} time(s) within "
                                                       f"{self.options.deadline:g} s; last: {why}")
                return [Outcome(reward, failure=failure) for _ in items]
            time.sleep(wait)

    def _read(self, reward: str, items: Sequence[dict[str, Any]], response: httpx.Response) -> list[Outcome]:
        answers = _json(response)
        if not isinstance(answers, list) or len(answers) != len(items):
            got = f"{len(answers)} answers" if isinstance(answers, list) else f"{response.text[:200]!r}"
            raise RemoteError(f"{response.request.url} answered {got} for {len(items)} items; is it a rewardkit "
                              "serving the Nova batch route?")
        return [_outcome(reward, answer) for answer in answers]

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._http.close()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


_CLIENTS: dict[tuple[str, RemoteOptions], NovaClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client(url: str, options: RemoteOptions) -> NovaClient:
    """The one client of (url, options) in this process."""
    with _CLIENTS_LOCK:
        found = _CLIENTS.get((url, options))
        if found is None:
            found = _CLIENTS[(url, options)] = NovaClient(url, options)
        return found
