"""`rewardkit replay`: send recorded requests through the reward service and report how they scored.

In-process, the app is the one `rewardkit serve` runs (`create_app`, its
lifespan, engine and adapters), driven over ASGI with httpx: same routes, same
JSON. With a URL the same requests go over the network to a running service.
The results are checked against the fixtures' expectations and summarised
(distribution, error codes, latency) for a person or for CI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TextIO
from urllib.parse import quote

import httpx

from ._errors import RewardkitError
from ._fixtures import FIXTURE_SUFFIXES, Contract, FixtureCase, FixtureError, check, load_cases, served_scores

IN_PROCESS_URL = "http://rewardkit"
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 330.0  # seconds: the platforms allow a reward call 5 minutes; a little more for the network
TOKEN_ENV = "REWARDKIT_TOKEN"
_REASON_CHARS = 300


class ReplayInputError(RewardkitError):
    """Input that cannot be replayed: no files, a file that matches neither contract, missing credentials."""


# ---- routes and inputs -----------------------------------------------------------

def route(contract: Contract, reward: str | None) -> str:
    """The path of the service that answers `contract` for `reward` (None: the default reward)."""
    if reward is None:
        return "/" if contract == "vertex" else "/api/v1"
    path = f"/rewards/{quote(reward, safe='')}"
    return path if contract == "vertex" else f"{path}/api/v1"


def case_route(case: FixtureCase, reward: str | None = None) -> str:
    """`--reward` wins, else the record's "reward", else the default route."""
    return route(case.contract, reward or case.reward)


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; a directory stands for the fixture files (*.reward.json, *.reward.jsonl) under it."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(FIXTURE_SUFFIXES))
            if not found:
                raise ReplayInputError(f"{path}: no fixture files (*.reward.json, *.reward.jsonl) in this folder")
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

@dataclass(frozen=True)
class Answer:
    """What a response says, whichever contract: the scores, an error code and a reason."""

    scores: tuple[float, ...] = ()
    error_code: str | None = None
    reason: str | None = None


def _short(text: Any, limit: int = _REASON_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _metric_codes(metrics: Mapping[str, Any] | None) -> list[str]:
    # A fallback score is reported as metric "<reward>.error.<CODE>": 1.0.
    return [key.rsplit(".error.", 1)[1] for key in metrics or {} if ".error." in key]


def _metrics_text(rewards: Sequence[Mapping[str, Any]]) -> str | None:
    shown = []
    for index, entry in enumerate(rewards):
        metrics = entry.get("reward_metrics") or {}
        if metrics:
            text = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in metrics.items())
            shown.append(text if len(rewards) == 1 else f"[{index}] {text}")
    return "; ".join(shown) or None


def _vertex_reason(aux: Any) -> tuple[str | None, str | None]:
    """(reason, error code) from a `user_requested_aux_info` written by rewardkit (or free text from elsewhere)."""
    if not isinstance(aux, str) or not aux:
        return None, None
    try:
        info = json.loads(aux)
    except ValueError:
        return aux, None
    if not isinstance(info, dict):
        return aux, None
    error = info.get("error") if isinstance(info.get("error"), dict) else None
    reason = info.get("reason")
    if reason is None and isinstance(info.get("components"), dict):
        parts = [f"{name}: {c.get('reason') or (c.get('error') or {}).get('message') or c.get('score')}"
                 for name, c in info["components"].items() if isinstance(c, dict)]
        reason = "; ".join(parts) or None
    if reason is None and error:
        reason = error.get("message")
    if reason is None and "parsed" in info:
        reason = f"parsed {info['parsed']!r}"
    return reason, (error or {}).get("code")


