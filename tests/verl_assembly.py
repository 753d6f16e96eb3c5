"""verl's own code that loads a custom reward function and assembles its per-item dicts into a batch, copied
verbatim from volcengine/verl v0.9.1 (the release on PyPI, verl-0.9.1-py3-none-any.whl; file paths and line
numbers are the repository's at tag v0.9.1). Those lines are Copyright 2024 Bytedance Ltd. and/or its
affiliates, under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
Only what surrounds the copies is ours: DataProto and the
tokenizer are stood in for by `Data`/`Item` and `Tokenizer` (torch, Ray and transformers are not needed to
reach the lines that matter), and each copy sits in a function that feeds it and returns what verl keeps.

Run as a script, in a fresh process per scenario (process-wide state such as which item was recorded first
must not carry over from another test):

    python tests/verl_assembly.py MANAGER '<reward_kwargs as JSON>' '<rows as JSON>'

MANAGER is `loop` (the 0.9 reward loop: NaiveRewardManager.run_single per item under
RewardLoopWorker.compute_score_batch, gathered as RewardLoopManager.compute_rm_score does), `naive` (the
legacy verl/workers/reward_manager/naive.py) or `batch` (verl/workers/reward_manager/batch.py with
compute_score_batch). It prints one JSON line: the rewards, verl's gathered extra info (NaN as null), or the
exception verl would have met (`error`).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
import math
import os
import signal
import sys
from collections import defaultdict
from contextlib import contextmanager
from functools import partial
from typing import Any, Optional

import numpy as np

# ---- loading: verl/utils/import_utils.py and verl/trainer/ppo/reward.py ---------------------------------


def load_extern_object(module_path: str, object_name: str) -> Any:
    """verl/utils/import_utils.py load_module (pkg:// and file paths) + load_extern_object, shortened to the
    two branches a custom reward function takes."""
    if module_path.startswith("pkg://"):
        module: Any = importlib.import_module(module_path[len("pkg://"):].replace("/", "."))
    else:
        spec_name = f"custom_module_{hash(os.path.abspath(module_path))}"
        spec = importlib.util.spec_from_file_location(spec_name, module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return getattr(module, object_name)


# verl/trainer/ppo/reward.py lines 32-38, verbatim.
def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):
    """Calls `raw_fn` by merging `extra_kwargs` into call-time `kwargs`, with `extra_kwargs` taking precedence.

    This function is used to merge additional keyword arguments with the original function's arguments.
    """
    merged_kwargs = {**kwargs, **extra_kwargs}
    return raw_fn(*args, **merged_kwargs)


def get_custom_reward_fn(reward_fn_config: dict[str, Any]) -> Any:
    """verl/trainer/ppo/reward.py lines 75-84 (get_custom_reward_fn), from config.reward.custom_reward_function."""
    module_path = reward_fn_config.get("path")
    fn_name = reward_fn_config.get("name")
    assert fn_name is not None
    raw_fn = load_extern_object(module_path=module_path, object_name=fn_name)
    reward_kwargs = dict(reward_fn_config.get("reward_kwargs", {}))
    assert not inspect.iscoroutinefunction(raw_fn)
    return partial(_call_with_kwargs, raw_fn, reward_kwargs)


# ---- stand-ins for DataProto and the tokenizer ------------------------------------------------------------


class Item:
    """A DataProtoItem: the row's non-tensor fields; the response is already text."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.non_tensor_batch = {"data_source": row["data_source"], "reward_model": row["reward_model"],
                                 "extra_info": dict(row.get("extra_info", {}))}
        self.response = row["response"]


class Data(list):
    """A DataProto of Items: `data[i]` an item, `data[i:j]` a Data, `non_tensor_batch` by column."""

    def __getitem__(self, index: Any) -> Any:
        got = list.__getitem__(self, index)
        return Data(got) if isinstance(index, slice) else got

    @property
    def non_tensor_batch(self) -> dict[str, Any]:
        return {key: [item.non_tensor_batch[key] for item in self] for key in self[0].non_tensor_batch}


class Tokenizer:
    def decode(self, response: str, skip_special_tokens: bool = True) -> str:
        return response


# ---- the 0.9 reward loop ------------------------------------------------------------------------------------


