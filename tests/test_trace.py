"""OpenTelemetry traces: spans for each request and reward call reach a real OTLP/HTTP receiver, continuing
the caller's trace; log lines carry the ids."""

from __future__ import annotations

import json
import sys
import time

import httpx
import pytest

from rewardkit._serving.trace import TracingError, caller_trace, tracing_from_env
from rewardkit.contracts import dashscope, vertex

from .conftest import EXAMPLE_REWARDS
from .otlp_receiver import otlp_receiver
from .served import serve

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SERVER, ERROR = 2, 2  # SpanKind SERVER and StatusCode ERROR in the OTLP protobuf


def access_line(served, trace_id: str, timeout: float = 15.0) -> dict:
    """The JSON access line of the request with this trace id: it is written just after the answer is sent."""
    deadline = time.monotonic() + timeout
    while True:
        for line in served.output().splitlines():
            if line.startswith("{") and '"httpRequest"' in line and json.loads(line).get("trace_id") == trace_id:
                return json.loads(line)
        assert time.monotonic() < deadline, f"no access line with trace {trace_id}:\n{served.output()}"
        time.sleep(0.05)


def otel_env(endpoint: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "reward-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100", "REWARDKIT_LOG_FORMAT": "json"}


def test_spans_reach_an_otlp_receiver_with_the_callers_trace_and_the_platform_ids():
    with otlp_receiver() as (endpoint, receiver):
        with serve([EXAMPLE_REWARDS, "--workers", "1"], env=otel_env(endpoint)) as served:
            w3c = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
            body = vertex.request("Paris", reference="Paris", prompt="Capital?", step=12, tuning_job_id="77")
            assert httpx.post(f"{served.url}/rewards/contains_reference", json=body, headers=w3c).status_code == 200
            # Cloud Run's load balancer header: a decimal span id
            cloud = {"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1234567890;o=1"}
            group = dashscope.group_request(["Paris", "Rome"], reference="Paris", request_metadata={
                "job_id": "ft-9", "sample_id": "s-3", "rollout_id": "r", "attempt_id": "a"})
            httpx.post(f"{served.url}/rewards/contains_reference/api/v1", json=group, headers=cloud)
            assert httpx.post(f"{served.url}/rewards/broken", json=body).status_code == 500
            spans = receiver.wait(6)
            access = access_line(served, CALLER_TRACE)
    by_trace: dict[str, list] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)

    request, call = sorted(by_trace[CALLER_TRACE], key=lambda s: s.kind != SERVER)
    assert request.kind == SERVER and request.parent_span_id == CALLER_SPAN and request.service == "reward-test"
    assert request.name == "POST /rewards/{name}"
    assert request.attributes["rewardkit.reward"] == "contains_reference"
    assert request.attributes["rewardkit.contract"] == "vertex"
    assert request.attributes["rewardkit.outcome"] == "success"
    assert request.attributes["rewardkit.step"] == 12 and request.attributes["rewardkit.tuning_job_id"] == 77
    assert request.attributes["http.response.status_code"] == 200
    assert call.parent_span_id == request.span_id and call.name == "reward contains_reference"
    assert call.attributes["rewardkit.score"] == 1.0 and call.attributes["rewardkit.outcome"] == "success"

    cloud_request = next(s for s in by_trace["105445aa7843bc8bf206b12000100000"] if s.kind == SERVER)
    assert cloud_request.parent_span_id == f"{1234567890:016x}"
    assert cloud_request.attributes["rewardkit.job_id"] == "ft-9"
    assert cloud_request.attributes["rewardkit.sample_id"] == "s-3"

    failed = [s for s in spans if s.attributes.get("rewardkit.reward") == "broken"]
    failed_call = next(s for s in failed if s.kind != SERVER)
    assert failed_call.attributes["rewardkit.failure_codes"] == ["REWARD_ERROR"] and failed_call.status_code == ERROR
    assert next(s for s in failed if s.kind == SERVER).status_code == ERROR

    # The log lines of a traced request carry its own span's ids.
    assert access["httpRequest"]["status"] == 200 and access["span_id"] == request.span_id
    assert access["logging.googleapis.com/spanId"] == request.span_id


