"""How many instances, and of what size, serve one tuning step's burst of reward calls: plain arithmetic.

A GRPO step asks for every reward of the step at once: ``samples_per_prompt x batch_size`` calls (a
DashScope ``group_reward`` gets one call per prompt instead). Each instance runs ``workers`` reward calls
at a time (one worker process per vCPU), each worker scores ``rate`` calls a second on this reward (what
``rewardkit replay --bench`` measured on the user's data), and the slowest call takes ``p99`` seconds on
its own. The burst must be answered well inside the platform's reward timeout, so:

    instances   = ceil(burst / floor(workers x rate x (budget - p99)))    budget = timeout x STEP_SHARE
    concurrency = ceil(burst / instances)                            every call of the step admitted at once

raised when the platform's concurrency cap (Cloud Run 1000, Function Compute 100 per instance) would
refuse part of the burst. Minimum instances are that count, so the first step meets warm workers; the
maximum leaves room for a step that overlaps a slow one and for the platform's retries.

Everything is a pure function of its arguments; each line of ``Sizing.lines`` shows one step with its
numbers, which the CLI prints as they are.

The limits relied on (checked 2026-12):
- Cloud Run: concurrency "can be set to any integer value up to 1000"; CPU 1, 2, 4, 6 or 8 (below 1 only
  with concurrency 1); memory more than 4 GiB needs 2 CPUs, more than 8 GiB 4, more than 16 GiB 6, more
  than 24 GiB 8; at most 32 GiB; 4 CPUs need at least 2 GiB, 6 and 8 CPUs at least 4 GiB
  (cloud.google.com/run/docs/configuring/services/memory-limits; the Cloud Run RunConfig reference,
  firebaseapphosting v1 ``RunConfig.concurrency`` / ``cpu``).
- Function Compute 3.0: ``instanceConcurrency`` 1..100 for custom-container runtimes (devsapp/fc3,
  docs/zh/yaml/readme.md); 1 to 4 GB of memory per vCPU in multiples of 64 MB (deploy/fc/s.yaml); 300
  instances per region per account by default (alibabacloud.com/help/en/functioncompute/fc/
  overview-of-configuring-the-maximum-number-of-on-demand-instances); a minimum instance count of 1 or
  more keeps instances warm (alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/
  instance-types-and-usage-modes).
- Vertex AI reinforcement tuning: ``reinforcementTuningSpec.hyperParameters.samplesPerPrompt`` ("number of
  different responses to generate per prompt") and ``batchSize`` ("how many prompts to process at a train
  step"); googleapis/js-genai ``ReinforcementTuningHyperParameters``. A reward call may take 5 minutes.
- DashScope (Model Studio) reinforcement jobs: ``training.hyper_parameters`` of the SDK's job file
  (``dashscope`` 2.0.2, ``finetune/reinforcement/common/model.py``: ``TuningModel.training``,
  ``Training.hyper_parameters``), whose keys the SDK documents as ``n_rollouts`` and ``batch_size``
  (``dashscope/acli/examples/dashscope-sdk-expert/.acli/skills/fine-tuning.md``); the function's
  ``runtime`` takes ``cpu``, ``memory_size``, ``concurrency``, ``capacity``, ``min_capacity`` and
  ``max_capacity`` (``FunctionComponentRuntime``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rewardkit._errors import RewardkitError

__all__ = ["CapacityError", "JobShape", "Platform", "RewardCost", "Sizing", "read_bench", "read_job", "size"]

Platform = Literal["cloudrun", "fc"]

CLOUD_RUN_MAX_CONCURRENCY = 1000
CLOUD_RUN_CPUS = (1, 2, 4, 6, 8)
CLOUD_RUN_MAX_MEMORY_GIB = 32
FC_MAX_CONCURRENCY = 100
FC_MAX_CPU = 16
FC_REGION_INSTANCES = 300  # the account's default per region; a larger count needs a quota increase
REWARD_TIMEOUT = 300  # seconds: Vertex gives a reward call 5 minutes; rewardkit's FC and Cloud Run default
# The burst should end within half the timeout: the other half absorbs an instance that starts cold after
# all, a call the platform retries, and a bench run on a quieter machine than production.
STEP_SHARE = 0.5
# Maximum instances: twice the warm count, so a step that overlaps a slow one, or a retried burst, finds room
# without a runaway bill.
MAX_INSTANCES_FACTOR = 2
# Memory per process (the server and each worker): a Python interpreter with sympy/math-verify loaded is about
# 200 MB; 512 MB leaves room for a reward's working set. Raise it for rewards that hold more.
PROCESS_MEMORY_MB = 512
DEFAULT_MAX_QUEUE = 100  # rewardkit._settings.Settings.max_queue: calls waiting for a worker before 503


class CapacityError(RewardkitError, ValueError):
    """The job shape, the measured cost or the platform cannot give a configuration; the message says why."""


@dataclass(frozen=True)
class JobShape:
    """One step of a tuning job: `batch_size` prompts, `samples_per_prompt` responses each."""

    samples_per_prompt: int
    batch_size: int
    grouped: bool = False  # one call per prompt holding all its responses (DashScope group_reward)

    def __post_init__(self) -> None:
        for name in ("samples_per_prompt", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CapacityError(f"{name} must be a whole number of 1 or more, got {value!r}")

    @property
    def calls(self) -> int:
        return self.batch_size if self.grouped else self.samples_per_prompt * self.batch_size


@dataclass(frozen=True)
class RewardCost:
    """What one worker does on this reward: calls a second, the slowest call (p99), and how many calls
    were in flight per worker when that was measured (an async reward overlaps many)."""

    calls_per_second_per_worker: float
    p99_seconds: float
    in_flight_per_worker: float = 1.0

    def __post_init__(self) -> None:
        for name in ("calls_per_second_per_worker", "p99_seconds", "in_flight_per_worker"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise CapacityError(f"{name} must be a number above 0, got {value!r}")


@dataclass(frozen=True)
class Sizing:
    """The configuration and the arithmetic that led to it."""

    platform: Platform
    calls: int
    cpu: float
    workers: int
    memory_mb: int
    concurrency: int
    min_instances: int
    max_instances: int
    max_queue: int  # REWARDKIT_MAX_QUEUE each instance needs so the burst waits instead of getting 503
    step_seconds: float  # predicted time from the burst's arrival to its last answer
    lines: tuple[str, ...]

    @property
    def memory(self) -> str:
        """Cloud Run's spelling of the memory limit."""
        return f"{self.memory_mb // 1024}Gi" if self.memory_mb % 1024 == 0 else f"{self.memory_mb}Mi"

    def settings(self) -> dict[str, Any]:
        """The values, under the platform's own names."""
        if self.platform == "cloudrun":
            return {"concurrency": self.concurrency, "cpu": _number(self.cpu), "memory": self.memory,
                    "min-instances": self.min_instances, "max-instances": self.max_instances,
                    "REWARDKIT_MAX_QUEUE": self.max_queue}
        return {"concurrency": self.concurrency, "capacity": self.min_instances, "min_capacity": self.min_instances,
                "max_capacity": self.max_instances, "cpu": _number(self.cpu), "memory_size": self.memory_mb,
                "REWARDKIT_MAX_QUEUE": self.max_queue}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _fmt(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if not float(value).is_integer() else f"{int(value):,}"


def _check_cpu(platform: Platform, cpu: float) -> int:
    if platform == "cloudrun" and cpu not in CLOUD_RUN_CPUS:
        raise CapacityError(f"cpu {_fmt(cpu)}: Cloud Run takes 1, 2, 4, 6 or 8 vCPUs for a reward service (below 1 "
                            "it allows concurrency 1 only)")
    if platform == "fc" and not (float(cpu).is_integer() and 1 <= cpu <= FC_MAX_CPU):
        raise CapacityError(f"cpu {_fmt(cpu)}: give a whole number of vCPUs from 1 to {FC_MAX_CPU} (one worker each)")
    return int(cpu)


def _memory_mb(platform: Platform, cpu: float, workers: int) -> tuple[int, str]:
    """The memory limit and the line that explains it."""
    needed = (workers + 1) * PROCESS_MEMORY_MB
    shown = f"(workers + 1) x {PROCESS_MEMORY_MB} MB = ({workers} + 1) x {PROCESS_MEMORY_MB} = {needed:,} MB"
    if platform == "cloudrun":
        floor_gib = {4: 2, 6: 4, 8: 4}.get(int(cpu), 1)  # Cloud Run's least memory for 4, 6 and 8 CPUs
        gib = max(math.ceil(needed / 1024), floor_gib)
        most = {1: 4, 2: 8, 4: 16, 6: 24, 8: CLOUD_RUN_MAX_MEMORY_GIB}[int(cpu)]  # more needs more CPUs
        if gib > most:
            raise CapacityError(f"{gib} GiB needs more than {_fmt(cpu)} vCPUs on Cloud Run (at most {most} GiB)")
        floor = f"; Cloud Run wants at least {floor_gib} GiB with {_fmt(cpu)} vCPUs" if floor_gib > 1 else ""
        return gib * 1024, f"{shown} -> {gib} GiB (whole GiB{floor})"
    low, high = int(cpu * 1024), int(cpu * 4096)
    mb = max(math.ceil(needed / 64) * 64, low)
    if mb > high:
        raise CapacityError(f"{mb} MB is more than 4 GB per vCPU for {_fmt(cpu)} vCPUs on Function Compute")
    return mb, f"{shown} -> {mb:,} MB (a multiple of 64, 1 to 4 GB per vCPU: {low:,} to {high:,} MB)"


def size(platform: Platform, job: JobShape, cost: RewardCost, *, timeout: float = REWARD_TIMEOUT,
         cpu: float = 2, step_share: float = STEP_SHARE) -> Sizing:
    """The configuration that answers `job`'s burst within `timeout` x `step_share`, with its arithmetic."""
    if not 0 < step_share <= 1:
        raise CapacityError(f"step share {step_share!r} must be above 0 and at most 1")
    if timeout <= 0:
        raise CapacityError(f"timeout {timeout!r} s must be above 0")
    workers = _check_cpu(platform, cpu)
    cap = CLOUD_RUN_MAX_CONCURRENCY if platform == "cloudrun" else FC_MAX_CONCURRENCY
    where = "Cloud Run" if platform == "cloudrun" else "Function Compute"
    rate, p99 = cost.calls_per_second_per_worker, cost.p99_seconds
    burst = job.calls
    budget = timeout * step_share
    drain = budget - p99
    if drain <= 0:
        raise CapacityError(f"the reward's p99 ({_fmt(p99)} s) leaves no time within {_fmt(budget)} s "
                            f"({_fmt(step_share)} of the {_fmt(timeout)} s timeout): make the reward faster or "
                            "raise the timeout")
    per_instance = workers * rate
    lines = [
        f"burst         = {'batch_size' if job.grouped else 'samples_per_prompt x batch_size'} = "
        + (f"{job.batch_size}" if job.grouped else f"{job.samples_per_prompt} x {job.batch_size}")
        + f" = {burst:,} calls at once, each step",
        f"budget        = timeout x {_fmt(step_share)} = {_fmt(timeout)} s x {_fmt(step_share)} = {_fmt(budget)} s "
        "for the whole burst (the rest absorbs a cold instance and retried calls)",
        f"workers       = cpu = {workers} per instance (one worker process per vCPU)",
        f"per instance  = workers x calls/s per worker = {workers} x {_fmt(rate)} = {_fmt(per_instance)} calls/s",
        f"drain time    = budget - p99 = {_fmt(budget)} - {_fmt(p99)} = {_fmt(drain)} s "
        "(the last call still takes its own p99)",
    ]
    each = math.floor(per_instance * drain)  # whole calls: a share of a call does not finish a step
    if each < 1:
        raise CapacityError(f"one instance scores {_fmt(per_instance)} calls/s: not one call fits the {_fmt(drain)} s "
                            "left after the p99; make the reward faster, use more vCPUs or raise the timeout")
    lines.append(f"instance load = floor(per instance x drain time) = floor({_fmt(per_instance)} x {_fmt(drain)}) = "
                 f"{each:,} calls one instance answers within the budget")
    instances = math.ceil(burst / each)
    lines.append(f"instances     = ceil(burst / instance load) = ceil({burst:,} / {each:,}) = {instances:,}")
    if math.ceil(burst / instances) > cap:
        instances = math.ceil(burst / cap)
        lines.append(f"              -> ceil(burst / {cap:,}) = {instances:,}: {where} admits at most {cap:,} "
                     "requests per instance")
    concurrency = math.ceil(burst / instances)
    measured = math.ceil(cost.in_flight_per_worker * workers)
    line = f"concurrency   = ceil(burst / instances) = ceil({burst:,} / {instances:,}) = {concurrency:,}"
    if measured > concurrency:  # the rate was measured with more calls in flight: keep that many
        concurrency = min(measured, cap)
        line += f" -> {concurrency:,}, the calls in flight when the rate was measured"
    lines.append(line + f" (every call of the step admitted at once; {where}'s limit is {cap:,})")
    waiting = concurrency - workers
    max_queue = max(DEFAULT_MAX_QUEUE, waiting)
    queue = (f"REWARDKIT_MAX_QUEUE={max_queue:,} (past the default {DEFAULT_MAX_QUEUE} they would get 503)"
             if waiting > DEFAULT_MAX_QUEUE else f"within REWARDKIT_MAX_QUEUE's default {DEFAULT_MAX_QUEUE}")
    lines.append(f"max queue     = concurrency - workers = {concurrency:,} - {workers} = {waiting:,} calls waiting "
                 f"for a worker: {queue}")
    step = math.ceil(burst / instances) / per_instance + p99
    lines.append(f"step time     = ceil(burst / instances) / per instance + p99 = {math.ceil(burst / instances):,} / "
                 f"{_fmt(per_instance)} + {_fmt(p99)} = {_fmt(round(step, 2))} s (within the {_fmt(budget)} s budget)")
    memory_mb, memory_line = _memory_mb(platform, cpu, workers)
    lines.append(f"memory        = {memory_line}")
    maximum = instances * MAX_INSTANCES_FACTOR
    warm = "min-instances" if platform == "cloudrun" else "min_capacity"
    lines.append(f"{warm:<13} = instances = {instances:,} while the job runs, so the first step meets warm workers "
                 "(set it back to 0 after)")
    lines.append(f"{'max-instances' if platform == 'cloudrun' else 'max_capacity':<13} = instances x "
                 f"{MAX_INSTANCES_FACTOR} = {maximum:,} (room for an overlapping step or a retried burst)")
    if platform == "fc" and maximum > FC_REGION_INSTANCES:
        lines.append(f"note: {maximum:,} instances is more than the {FC_REGION_INSTANCES} an account may run per "
                     "region by default: ask for a quota increase, or use more vCPUs per instance")
    return Sizing(platform, burst, float(cpu), workers, memory_mb, concurrency, instances, maximum, max_queue, step,
                  tuple(lines))


# ---- reading the job and the bench ------------------------------------------------

def _whole(value: Any, where: str) -> int:
    """A positive whole number, also as the strings the DashScope SDK keeps hyperparameters as."""
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or number < 1:
        raise CapacityError(f"{where}: expected a whole number of 1 or more, got {value!r}")
    return number


def _vertex_shape(body: Mapping[str, Any], source: str) -> tuple[int | None, int | None]:
    spec = body.get("reinforcementTuningSpec")
    hyper = spec.get("hyperParameters", {}) if isinstance(spec, Mapping) else None
    if not isinstance(hyper, Mapping):
        raise CapacityError(f"{source}: reinforcementTuningSpec.hyperParameters must be an object")
    where = f"{source}: reinforcementTuningSpec.hyperParameters"
    samples, batch = hyper.get("samplesPerPrompt"), hyper.get("batchSize")
    return (None if samples is None else _whole(samples, f"{where}.samplesPerPrompt"),
            None if batch is None else _whole(batch, f"{where}.batchSize"))


def _dashscope_shape(body: Mapping[str, Any], source: str) -> tuple[int | None, int | None]:
    # The SDK's job file keeps them under training.hyper_parameters; a submitted job (FineTunes) at the top.
    training = body.get("training")
    hyper = training.get("hyper_parameters") if isinstance(training, Mapping) else body.get("hyper_parameters")
    prefix = "training.hyper_parameters" if isinstance(training, Mapping) else "hyper_parameters"
    if not isinstance(hyper, Mapping):
        raise CapacityError(f"{source}: {prefix} must be a mapping")
    samples, batch = hyper.get("n_rollouts"), hyper.get("batch_size")
    return (None if samples is None else _whole(samples, f"{source}: {prefix}.n_rollouts"),
            None if batch is None else _whole(batch, f"{source}: {prefix}.batch_size"))


def read_job(text: str, source: str) -> tuple[int | None, int | None]:
    """(samples per prompt, batch size) from a Vertex tuningJobs body (JSON) or a DashScope job file (YAML or
    JSON); None for a value the file leaves to the platform."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        try:
            import yaml  # type: ignore[import-untyped]  # PyYAML has no type information; safe_load only
        except ImportError:
            raise CapacityError(f"{source} is not JSON, and reading a YAML job file needs PyYAML "
                                "(pip install pyyaml)") from None
        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CapacityError(f"{source} is neither JSON nor YAML: {exc}") from None
    if not isinstance(body, Mapping):
        raise CapacityError(f"{source}: expected a job object at the top, got {type(body).__name__}")
    if "reinforcementTuningSpec" in body:
        return _vertex_shape(body, source)
    if "training" in body or "hyper_parameters" in body:
        return _dashscope_shape(body, source)
    raise CapacityError(f"{source}: neither a Vertex tuning job (reinforcementTuningSpec.hyperParameters) nor a "
                        "DashScope job file (training.hyper_parameters)")


BENCH_KEYS = ("calls_per_second_per_worker", "p99_seconds", "in_flight_per_worker")


def read_bench(text: str, source: str) -> RewardCost:
    """The reward's cost from the JSON `rewardkit replay --bench --bench-out FILE` wrote."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CapacityError(f"{source} is not JSON ({exc}); write it with rewardkit replay --bench --bench-out "
                            "FILE") from None
    if not isinstance(data, Mapping) or any(key not in data for key in BENCH_KEYS[:2]):
        raise CapacityError(f"{source}: expected the JSON of rewardkit replay --bench --bench-out, with "
                            f"{' and '.join(BENCH_KEYS[:2])}")
    return RewardCost(data["calls_per_second_per_worker"], data["p99_seconds"], data.get("in_flight_per_worker", 1.0))
