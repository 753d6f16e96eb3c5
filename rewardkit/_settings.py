"""Service settings: defaults, environment variables, and what the container allows."""

from __future__ import annotations

import math
import os
from dataclasses import Field, dataclass, field, fields
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


def _setting(default: Any, variable: str, minimum: float | None = None, maximum: float | None = None) -> Any:
    """A setting's default, its environment variable and its bounds: the one place each is declared."""
    return field(default=default, metadata={"variable": variable, "minimum": minimum, "maximum": maximum})


@dataclass(frozen=True)
class Settings:
    """How the service runs rewards. Every field has a flag and an environment variable (README).

    Parsed by hand rather than with pydantic-settings: each error must name the flag or the variable the
    value came from (`--max-queue`, `REWARDKIT_MAX_QUEUE`), and the trainers' embedded engine reads the
    same fields from a mapping, not only from os.environ; the parsing below is twenty lines.
    """

    # None: one per available CPU; 0: run sync rewards in the server process
    workers: int | None = _setting(None, "REWARDKIT_WORKERS", minimum=0)
    # seconds per reward call, unless the reward declares its own
    timeout: float = _setting(60.0, "REWARDKIT_TIMEOUT", minimum=0.001)
    # None: the container's memory shared by the workers and the server
    worker_memory_mb: int | None = _setting(None, "REWARDKIT_WORKER_MEMORY_MB", minimum=0)
    # reward calls waiting for a worker before requests get 503
    max_queue: int = _setting(100, "REWARDKIT_MAX_QUEUE", minimum=0)
    # request bodies above this get 413
    max_body_mb: float = _setting(8.0, "REWARDKIT_MAX_BODY_MB", minimum=0.001)
    # DashScope group_reward requests with more outputs get 413; 0: no limit
    max_group: int = _setting(1024, "REWARDKIT_MAX_GROUP", minimum=0)
    # open connections; None: 4096, or less if the open-file limit is lower
    max_connections: int | None = _setting(None, "REWARDKIT_MAX_CONNECTIONS", minimum=1)
    # seconds in-flight requests get after SIGTERM (Cloud Run kills after 10)
    grace_period: float = _setting(8.0, "REWARDKIT_GRACE_PERIOD", minimum=0)
    # shared secret(s), comma-separated: require `Authorization: Bearer <token>`
    auth_token: str | None = _setting(None, "REWARDKIT_AUTH_TOKEN")
    # a folder: a JSONL copy of each scored request and its answer (docs/observability.md)
    record: str | None = _setting(None, "REWARDKIT_RECORD")
    # the share of scored requests recorded (sampled at random)
    record_rate: float = _setting(1.0, "REWARDKIT_RECORD_RATE", minimum=0, maximum=1)
    # write "[redacted]" for the prompt's text in recorded requests
    record_redact_prompt: bool = _setting(False, "REWARDKIT_RECORD_REDACT_PROMPT")
    # start a new record file past this size...
    record_rotate_mb: float = _setting(64.0, "REWARDKIT_RECORD_ROTATE_MB", minimum=0.001)
    # ...or this age
    record_rotate_minutes: float = _setting(60.0, "REWARDKIT_RECORD_ROTATE_MINUTES", minimum=0.001)

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


ENVIRONMENT = {f.name: f.metadata["variable"] for f in fields(Settings)}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _flag(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE | _FALSE:
        raise SettingsError(f"{source} must be 1/true/yes or 0/false/no, got {value!r}")
    return text in _TRUE


def _convert(setting: Field[Any], value: Any, source: str) -> Any:
    kind = str(setting.type)  # the annotation as written (`from __future__ import annotations`)
    if kind.startswith("str"):
        return str(value)
    if kind == "bool":
        return _flag(value, source)
    number_type = int if kind.startswith("int") else float
    try:
        number = number_type(value)
    except (TypeError, ValueError):
        expected = "a whole number" if number_type is int else "a number"
        raise SettingsError(f"{source} must be {expected}, got {value!r}") from None
    minimum, maximum = setting.metadata["minimum"], setting.metadata["maximum"]
    if minimum is not None and number < minimum:
        raise SettingsError(f"{source} must be >= {minimum}, got {value!r}")
    if maximum is not None and number > maximum:
        raise SettingsError(f"{source} must be <= {maximum}, got {value!r}")
    return number


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from explicit values (flags) over environment variables over defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in fields(Settings):
        explicit = (overrides or {}).get(setting.name)
        variable = setting.metadata["variable"]
        if explicit is not None:
            values[setting.name] = _convert(setting, explicit, f"--{setting.name.replace('_', '-')}")
        elif environ.get(variable, "").strip():
            values[setting.name] = _convert(setting, environ[variable].strip(), variable)
    return Settings(**values)
