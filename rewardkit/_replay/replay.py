"""`rewardkit replay`: send recorded requests through the reward service and report how they scored.

In-process, the app is the one `rewardkit serve` runs (`create_app`, its
lifespan, engine and adapters), driven over ASGI with httpx: same routes, same
JSON. With a URL the same requests go over the network to a running service.
The results are checked against the fixtures' expectations and summarised
(distribution, error codes, latency) for a person or for CI.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Sequence

from .._errors import RewardkitError
from ..contracts import Answer, get
from .fixtures import FIXTURE_SUFFIXES, FixtureCase, check, load_cases

if TYPE_CHECKING:
    import httpx

IN_PROCESS_URL = "http://rewardkit"
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 330.0  # seconds: the platforms allow a reward call 5 minutes; a little more for the network
TOKEN_ENV = "REWARDKIT_TOKEN"
REASON_CHARS = 300


class ReplayInputError(RewardkitError):
    """Input that cannot be replayed: no files, a file that matches neither contract, missing credentials."""


# ---- routes and inputs -----------------------------------------------------------

def route(contract: str, reward: str | None) -> str:
    """The path of the service that answers `contract` (a name) for `reward` (None: the default reward)."""
    return get(contract).route_for(reward)


def case_route(case: FixtureCase, reward: str | None = None) -> str:
    """`--reward` wins, else the record's "reward", else the default route."""
    return route(case.contract, reward or case.reward)


def expand_paths(paths: Iterable[str | Path], suffixes: tuple[str, ...] = FIXTURE_SUFFIXES,
                 kind: str = "fixture files") -> list[Path]:
    """Files as given; a directory stands for the files under it whose names end with `suffixes`."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
            if not found:
                patterns = ", ".join(f"*{suffix}" for suffix in suffixes)
                raise ReplayInputError(f"{path}: no {kind} ({patterns}) in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files


def read_cases(paths: Sequence[str | Path]) -> list[FixtureCase]:
    """Every case of every file; FixtureError (file:line: reason) on the first bad record."""
    files = expand_paths(paths)
    if not files:
        raise ReplayInputError("no input files")
    return [case for path in files for case in load_cases(path)]


# ---- one result ------------------------------------------------------------------

def _short(value: Any, limit: int = REASON_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_answer(contract: str, status: int, body: Any) -> Answer:
    """Scores, error code and reason of an answer; a failed answer has no scores."""
    if isinstance(body, str) or body is None:  # not JSON (a proxy's page): no contract reads it
        return Answer((), f"HTTP_{status}", _short(body) if body else None)
    return get(contract).read_answer(status, body)


def describe_expectation(case: FixtureCase) -> str:
    """The expectation in a table cell: "1.0", "[1, 0, 1]", "failed REWARD_ERROR", "500"; "-" for none."""
    e = case.expect
    parts = []
    if e.score is not None:
        parts.append(f"{e.score:g}")
    if e.scores is not None:
        parts.append("[" + ", ".join(f"{s:g}" for s in e.scores) + "]")
    if e.status is not None:
        parts.append(str(e.status))
    if e.error_code is not None:
        parts.append(e.error_code)
    return " ".join(parts) or "-"


def has_expectation(case: FixtureCase) -> bool:
    e = case.expect
    return any(v is not None for v in (e.score, e.scores, e.status, e.error_code))


@dataclass(frozen=True)
class ReplayResult:
    """One replayed case: where it went, what came back, and whether that is what was expected."""

    case: FixtureCase
    route: str
    status: int | None  # HTTP status; None when no answer came
    body: Any  # the JSON answer (text when it was not JSON)
    latency: float  # seconds
    answer: Answer
    problems: tuple[str, ...]  # empty when it passed

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def checked(self) -> bool:
        return has_expectation(self.case)

    def to_json(self, include_body: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.case.id, "source": self.case.source, "contract": self.case.contract,
            "reward": self.case.reward, "route": self.route, "http_status": self.status,
            "scores": list(self.answer.scores),
            "score": self.answer.scores[0] if len(self.answer.scores) == 1 else None,
            "expected": describe_expectation(self.case) if self.checked else None,
            "passed": self.passed, "problems": list(self.problems),
            "error_code": self.answer.error_code, "reason": self.answer.reason,
            "latency_ms": round(self.latency * 1000, 3),
        }
        if include_body:
            out["response"] = self.body
        return out


def judge(case: FixtureCase, route_path: str, status: int | None, body: Any, latency: float,
          transport_error: str | None = None) -> ReplayResult:
    """Check an answer against the case's expectation; a case without one must at least be scored."""
    if status is None:
        answer = Answer((), "NO_ANSWER", transport_error)
        return ReplayResult(case, route_path, None, None, latency, answer, (f"no answer: {transport_error}",))
    answer = read_answer(case.contract, status, body)
    if has_expectation(case):
        try:
            problems = check(case, status, body)  # any JSON: a batch contract answers with a list, slime with a number
        except (KeyError, TypeError, ValueError) as exc:
            problems = [f"the answer does not match the {case.contract} contract: {type(exc).__name__}: {exc}"]
    elif not answer.scores:
        problems = [f"not scored: HTTP {status}, {answer.error_code}: {answer.reason or 'no reason given'}"]
    else:
        problems = []
    return ReplayResult(case, route_path, status, body, latency, answer, tuple(problems))


