"""Service settings: defaults, environment variables, and what the container allows."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from ._errors import RewardkitError


class SettingsError(RewardkitError):
    """An environment variable or flag has a value rewardkit cannot use."""


def available_cpus() -> int:
    """CPUs this process may use: the cgroup CPU quota (Cloud Run, containers), else the affinity mask."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def container_memory_bytes() -> int | None:
    """The cgroup memory limit (the container's), else physical memory; None when unknown."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # cgroup v1 spells "no limit" as a huge number
            return int(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class Settings:
    """How the service runs rewards. Every field has a flag and an environment variable (README)."""

    workers: int | None = None  # None: one per available CPU; 0: run sync rewards in the server process
    timeout: float = 60.0  # seconds per reward call, unless the reward declares its own
    worker_memory_mb: int | None = None  # None: the container's memory shared by the workers and the server
    max_queue: int = 100  # reward calls waiting for a worker before requests get 503
    max_body_mb: float = 8.0  # request bodies above this get 413
    max_group: int = 1024  # DashScope group_reward requests with more outputs get 413; 0: no limit
    max_connections: int | None = None  # open connections; None: 4096, or less if the open-file limit is lower
    grace_period: float = 8.0  # seconds in-flight requests get after SIGTERM (Cloud Run kills after 10)
    auth_token: str | None = None  # shared secret(s), comma-separated: require `Authorization: Bearer <token>`
    record: str | None = None  # a folder: a JSONL copy of each scored request and its answer (docs/observability.md)
    record_rate: float = 1.0  # the share of scored requests recorded (sampled at random)
    record_redact_prompt: bool = False  # write "[redacted]" for the prompt's text in recorded requests
    record_rotate_mb: float = 64.0  # start a new record file past this size...
    record_rotate_minutes: float = 60.0  # ...or this age

    @property
    def auth_tokens(self) -> list[str]:
        return [t.strip() for t in (self.auth_token or "").split(",") if t.strip()]

    @property
    def worker_count(self) -> int:
        return available_cpus() if self.workers is None else self.workers

    @property
    def worker_memory_bytes(self) -> int | None:
        if self.worker_memory_mb is not None:
            return self.worker_memory_mb * 1024 * 1024 or None
        total = container_memory_bytes()
        # One share per worker plus one for the server process, so one runaway worker cannot starve the rest.
        return None if total is None else total // (self.worker_count + 1)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


ENVIRONMENT = {
    "workers": "REWARDKIT_WORKERS",
    "timeout": "REWARDKIT_TIMEOUT",
    "worker_memory_mb": "REWARDKIT_WORKER_MEMORY_MB",
    "max_queue": "REWARDKIT_MAX_QUEUE",
    "max_body_mb": "REWARDKIT_MAX_BODY_MB",
    "max_group": "REWARDKIT_MAX_GROUP",
    "max_connections": "REWARDKIT_MAX_CONNECTIONS",
    "grace_period": "REWARDKIT_GRACE_PERIOD",
    "auth_token": "REWARDKIT_AUTH_TOKEN",
    "record": "REWARDKIT_RECORD",
    "record_rate": "REWARDKIT_RECORD_RATE",
    "record_redact_prompt": "REWARDKIT_RECORD_REDACT_PROMPT",
    "record_rotate_mb": "REWARDKIT_RECORD_ROTATE_MB",
    "record_rotate_minutes": "REWARDKIT_RECORD_ROTATE_MINUTES",
}
_MINIMUM = {"workers": 0, "timeout": 0.001, "worker_memory_mb": 0, "max_queue": 0, "max_body_mb": 0.001, "max_group": 0,
            "max_connections": 1, "grace_period": 0, "record_rate": 0, "record_rotate_mb": 0.001,
            "record_rotate_minutes": 0.001}
_MAXIMUM = {"record_rate": 1}
_TEXT = {"auth_token", "record"}
_FLAGS = {"record_redact_prompt"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _flag(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE | _FALSE:
        raise SettingsError(f"{source} must be 1/true/yes or 0/false/no, got {value!r}")
    return text in _TRUE


def _convert(name: str, value: Any, source: str) -> Any:
    if name in _TEXT:
        return str(value)
    if name in _FLAGS:
        return _flag(value, source)
    kind = int if name in ("workers", "worker_memory_mb", "max_queue", "max_group", "max_connections") else float
    try:
        number = kind(value)
    except (TypeError, ValueError):
        expected = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{source} must be {expected}, got {value!r}") from None
    if number < _MINIMUM[name]:
        raise SettingsError(f"{source} must be >= {_MINIMUM[name]}, got {value!r}")
    if name in _MAXIMUM and number > _MAXIMUM[name]:
        raise SettingsError(f"{source} must be <= {_MAXIMUM[name]}, got {value!r}")
    return number


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from explicit values (flags) over environment variables over defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(Settings):
        explicit = (overrides or {}).get(field.name)
        if explicit is not None:
            values[field.name] = _convert(field.name, explicit, f"--{field.name.replace('_', '-')}")
        elif environ.get(ENVIRONMENT[field.name], "").strip():
            values[field.name] = _convert(field.name, environ[ENVIRONMENT[field.name]].strip(), ENVIRONMENT[field.name])
    return Settings(**values)
