"""The remote trainer adapters' client: batches posted to a served rewardkit's AWS Nova batch route.

`POST {url}/rewards/{name}/nova` takes a JSON list of `{"id", "messages", "reference_answer", "metadata"}`
and answers, in the order received, a list of `{"id", "aggregate_reward_score", "metrics_list": [{"name",
"value", "type"}]}` (the reward Lambda contract of Nova reinforcement fine-tuning, which `rewardkit serve`
speaks). A trainer's batch is cut into `batch_size` items per request, at most `concurrency` requests in
flight; 408/429/5xx answers and connection errors are retried (clients/_retry.py's policy) until `deadline`
seconds have passed, then the items fail with SERVICE_UNAVAILABLE. Any other error status raises
RemoteError: a wrong URL, reward name, token or body is a configuration mistake, not a bad completion.
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
from ._invoke import Failure, Outcome
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
    item: dict[str, Any] = {"id": str(index), "messages": jsonable(list(messages)),
                            "reference_answer": jsonable(reference_answer)}
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
    """One answered item as an Outcome: its score and metrics, or the failure the server reported."""
    if not isinstance(answer, Mapping):
        return Outcome(reward, failure=Failure(REMOTE_FAILED, f"the server answered {answer!r:.200} for an item"))
    value = answer.get("aggregate_reward_score")
    prefix = f"{reward}."
    metrics: dict[str, float] = {}
    for metric in answer.get("metrics_list") or ():
        if not isinstance(metric, Mapping) or metric.get("type") == "Reward":
            continue  # the Reward entry repeats the aggregate score
        if isinstance(metric.get("value"), (int, float)):
            name = str(metric.get("name", ""))
            metrics[name.removeprefix(prefix)] = float(metric["value"])
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return Outcome(reward, Score(float(value), None, metrics))
    return Outcome(reward, failure=Failure(REMOTE_FAILED, f"the server gave no score for item {answer.get('id')!r}"))


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
        for answered in self._pool.map(lambda chunk: self._post(reward, chunk), chunks):
            outcomes.extend(answered)
        return outcomes

    def _post(self, reward: str, chunk: Sequence[dict[str, Any]]) -> list[Outcome]:
        url = self.url + NOVA_ROUTE.format(name=reward)
        give_up = time.monotonic() + self.options.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.post(url, json=list(chunk))
            except httpx.TransportError as exc:
                why, headers = f"{type(exc).__name__}: {exc}", {}
            else:
                if response.status_code == 200:
                    return self._read(reward, chunk, response)
                if not should_retry(response.status_code, response.headers):
                    raise RemoteError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
                why, headers = f"HTTP {response.status_code}: {response.text[:200]}", dict(response.headers)
            wait = delay(attempt, headers)
            if time.monotonic() + wait > give_up:
                failure = Failure(SERVICE_UNAVAILABLE, f"POST {url} failed {attempt} time(s) within "
                                                       f"{self.options.deadline:g} s; last: {why}")
                return [Outcome(reward, failure=failure) for _ in chunk]
            time.sleep(wait)

    def _read(self, reward: str, chunk: Sequence[dict[str, Any]], response: httpx.Response) -> list[Outcome]:
        try:
            answers = response.json()
        except ValueError:
            answers = None
        if not isinstance(answers, list) or len(answers) != len(chunk):
            got = f"{len(answers)} answers" if isinstance(answers, list) else f"{response.text[:200]!r}"
            raise RemoteError(f"{response.request.url} answered {got} for {len(chunk)} items; is it a rewardkit "
                              "serving the Nova batch route?")
        return [_outcome(reward, answer) for answer in answers]

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._http.close()


_CLIENTS: dict[tuple[str, RemoteOptions], NovaClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client(url: str, options: RemoteOptions) -> NovaClient:
    """The one client of (url, options) in this process."""
    with _CLIENTS_LOCK:
        found = _CLIENTS.get((url, options))
        if found is None:
            found = _CLIENTS[(url, options)] = NovaClient(url, options)
        return found