# ---- running ---------------------------------------------------------------------

def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


async def _replay_one(client: httpx.AsyncClient, case: FixtureCase, reward: str | None) -> ReplayResult:
    import httpx

    path = case_route(case, reward)
    started = time.perf_counter()
    try:
        response = await client.post(path, json=case.request)
    except httpx.HTTPError as exc:
        return judge(case, path, None, None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    latency = time.perf_counter() - started
    return judge(case, path, response.status_code, _decode(response), latency)


async def _replay_all(client: httpx.AsyncClient, cases: Sequence[FixtureCase], reward: str | None, concurrency: int,
                      on_result: Callable[[ReplayResult], None] | None) -> list[ReplayResult]:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def bounded(case: FixtureCase) -> ReplayResult:
        async with gate:
            result = await _replay_one(client, case, reward)
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(bounded(case) for case in cases)))


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@asynccontextmanager
async def service_client(*, target: str = "rewards", reward: str | None = None, url: str | None = None,
                         token: str | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                         timeout: float = DEFAULT_TIMEOUT, settings: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """An async httpx client for the reward service: `url`, or the app of `target` run in this process.

    In-process the app is the one `rewardkit serve` runs, lifespan included
    (RewardkitError when it cannot load or start). `token` is sent as
    `Authorization: Bearer`; at most `concurrency` connections are open.
    """
    import httpx  # here, not at import: `rewardkit serve` builds the replay parser too

    headers = auth_headers(token)
    limits = httpx.Limits(max_connections=max(1, concurrency))
    if url is not None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits) as client:
            yield client
        return
    from .._serving.app import create_app

    app = create_app(target, reward=reward, settings=settings)
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: an unexpected error is a 500 answer, as it is over the network.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_URL,
                                     headers=headers, timeout=timeout, limits=limits) as client:
            yield client


async def send_all(client: httpx.AsyncClient, cases: Sequence[FixtureCase], *, reward: str | None = None,
                   concurrency: int = DEFAULT_CONCURRENCY,
                   on_result: Callable[[ReplayResult], None] | None = None) -> list[ReplayResult]:
    """Send every case through `client` (at most `concurrency` at once) and judge the answers, in input order."""
    return await _replay_all(client, cases, reward, concurrency, on_result)


async def replay(cases: Sequence[FixtureCase], *, target: str = "rewards", reward: str | None = None,
                 url: str | None = None, token: str | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                 timeout: float = DEFAULT_TIMEOUT, settings: Any = None,
                 on_result: Callable[[ReplayResult], None] | None = None) -> list[ReplayResult]:
    """Send every case and judge the answers, in input order.

    Without `url` the app of `target` runs in this process exactly as
    `rewardkit serve` would run it (RewardkitError when it cannot load or
    start); with `url` the requests go to that running service. `token` is sent
    as `Authorization: Bearer`. At most `concurrency` requests are in flight.
    """
    async with service_client(target=target, reward=reward, url=url, token=token, concurrency=concurrency,
                              timeout=timeout, settings=settings) as client:
        return await _replay_all(client, cases, reward, concurrency, on_result)
