"""OpenTelemetry traces: a span per scoring request and one for its reward call, exported over OTLP.

On only when the standard variables name an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the SDK
reads the rest: headers, protocol details, `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`), and not turned off
(`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`). Off, a request pays
one attribute test. The `otel` extra installs the SDK and the OTLP/HTTP
exporter (opentelemetry-python: `opentelemetry-sdk/src/opentelemetry/sdk/environment_variables`).

The caller's trace is continued: W3C `traceparent` (and `tracestate`), else
`X-Cloud-Trace-Context: TRACE/SPAN;o=1` (the decimal span id of the load
balancer in front of a Cloud Run service). Whether tracing is on or not, the
request's log lines carry the trace and span ids (`trace_id`, `span_id`, and
Cloud Logging's own keys), so a log line leads to its trace.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Mapping

from .._errors import RewardkitError
from .._outcome import Outcome
from . import logs as _logs

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("rewardkit")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACE_ID, SPAN_ID = "trace_id", "span_id"  # the log fields, as OpenTelemetry's log data model names them
SAMPLED_KEY = "logging.googleapis.com/trace_sampled"


class TracingError(RewardkitError):
    """Tracing was asked for (an OTLP endpoint is set) but cannot start."""


def wanted(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


# ---- the caller's trace ---------------------------------------------------------

def _traceparent(value: str) -> tuple[str, str, bool] | None:
    """(trace id, span id, sampled) of a W3C traceparent `00-<32 hex>-<16 hex>-<2 hex>`; None when malformed."""
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2:
        return None
    try:
        trace, span, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if parts[0] == "ff" or not trace or not span:
        return None
    return parts[1].lower(), parts[2].lower(), bool(flags & 1)


def _cloud_trace(value: str) -> tuple[str, str, bool] | None:
    """(trace id, span id as 16 hex, sampled) of `X-Cloud-Trace-Context: TRACE/SPAN;o=1`."""
    trace, _, rest = value.strip().partition("/")
    span, _, options = rest.partition(";")
    if len(trace) != 32 or not span.isdigit():
        return None
    try:
        if not int(trace, 16) or not 0 < int(span) < 1 << 64:
            return None
    except ValueError:
        return None
    return trace.lower(), f"{int(span):016x}", options.strip() == "o=1"


def caller_trace(headers: Mapping[bytes, bytes]) -> tuple[str, str, bool] | None:
    """The caller's (trace id, span id, sampled): traceparent first, as OpenTelemetry propagates it."""
    value = headers.get(b"traceparent")
    found = _traceparent(value.decode("latin-1")) if value else None
    if found is None:
        cloud = headers.get(b"x-cloud-trace-context")
        found = _cloud_trace(cloud.decode("latin-1")) if cloud else None
    return found


def log_fields(trace_id: str, span_id: str, sampled: bool, project: str | None) -> dict[str, Any]:
    """The ids a log line carries: plain, and under Cloud Logging's keys (with the project when known)."""
    return {TRACE_ID: trace_id, SPAN_ID: span_id,
            _logs.TRACE_KEY: f"projects/{project}/traces/{trace_id}" if project else trace_id,
            _logs.SPAN_KEY: span_id, SAMPLED_KEY: sampled}


# ---- spans -----------------------------------------------------------------------

def _parent(headers: Mapping[bytes, bytes]) -> Context | None:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if b"traceparent" in headers:
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()
                   if k in (b"traceparent", b"tracestate")}
        context = TraceContextTextMapPropagator().extract(carrier)
        if trace.get_current_span(context).get_span_context().is_valid:
            return context
    found = caller_trace({k: v for k, v in headers.items() if k == b"x-cloud-trace-context"})
    if found is None:
        return None
    trace_id, span_id, sampled = found
    flags = trace.TraceFlags(trace.TraceFlags.SAMPLED if sampled else trace.TraceFlags.DEFAULT)
    remote = trace.SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(trace.NonRecordingSpan(remote))


def _codes(outcomes: list[Outcome]) -> list[str]:
    return sorted({o.failure.code for o in outcomes if o.failure is not None})