class LoopNaiveRewardManager:
    """verl/experimental/reward_loop/reward_manager/naive.py NaiveRewardManager (registered as "naive")."""

    def __init__(self, compute_score: Any) -> None:
        self.compute_score = compute_score
        self.tokenizer = Tokenizer()
        self.loop = asyncio.get_event_loop()
        self.is_async_reward_score = inspect.iscoroutinefunction(self.compute_score)
        self.reward_router_address = None
        self.reward_model_tokenizer = None

    async def run_single(self, data: Data) -> dict:
        data = data[-1:]  # for multi-sequence outputs, we only compute reward based on the last sequence
        data_item = data[0]
        valid_response_ids = data_item.response  # lines 37-40 slice the token ids; here the text stands in

        # lines 42-99, verbatim:
        data_source = data_item.non_tensor_batch["data_source"]
        ground_truth = data_item.non_tensor_batch["reward_model"]["ground_truth"]
        extra_info = data_item.non_tensor_batch.get("extra_info", {})
        tool_extra_fields = data_item.non_tensor_batch.get("tool_extra_fields", None)
        if tool_extra_fields is not None:
            extra_info.update(tool_extra_fields.items())

        num_turns = data_item.non_tensor_batch.get("__num_turns__", None)
        rollout_reward_scores = data_item.non_tensor_batch.get("reward_scores", {})
        extra_info["num_turns"] = num_turns
        extra_info["rollout_reward_scores"] = rollout_reward_scores

        response_str = await self.loop.run_in_executor(
            None, lambda: self.tokenizer.decode(valid_response_ids, skip_special_tokens=True)
        )

        extra_reward_kwargs = (
            {
                "reward_router_address": self.reward_router_address,
                "reward_model_tokenizer": self.reward_model_tokenizer,
            }
            if self.reward_router_address is not None
            else {}
        )
        if self.is_async_reward_score:
            result = await self.compute_score(
                data_source=data_source,
                solution_str=response_str,
                ground_truth=ground_truth,
                extra_info=extra_info,
                **extra_reward_kwargs,
            )
        else:
            result = await self.loop.run_in_executor(
                None,
                lambda: self.compute_score(
                    data_source=data_source,
                    solution_str=response_str,
                    ground_truth=ground_truth,
                    extra_info=extra_info,
                    **extra_reward_kwargs,
                ),
            )

        reward_extra_info = {}

        score: float
        if isinstance(result, dict):
            score = result["score"]
            for key, value in result.items():
                reward_extra_info[key] = value
        else:
            score = result
            reward_extra_info["acc"] = score

        reward = score

        return {"reward_score": reward, "reward_extra_info": reward_extra_info}


class RewardLoopWorker:
    """verl/experimental/reward_loop/reward_loop.py RewardLoopWorker, with a custom reward function."""

    def __init__(self, reward_manager: LoopNaiveRewardManager) -> None:
        self.reward_manager = reward_manager

    # lines 138-143, verbatim:
    async def compute_score_batch(self, data: Data) -> list[dict]:
        tasks = []
        for i in range(len(data)):
            tasks.append(asyncio.create_task(self.compute_score(data[i : i + 1])))
        outputs = await asyncio.gather(*tasks)
        return outputs

    async def compute_score(self, data: Data) -> dict:
        # line 146-148: custom_reward_function.path is set
        return await self.reward_manager.run_single(data)


