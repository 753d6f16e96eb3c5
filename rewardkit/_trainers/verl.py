"""verl's custom reward function over rewardkit's engine, or a served rewardkit: rewardkit.verl's, which
documents the call verl makes and the configuration."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .._errors import RewardkitError
from .._loader import DEFAULT_TARGET, resolve_target
from .._outcome import ERROR_KEY, FAILED_KEY, Outcome
from .._registry import AnySpec, metric_keys
from .._sample import Metadata, Sample
from ..media._values import images_in
from .chat import with_prompt_media
from .embedded import AdapterError, Embedded, FailureLog, MetricSchema, Poster, settings_for, shared

__all__ = ["ERROR_KEY", "FAILED_KEY", "RewardFailed", "compute_score", "compute_score_batch"]

# A client of the served rewardkit at (url, concurrency, auth_token): the face passes the Nova batch route's.
Connect = Callable[[str, int, "str | None"], Poster]

PLATFORM = "verl"
ANY_SOURCE = "*"
# Keyword arguments verl itself may add to the call (verl/experimental/reward_loop/reward_manager/naive.py).
VERL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})
_SETTINGS = ("timeout", "workers", "worker_memory_mb")
CONFIG_KWARGS = frozenset({"rewards", "reward", "target", "url", "failure_score", "auth_token", "concurrency",
                           *_SETTINGS})
# verl's own additions to extra_info, bookkeeping rather than references: num_turns and rollout_reward_scores
# (verl/workers/reward_manager/naive.py; 0.9's verl/experimental/reward_loop/reward_manager/naive.py), the agent
# loop's tool_extra_fields merged in by the reward loop (turn_scores, tool_rewards: verl/experimental/agent_loop/
# single_turn_agent_loop.py, tool_agent_loop.py) and the gdpo manager's experiment_name (reward_manager/gdpo.py).
_VERL_EXTRA_INFO = ("num_turns", "rollout_reward_scores", "turn_scores", "tool_rewards", "experiment_name")


class RewardFailed(RewardkitError):
    """A reward failed on an item and no `failure_score` is configured; `code` is rewardkit's error code."""

    def __init__(self, reward: str, data_source: Any, code: str, message: str) -> None:
        self.reward, self.data_source, self.code = reward, data_source, code
        super().__init__(f"{code}: reward {reward!r} failed on an item of data_source {data_source!r}: {message}. "
                         "Set failure_score in custom_reward_function.reward_kwargs (or $REWARDKIT_VERL_FAILURE_SCORE) "
                         "to score such items instead of stopping")


@dataclass(frozen=True)
class Config:
    rewards: tuple[tuple[str, str], ...] = ()
    reward: str | None = None
    target: str = DEFAULT_TARGET
    url: str | None = None
    failure_score: float | None = None
    auth_token: str | None = None
    concurrency: int = 8
    settings: tuple[tuple[str, Any], ...] = field(default=())

    def reward_for(self, data_source: Any) -> str:
        routes = dict(self.rewards)
        name = routes.get(str(data_source), routes.get(ANY_SOURCE, self.reward))
        if name is None:
            raise AdapterError(f"no reward for data_source {data_source!r}: map it in reward_kwargs.rewards "
                               f"({{{str(data_source)!r}: 'reward_name'}}, or '*' for every other), "
                               "set reward_kwargs.reward, "
                               "or $REWARDKIT_VERL_REWARDS / $REWARDKIT_REWARD")
        return name

    def reward_names(self) -> tuple[str, ...]:
        """Every reward an item may be routed to, in a fixed order."""
        names = [name for _source, name in self.rewards] + ([self.reward] if self.reward else [])
        return tuple(dict.fromkeys(names))


def _json_env(name: str, environ: Mapping[str, str]) -> Any:
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AdapterError(f"${name} must be JSON (an object of data_source -> reward name): {exc}") from None


def _number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AdapterError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise AdapterError(f"{what} must be a finite number, got {value!r}")
    return number


