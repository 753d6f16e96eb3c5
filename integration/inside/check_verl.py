"""verl's own reward code against rewardkit.verl, in verl's environment (integration/verl_bed.py runs it).

- the 0.9 reward loop as the trainer runs it: `RewardLoopManager(config)` starts `reward.num_workers` Ray actors
  (`RewardLoopWorker`, each loading the custom reward function with `load_reward_manager`), and
  `compute_rm_score(batch)` pads and chunks the batch across them, gathers each item's `reward_extra_info`
  into arrays keyed by the first item's keys, and writes `rm_scores` (verl/experimental/reward_loop/reward_loop.py);
- the legacy managers: `NaiveRewardManager` and `BatchRewardManager` (verl/workers/reward_manager/).

The batch: 8 responses of two data sources (a: `exact`, b: `word_count`), encoded with the tiny tokenizer, with
failures at chosen positions (a: no gold answer; b: a response holding RAISE). Usage: check_verl.py [URL]
(with URL, the remote checks post to that served rewardkit).
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from tiny import build, report

REWARDS = os.environ["REWARDKIT_BED_REWARDS"]
SCHEMA = {"score", "rewardkit.failed", "rewardkit.error", "exact.length", "word_count.words", "word_count.digits"}


def items(failing: set[int], size: int = 8) -> list[tuple[str, str, Any]]:
    """(data_source, response, ground_truth): a and b in turn; a failing item of a has no gold answer."""
    rows = []
    for i in range(size):
        if i % 2 == 0:
            rows.append(("a", "42", None if i in failing else "42"))
        else:
            rows.append(("b", "RAISE" if i in failing else "six 7", None))
    return rows


def batch(tokenizer: Any, rows: list[tuple[str, str, Any]]) -> Any:
    """A DataProto as the rollout leaves it: left-padded prompts, right-padded responses, the row's fields."""
    from verl import DataProto

    prompt = tokenizer("<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    answers = [tokenizer(text)["input_ids"] + [tokenizer.eos_token_id] for _, text, _ in rows]
    width = max(len(a) for a in answers)
    pad = tokenizer.pad_token_id
    responses = torch.tensor([a + [pad] * (width - len(a)) for a in answers])
    prompts = torch.tensor([prompt] * len(rows))
    mask = torch.tensor([[1] * len(prompt) + [1] * len(a) + [0] * (width - len(a)) for a in answers])
    non_tensors = {
        "data_source": np.array([source for source, _, _ in rows], dtype=object),
        "reward_model": np.array([{"style": "rule", "ground_truth": truth} for _, _, truth in rows], dtype=object),
        "extra_info": np.array([{"split": "train", "index": i} for i in range(len(rows))], dtype=object),
    }
    return DataProto.from_dict(tensors={"prompts": prompts, "responses": responses, "attention_mask": mask,
                                        "input_ids": torch.cat([prompts, responses], dim=1)},
                               non_tensors=non_tensors)


def config(model: str, reward_kwargs: dict[str, Any], name: str = "compute_score", workers: int = 2) -> Any:
    """The part of verl 0.9.1's trainer config the reward code reads (verl/trainer/config/reward/reward.yaml)."""
    return OmegaConf.create({
        "actor_rollout_ref": {"model": {"path": model, "tokenizer_path": None}},
        "trainer": {"experiment_name": "bed"},
        "reward": {
            "num_workers": workers,
            "custom_reward_function": {"path": "pkg://rewardkit.verl", "name": name, "reward_kwargs": reward_kwargs},
            "reward_manager": {"source": "register", "name": "naive",
                               "module": {"path": None, "name": "custom_reward_manager"}},
            "reward_model": {"enable": False, "enable_resource_pool": False, "model_path": None,
                             "rollout": {"name": "vllm", "full_determinism": False, "max_num_seqs": None}},
            "sandbox_fusion": None,
        },
    })


def expected_extra(rows: list[tuple[str, str, Any]], failing: set[int]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {key: [] for key in SCHEMA}
    for i, (source, _, _) in enumerate(rows):
        failed = i in failing
        out["score"].append(-1.0 if failed else (1.0 if source == "a" else 2.0))
        out["rewardkit.failed"].append(float(failed))
        out["rewardkit.error"].append(("MISSING_REFERENCE" if source == "a" else "REWARD_ERROR") if failed else "")
        out["exact.length"].append(2.0 if source == "a" and not failed else None)
        out["word_count.words"].append(2.0 if source == "b" and not failed else None)
        out["word_count.digits"].append(1.0 if source == "b" and not failed else None)
    return out


def plain(values: Any) -> list[Any]:
    return [None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v)
            for v in list(values)]


def check_extra(name: str, got: dict[str, Any], rows: list[tuple[str, str, Any]], failing: set[int],
                seconds: float) -> None:
    want = expected_extra(rows, failing)
    seen = {key: plain(values) for key, values in got.items() if key in SCHEMA}
    ok = set(got) >= SCHEMA and seen == want
    report(name, ok, f"keys {sorted(got)}" if ok else f"got {seen}", seconds)


def reward_loop(model: str, tokenizer: Any, kwargs: dict[str, Any], label: str) -> None:
    from verl.experimental.reward_loop import RewardLoopManager

    manager = RewardLoopManager(config(model, kwargs))
    for failing in ({0, 5}, {3}, {7}):
        rows = items(failing)
        started = time.monotonic()
        out = manager.compute_rm_score(batch(tokenizer, rows))
        seconds = time.monotonic() - started
        extra = {key: out.non_tensor_batch[key] for key in out.meta_info["reward_extra_keys"]}
        check_extra(f"verl reward loop{label}: 2 data sources, failures at {sorted(failing)}", extra, rows, failing,
                    seconds)
        scores = out.batch["rm_scores"].sum(dim=-1).tolist()
        report(f"verl reward loop{label}: rm_scores at failures {sorted(failing)}",
               scores == expected_extra(rows, failing)["score"], scores)
    stop(manager)


def stop(manager: Any) -> None:
    """End a manager's actors (their names are reused by the next manager)."""
    import ray

    for worker in manager.reward_loop_workers:
        ray.kill(worker)


def reward_loop_raises(model: str, tokenizer: Any) -> None:
    from verl.experimental.reward_loop import RewardLoopManager

    manager = RewardLoopManager(config(model, {"target": REWARDS, "workers": 1,
                                               "rewards": {"a": "exact", "b": "word_count"}}, workers=1))
    started = time.monotonic()
    try:
        manager.compute_rm_score(batch(tokenizer, items({3})))
    except Exception as exc:  # what the trainer meets: Ray's error around RewardFailed
        text = str(exc)
        report("verl reward loop: a failure without failure_score stops the step", "RewardFailed" in text
               and "REWARD_ERROR" in text, text.splitlines()[-1][:200], time.monotonic() - started)
    else:
        report("verl reward loop: a failure without failure_score stops the step", False, "no exception")
    stop(manager)


def legacy(model: str, tokenizer: Any, kwargs: dict[str, Any]) -> None:
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.batch import BatchRewardManager
    from verl.workers.reward_manager.naive import NaiveRewardManager

    failing = {2, 5}
    rows = items(failing)
    for manager_name, cls, fn in (("naive", NaiveRewardManager, "compute_score"),
                                  ("batch", BatchRewardManager, "compute_score_batch")):
        compute_score = get_custom_reward_fn(config(model, kwargs, name=fn))
        manager = cls(tokenizer=tokenizer, num_examine=0, compute_score=compute_score)
        started = time.monotonic()
        out = manager(batch(tokenizer, rows), return_dict=True)
        check_extra(f"verl legacy {manager_name} manager: 2 data sources, failures at {sorted(failing)}",
                    dict(out["reward_extra_info"]), rows, failing, time.monotonic() - started)


def main() -> None:
    import ray
    from transformers import AutoTokenizer

    model = str(build())
    tokenizer = AutoTokenizer.from_pretrained(model)
    # Logical CPUs for Ray's scheduler (each actor asks for one); the machine's own are what they are.
    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    base = {"target": REWARDS, "workers": 1, "rewards": {"a": "exact", "b": "word_count"}, "failure_score": -1}
    reward_loop(model, tokenizer, base, "")
    reward_loop_raises(model, tokenizer)
    legacy(model, tokenizer, base)
    if len(sys.argv) > 1:
        remote = {"url": sys.argv[1], "rewards": {"a": "exact", "b": "word_count"}, "failure_score": -1}
        reward_loop(model, tokenizer, remote, " (remote)")
    ray.shutdown()


if __name__ == "__main__":
    main()