def read_answer(contract: Contract, status: int, body: Any) -> Answer:
    """Scores, error code and reason of an answer; a failed answer has no scores."""
    if not isinstance(body, dict):
        return Answer((), f"HTTP_{status}", _short(body) if body else None)
    if status != 200:
        code = body.get("error_code") or f"HTTP_{status}"
        return Answer((), code, body.get("error") or body.get("message"))
    try:
        scores = tuple(float(s) for s in served_scores(contract, body))
    except (KeyError, TypeError, ValueError) as exc:
        return Answer((), "BAD_ANSWER", f"the answer does not match the {contract} contract ({type(exc).__name__}: "
                      f"{exc}): {_short(json.dumps(body))}")
    if contract == "vertex":
        reason, code = _vertex_reason(body.get("user_requested_aux_info"))
        return Answer(scores, code, reason)
    reward = body.get("reward") or {}
    entries = reward.get("rewards") if isinstance(reward.get("rewards"), list) else [reward]
    codes = [c for entry in entries if isinstance(entry, dict) for c in _metric_codes(entry.get("reward_metrics"))]
    if body.get("status") == "failed":
        # The platform treats the whole answer as failed: its placeholder scores are not rewards.
        return Answer((), body.get("error_code") or (codes[0] if codes else "FAILED"), body.get("error"))
    return Answer(scores, codes[0] if codes else None, body.get("error") or _metrics_text(entries))


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
            problems = check(case, status, body if isinstance(body, dict) else {})
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
    headers = auth_headers(token)
    limits = httpx.Limits(max_connections=max(1, concurrency))
    if url is not None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits) as client:
            return await _replay_all(client, cases, reward, concurrency, on_result)
    from ._server import create_app

    app = create_app(target, reward=reward, settings=settings)
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: an unexpected error is a 500 answer, as it is over the network.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_URL,
                                     headers=headers, timeout=timeout, limits=limits) as client:
            return await _replay_all(client, cases, reward, concurrency, on_result)


# ---- the same app for synchronous callers (pytest plugin, rewardkit.testing) ------

class _LoopTransport(httpx.BaseTransport):
    """A sync httpx transport that hands each request to the ASGI app on the service's event loop."""

    def __init__(self, service: "InProcessService") -> None:
        self._service = service
        self._asgi = httpx.ASGITransport(app=service.app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        asgi = self._asgi

        async def send() -> tuple[int, httpx.Headers, bytes]:
            forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=content)
            response = await asgi.handle_async_request(forwarded)
            return response.status_code, response.headers, await response.aread()

        status, headers, body = self._service.call(send())
        return httpx.Response(status, headers=headers, content=body, request=request)


