"""TRL: rewardkit rewards as reward functions of `trl.GRPOTrainer`.

    from rewardkit.trl import reward_func
    trainer = GRPOTrainer(model=..., train_dataset=dataset,
                          reward_funcs=[reward_func("math_accuracy"), reward_func("think_format")])

`reward_func` scores in rewardkit's worker processes, in the trainer's process; `remote_reward_func(url, ...)`
posts to a served rewardkit instead (`rewardkit serve`, its AWS Nova batch route). Neither imports TRL or torch.

The call TRL makes (huggingface/trl trl/trainer/grpo_trainer.py, `GRPOTrainer._calculate_rewards`):
`reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids_list, **reward_kwargs)`,
where `reward_kwargs` holds every dataset column but prompt/completion/completion_ids (one value per
completion), `trainer_state`, `log_extra`, `log_metric`, and `environments` when there are any. Prompts and
completions are strings (standard format) or lists of message dicts (conversational format; a completion's
reasoning in `reasoning_content` as the tokenizer's response parser splits it off). Each prompt's
`num_generations` completions come one after another (`RepeatSampler`). A `None` in the answer is turned into
NaN and left out of the group's mean and the logged reward (TRL 0.16 on; the same in 1.16.0).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ._public import show_as
from ._trainers.trl import RemoteRewardFunc, RewardFunc, coroutine_function
from .clients._batch import (
    DEFAULT_BATCH,
    DEFAULT_CONCURRENCY,
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    RemoteError,
    RemoteOptions,
    client,
)
from .contracts.nova_client import WIRE

__all__ = ["RemoteError", "RemoteRewardFunc", "RewardFunc", "remote_reward_func", "reward_func"]

show_as("rewardkit.trl", RemoteError, RemoteRewardFunc, RewardFunc)


def reward_func(reward: Any, target: str | None = None, *, timeout: float | None = None, workers: int | None = None,
                worker_memory_mb: int | None = None, num_generations: int | None = None,
                failure_score: float | None = None, log_metrics: bool = True, asynchronous: bool = False) -> Any:
    """A reward function for `GRPOTrainer(reward_funcs=[...])` that scores with the rewardkit reward `reward`.

    `reward` is a registered name, looked up in `target` (a module path or .py file; default
    $REWARDKIT_TARGET, else the built-in rewards), or a decorated function (its module is the target).
    Rewards run in worker processes, as `rewardkit serve` runs them: `workers` (default $REWARDKIT_WORKERS,
    else the CPUs divided by $LOCAL_WORLD_SIZE, the trainer's processes on this machine), `timeout` seconds
    per call (default $REWARDKIT_TIMEOUT, else 60) and `worker_memory_mb` as `rewardkit serve`'s flags.
    A completion that hangs or crashes its worker fails that call only.

    Dataset columns reach the reward as `references` (a column named `answer`, `solution` or `ground_truth`
    is the gold answer `reference` reads); conversational completions keep their reasoning
    (`reasoning_content`) in `thinking`, apart from the answer. A grouped reward gets each prompt's
    completions together (consecutive equal prompts, or `num_generations` at a time when given).

    A failed item is answered None (TRL leaves it out), or `failure_score` when set; each kind of failure
    is logged once. With `log_metrics`, the failed share and the reward's metrics go to TRL's `log_metric`.

    TRL calls its synchronous reward functions one after another; with `asynchronous=True` this is an
    `async def`, which TRL runs together with its other async reward functions, so several rewardkit
    rewards score one batch at the same time. (It is then not picklable.)
    """
    function = RewardFunc(reward, target, timeout=timeout, workers=workers, worker_memory_mb=worker_memory_mb,
                          num_generations=num_generations, failure_score=failure_score, log_metrics=log_metrics)
    return coroutine_function(function) if asynchronous else function


def remote_reward_func(url: str, reward: str, *, concurrency: int = DEFAULT_CONCURRENCY,
                       batch_size: int = DEFAULT_BATCH, deadline: float = DEFAULT_DEADLINE,
                       timeout: float = DEFAULT_TIMEOUT, auth_token: str | None = None,
                       failure_score: float | None = None, log_metrics: bool = True, asynchronous: bool = False) -> Any:
    """A reward function for `GRPOTrainer(reward_funcs=[...])` that posts to a served rewardkit at `url`
    (`rewardkit serve`, its Nova batch route `POST /rewards/<reward>/nova`): for trainers whose GPU machines
    should not share their CPUs with rewards.

    Each batch goes out in requests of `batch_size` completions, at most `concurrency` at once; 503s,
    429s and connection errors are retried for up to `deadline` seconds (then the items fail with
    SERVICE_UNAVAILABLE); `timeout` bounds one answer; `auth_token` is sent as a bearer token (the
    server's --auth-token). Items map to the route's body as `messages` (prompt then completion, reasoning
    in `reasoning_content`), `metadata` (the dataset columns: the reward's references) and `reference_answer`
    (a `ground_truth` column). Failures and `asynchronous` as `reward_func`'s: an item the served reward failed
    on (the route names it with its code) or that could not be posted within `deadline` is answered None,
    which TRL turns into NaN and leaves out of the group's mean (trl/trainer/grpo_trainer.py
    `_calculate_rewards`, TRL 1.16.0), or `failure_score` when set. A status that retrying cannot fix (a
    wrong reward name, a missing token) raises RemoteError.
    """
    options = RemoteOptions(concurrency=concurrency, batch_size=batch_size, deadline=deadline, timeout=timeout,
                            auth_token=auth_token)
    function = RemoteRewardFunc(url, reward, connect=partial(client, url, WIRE, options), failure_score=failure_score,
                                log_metrics=log_metrics)
    return coroutine_function(function) if asynchronous else function
