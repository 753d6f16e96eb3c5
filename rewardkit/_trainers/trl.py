"""TRL's reward functions over rewardkit's engine, or a served rewardkit: rewardkit.trl builds them.

The call TRL makes, and what the functions make of it, is in rewardkit.trl's docstring."""

from __future__ import annotations

import asyncio
import math
from typing import Any, Callable, Mapping, Sequence

from .._errors import RewardkitError
from .._outcome import Outcome
from .._registry import metric_keys
from .._sample import Metadata
from ..media._values import images_in
from .chat import chat_sample, with_prompt_media
from .embedded import Embedded, FailureLog, MetricSchema, Poster, log, settings_for, shared, target_of

__all__ = ["RewardFunc", "RemoteRewardFunc", "coroutine_function"]

PLATFORM = "trl"
# Keyword arguments TRL adds to the dataset columns: not data, never passed to a reward as references.
TRAINER_KWARGS = frozenset({"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"})
_GOLD_COLUMN = "ground_truth"  # a column of this name is the sample's ground_truth, as DashScope's field is


# TRL's vision-language datasets keep a prompt's images in an `image` or `images` column (PIL images, as 🤗 Datasets
# decodes its Image feature) and pass every column to reward functions (trl/trainer/grpo_trainer.py, reward_kwargs).
IMAGE_COLUMNS = ("image", "images")


def _column_images(columns: Mapping[str, Any]) -> tuple[Any, ...]:
    """The row's images as Media (PNG bytes for a PIL image), the prompt's in order."""
    return tuple(m for name in IMAGE_COLUMNS for m in images_in(columns.get(name)))


def _text_columns(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The columns that are references: the image columns are the prompt's media, not gold answers."""
    return {k: v for k, v in columns.items() if k not in IMAGE_COLUMNS}


def _messages(value: Any, role: str) -> list[Mapping[str, Any]]:
    """A prompt or completion as messages: conversational ones as they are, a standard string as one turn."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, Mapping):  # a single message rather than a list of them
        return [value]
    return [m for m in value or () if isinstance(m, Mapping)]


# (prompt messages, completion messages, dataset columns) of one completion.
Row = tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], dict[str, Any]]


def rows(prompts: Sequence[Any], completions: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Row]:
    """(prompt messages, completion messages, dataset columns) per completion, from TRL's call."""
    if len(prompts) != len(completions):
        raise ValueError(f"TRL passed {len(prompts)} prompts and {len(completions)} completions; expected one each")
    columns = {k: v for k, v in kwargs.items() if k not in TRAINER_KWARGS and isinstance(v, (list, tuple))}
    for name, values in columns.items():
        if len(values) != len(prompts):
            raise ValueError(f"dataset column {name!r} has {len(values)} values for {len(prompts)} completions")
    return [(_messages(prompt, "user"), _messages(completion, "assistant"),
             {name: values[i] for name, values in columns.items()})
            for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True))]


def groups(prompts: Sequence[Any], num_generations: int | None) -> list[range]:
    """Index ranges of the completions of one prompt: `num_generations` at a time when given, else each run
    of consecutive completions of an equal prompt (TRL's RepeatSampler puts a prompt's completions together)."""
    if num_generations is not None:
        if num_generations < 1 or len(prompts) % num_generations:
            raise ValueError(f"{len(prompts)} completions do not split into groups of "
                             f"num_generations={num_generations}")
        return [range(i, i + num_generations) for i in range(0, len(prompts), num_generations)]
    found: list[range] = []
    start = 0
    for i in range(1, len(prompts) + 1):
        if i == len(prompts) or prompts[i] != prompts[start]:
            found.append(range(start, i))
            start = i
    return found


def _step(kwargs: Mapping[str, Any]) -> int | None:
    step = getattr(kwargs.get("trainer_state"), "global_step", None)
    return step if isinstance(step, int) else None


