"""The scoring routes on plain ASGI: which path is which contract, and one request's life.

A request reads its body, takes the steps of `_contracts` (validate, score,
render), and is answered as JSON, with its metrics, its access-log line and
its logging context; a client that goes away gets its calls cancelled. No
Starlette Request or Response objects and no middleware stack: for a
trivial reward those cost more than everything else the server does
(bench/serve_bench.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping

from .._engine.inline import Engine
from .._engine.pipeline import evaluate
from .._errors import CODES, INTERNAL_ERROR, SHUTTING_DOWN, EngineBusy, UnknownRewardError
from .._outcome import Outcome
from .._registry import AnySpec, Registry
from .._sample import Sample
from ..contracts import Contract
from . import logs as _logs
from .answer import RangeWatch, read_request, render_answer, too_busy
from .answer import outcome_label as _outcome_label
from .http import (
    RETRY_SOON,
    DisconnectWatch,
    HTTPProblem,
    Receive,
    Scope,
    Send,
    parse_json,
    problem_body,
    read_body,
    send_json,
)
from .metrics import Metrics
from .record import Recorder, Scored
from .trace import RequestTrace, Tracing, caller_trace, log_fields

log = logging.getLogger("rewardkit")


# The status of a request's failure code, as declared with it (rewardkit._errors).
_STATUS = {code.name: code.status for code in CODES.values() if code.status is not None}
# The `outcome` label of rewardkit_requests_total for requests refused before scoring.
_REFUSED = {400: "invalid", 413: "invalid", 422: "invalid", 404: "unknown_reward", 499: "disconnected", 503: "busy"}


def route_path(scope: Scope) -> str:
    """The path below the app's root_path, as Starlette's router sees it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        if path == root:
            return ""
        if path[len(root)] == "/":
            return path[len(root):]
    return path


