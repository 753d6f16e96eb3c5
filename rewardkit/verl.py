"""verl: rewardkit rewards as verl's custom reward function.

In the trainer's config (verl 0.9: verl/trainer/config/reward/reward.yaml, under `reward:`; verl 0.7 and 0.8
also read the top-level `custom_reward_function`; docs/trainers.md has the table):

    reward:
      custom_reward_function:
        path: pkg://rewardkit.verl      # verl >= 0.7; older verl: the file's path, which
                                        # python -c "import rewardkit.verl as m; print(m.__file__)" prints
        name: compute_score             # compute_score_batch: the legacy batch manager (verl < 0.7)
        reward_kwargs:
          rewards: {"openai/gsm8k": "gsm8k_accuracy", "*": "math_accuracy"}

verl calls `compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)` with the
`reward_kwargs` merged in (verl/trainer/ppo/reward.py, `get_custom_reward_fn` / `_call_with_kwargs`; the call
itself in verl/experimental/reward_loop/reward_manager/naive.py `run_single`, from an executor thread, and
in the legacy verl/workers/reward_manager/naive.py). The answer is a dict: `score`, then the same keys on
every item, flat scalars, which verl gathers per key as `reward_extra_info` and logs.

Configuration, from `reward_kwargs` first, else the environment:
- `rewards`: data_source -> reward name, `"*"` the default ($REWARDKIT_VERL_REWARDS, JSON);
  `reward`: the reward for every data_source not in `rewards` ($REWARDKIT_REWARD);
- `target`: the module or .py file defining them ($REWARDKIT_TARGET; default: the built-in rewards);
- `url`: score by posting to a served rewardkit instead of in this process ($REWARDKIT_URL);
- `failure_score`: the score of an item whose reward failed ($REWARDKIT_VERL_FAILURE_SCORE). verl has no
  "no score": without it a failed reward raises `RewardFailed` naming the error code, which verl lets through
  (the reward loop's asyncio.gather, then Ray: verl 0.9.1 verl/experimental/reward_loop/reward_loop.py) and
  which stops the step, rather than training on a made-up number. Remote (`url`), an item the served reward
  failed on, or one not posted within the client's deadline (SERVICE_UNAVAILABLE), follows the same rule;
- `timeout`, `workers`, `worker_memory_mb` as `rewardkit serve`'s settings ($REWARDKIT_TIMEOUT, ...).

This file is only a face: verl may load it by its path, as a module outside the package, so it imports
the implementation by its absolute name (one state, whichever way it was loaded).
"""

from __future__ import annotations

from typing import Any, Sequence

from rewardkit._public import show_as
from rewardkit._trainers import verl as _verl
from rewardkit._trainers.verl import RewardFailed
from rewardkit.clients._batch import BatchClient, RemoteOptions, client
from rewardkit.contracts.nova_client import WIRE

__all__ = ["RewardFailed", "compute_score", "compute_score_batch"]

show_as("rewardkit.verl", RewardFailed)  # by name: verl may load this file as a module of another name


def _connect(url: str, concurrency: int, auth_token: str | None) -> BatchClient:
    """The served rewardkit at `url`, through its Nova batch route."""
    return client(url, WIRE, RemoteOptions(concurrency=concurrency, auth_token=auth_token))


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  **kwargs: Any) -> dict[str, float]:
    """verl's custom reward function: one response of `data_source`, scored by the reward configured for it.

    `ground_truth` is the sample's gold answer (`reward_model.ground_truth` of the dataset row); `extra_info`
    its references (a reward asking for `references` gets it); `kwargs` the configuration above. Returns
    `score`, `rewardkit.failed` (1.0 / 0.0), `rewardkit.error` (the error code, "" when none) and the declared
    metrics (`<reward>.<metric>`) of every reward the configuration routes to, NaN where this item has none:
    verl takes a batch's keys from its first item, so every item carries the same ones. Thread-safe: verl's
    reward loop calls it from many threads."""
    return _verl.compute_score(data_source, solution_str, ground_truth, extra_info, kwargs, _connect)


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None, **kwargs: Any) -> list[dict[str, float]]:
    """The same for a whole batch, as verl's legacy batch reward manager calls it
    (verl/workers/reward_manager/batch.py): every item runs at once across the workers; the dicts' keys are
    compute_score's."""
    return _verl.compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, kwargs, _connect)