class _TRLReward:
    """What both TRL reward functions share: TRL's call in, one value per completion out, failures logged."""

    reward: str
    failure_score: float | None
    log_metrics: bool

    def __init__(self, reward: str, failure_score: float | None, log_metrics: bool, where: str) -> None:
        self.reward = reward
        self.__name__ = reward  # TRL names its logs after it: rewards/<name>/mean
        self.failure_score = failure_score
        self.log_metrics = log_metrics
        self._where = where
        self.failures = FailureLog(f"rewardkit.trl {where}")
        self._schema: MetricSchema | None = None

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        outcomes = self._outcomes(prompts, rows(prompts, completions, kwargs), _step(kwargs))
        if self.log_metrics and callable(kwargs.get("log_metric")):
            self._log(kwargs["log_metric"], outcomes)
        return [self._value(outcome) for outcome in outcomes]

    def _outcomes(self, prompts: Sequence[Any], batch: list[Row], step: int | None) -> list[Outcome]:
        raise NotImplementedError  # abstract

    def _metric_keys(self) -> tuple[str, ...]:
        raise NotImplementedError  # abstract: the reward's declared metric keys

    def _value(self, outcome: Outcome) -> float | None:
        if outcome.failure is not None:
            fallback = "scored with its fallback" if outcome.score is not None else (
                "answered None (TRL leaves it out of the group's mean)" if self.failure_score is None
                else f"scored failure_score={self.failure_score:g}")
            self.failures.note(outcome, fallback)
        if outcome.score is not None:
            return outcome.score.value
        return self.failure_score

    def _log(self, log_metric: Any, outcomes: list[Outcome]) -> None:
        """Per batch, through TRL's `log_metric` (averaged over each logging step): the share of failed items
        and, for each declared metric (the same schema as verl's, rewardkit._trainers.embedded.MetricSchema),
        its mean over the items that report it; a metric no item of the batch reports is not logged (TRL would
        average a NaN into the whole logging step)."""
        failed = sum(outcome.failure is not None for outcome in outcomes)
        log_metric(f"rewardkit/{self.reward}.failed", failed / max(len(outcomes), 1))
        if self._schema is None:
            try:
                self._schema = MetricSchema(self._metric_keys(), f"rewardkit.trl {self._where}")
            except RewardkitError as exc:  # a remote server out of reach: the scores stand, the metrics wait
                log.warning("rewardkit.trl %s: metrics not logged this step: %s", self._where, exc)
                return
        rows = [self._schema.metrics(outcome) for outcome in outcomes]
        for name in self._schema.keys:
            values = [row[name] for row in rows if math.isfinite(row[name])]
            if values:
                log_metric(f"rewardkit/{name}", sum(values) / len(values))

    def __getstate__(self) -> dict[str, Any]:
        # Picklable as settings only: pools, threads and connections start again, lazily, where it lands.
        return {k: v for k, v in self.__dict__.items() if k not in ("failures", "_schema", *self._unpicklable)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.update(dict.fromkeys(self._unpicklable))
        self._schema = None
        self.failures = FailureLog(f"rewardkit.trl {self._where}")

    _unpicklable: tuple[str, ...] = ()


class RewardFunc(_TRLReward):
    """A rewardkit reward scored in this process's worker pool, as TRL calls a reward function;
    see `rewardkit.trl.reward_func`."""

    _unpicklable = ("_embedded",)

    def __init__(self, reward: Any, target: str | None = None, *, timeout: float | None = None,
                 workers: int | None = None, worker_memory_mb: int | None = None, num_generations: int | None = None,
                 failure_score: float | None = None, log_metrics: bool = True) -> None:
        self.target, name = target_of(reward, target)
        super().__init__(name, failure_score, log_metrics, name)
        self.settings = settings_for({"timeout": timeout, "workers": workers, "worker_memory_mb": worker_memory_mb})
        self.num_generations = num_generations
        self._embedded: Embedded | None = None
        self.embedded.spec(self.reward)  # an unknown reward or a broken target fails now, not at the first step

    @property
    def embedded(self) -> Embedded:
        if self._embedded is None:
            self._embedded = shared(self.target, self.settings)
        return self._embedded

    def _outcomes(self, prompts: Sequence[Any], batch: list[Row], step: int | None) -> list[Outcome]:
        samples = [with_prompt_media(chat_sample(prompt, answer, references=_text_columns(columns),
                                                 ground_truth=columns.get(_GOLD_COLUMN),
                                                 metadata=Metadata(platform=PLATFORM, step=step)),
                                     _column_images(columns))
                   for prompt, answer, columns in batch]
        spec = self.embedded.spec(self.reward)
        ranges = groups(prompts, self.num_generations) if spec.grouped else [range(len(samples))]
        outcomes: list[Outcome] = []
        for part in self.embedded.evaluate(spec, [[samples[i] for i in r] for r in ranges]):
            outcomes.extend(part)
        return outcomes

    def _metric_keys(self) -> tuple[str, ...]:
        return metric_keys(self.embedded.spec(self.reward))

    def close(self) -> None:
        """Stop the worker processes now (they stop at exit anyway); the next call starts them again."""
        if self._embedded is not None:
            self._embedded.close()

    def __repr__(self) -> str:
        return f"rewardkit.trl.reward_func({self.reward!r}, target={self.target!r})"


def _up_to_answer(completion: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The completion's turns up to its last assistant turn, the answer (an empty one if it has none): the
    batch route reads the last message as the answer, as the in-process adapter reads the last assistant turn."""
    last = max((i for i, m in enumerate(completion) if m.get("role") == "assistant"), default=None)
    return list(completion[:last + 1]) if last is not None else [*completion, {"role": "assistant", "content": ""}]


class RemoteRewardFunc(_TRLReward):
    """A reward of a served rewardkit, posted to its batch route, as TRL calls a reward function;
    see `rewardkit.trl.remote_reward_func`."""

    _unpicklable = ("_poster",)

    def __init__(self, url: str, reward: str, *, connect: Callable[[], Poster], failure_score: float | None = None,
                 log_metrics: bool = True) -> None:
        super().__init__(reward, failure_score, log_metrics, f"{reward} at {url}")
        self.url = url
        self.connect = connect  # picklable: the client is made again where this lands
        self._poster: Poster | None = None

    def _outcomes(self, prompts: Sequence[Any], batch: list[Row], step: int | None) -> list[Outcome]:
        if self._poster is None:
            self._poster = self.connect()
        # As in-process: the columns are the references, a `ground_truth` column the ground truth.
        items = [self._poster.wire.item(i, [*prompt, *_up_to_answer(answer)], columns.get(_GOLD_COLUMN), columns)
                 for i, (prompt, answer, columns) in enumerate(batch)]
        return self._poster.score(self.reward, items)

    def _metric_keys(self) -> tuple[str, ...]:
        if self._poster is None:
            self._poster = self.connect()
        return self._poster.metric_keys(self.reward)

    def __repr__(self) -> str:
        return f"rewardkit.trl.remote_reward_func({self.url!r}, {self.reward!r})"


def coroutine_function(function: _TRLReward) -> Callable[..., Any]:
    """`function` as an `async def`, which TRL tells apart (inspect.iscoroutinefunction) and runs together
    with the trainer's other async reward functions (asyncio.gather on its own loop); the blocking call
    goes to a thread."""
    async def scored(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        return await asyncio.to_thread(function, prompts, completions, **kwargs)

    scored.__name__ = scored.__qualname__ = function.__name__
    scored.reward_function = function  # type: ignore[attr-defined]  # .close() and the settings are there
    return scored
