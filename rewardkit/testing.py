"""Score a reward locally, through the same pipeline the server runs, with no HTTP.

    from rewardkit.testing import score
    assert score(math_accuracy, "so \\\\boxed{72}", reference="72").value == 1.0

Request builders make wire bodies from plain values: `request(contract, ...)`
for any registered contract, and each contract's own (`vertex_request`,
`dashscope_request`, `group_request`, ...); and `reward_client(target)`
serves a reward module in-process (the app `rewardkit serve` runs) behind a
synchronous httpx client:

    with reward_client("my_rewards") as client:
        assert client.post("/rewards/exact", json=vertex_request("Paris", reference="Paris")).json()["reward"] == 1.0
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from ._engine.inline import InlineEngine
from ._engine.pipeline import evaluate
from ._outcome import Outcome
from ._registry import spec_of
from ._sample import Sample, sample

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

def request(contract: str, response: str | Sequence[str], *, reference: Any = None, prompt: str = "",
            system: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
            references: Mapping[str, Any] | None = None, thinking: str | None = None) -> list[Any]:
    """The bodies the platform named `contract` sends to score `response` (several: one prompt's samples).

    `reference` is the gold answer (the contract puts it where its platform does);
    `messages` (ChatML dicts) replace the default prompt turns."""
    from .contracts import Prompt, Response, get

    texts = [response] if isinstance(response, str) else list(response)
    prompt_values = Prompt.of(prompt, system=system, messages=messages, references=dict(references or {}),
                              ground_truth=reference)
    return get(contract).requests(prompt_values, [Response(text, thinking) for text in texts])


def __getattr__(name: str) -> Any:
    """The registered contracts' own builders (`vertex_request`, `dashscope_request`, `group_request`, ...)."""
    from .contracts import registered

    for contract in registered():
        if name in contract.builders:
            return contract.builders[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- the service in-process ------------------------------------------------------

@contextmanager
def reward_client(target: str = "rewards", *, reward: str | None = None, **settings: Any) -> Iterator["httpx.Client"]:
    """Serve `target` (module path or .py file) in-process and yield a synchronous httpx client for it.

    The app is the one `rewardkit serve` runs (routes, adapters, engine,
    worker processes); `settings` override `rewardkit serve`'s flags, e.g.
    `workers=0` to run the rewards in this process. Loading problems raise here.
    """
    from dataclasses import fields

    from ._replay.inprocess import served_client
    from ._settings import Settings, load_settings

    unknown = set(settings) - {f.name for f in fields(Settings)}
    if unknown:
        known = ", ".join(f.name for f in fields(Settings))
        raise TypeError(f"reward_client() got unknown setting(s) {', '.join(sorted(unknown))}; known: {known}")
    with served_client(target, reward=reward, settings=load_settings(settings)) as client:
        yield client