def config(kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """The configuration of one call: `reward_kwargs` over the environment."""
    environ = os.environ if environ is None else environ
    unknown = set(kwargs) - CONFIG_KWARGS - VERL_KWARGS
    if unknown:
        raise AdapterError(f"unknown reward_kwargs for rewardkit.verl: {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(sorted(CONFIG_KWARGS))}")
    rewards = kwargs.get("rewards")
    if rewards is None:
        rewards = _json_env("REWARDKIT_VERL_REWARDS", environ)
    if rewards is not None and (not isinstance(rewards, Mapping) or
                                not all(isinstance(v, str) for v in rewards.values())):
        raise AdapterError(f"rewards must map data_source names to reward names, got {rewards!r}")
    failure = kwargs.get("failure_score", environ.get("REWARDKIT_VERL_FAILURE_SCORE"))
    return Config(
        rewards=tuple(sorted((str(k), v) for k, v in (rewards or {}).items())),
        reward=kwargs.get("reward") or environ.get("REWARDKIT_REWARD", "").strip() or None,
        target=resolve_target(kwargs.get("target")),
        url=kwargs.get("url") or environ.get("REWARDKIT_URL", "").strip() or None,
        failure_score=_number(failure, "failure_score"),
        auth_token=kwargs.get("auth_token") or environ.get("REWARDKIT_AUTH_TOKEN") or None,
        concurrency=int(kwargs.get("concurrency") or 8),
        settings=tuple((k, kwargs[k]) for k in _SETTINGS if kwargs.get(k) is not None),
    )


# ---- scoring -------------------------------------------------------------------------------

_FAILURES = FailureLog("rewardkit.verl")
_SCHEMAS: dict[tuple[Any, ...], MetricSchema] = {}  # one per (target or url, rewards): its undeclared-metric warnings


# (solution_str, ground_truth, extra_info) of one item, as verl passes them.
_Item = tuple[Any, Any, Any]


def _info(extra_info: Any) -> dict[str, Any]:
    info = dict(extra_info) if isinstance(extra_info, Mapping) else {}
    for key in _VERL_EXTRA_INFO:
        info.pop(key, None)
    return info


# verl's reward managers call compute_score(data_source, solution_str, ground_truth, extra_info): the prompt's
# images (the dataset's `images` column, turned into pixel values by the rollout) never reach it
# (verl/workers/reward_manager/naive.py). A dataset that wants its reward to see them puts their paths, URLs or
# bytes under one of these keys of extra_info; they become the prompt's media.
IMAGE_KEYS = ("images", "image")


def _sample(solution: Any, ground_truth: Any, extra_info: Any) -> Sample:
    info = _info(extra_info)
    index = info.get("index")
    images = tuple(m for key in IMAGE_KEYS for m in images_in(info.pop(key, None)))
    sample = Sample(response=solution if isinstance(solution, str) else str(solution), references=info,
                    ground_truth=ground_truth,
                    metadata=Metadata(platform=PLATFORM, sample_id=None if index is None else str(index)))
    return with_prompt_media(sample, images)


def _spec(embedded: Embedded, name: str) -> AnySpec:
    spec = embedded.spec(name)
    if spec.grouped:
        raise AdapterError(f"reward {name!r} is grouped: it scores a prompt's responses together, and verl's "
                           "compute_score gets one response at a time; serve it and use a trainer that sends groups")
    return spec


def _schema(cfg: Config, connect: Connect) -> MetricSchema:
    """The keys of every item this configuration answers for: those of each reward it routes to, read from the
    registry (in-process) or the served rewardkit's GET /rewards (remote), before any item is scored."""
    where = ("url", cfg.url) if cfg.url is not None else ("target", cfg.target, cfg.settings)
    key = (*where, cfg.reward_names())
    found = _SCHEMAS.get(key)
    if found is None:
        if cfg.url is not None:
            poster = connect(cfg.url, cfg.concurrency, cfg.auth_token)
            keys = [k for name in cfg.reward_names() for k in poster.metric_keys(name)]
        else:
            embedded = shared(cfg.target, settings_for(dict(cfg.settings)))
            keys = [k for name in cfg.reward_names() for k in metric_keys(embedded.spec(name))]
        found = _SCHEMAS.setdefault(key, MetricSchema(keys, "rewardkit.verl"))
    return found


def _result(cfg: Config, schema: MetricSchema, outcome: Outcome, data_source: Any) -> dict[str, Any]:
    """verl's dict for one outcome: `score`, FAILED_KEY, ERROR_KEY and the schema's metrics."""
    failed = outcome.failure is not None
    if failed:
        consequence = ("scored with its fallback" if outcome.score is not None else
                       f"scored failure_score={cfg.failure_score:g}" if cfg.failure_score is not None else
                       "raising RewardFailed")
        _FAILURES.note(outcome, consequence)
    if outcome.score is not None:
        value = outcome.score.value
    elif cfg.failure_score is not None:
        value = cfg.failure_score
    else:
        assert outcome.failure is not None
        raise RewardFailed(outcome.reward, data_source, outcome.failure.code, outcome.failure.message)
    return schema.row(outcome, value)


def _remote(cfg: Config, name: str, items: Sequence[_Item], connect: Connect) -> list[Outcome]:
    assert cfg.url is not None
    poster = connect(cfg.url, cfg.concurrency, cfg.auth_token)
    posted = [poster.wire.item(i, [{"role": "assistant", "content": solution}], truth, _info(info))
              for i, (solution, truth, info) in enumerate(items)]
    return poster.score(name, posted)


def _local(cfg: Config, name: str, items: Sequence[_Item]) -> list[Outcome]:
    embedded = shared(cfg.target, settings_for(dict(cfg.settings)))
    [outcomes] = embedded.evaluate(_spec(embedded, name), [[_sample(*item) for item in items]])
    return outcomes


def _score(cfg: Config, data_sources: Sequence[Any], items: Sequence[_Item], connect: Connect
           ) -> list[dict[str, Any]]:
    """Each item scored by its data_source's reward; the items of one reward in one batch."""
    names = [cfg.reward_for(source) for source in data_sources]
    schema = _schema(cfg, connect)
    outcomes: dict[int, Outcome] = {}
    for name in dict.fromkeys(names):
        picked = [i for i, n in enumerate(names) if n == name]
        chosen = [items[i] for i in picked]
        scored = _remote(cfg, name, chosen, connect) if cfg.url is not None else _local(cfg, name, chosen)
        outcomes.update(zip(picked, scored, strict=True))
    return [_result(cfg, schema, outcomes[i], source) for i, source in enumerate(data_sources)]


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any,
                  kwargs: Mapping[str, Any], connect: Connect) -> dict[str, Any]:
    """rewardkit.verl.compute_score, with the reward_kwargs and how to reach a served rewardkit."""
    cfg = config(kwargs)
    return _score(cfg, [data_source], [(solution_str, ground_truth, extra_info)], connect)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None, kwargs: Mapping[str, Any], connect: Connect
                        ) -> list[dict[str, Any]]:
    """rewardkit.verl.compute_score_batch: a dict per item, all with the schema's keys."""
    cfg = config(kwargs)
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    if not len(data_sources) == len(solution_strs) == len(ground_truths) == len(infos):
        raise AdapterError(f"compute_score_batch got {len(data_sources)} data_sources, {len(solution_strs)} "
                           f"solution_strs, {len(ground_truths)} ground_truths and {len(infos)} extra_infos")
    return _score(cfg, list(data_sources), list(zip(solution_strs, ground_truths, infos, strict=True)), connect)
