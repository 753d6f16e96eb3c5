"""The remote trainer adapters' client: a trainer's batch posted to a served rewardkit's batch route.

Which route, and how its body and answer look, is the `Wire` a contract provides (the faces pass the Nova
one: rewardkit.contracts.nova_client). A batch is cut into `batch_size` items per request, at most
`concurrency` requests in flight; 408/429/5xx answers and connection errors are retried (rewardkit/_retry.py's
BATCH policy) until `deadline` seconds have passed, then the items fail with SERVICE_UNAVAILABLE. A batch the
server failed on some items names them (the wire's `failed`), and scores none of it: those items take their
failure and the others are posted again. Any other error status raises RemoteError: a wrong URL, reward
name, token or body is a configuration mistake, not a bad completion.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

import httpx

from .. import _retry
from .._errors import SERVICE_UNAVAILABLE, RewardkitError
from .._outcome import Failure, Outcome

DEFAULT_BATCH = 32
DEFAULT_CONCURRENCY = 8
DEFAULT_DEADLINE = 300.0  # seconds one request may spend on retries before its items fail
DEFAULT_TIMEOUT = 600.0  # seconds for one answer: a batch of slow rewards takes a while


class RemoteError(RewardkitError):
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


@dataclass(frozen=True)
class RemoteOptions:
    concurrency: int = DEFAULT_CONCURRENCY
    batch_size: int = DEFAULT_BATCH
    deadline: float = DEFAULT_DEADLINE
    timeout: float = DEFAULT_TIMEOUT
    auth_token: str | None = None


class Wire(Protocol):
    """A batch route's body and answer (a contract's client half, e.g. rewardkit.contracts.nova_client)."""

    route: str  # with {name}

    def item(self, index: int, messages: Sequence[Mapping[str, Any]], reference_answer: Any,
             metadata: Mapping[str, Any] | None = None) -> dict[str, Any]: ...

    def read(self, reward: str, answers: Any, size: int) -> list[Outcome] | None: ...

    def failed(self, body: Any, size: int) -> dict[int, Failure] | None: ...


class BatchClient:
    """Posts batches to one served rewardkit; thread-safe, one connection pool for every caller."""

    def __init__(self, url: str, wire: Wire, options: RemoteOptions | None = None) -> None:
        self.url = url.rstrip("/")
        self.wire = wire
        self.options = options or RemoteOptions()
        headers = {"Authorization": f"Bearer {self.options.auth_token}"} if self.options.auth_token else {}
        bound = self.options.concurrency
        limits = httpx.Limits(max_connections=bound, max_keepalive_connections=bound)
        self._http = httpx.Client(headers=headers, limits=limits, timeout=self.options.timeout)
        self._pool = concurrent.futures.ThreadPoolExecutor(bound, thread_name_prefix="rewardkit-remote")
        self._listing: dict[str, Any] | None = None

    def metric_keys(self, reward: str) -> tuple[str, ...]:
        """The flat metric keys `reward` declares, from the server's GET /rewards (read once per client; retried
        as a post is, within `deadline`). RemoteError when it cannot be read or does not list `reward`."""
        if self._listing is None:
            self._listing = self._read_listing()
        entry = self._listing.get(reward)
        if entry is None:
            served = ", ".join(self._listing)
            raise RemoteError(f"{self.url} serves no reward {reward!r}; it serves: {served}")
        return tuple(entry.get("metrics") or ())

    def _read_listing(self) -> dict[str, dict[str, Any]]:
        url = self.url + "/rewards"

        def attempt() -> dict[str, dict[str, Any]] | _retry.Again:
            try:
                response = self._http.get(url)
            except httpx.TransportError as exc:
                return _retry.Again("connection", f"{type(exc).__name__}: {exc}")
            listing = _json(response)
            if response.status_code == 200 and isinstance(listing, dict):
                return {str(e.get("name")): e for e in listing.get("rewards") or () if isinstance(e, dict)}
            if not _retry.should_retry(response.status_code, response.headers):
                raise RemoteError(f"GET {url} answered {response.status_code}: {response.text[:500]}")
            return _retry.Again(str(response.status_code), f"HTTP {response.status_code}", dict(response.headers))

        found = _retry.call(attempt, _retry.BATCH, time.monotonic() + self.options.deadline)
        if isinstance(found, _retry.GaveUp):
            raise RemoteError(f"GET {url} (the rewards' metric names) failed within {self.options.deadline:g} s "
                              f"after {found}")
        return found

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
                outcomes.update(zip(pending, answered, strict=True))
                break
            outcomes.update((pending[i], Outcome(reward, failure=failure)) for i, failure in answered.items())
            pending = [index for i, index in enumerate(pending) if i not in answered]
        return [outcomes[i] for i in range(len(chunk))]

    def _post(self, reward: str, items: Sequence[dict[str, Any]]) -> list[Outcome] | dict[int, Failure]:
        """The items' outcomes, or the failures of the items a failed batch names (by position in `items`)."""
        url = self.url + self.wire.route.format(name=reward)

        def attempt() -> list[Outcome] | dict[int, Failure] | _retry.Again:
            try:
                response = self._http.post(url, json=jsonable(list(items)))
            except httpx.TransportError as exc:
                return _retry.Again("connection", f"{type(exc).__name__}: {exc}")
            if response.status_code == 200:
                return self._read(reward, items, response)
            failed = self.wire.failed(_json(response), len(items))
            if failed is not None:
                return failed
            if not _retry.should_retry(response.status_code, response.headers):
                raise RemoteError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
            return _retry.Again(str(response.status_code), f"HTTP {response.status_code}: {response.text[:200]}",
                                dict(response.headers))

        answered: list[Outcome] | dict[int, Failure] | _retry.GaveUp = _retry.call(
            attempt, _retry.BATCH, time.monotonic() + self.options.deadline)
        if isinstance(answered, _retry.GaveUp):
            failure = Failure(SERVICE_UNAVAILABLE, f"POST {url} failed within {self.options.deadline:g} s after "
                                                   f"{answered}")
            return [Outcome(reward, failure=failure) for _ in items]
        return answered

    def _read(self, reward: str, items: Sequence[dict[str, Any]], response: httpx.Response) -> list[Outcome]:
        outcomes = self.wire.read(reward, _json(response), len(items))
        if outcomes is None:
            raise RemoteError(f"{response.request.url} answered {response.text[:200]!r} for {len(items)} items: not "
                              f"one answer per item; is it a rewardkit serving {self.wire.route}?")
        return outcomes

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._http.close()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


_CLIENTS: dict[tuple[str, Wire, RemoteOptions], BatchClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client(url: str, wire: Wire, options: RemoteOptions) -> BatchClient:
    """The one client of (url, wire, options) in this process."""
    with _CLIENTS_LOCK:
        found = _CLIENTS.get((url, wire, options))
        if found is None:
            found = _CLIENTS[(url, wire, options)] = BatchClient(url, wire, options)
        return found