def test_untraced_requests_log_the_callers_traceparent():
    with serve([EXAMPLE_REWARDS, "--workers", "0"], env={"REWARDKIT_LOG_FORMAT": "json"}) as served:
        body = vertex.request("Paris", reference="Paris")
        httpx.post(f"{served.url}/rewards/contains_reference", json=body,
                   headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
        access = access_line(served, CALLER_TRACE)
    assert access["span_id"] == CALLER_SPAN


@pytest.mark.parametrize("environ, on", [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
])
def test_tracing_is_on_only_when_an_otlp_endpoint_is_set_and_not_disabled(environ, on):
    tracing = tracing_from_env(environ)
    assert (tracing is not None) == on
    if tracing is not None:
        tracing.shutdown()


@pytest.mark.parametrize("headers, expected", [
    ({b"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01".encode()}, (CALLER_TRACE, CALLER_SPAN, True)),
    ({b"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00".encode()}, (CALLER_TRACE, CALLER_SPAN, False)),
    ({b"traceparent": b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, None),  # all-zero trace id
    ({b"traceparent": b"garbage"}, None),
    ({b"x-cloud-trace-context": b"105445aa7843bc8bf206b12000100000/1;o=1"},
     ("105445aa7843bc8bf206b12000100000", "0000000000000001", True)),
    ({b"x-cloud-trace-context": b"105445aa7843bc8bf206b12000100000/1"},
     ("105445aa7843bc8bf206b12000100000", "0000000000000001", False)),
    ({b"x-cloud-trace-context": b"nothex/1;o=1"}, None),
])
def test_the_callers_trace_is_read_from_either_header(headers, expected):
    assert caller_trace(headers) == expected


def test_an_endpoint_without_the_sdk_installed_is_refused_saying_what_to_install(monkeypatch):
    # None in sys.modules: importing the exporter raises ImportError, as it does without the otel extra.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(TracingError, match=r"OTEL_EXPORTER_OTLP_ENDPOINT is set.*pip install 'rewardkit\[otel\]'"):
        tracing_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})


def test_the_sdk_processors_trace_each_call(monkeypatch):
    pytest.importorskip("dashscope")
    import rewardkit.dashscope
    from rewardkit._loader import load_registry

    spec = load_registry(EXAMPLE_REWARDS).get("contains_reference")
    with otlp_receiver() as (endpoint, receiver):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        scorer = rewardkit.dashscope.processor(spec)()
        try:
            body = dashscope.request("Rome", reference="Paris", request_metadata={
                "job_id": "ft-2", "sample_id": "s-8", "rollout_id": "r", "attempt_id": "a"})
            assert scorer.process(body).reward.reward_score == 0.0
            spans = receiver.wait(2)
        finally:
            scorer._rewardkit.tracing.shutdown()
    root = next(s for s in spans if s.kind == SERVER)
    call = next(s for s in spans if s.kind != SERVER)
    assert root.name == "score contains_reference" and root.parent_span_id == ""
    assert root.attributes["rewardkit.contract"] == "dashscope" and root.attributes["rewardkit.job_id"] == "ft-2"
    assert call.parent_span_id == root.span_id and call.attributes["rewardkit.score"] == 0.0


def test_the_lambda_handler_exports_each_invocations_spans_before_it_returns():
    pytest.importorskip("awslambdaric")
    from .nova_events import item
    from .test_aws_lambda import REWARDS, _function

    with otlp_receiver() as (endpoint, receiver):
        # A minute's batch delay: only the flush at the end of the invocation can send the spans in time,
        # as Lambda freezes the container once the invocation returns.
        env = {"REWARDKIT_TARGET": REWARDS, "REWARDKIT_REWARD": "graded", "REWARDKIT_WORKERS": "0",
               "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "60000"}
        for function in _function(env):
            assert function.invoke([item("a", "42"), item("b", "41")], timeout=60).ok
            spans = receiver.wait(2, timeout=10)
    root = next(s for s in spans if s.kind == SERVER)
    assert root.name == "score graded" and root.attributes["rewardkit.outcome"] == "success"
    assert root.attributes["rewardkit.batch_size"] == 2
