"""Score a reward locally, through the same pipeline the server runs, with no HTTP.

    from rewardkit.testing import score
    assert score(math_accuracy, "so \\\\boxed{72}", reference="72").value == 1.0

Request builders (`vertex_request`, `dashscope_request`, `group_request`) make
wire bodies of both contracts from plain values, and `reward_client(target)`
serves a reward module in-process (the app `rewardkit serve` runs) behind a
synchronous httpx client:

    with reward_client("my_rewards") as client:
        assert client.post("/rewards/exact", json=vertex_request("Paris", reference="Paris")).json()["reward"] == 1.0
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from ._engine import InlineEngine
from ._invoke import Outcome
from ._pipeline import evaluate
from ._registry import spec_of
from ._sample import Sample, sample
from ._training import dashscope_body, vertex_body

if TYPE_CHECKING:
    import httpx


def _run(reward: Any, samples: Sequence[Sample]) -> list[Outcome]:
    # threaded=False: the reward runs in this (main) thread, so signal-based timeouts work as in a worker.
    return asyncio.run(evaluate(spec_of(reward), samples, InlineEngine(threaded=False)))


def score(reward: Any, response: str = "", reference: Any = None, **fields: Any) -> Outcome:
    """Score one response; `fields` are those of `rewardkit.sample` (prompt, thinking, references, ...)."""
    if spec_of(reward).grouped:
        raise TypeError(f"{spec_of(reward).name!r} is a grouped reward: use score_group(reward, [responses...])")
    return _run(reward, [sample(response, reference, **fields)])[0]


def score_group(reward: Any, responses: Sequence[str], reference: Any = None, **fields: Any) -> list[Outcome]:
    """Score the responses of one prompt together (any kind of reward)."""
    return _run(reward, [sample(r, reference, **fields) for r in responses])


def score_samples(reward: Any, samples: Sequence[Sample]) -> list[Outcome]:
    """Score prepared samples (for instance built by a contract adapter)."""
    return _run(reward, samples)


# ---- request bodies from plain values --------------------------------------------

def _chat(prompt: str, system: str | None, messages: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    if messages is not None:
        return [dict(m) for m in messages]
    head = [{"role": "system", "content": system}] if system is not None else []
    return [*head, {"role": "user", "content": prompt}]


def vertex_request(response: str, *, reference: Any = None, prompt: str = "",
                   references: Mapping[str, str] | None = None, system: str | None = None,
                   thinking: str | None = None, step: int = 1, tuning_job_id: str = "1") -> dict[str, Any]:
    """The body Vertex AI posts to a Cloud Run reward: `reference` becomes `references.answer`;
    `thinking` a `"thought": true` part before the answer."""
    example: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if system is not None:
        example["systemInstruction"] = {"parts": [{"text": system}]}
    refs = dict(references or {})
    if reference is not None:
        refs.setdefault("answer", str(reference))  # Vertex references are string to string
    if refs:
        example["references"] = refs
    return vertex_body(example, response, thinking, step=step, tuning_job_id=tuning_job_id)


def dashscope_request(response: str, *, reference: Any = None, prompt: str = "",
                      rollout_extra: Mapping[str, Any] | None = None, system: str | None = None,
                      thinking: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
                      request_metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A DashScope `RewardInput` (func_type "reward"): `reference` becomes `ground_truth`; `messages`
    (ChatML dicts, e.g. an agent's tool calls) replace the default prompt turns before the answer."""
    return dashscope_body(_chat(prompt, system, messages), [response], [thinking], rollout_extra=rollout_extra,
                          ground_truth=reference, request_metadata=request_metadata, group=False)


def group_request(responses: Sequence[str], *, reference: Any = None, prompt: str = "",
                  rollout_extra: Mapping[str, Any] | None = None, system: str | None = None,
                  thinkings: Sequence[str | None] | None = None,
                  messages: Sequence[Mapping[str, Any]] | None = None,
                  request_metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A DashScope `GroupRewardInput` (func_type "group_reward"): one agent output per response, in order."""
    return dashscope_body(_chat(prompt, system, messages), list(responses), thinkings, rollout_extra=rollout_extra,
                          ground_truth=reference, request_metadata=request_metadata, group=True)


# ---- the service in-process ------------------------------------------------------

@contextmanager
def reward_client(target: str = "rewards", *, reward: str | None = None, **settings: Any) -> Iterator["httpx.Client"]:
    """Serve `target` (module path or .py file) in-process and yield a synchronous httpx client for it.

    The app is the one `rewardkit serve` runs (routes, adapters, engine,
    worker processes); `settings` override `rewardkit serve`'s flags, e.g.
    `workers=0` to run the rewards in this process. Loading problems raise here.
    """
    from dataclasses import fields

    from ._inprocess import served_client
    from ._settings import Settings, load_settings

    unknown = set(settings) - {f.name for f in fields(Settings)}
    if unknown:
        known = ", ".join(f.name for f in fields(Settings))
        raise TypeError(f"reward_client() got unknown setting(s) {', '.join(sorted(unknown))}; known: {known}")
    with served_client(target, reward=reward, settings=load_settings(settings)) as client:
        yield client