class Routes:
    """Which contract and reward a scoring path names: each contract's default route, and
    `/rewards/{name}<suffix>` (the longest suffix wins, so a reward name never swallows one)."""

    def __init__(self, contracts: tuple[Contract, ...]) -> None:
        self.contracts = contracts
        self._defaults = {c.default_route: c for c in contracts if c.default_route}
        self._named = sorted(contracts, key=lambda c: len(c.suffix), reverse=True)

    def templates(self) -> list[tuple[str, Contract]]:
        """Every scoring route as (path template, contract); the ones without {name} score with the default reward."""
        defaults = [(c.default_route, c) for c in self.contracts if c.default_route]
        return defaults + [(c.route, c) for c in self.contracts]

    def match(self, path: str) -> tuple[Contract, str | None] | None:
        """The contract and reward name of a scoring path (name None: the default reward); None for other paths.

        A trailing slash is served as the path without it: a redirect would answer an empty 307 that
        the platforms' clients do not follow with the body."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        contract = self._defaults.get(path)
        if contract is not None:
            return contract, None
        if not path.startswith("/rewards/"):
            return None
        rest = path[len("/rewards/"):]
        for contract in self._named:
            if rest.endswith(contract.suffix):
                name = rest[: len(rest) - len(contract.suffix)]
                return (contract, name) if name and "/" not in name else None
        return None


def _request_fields(headers: dict[bytes, bytes], project: str | None,
                    span: RequestTrace | None = None) -> dict[str, Any]:
    trace = headers.get(b"x-cloud-trace-context")
    fields = _logs.trace_fields(trace.decode("latin-1"), project) if trace else {}
    if span is not None:  # this request's own span: the log lines are its children
        fields.update(span.ids(project))
    elif b"traceparent" in headers:
        caller = caller_trace(headers)
        if caller is not None:
            fields.update(log_fields(*caller, project))
    fc_request = headers.get(b"x-fc-request-id")
    if fc_request:
        fields["fc_request_id"] = fc_request.decode("latin-1")
    return fields


def _access_line(scope: Scope, headers: dict[bytes, bytes], status: int, seconds: float,
                 fields: dict[str, Any]) -> None:
    client = scope.get("client")
    http = {"requestMethod": scope["method"], "requestUrl": scope["path"], "status": status,
            "latency": f"{seconds:.6f}s", "userAgent": headers.get(b"user-agent", b"").decode("latin-1"),
            "remoteIp": client[0] if client else ""}
    log.info("%s %s %d %s %.1f ms", scope["method"], scope["path"], status, fields.get("outcome", ""),
             seconds * 1000, extra={"fields": {"httpRequest": http, **fields}})


class Scoring:
    """Answers the scoring routes of one app."""

    recorder: Recorder | None = None  # --record: gets a copy of each scored request and its answer
    tracing: Tracing | None = None  # an OTLP endpoint is set: a span per request and per reward call

    def __init__(self, registry: Registry, default: str | None, engine: Engine, metrics: Metrics, routes: Routes, *,
                 max_body: int, project: str | None, access_log: bool, max_group: int = 0) -> None:
        self.registry = registry
        self.routes = routes
        self.default = default
        self.engine = engine
        self.metrics = metrics
        self.max_body = max_body
        self.max_group = max_group
        self.project = project
        self.access_log = access_log
        self.ranges = RangeWatch(metrics.score_out_of_range)

    def lookup(self, name: str | None) -> AnySpec:
        name = name or self.default
        if name is None:
            names = self.registry.names()
            raise HTTPProblem(404, "several rewards are registered and none is the default: post to "
                              f"/rewards/NAME or start with --reward NAME. Registered: {', '.join(names)}",
                              {"rewards": names})
        try:
            return self.registry.get(name)
        except UnknownRewardError as exc:
            raise HTTPProblem(404, str(exc), {"rewards": exc.known}) from None

    async def __call__(self, scope: Scope, receive: Receive, send: Send, contract: Contract, name: str | None) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])  # ASGI header names are lower-case
        span = None if self.tracing is None else self.tracing.request(
            scope["method"], scope["path"], contract.route if name is not None else scope["path"], headers)
        context = _logs.set_context(_request_fields(headers, self.project, span))
        label, status, outcome = "(unknown)", 500, "error"
        ids: Mapping[str, Any] = {}
        metrics = self.metrics
        metrics.in_flight += 1
        try:
            extra: dict[str, str] | None = None
            try:
                spec = self.lookup(name)
                label = spec.name
                raw = parse_json(await read_body(receive, headers.get(b"content-length"), self.max_body))
                parsed = read_request(contract, spec, raw)
                ids = parsed.log_fields
                if self.max_group and len(parsed.samples) > self.max_group:
                    raise HTTPProblem(413, f"the request holds {len(parsed.samples)} responses; the limit is "
                                      f"{self.max_group} (raise it with --max-group or REWARDKIT_MAX_GROUP)")
                if span is not None:
                    span.reward_started(spec.name, contract.name, len(parsed.samples))
                outcomes = await self._evaluate(spec, parsed.samples, receive, scope["path"])
                scored = _outcome_label(outcomes)
                if span is not None:
                    span.reward_finished(outcomes, scored)
                status, content = render_answer(contract, spec, outcomes, parsed)
                if self.recorder is not None:
                    self.recorder.offer(Scored(contract, spec, raw, parsed, outcomes, status, content,
                                               time.perf_counter() - started, headers, time.time()))
                metrics.outcomes(outcomes)
                self.ranges.check(contract, spec, outcomes)
                outcome = scored  # only once the answer is rendered: a failure before that is an "error"
            except HTTPProblem as exc:
                status, outcome = exc.status, _REFUSED.get(exc.status, "refused")
                content, extra = problem_body(exc), exc.headers
            except asyncio.CancelledError:
                # Not a disconnect (that is a 499 above): the server is stopping and its grace period is over.
                status, outcome = _STATUS[SHUTTING_DOWN], "shutting_down"
                await send_json(send, status, contract.refusal(status, SHUTTING_DOWN, "the server is shutting down "
                                "and its grace period ended before this request was scored; retry"), RETRY_SOON)
                raise
            except BaseException as exc:  # BaseException: nothing a request does may stop the server
                log.exception("unexpected error while serving a request")
                status = _STATUS[INTERNAL_ERROR]
                content = contract.refusal(status, INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
            await send_json(send, status, content, extra)
        finally:
            seconds = time.perf_counter() - started
            metrics.in_flight -= 1
            metrics.request(label, contract.name, outcome, seconds)
            if self.access_log:
                _access_line(scope, headers, status, seconds,
                             {"reward": label, "contract": contract.name, "outcome": outcome})
            if span is not None:
                span.finish(label, contract.name, outcome, status, ids)
            _logs.reset_context(context)

    async def _evaluate(self, spec: AnySpec, samples: list[Sample], receive: Receive, path: str) -> list[Outcome]:
        """The outcomes; if the client goes away first, its reward calls are cancelled and the answer is 499."""
        watch = DisconnectWatch(receive)
        try:
            return await evaluate(spec, samples, self.engine)
        except EngineBusy as exc:
            raise too_busy(exc) from None
        except asyncio.CancelledError:
            if not watch.gone():
                raise  # cancelled by someone else (shutdown): not a disconnect
            log.info("client disconnected from %s; its reward calls were cancelled", path)
            raise HTTPProblem(499, "client disconnected; the reward calls were cancelled") from None
        finally:
            watch.stop()

    def endpoint(self, contract: Contract) -> "ScoringRoute":
        return ScoringRoute(self, contract)


class ScoringRoute:
    """One contract's scoring routes as an ASGI app, for the router: the way a request takes when middleware
    was added to the app. (An object, not a function: Starlette would wrap a function as a Request handler.)"""

    def __init__(self, scoring: Scoring, contract: Contract) -> None:
        self.scoring = scoring
        self.contract = contract

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.scoring(scope, receive, send, self.contract, scope.get("path_params", {}).get("name"))