class InProcessService:
    """The app of `target` (as `rewardkit serve` builds it) running on an event loop in a background thread.

    `client()` gives a synchronous httpx client whose requests go to that app
    over ASGI, so sync code (pytest items, plain tests) exercises the same
    lifespan, engine and adapters as the replay runner and the real server.
    """

    def __init__(self, target: str = "rewards", *, reward: str | None = None, settings: Any = None) -> None:
        from ._server import create_app

        self.app = create_app(target, reward=reward, settings=settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="rewardkit-in-process", daemon=True)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with self.app.router.lifespan_context(self.app):
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # startup failed: hand it to the thread that is waiting
            self._error = exc
        finally:
            self._ready.set()

    def start(self) -> "InProcessService":
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def call(self, coroutine: Any) -> Any:
        if self._loop is None or not self._thread.is_alive():
            coroutine.close()
            raise RuntimeError("the in-process service is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("base_url", IN_PROCESS_URL)
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        return httpx.Client(transport=_LoopTransport(self), **kwargs)

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.ident is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "InProcessService":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


@contextmanager
def served_client(target: str = "rewards", *, reward: str | None = None, settings: Any = None) -> Iterator[httpx.Client]:
    """A sync httpx client for the in-process app of `target`; the app stops when the block ends."""
    with InProcessService(target, reward=reward, settings=settings) as service:
        with service.client() as client:
            yield client


# ---- summary ---------------------------------------------------------------------

@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class Summary:
    count: int  # cases replayed
    passed: int
    failed: int
    checked: int  # cases that carried an expectation
    scores: tuple[float, ...]  # every score received (a group gives several)
    histogram: tuple[Bin, ...]
    errors: dict[str, int]  # error code -> cases whose answer carried it (failures and fallbacks)
    p50_ms: float | None
    p95_ms: float | None

    @property
    def mean(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def min(self) -> float | None:
        return min(self.scores) if self.scores else None

    @property
    def max(self) -> float | None:
        return max(self.scores) if self.scores else None

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count, "passed": self.passed, "failed": self.failed, "checked": self.checked,
            "scores": len(self.scores), "mean": self.mean, "min": self.min, "max": self.max,
            "histogram": [{"low": b.low, "high": b.high, "count": b.count} for b in self.histogram],
            "errors": dict(self.errors), "latency_ms": {"p50": self.p50_ms, "p95": self.p95_ms},
        }


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def histogram(scores: Sequence[float], bins: int = 10) -> tuple[Bin, ...]:
    """Equal-width bins over the usual reward range ([0, 1] or [-1, 1]) when the scores fit it, else their span."""
    if not scores:
        return ()
    low, high = min(scores), max(scores)
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low >= -1.0 and high <= 1.0:
        low, high = -1.0, 1.0
    if high == low:
        return (Bin(low, high, len(scores)),)
    width = (high - low) / bins
    counts = [0] * bins
    for score in scores:
        # The epsilon keeps 0.3 in [0.3, 0.4) despite 0.3 / 0.1 == 2.9999999999999996; the top edge is in the last bin.
        counts[min(int((score - low) / width + 1e-9), bins - 1)] += 1
    return tuple(Bin(round(low + i * width, 9), round(low + (i + 1) * width, 9), c) for i, c in enumerate(counts))


def summarize(results: Sequence[ReplayResult]) -> Summary:
    scores = tuple(s for r in results for s in r.answer.scores)
    errors: dict[str, int] = {}
    for r in results:
        if r.answer.error_code:
            errors[r.answer.error_code] = errors.get(r.answer.error_code, 0) + 1
    latencies = [r.latency * 1000 for r in results if r.status is not None]
    passed = sum(r.passed for r in results)
    return Summary(
        count=len(results), passed=passed, failed=len(results) - passed, checked=sum(r.checked for r in results),
        scores=scores, histogram=histogram(scores), errors=dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        p50_ms=percentile(latencies, 0.50), p95_ms=percentile(latencies, 0.95),
    )


# ---- output ----------------------------------------------------------------------

def _score_cell(result: ReplayResult) -> str:
    scores = result.answer.scores
    if not scores:
        return "-"
    if len(scores) == 1:
        return f"{scores[0]:.4g}"
    return "[" + ", ".join(f"{s:.3g}" for s in scores) + "]"


def _result_cell(result: ReplayResult) -> str:
    if not result.passed:
        return "FAIL"
    return "pass" if result.checked else "ok"


def _reason_cell(result: ReplayResult) -> str:
    if result.problems:
        text = "; ".join(result.problems)
    else:
        text = result.answer.reason or ""
        if result.answer.error_code:
            text = f"{result.answer.error_code}: {text}" if text else result.answer.error_code
    return " ".join(text.split())


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def format_table(results: Sequence[ReplayResult], width: int | None = None) -> str:
    """One row per case: id, reward (score), expected, result, latency, reason (cut to fit `width`, if given)."""
    header = ("ID", "REWARD", "EXPECTED", "RESULT", "MS", "REASON")
    rows = [(r.case.id, _score_cell(r), describe_expectation(r.case), _result_cell(r),
             "-" if r.status is None else f"{r.latency * 1000:.0f}", _reason_cell(r)) for r in results]
    caps = (40, 24, 24, 6, 7)
    widths = [min(max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i]), caps[i])
              for i in range(5)]
    reason_width = max(width - sum(widths) - 2 * 5, 30) if width else _REASON_CHARS

    def line(cells: Sequence[str]) -> str:
        fixed = [_fit(c, w).ljust(w) if i != 4 else _fit(c, w).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join([*fixed, _fit(cells[5], reason_width)]).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def format_summary(summary: Summary, results: Sequence[ReplayResult] = ()) -> str:
    """Counts, the reward distribution with a text histogram, error codes, latency, and where each failure is."""
    out = [f"{summary.count} cases: {summary.passed} passed, {summary.failed} failed "
           f"({summary.checked} with an expectation)"]
    if summary.scores:
        count = len(summary.scores)
        out.append(f"reward: mean {summary.mean:.4g}, min {summary.min:.4g}, max {summary.max:.4g} "
                   f"({count} score{'' if count == 1 else 's'})")
        peak = max(b.count for b in summary.histogram)
        for b in summary.histogram:
            bar = "#" * (round(30 * b.count / peak) if b.count else 0)
            out.append(f"  [{b.low:6.2f}, {b.high:6.2f}{']' if b is summary.histogram[-1] else ')'} "
                       f"{b.count:5d} {bar}".rstrip())
    else:
        out.append("reward: no scores")
    if summary.errors:
        out.append("errors: " + ", ".join(f"{code} x{n}" for code, n in summary.errors.items()))
    if summary.p50_ms is not None:
        out.append(f"latency: p50 {summary.p50_ms:.0f} ms, p95 {summary.p95_ms:.0f} ms")
    failed = [r for r in results if not r.passed]
    if failed:
        out.append("failures:")
        out.extend(f"  {r.case.source} {r.case.id}: {'; '.join(r.problems)}" for r in failed)
    return "\n".join(out)


def write_report(results: Sequence[ReplayResult], fmt: str, stream: TextIO) -> None:
    summary = summarize(results)
    if fmt == "json":
        json.dump({"results": [r.to_json() for r in results], "summary": summary.to_json()}, stream, indent=2)
        stream.write("\n")
    elif fmt == "jsonl":
        for r in results:
            stream.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
        stream.write(json.dumps({"summary": summary.to_json()}) + "\n")
    else:
        # On a terminal the reasons are cut to its width; in a log or a file they are kept whole.
        width = shutil.get_terminal_size().columns if stream.isatty() else None
        stream.write(format_table(results, width) + "\n\n" + format_summary(summary, results) + "\n")


class Progress:
    """A one-line progress bar on a terminal; silent when the stream is not one (CI logs, pipes)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = total > 0 and self.stream.isatty()
        self.done = 0
        self.failed = 0
        self._width = 0

    def update(self, result: ReplayResult) -> None:
        self.done += 1
        self.failed += not result.passed
        if not self.enabled:
            return
        filled = round(30 * self.done / self.total)
        text = f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        if self.failed:
            text += f", {self.failed} failed"
        self._width = max(self._width, len(text))
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


# ---- the command -----------------------------------------------------------------

def gcloud_identity_token() -> str:
    """An identity token for a private Cloud Run service, from the gcloud CLI's active account."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise ReplayInputError("--gcloud-auth needs the gcloud CLI on PATH (https://cloud.google.com/sdk)")
    result = subprocess.run([gcloud, "auth", "print-identity-token"], capture_output=True, text=True)
    token = result.stdout.strip()
    if result.returncode != 0 or not token:
        raise ReplayInputError(f"`gcloud auth print-identity-token` failed: {result.stderr.strip() or 'no token'}")
    return token


def _token(args: Any) -> str | None:
    if args.gcloud_auth:
        if args.url is None:
            raise ReplayInputError("--gcloud-auth is for a deployed service: give its --url")
        return gcloud_identity_token()
    return args.token or os.environ.get(TOKEN_ENV) or None


def _cases(args: Any) -> list[FixtureCase]:
    if args.training is not None:
        if args.paths:
            raise ReplayInputError("give either fixture/request files or --training, not both")
        from ._training import training_cases

        return training_cases(args.training, responses=args.responses, response_field=args.response_field,
                              fmt=args.format_in)
    if args.responses is not None or args.response_field is not None or args.format_in is not None:
        raise ReplayInputError("--responses, --response-field and --format-in go with --training")
    if not args.paths:
        raise ReplayInputError("nothing to replay: give fixture or request files (JSON / JSONL), "
                               "or --training with --responses / --response-field")
    return read_cases(args.paths)


def main(args: Any, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run `rewardkit replay`; 0 all passed, 1 an expectation failed, 2 bad input or a target that cannot load."""
    from ._settings import load_settings
    from ._training import TrainingDataError

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        cases = _cases(args)
        token = _token(args)
        settings = None if args.url else load_settings({"workers": args.workers})
    except (FixtureError, TrainingDataError, ReplayInputError, RewardkitError) as exc:
        print(f"rewardkit replay: {exc}", file=stderr)
        return 2
    if not cases:
        print("rewardkit replay: the input holds no requests", file=stderr)
        return 2
    progress = Progress(len(cases), stderr)
    # The service logs each failing reward call; here the report shows them, so only errors are logged.
    logger = logging.getLogger("rewardkit")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        results = asyncio.run(replay(cases, target=args.target, reward=args.reward, url=args.url, token=token,
                                     concurrency=args.concurrency, timeout=args.timeout, settings=settings,
                                     on_result=progress.update))
    except RewardkitError as exc:
        print(f"rewardkit replay: cannot serve {args.target!r}: {exc}", file=stderr)
        return 2
    finally:
        progress.close()
        logger.setLevel(level)
    write_report(results, args.format, stdout)
    return 0 if all(r.passed for r in results) else 1


def add_parser(commands: Any) -> None:
    """The `replay` subcommand's arguments."""
    replay_cmd = commands.add_parser(
        "replay", help="score recorded requests, fixtures or training data through the reward service",
        description="Send Vertex / DashScope request bodies or fixture records (JSON or JSONL; a folder means its "
        "*.reward.json[l] files) through the same pipeline `rewardkit serve` runs, in-process or to --url, and "
        "report each result and a summary. Exit 0 when all pass, 1 when an expectation fails (a record without "
        "one must be scored), 2 on bad input.")
    replay_cmd.add_argument("paths", nargs="*", metavar="PATH", help="request or fixture files, or folders of fixtures")
    replay_cmd.add_argument("--target", default=os.environ.get("REWARDKIT_TARGET", "rewards"),
                            help="reward module or .py file to run in-process (default $REWARDKIT_TARGET, else rewards)")
    replay_cmd.add_argument("--reward", default=None,
                            help="reward to call for every request (default: each record's 'reward', else the "
                            "service's default reward)")
    replay_cmd.add_argument("--url", default=None, help="a running service (http://127.0.0.1:8080, "
                            "https://SERVICE.run.app) instead of the in-process app")
    replay_cmd.add_argument("--token", default=None,
                            help=f"bearer token to send (default ${TOKEN_ENV})")
    replay_cmd.add_argument("--gcloud-auth", action="store_true",
                            help="send an identity token from `gcloud auth print-identity-token` (private Cloud Run)")
    replay_cmd.add_argument("--format", default="table", choices=["table", "json", "jsonl"], help="output format")
    replay_cmd.add_argument("--concurrency", type=_positive_int, default=DEFAULT_CONCURRENCY, metavar="N",
                            help=f"requests in flight at once (default {DEFAULT_CONCURRENCY})")
    replay_cmd.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                            help=f"per-request HTTP timeout (default {DEFAULT_TIMEOUT:g})")
    replay_cmd.add_argument("--workers", default=None, metavar="N",
                            help="worker processes of the in-process app (default as `rewardkit serve`: "
                            "$REWARDKIT_WORKERS, else one per CPU; 0: run rewards in this process)")
    training = replay_cmd.add_argument_group("training-data mode")
    training.add_argument("--training", default=None, metavar="FILE",
                          help="a training/validation JSONL in Vertex or DashScope format: build the requests a "
                          "tuning job would send and score them")
    training.add_argument("--responses", default=None, metavar="FILE",
                          help="model responses, one JSON line per training line: \"text\", {\"response\": ...} "
                          "or {\"responses\": [...]} (several samples of one prompt)")
    training.add_argument("--response-field", default=None, metavar="FIELD",
                          help="take each response from this field of the training line (dotted: rollout_extra.answer)")
    training.add_argument("--format-in", default=None, choices=["vertex", "dashscope"],
                          help="the training file's format (default: recognised per line)")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return number