def reward_loop(compute_score: Any, data: Data) -> tuple[list[float], dict[str, Any]]:
    """RewardLoopManager.compute_rm_score (verl/experimental/reward_loop/reward_loop.py lines 343-376) with one
    worker: the worker's outputs, then the gathering of lines 361 and 365-369, verbatim."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = RewardLoopWorker(LoopNaiveRewardManager(compute_score))
    outputs_flat = loop.run_until_complete(worker.compute_score_batch(data))
    loop.close()
    scores = [item["reward_score"] for item in outputs_flat]
    reward_extra_infos = [output.get("reward_extra_info", {}) for output in outputs_flat]
    reward_extra_keys = list(reward_extra_infos[0].keys())
    non_tensor_batch = {}
    for key in reward_extra_keys:
        non_tensor_batch[key] = np.array([info[key] for info in reward_extra_infos])
    return scores, non_tensor_batch


# ---- the legacy managers ------------------------------------------------------------------------------------


# verl/workers/reward_manager/naive.py lines 28-61, verbatim but for the docstring's length.
@contextmanager
def _score_timeout(seconds: Optional[float]):
    """Raise ``TimeoutError`` if the wrapped block runs longer than ``seconds``."""
    if not seconds or seconds <= 0:
        yield
        return

    def _handler(signum, frame):
        raise TimeoutError(f"compute_score timed out after {seconds}s")

    try:
        old_handler = signal.signal(signal.SIGALRM, _handler)
    except ValueError:
        # Not in the main thread -> SIGALRM is unavailable; run without a timeout.
        yield
        return

    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)


def naive(compute_score: Any, data: Data) -> tuple[list[float], dict[str, Any]]:
    """verl/workers/reward_manager/naive.py NaiveRewardManager.__call__ (lines 99-151), then what the trainer
    does with reward_extra_info (verl/trainer/ppo/ray_trainer.py lines 707-708: every list as long as the
    batch)."""
    self = _Manager(compute_score)
    reward_extra_info = defaultdict(list)
    rewards = []
    for i in range(len(data)):
        data_item = data[i]  # DataProtoItem
        response_str = data_item.response

        # lines 121-151, verbatim:
        ground_truth = data_item.non_tensor_batch["reward_model"]["ground_truth"]
        data_source = data_item.non_tensor_batch[self.reward_fn_key]
        extra_info = data_item.non_tensor_batch.get("extra_info", {})
        num_turns = data_item.non_tensor_batch.get("__num_turns__", None)
        rollout_reward_scores = data_item.non_tensor_batch.get("reward_scores", {})
        extra_info["num_turns"] = num_turns
        extra_info["rollout_reward_scores"] = rollout_reward_scores

        try:
            with _score_timeout(self.compute_score_timeout):
                score = self.compute_score(
                    data_source=data_source,
                    solution_str=response_str,
                    ground_truth=ground_truth,
                    extra_info=extra_info,
                )
        except TimeoutError:
            print(
                f"[NaiveRewardManager] compute_score exceeded "
                f"{self.compute_score_timeout}s for data_source={data_source}; "
                f"assigning reward 0.0 and continuing."
            )
            score = 0.0

        if isinstance(score, dict):
            reward = score["score"]
            # Store the information including original reward
            for key, value in score.items():
                reward_extra_info[key].append(value)
        else:
            reward = score

        rewards.append(reward)
    _trainer_checks(reward_extra_info, rewards)
    return rewards, {k: np.array(v) for k, v in reward_extra_info.items()}


class _Manager:
    def __init__(self, compute_score: Any) -> None:
        self.compute_score = compute_score
        self.reward_fn_key = "data_source"
        self.compute_score_timeout = None
        self.reward_kwargs: dict[str, Any] = {}


def _trainer_checks(reward_extra_infos_dict: dict[str, list], sample_scores: list[float]) -> None:
    # verl/trainer/ppo/ray_trainer.py lines 707-708, verbatim:
    for key_info, lst in reward_extra_infos_dict.items():
        assert len(lst) == 0 or len(lst) == len(sample_scores), f"{key_info}: {len(lst)=}, {len(sample_scores)=}"


def batch(compute_score: Any, data: Data) -> tuple[list[float], dict[str, Any]]:
    """verl/workers/reward_manager/batch.py BatchRewardManager.verify (lines 62-76) and __call__ (lines 94-110)."""
    self = _Manager(compute_score)
    responses_str = [item.response for item in data]

    # verify, lines 62-76, verbatim:
    ground_truths = [item.non_tensor_batch["reward_model"].get("ground_truth", None) for item in data]
    data_sources = data.non_tensor_batch[self.reward_fn_key]
    rollout_reward_scores = data.non_tensor_batch.get("reward_scores", [{} for _ in range(len(data))])
    extras = data.non_tensor_batch.get("extra_info", [{} for _ in range(len(data))])

    for i in range(len(data)):
        extras[i]["rollout_reward_scores"] = rollout_reward_scores[i]

    scores = self.compute_score(
        data_sources=data_sources,
        solution_strs=responses_str,
        ground_truths=ground_truths,
        extra_infos=extras,
        **self.reward_kwargs,
    )

    # __call__, lines 98-109, verbatim but for the tensor and the printing:
    reward_extra_info = defaultdict(list)
    rewards = []
    for i in range(len(data)):
        score = scores[i]

        if isinstance(score, dict):
            reward = score["score"]
            for key, value in score.items():
                reward_extra_info[key].append(value)
        else:
            reward = score

        rewards.append(reward)
    _trainer_checks(reward_extra_info, rewards)
    return rewards, {k: np.array(v) for k, v in reward_extra_info.items()}


MANAGERS = {"loop": (reward_loop, "compute_score"), "naive": (naive, "compute_score"),
            "batch": (batch, "compute_score_batch")}


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def run(manager: str, reward_kwargs: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    assemble, name = MANAGERS[manager]
    compute_score = get_custom_reward_fn({"path": "pkg://rewardkit.verl", "name": name,
                                          "reward_kwargs": reward_kwargs})
    try:
        rewards, info = assemble(compute_score, Data(Item(row) for row in rows))
    except Exception as exc:  # what verl would meet: reported, for the test to judge
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"rewards": rewards, "info": {key: [_plain(v) for v in values] for key, values in info.items()}}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]))))
    from rewardkit._trainers.embedded import _close_all

    _close_all()
