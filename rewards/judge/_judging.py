"""What every judge reward shares: its client, its deadline, the cost of its calls, the reply quoted."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Mapping, Sequence, TypedDict, TypeVar

from rewardkit import MissingReferenceError, RegistrationError, Sample
from rewardkit.clients import AsyncJudge, JudgeLimits, TokenProvider
from rewardkit.clients.judge import DISK_CACHE_MB, Completion, Messages, trim
from rewardkit.clients.providers import DEFAULT as DEFAULT_PROVIDER
from rewardkit.clients.providers import Provider

T = TypeVar("T")


def deadline_for(timeout: float) -> float:
    """Seconds a reward call may spend on its judge: short of its timeout by 20 % (at most 2 s), so a slow
    judge ends as JUDGE_ERROR with the judge's last answer, not as a bare TIMEOUT."""
    return max(timeout * 0.8, timeout - 2.0)


class JudgeOptions(TypedDict, total=False):
    """What every judge factory takes by keyword, besides its own arguments.

    model, base_url: the judge (else REWARDKIT_JUDGE_MODEL, REWARDKIT_JUDGE_BASE_URL / OPENAI_BASE_URL);
    provider: the model API, a registered provider's name (default "openai": chat completions) or a Provider;
    api_key: the key itself; api_key_env: the variable holding it (default OPENAI_API_KEY; None for a
    server that needs none);
    token_provider: a function returning a bearer token instead (`cloud_run_identity_token(...)`);
    limits: JudgeLimits (concurrency cap, rate limits, attempts, the Redis that shares them); params: sent
    with every request (default temperature 0); cache (default True; False: none; a Redis URL: shared through
    it), cache_dir (verdicts on disk too) and cache_dir_mb (its bound, default 1024);
    judge: an AsyncJudge to share between rewards instead of all the above;
    timeout (default 60 s, pairwise 120 s), weight, fallback: as for any reward.
    """

    model: str | None
    base_url: str | None
    provider: str | Provider
    api_key: str | None
    api_key_env: str | None
    token_provider: TokenProvider | None
    limits: JudgeLimits
    params: Mapping[str, Any] | None
    cache: bool | str
    cache_dir: str | os.PathLike[str] | None
    cache_dir_mb: float
    judge: AsyncJudge | None
    timeout: float
    weight: float
    fallback: float | None


_REGISTRATION = ("timeout", "weight", "fallback")


def connect(reward: str, options: Mapping[str, Any], *, timeout: float = 60.0) -> tuple[AsyncJudge, dict[str, Any]]:
    """The reward's judge client, and the settings to register the reward with (timeout, weight, fallback).

    The retry deadline is the smaller of `limits.deadline` (default 50 s) and `deadline_for(timeout)`."""
    unknown = sorted(set(options) - set(JudgeOptions.__annotations__))
    if unknown:
        raise RegistrationError(f"judge reward {reward!r}: unknown option(s) {', '.join(unknown)}; judge options: "
                                f"{', '.join(JudgeOptions.__annotations__)}")
    settings = {"timeout": timeout, "weight": 1.0, "fallback": None,
                **{k: options[k] for k in _REGISTRATION if k in options}}
    seconds = settings["timeout"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise RegistrationError(f"judge reward {reward!r}: timeout must be a number of seconds > 0, got {seconds!r}")
    shared = options.get("judge")
    if shared is not None:
        return shared, settings
    limits = options.get("limits", JudgeLimits())
    limits = dataclasses.replace(limits, deadline=min(limits.deadline, deadline_for(seconds)),
                                 attempt_timeout=min(limits.attempt_timeout, deadline_for(seconds)))
    client = AsyncJudge(options.get("model"), base_url=options.get("base_url"), api_key=options.get("api_key"),
                        api_key_env=options.get("api_key_env", "OPENAI_API_KEY"),
                        provider=options.get("provider", DEFAULT_PROVIDER),
                        token_provider=options.get("token_provider"), limits=limits,
                        params={"temperature": 0.0, **(options.get("params") or {})},
                        cache=options.get("cache", True), cache_dir=options.get("cache_dir"),
                        cache_dir_mb=options.get("cache_dir_mb", DISK_CACHE_MB), name=reward)
    return client, settings


@dataclass
class Costs:
    """What one reward call's judge requests cost, reported as its per-call metrics."""

    calls: int = 0
    cached: int = 0
    tokens: int = 0
    retries: int = 0
    latency: float = 0.0

    def add(self, reply: Completion) -> Completion:
        self.calls += 1
        self.cached += reply.cached
        self.tokens += 0 if reply.cached else reply.prompt_tokens + reply.completion_tokens
        self.retries += reply.retries
        self.latency = max(self.latency, reply.latency)
        return reply

    def metrics(self) -> dict[str, float]:
        return {"judge_calls": float(self.calls), "judge_cached": float(self.cached),
                "judge_tokens": float(self.tokens),
                "judge_retries": float(self.retries), "judge_latency_s": round(self.latency, 4)}


class Asker:
    """Asks one reward call's questions of the judge, under the call's single deadline, counting costs."""

    def __init__(self, judge: AsyncJudge, timeout: float) -> None:
        self.judge = judge
        self.until = time.monotonic() + deadline_for(timeout)
        self.costs = Costs()

    async def ask(self, chat: Messages, draw: int = 0) -> str:
        return (await self.reply(chat, draw)).text

    async def reply(self, chat: Messages, draw: int = 0, judge: AsyncJudge | None = None,
                    params: Mapping[str, Any] | None = None, model: str | None = None) -> Completion:
        """The whole reply (text, log-probabilities) of this call's judge, or of `judge` / `model` (a panel member)."""
        asked = judge or self.judge
        return self.costs.add(await asked.complete(chat, params=params, draw=draw, until=self.until, model=model))


def quoted(reply: str) -> str:
    """The judge's reply, trimmed, as it goes in a reason or an error."""
    return f"judge said: {trim(reply)!r}"


async def all_of(awaitables: list[Awaitable[T]]) -> list[T]:
    """Every result, in order; when one fails, the others are cancelled (no judge call outlives its reward)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def gold(sample: Sample, keys: Sequence[str], reward: str) -> str:
    """The sample's gold answer as text; none is MISSING_REFERENCE (the data's fault, never a score)."""
    value = sample.reference(keys)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingReferenceError(f"{reward}: no gold answer in the request: looked for ground_truth, then "
                                    f"references {', '.join(repr(k) for k in keys)}; the request's references "
                                    f"have keys: {', '.join(repr(k) for k in sample.references) or 'none'}")
    return str(value)