class RequestTrace:
    """One scoring request's span and its reward call's child span."""

    def __init__(self, tracer: Tracer, span: Span) -> None:
        self.tracer = tracer
        self.span = span
        self.call: Span | None = None

    def ids(self, project: str | None) -> dict[str, Any]:
        context = self.span.get_span_context()
        return log_fields(f"{context.trace_id:032x}", f"{context.span_id:016x}", context.trace_flags.sampled,
                          project)

    def reward_started(self, reward: str, contract: str, samples: int) -> None:
        from opentelemetry import trace

        context = trace.set_span_in_context(self.span)
        self.call = self.tracer.start_span(f"reward {reward}", context=context, attributes={
            "rewardkit.reward": reward, "rewardkit.contract": contract, "rewardkit.samples": samples})

    def reward_finished(self, outcomes: list[Outcome], outcome: str) -> None:
        if self.call is None:
            return
        from opentelemetry.trace import Status, StatusCode

        codes = _codes(outcomes)
        self.call.set_attribute("rewardkit.outcome", outcome)
        if codes:
            self.call.set_attribute("rewardkit.failure_codes", codes)
        scores = [o.score.value for o in outcomes if o.score is not None]
        if len(scores) == 1:
            self.call.set_attribute("rewardkit.score", scores[0])
        if outcome == "failed":
            self.call.set_status(Status(StatusCode.ERROR, ", ".join(codes)))
        self.call.end()
        self.call = None

    def finish(self, reward: str, contract: str, outcome: str, status: int, ids: Mapping[str, Any]) -> None:
        from opentelemetry.trace import Status, StatusCode

        if self.call is not None:  # the reward call did not finish: cancelled, or the request failed
            self.call.set_attribute("rewardkit.outcome", outcome)
            self.call.end()
        span = self.span
        span.set_attribute("rewardkit.reward", reward)
        span.set_attribute("rewardkit.contract", contract)
        span.set_attribute("rewardkit.outcome", outcome)
        span.set_attribute("http.response.status_code", status)
        for key, value in ids.items():  # the platform's ids: step, job, sample...
            if isinstance(value, (str, bool, int, float)):
                span.set_attribute(f"rewardkit.{key}", value)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class Tracing:
    """The app's tracer provider and its OTLP exporter."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("rewardkit")

    def request(self, method: str, path: str, route: str, headers: Mapping[bytes, bytes]) -> RequestTrace:
        from opentelemetry.trace import SpanKind

        span = self.tracer.start_span(f"{method} {route}", context=_parent(headers), kind=SpanKind.SERVER,
                                      attributes={"http.request.method": method, "url.path": path,
                                                  "http.route": route})
        return RequestTrace(self.tracer, span)

    def call(self, reward: str, contract: str) -> RequestTrace:
        """The root span of a call that comes without HTTP (the SDK processors, the Lambda handler)."""
        from opentelemetry.trace import SpanKind

        return RequestTrace(self.tracer, self.tracer.start_span(f"score {reward}", kind=SpanKind.SERVER, attributes={
            "rewardkit.reward": reward, "rewardkit.contract": contract}))

    def flush(self, timeout_ms: int = 5000) -> None:
        """Export what is batched now: a Lambda container is frozen between invocations."""
        self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        """Export what is left; called at shutdown."""
        self.provider.shutdown()


def tracing_from_env(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """Tracing when the environment asks for it; TracingError when it does but the SDK is missing."""
    environ = os.environ if environ is None else environ
    if not wanted(environ):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        variable = next(name for name in ENDPOINT_VARIABLES if environ.get(name, "").strip())
        raise TracingError(f"{variable} is set, so traces are to be exported, but the OpenTelemetry SDK is not "
                           "installed: pip install 'rewardkit[otel]' (or unset the variable)") from None
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the exporter and the batch
    # processor read OTEL_EXPORTER_OTLP_* and OTEL_BSP_* themselves.
    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or "rewardkit"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    log.info("tracing: spans exported over OTLP/HTTP to %s",
             next(environ[name] for name in ENDPOINT_VARIABLES if environ.get(name, "").strip()))
    return Tracing(provider)
