"""Serve a rewardkit reward from the DashScope SDK's own function server.

Model Studio's SDK deploys a reward function by running its server
(`python -m dashscope.finetune.reinforcement.component.server.server`) with
`FUNC_TYPE=reward|group_reward` and `PROCESSOR_CLASS=module.ClassName`; the
server instantiates that class with no arguments, calls `setup()` once at
startup and `process(input)` per request, with the request parsed into the
SDK's `RewardInput` / `GroupRewardInput`. This module makes such processor
classes from rewardkit rewards:

    # my_rewards.py
    import rewardkit.dashscope
    from rewards import math_accuracy

    MathProcessor = rewardkit.dashscope.processor(math_accuracy)            # FUNC_TYPE=reward
    MathGroupProcessor = rewardkit.dashscope.processor(math_accuracy, group=True)  # FUNC_TYPE=group_reward

then `classpath="my_rewards.MathProcessor"` in the SDK's
`FunctionComponentModel`. For zero-code deployment, `TargetRewardProcessor`
and `TargetGroupRewardProcessor` serve the reward named by `REWARDKIT_REWARD`
from the module named by `REWARDKIT_TARGET` (default `rewards`). The SDK
deploys a classpath only when the file it names is inside the uploaded
workspace (`zipdir`), so a workspace that installs rewardkit from its
requirements re-exports them from a module of its own:

    # rewardkit_processors.py
    from rewardkit.dashscope import TargetGroupRewardProcessor, TargetRewardProcessor

and uses `classpath="rewardkit_processors.TargetRewardProcessor"`.

A processor answers exactly as rewardkit's own `POST /rewards/NAME/api/v1`:
the SDK's parsed input is turned back into the JSON body the route receives
and goes through the same function (`rewardkit._serving.answer.answer`: contract
validation, samples, fallbacks and composites, rendering), and the SDK's
server serializes the returned RewardOutput / GroupRewardOutput to the same
JSON. Requests the route refuses (422) raise `RequestRefused`, which the SDK's
server answers with the same status and FastAPI's `{"detail": MESSAGE}` body
(the route's is `{"message": MESSAGE, "detail": ERRORS}`). Bodies the SDK's
own parser refuses never reach the processor: the SDK answers those 422
itself.

What differs is where the reward runs. The SDK's server calls synchronous
processors in its own thread pool (`THREAD_POOL_WORKERS`, default 32), so
rewards run in those threads (`InlineEngine(threaded=False)`): a synchronous
reward has no hard timeout (a thread cannot be stopped, and a client that
goes away leaves it running), and math-verify's signal-based time limits are
off, as they are in any thread but the main one (`rewards.math.accuracy` passes
`timeout=None` there).
Async rewards get `REWARDKIT_TIMEOUT` (default 60 s) as under `rewardkit
serve`, on an event loop made for each request. Hard timeouts, memory caps
and crash isolation are `rewardkit serve`'s (its worker processes); a
training job, which can only name functions the SDK registered, gets the
reward through these classes.

Importing this module does not need the `dashscope` package; building a
processor class does, and raises ImportError ("pip install dashscope")
without it.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Coroutine, TypeVar

from fastapi import HTTPException
from pydantic import BaseModel

from ._engine.inline import InlineEngine
from ._errors import RewardkitError, SetupError
from ._loader import load_registry, resolve_target
from ._registry import AnySpec, Registry, RewardSpec, default_reward, spec_of
from ._serving.answer import answer
from ._serving.http import HTTPProblem
from ._serving.trace import tracing_from_env
from ._settings import load_settings
from .contracts.dashscope import CONTRACT as DASHSCOPE

__all__ = ["processor", "RequestRefused", "ProcessorConfigError", "TargetRewardProcessor", "TargetGroupRewardProcessor"]

if TYPE_CHECKING:
    # Built by the module's __getattr__ on first access (they subclass the SDK's classes).
    TargetRewardProcessor: type
    TargetGroupRewardProcessor: type

_SDK_PROCESSORS = "dashscope.finetune.reinforcement.component.processor"
_SDK_DATA = "dashscope.finetune.reinforcement.component.data"


class ProcessorConfigError(RewardkitError, ValueError):
    """A processor class cannot serve the reward it was given (or the environment names)."""


class RequestRefused(HTTPException):
    """A request rewardkit's route refuses (422: it does not match contract B, or a grouped reward got one output).

    It is FastAPI's HTTPException, so the SDK's server (which re-raises those)
    answers with the same status as rewardkit's route, body `{"detail":
    message}`; `message` and `errors` carry what the route's body would.
    """

    def __init__(self, status: int, message: str, errors: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.status = status
        self.message = message
        self.errors = errors


def _sdk() -> tuple[Any, Any]:
    """The SDK's module of abstract processors and its module of data models."""
    try:
        return importlib.import_module(_SDK_PROCESSORS), importlib.import_module(_SDK_DATA)
    except ImportError as exc:
        raise ImportError(
            "rewardkit.dashscope builds DashScope SDK processor classes and needs the SDK: "
            f"pip install dashscope (importing it failed: {exc})"
        ) from exc


def request_body(input_data: Any) -> Any:
    """The JSON body rewardkit's route would have received for the SDK's parsed input.

    `exclude_unset` keeps "missing" missing and an explicit null null, and
    keeps the request's top-level extra keys, so a reward that asks for `raw`
    sees the body as sent. What the SDK's parser itself drops or coerces
    before the processor runs cannot come back: unknown keys inside
    `agent_output` / `request_metadata`, and ints in `rollout_metrics` /
    `reward_score` (floats there). A dict is taken as the body as is.
    """
    if isinstance(input_data, BaseModel):
        return input_data.model_dump(mode="json", exclude_unset=True)
    return input_data


def _output(body: dict[str, Any]) -> Any:
    """The SDK's RewardOutput or GroupRewardOutput for a rendered answer (a group has `reward.rewards`)."""
    data = _sdk()[1]
    model = data.GroupRewardOutput if "rewards" in body["reward"] else data.RewardOutput
    return model.model_validate(body)


_T = TypeVar("_T")


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run `coroutine` to completion from synchronous code, even where an event loop already runs.

    The SDK calls process() in a pool thread with no loop, but a notebook or
    an async test calling it directly has one running in its thread, where
    asyncio.run refuses; there the coroutine gets a loop in a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardkit-dashscope") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class _Scorer:
    """One processor's reward: its engine, its one-time setup, and the route's code path for each request."""

    def __init__(self, spec: AnySpec) -> None:
        self.spec = spec
        registry = Registry([spec])  # the reward and, for a composite, its components
        # Threads of the SDK's pool, not worker processes; async rewards keep the service's timeout.
        self.engine = InlineEngine(registry, threaded=False, timeout=load_settings().timeout)
        self.preload = sorted({m for s in registry if isinstance(s, RewardSpec) for m in s.preload})
        self.tracing = tracing_from_env()  # spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
        self._ready = False
        self._lock = threading.Lock()

    def setup(self) -> None:
        """Import the rewards' `preload` modules and run their setups, once (the SDK calls this at startup)."""
        with self._lock:
            if self._ready:
                return
            for module in self.preload:
                try:
                    importlib.import_module(module)
                except ImportError as exc:
                    raise SetupError(f"reward {self.spec.name!r}: cannot preload module {module!r}: {exc}") from exc
            _run(self.engine.start())
            self._ready = True

    def score(self, raw: Any) -> dict[str, Any]:
        if not self._ready:  # called without the SDK's server (a test, a script): set up on first use
            self.setup()
        try:
            _status, body, _outcomes = _run(answer(DASHSCOPE, self.spec, raw, self.engine, self.tracing))
        except HTTPProblem as exc:
            raise RequestRefused(exc.status, exc.message, exc.detail, exc.headers) from None
        answered: dict[str, Any] = body  # the DashScope contract renders a JSON object (contracts/dashscope.py)
        return answered


def _check_kind(spec: AnySpec, group: bool, hint: str) -> None:
    if spec.grouped and not group:
        raise ProcessorConfigError(
            f"reward {spec.name!r} is grouped: it scores the outputs of one prompt together and needs "
            f"group_reward requests. {hint}"
        )


class _Adapter:
    """The processor methods, mixed in before the SDK's abstract reward / group reward processor."""

    _rewardkit_spec: ClassVar[AnySpec | None] = None
    _rewardkit_group: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._rewardkit = _Scorer(self._rewardkit_resolve())

    def _rewardkit_resolve(self) -> AnySpec:
        if self._rewardkit_spec is None:
            raise ProcessorConfigError(f"{type(self).__name__} serves no reward: build processor classes with "
                                       "rewardkit.dashscope.processor(reward)")
        return self._rewardkit_spec

    def setup(self) -> None:
        self._rewardkit.setup()

    # Synchronous on purpose: the SDK's server then runs it in its thread pool, off its event loop.
    def process(self, input_data: Any) -> Any:
        """Score the SDK's RewardInput / GroupRewardInput (or a body dict) as rewardkit's /api/v1 route does."""
        return _output(self._rewardkit.score(request_body(input_data)))


def _class_name(name: str, group: bool) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return "".join(w[:1].upper() + w[1:] for w in words) + ("GroupRewardProcessor" if group else "RewardProcessor")


@functools.lru_cache(maxsize=None)
def _base(group: bool) -> type:
    processors = _sdk()[0]
    sdk_base = processors.AbstractGroupRewardProcessor if group else processors.AbstractRewardProcessor
    name = "GroupRewardProcessor" if group else "RewardProcessor"
    return type(name, (_Adapter, sdk_base), {"__module__": __name__, "__qualname__": name, "_rewardkit_group": group})


def processor(reward: Any, *, group: bool | None = None) -> type:
    """A DashScope SDK processor class serving `reward` (a decorated function, a variant or a composite).

    `group=None` follows the reward: a subclass of the SDK's
    AbstractGroupRewardProcessor (`FUNC_TYPE=group_reward`) for a grouped
    reward, of AbstractRewardProcessor (`FUNC_TYPE=reward`) otherwise.
    `group=True` for a single reward makes a group processor that scores each
    output on its own, as rewardkit's /api/v1 does for a group_reward
    request; `group=False` for a grouped reward is refused
    (ProcessorConfigError). Assign the class to a module attribute and give
    the SDK its path (`my_rewards.MathProcessor`). The SDK instantiates it
    with no arguments and calls `setup()` (the rewards' setups) at startup.
    """
    spec = spec_of(reward)
    group = spec.grouped if group is None else group
    _check_kind(spec, group, "Build its processor with group=True (or leave group unset) and deploy it with "
                "FUNC_TYPE=group_reward.")
    name = _class_name(spec.name, group)
    doc = f"DashScope SDK {'group_reward' if group else 'reward'} processor serving rewardkit reward {spec.name!r}."
    return type(name, (_base(group),), {"__module__": __name__, "__qualname__": name, "__doc__": doc,
                                        "_rewardkit_spec": spec})


def target_reward(target: str | None = None, reward: str | None = None) -> AnySpec:
    """The reward `REWARDKIT_TARGET` / `REWARDKIT_REWARD` name, as `rewardkit serve` picks its default reward."""
    target = resolve_target(target)
    registry = load_registry(target)
    name = default_reward(registry, reward or os.environ.get("REWARDKIT_REWARD", "").strip() or None)
    if name is None:
        raise ProcessorConfigError(
            f"REWARDKIT_TARGET {target!r} defines several rewards ({', '.join(registry.names())}); set "
            "REWARDKIT_REWARD to the one this function serves"
        )
    return registry.get(name)


class _FromEnvironment(_Adapter):
    def _rewardkit_resolve(self) -> AnySpec:
        spec = target_reward()
        hint = ("Use rewardkit.dashscope.TargetGroupRewardProcessor with FUNC_TYPE=group_reward."
                if not self._rewardkit_group else "")
        _check_kind(spec, self._rewardkit_group, hint)
        return spec


def _target_class(group: bool) -> type:
    name = "TargetGroupRewardProcessor" if group else "TargetRewardProcessor"
    doc = (f"DashScope SDK {'group_reward' if group else 'reward'} processor serving the reward named by "
           "REWARDKIT_REWARD in REWARDKIT_TARGET (default `rewards`), read when the SDK instantiates it.")
    return type(name, (_FromEnvironment, _base(group)), {"__module__": __name__, "__qualname__": name, "__doc__": doc})


_TARGET_CLASSES = {"TargetRewardProcessor": False, "TargetGroupRewardProcessor": True}


def __getattr__(name: str) -> Any:
    # Built on first access, so `import rewardkit.dashscope` works without the SDK installed.
    if name in _TARGET_CLASSES:
        cls = _target_class(_TARGET_CLASSES[name])
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_TARGET_CLASSES})
