"""Logging: one JSON object a line for Cloud Logging / Function Compute, plain text in a terminal.

JSON lines carry `severity`, `message`, `time`, and the request's context:
`logging.googleapis.com/trace` from `X-Cloud-Trace-Context` (when the project
is known), Function Compute's `x-fc-request-id`, and the DashScope request
metadata ids. The context rides a contextvar, so every line logged while a
request is handled carries it, from whichever module.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from types import MappingProxyType
from typing import Any, Mapping

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "rewardkit_log_context", default=MappingProxyType({})
)
TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"


def set_context(fields: Mapping[str, Any]) -> contextvars.Token[Mapping[str, Any]]:
    return _CONTEXT.set(fields)


def reset_context(token: contextvars.Token[Mapping[str, Any]]) -> None:
    _CONTEXT.reset(token)


def trace_fields(header: str | None, project: str | None) -> dict[str, str]:
    """Cloud Logging trace fields from `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1`."""
    if not header:
        return {}
    trace_id, _, rest = header.partition("/")
    if not trace_id:
        return {}
    fields = {TRACE_KEY: f"projects/{project}/traces/{trace_id}" if project else trace_id}
    span = rest.split(";", 1)[0]
    if span.isdigit():  # the header's span id is decimal; Cloud Logging wants 16 hex digits
        fields[SPAN_KEY] = f"{int(span):016x}"
    return fields


def google_project() -> str | None:
    """The Google Cloud project, from the environment; on Cloud Run, from the metadata server once."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GCP_PROJECT"):
        if os.environ.get(name):
            return os.environ[name]
    if not os.environ.get("K_SERVICE"):
        return None
    try:
        import httpx

        answer = httpx.get("http://metadata.google.internal/computeMetadata/v1/project/project-id",
                           headers={"Metadata-Flavor": "Google"}, timeout=1.0)
        return answer.text.strip() if answer.status_code == 200 else None
    except Exception:  # no metadata server: logs go without the project in the trace field
        return None


class JSONFormatter(logging.Formatter):
    """One Cloud Logging structured entry per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "logger": record.name,
        }
        if record.exc_info:
            # Error Reporting groups errors from a stack trace inside the message.
            entry["message"] += "\n" + self.formatException(record.exc_info)
        entry.update(_CONTEXT.get())
        entry.update(getattr(record, "fields", {}))  # logger.info(..., extra={"fields": {...}})
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Human-readable lines, with the request's fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {**getattr(record, "fields", {})}
        extra.pop("httpRequest", None)
        if extra:
            text += "  " + " ".join(f"{k}={v}" for k, v in extra.items())
        return text


def configure(log_format: str = "auto", level: str = "info") -> str:
    """Install the formatter on the root logger (uvicorn's loggers propagate to it); returns the format used."""
    if log_format == "auto":
        log_format = "plain" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stdout if log_format == "json" else sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # rewardkit logs each request itself, with its fields
    return log_format


def current_context() -> Mapping[str, Any]:
    return _CONTEXT.get()
