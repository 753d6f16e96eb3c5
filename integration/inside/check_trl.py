"""TRL's GRPOTrainer trained for a few steps with rewardkit rewards (integration/trl_bed.py runs it).

The tiny random model generates; the trainer calls `rewardkit.trl.reward_func` (in this process) and
`rewardkit.trl.remote_reward_func` (a served rewardkit) in its standard and conversational formats, and
asynchronously. `short` fails on some completions (a length that is a multiple of 4): TRL must take those
as NaN and keep training. The in-process and remote functions are then called on the same recorded batches
and must agree. Usage: check_trl.py URL
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from tiny import build, report

REWARDS = os.environ["REWARDKIT_BED_REWARDS"]
CALLS: list[tuple[str, float]] = []  # (reward, seconds) of every call the trainer made
SEEN: list[tuple[str, list[Any], list[Any], dict[str, Any], list[Any]]] = []  # reward, its inputs and answers


def timed(function: Any, record: bool = False) -> Any:
    """`function` as TRL calls it, timed; with `record`, its inputs and answers kept for the comparison."""
    def call(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[Any]:
        started = time.monotonic()
        values = function(prompts=prompts, completions=completions, **kwargs)
        CALLS.append((function.__name__, time.monotonic() - started))
        if record:
            columns = {k: v for k, v in kwargs.items() if k == "answer"}
            SEEN.append((function.__name__, list(prompts), list(completions), columns, list(values)))
        return values

    call.__name__ = function.__name__
    return call


def dataset(conversational: bool) -> Any:
    from datasets import Dataset

    question = "What is 6 * 7?"
    prompt: Any = [{"role": "user", "content": question}] if conversational else question
    return Dataset.from_list([{"prompt": prompt, "answer": "42"}] * 8)


def train(name: str, funcs: list[Any], conversational: bool) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    folder = str(build())
    CALLS.clear()
    args = GRPOConfig(output_dir=os.path.join(os.environ["REWARDKIT_BED_WORK"], "trl-out"), max_steps=2,
                      per_device_train_batch_size=4, num_generations=4, max_completion_length=12, logging_steps=1,
                      report_to=[], use_cpu=True, save_strategy="no", seed=0)
    started = time.monotonic()
    try:
        trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(folder), reward_funcs=funcs, args=args,
                              train_dataset=dataset(conversational),
                              processing_class=AutoTokenizer.from_pretrained(folder, padding_side="left"))
        trainer.train()
    except Exception as exc:
        report(name, False, f"{type(exc).__name__}: {exc}")
        return
    logs = [entry for entry in trainer.state.log_history if "loss" in entry or "reward" in entry]
    steps = trainer.state.global_step
    logged = sorted({key for entry in logs for key in entry if key.startswith(("rewards/", "rewardkit/"))})
    failed = [entry.get("rewardkit/short.failed") for entry in logs if "rewardkit/short.failed" in entry]
    finite_loss = all(math.isfinite(entry.get("loss", 0.0)) for entry in logs)
    seconds = sum(s for _, s in CALLS)
    ok = steps == 2 and finite_loss and any(k.startswith("rewards/exact") for k in logged)
    report(name, ok, f"{steps} steps, {len(CALLS)} reward calls ({time.monotonic() - started:.0f} s in all), "
                     f"short failed share {failed}, logged {logged[:6]}", seconds)


def same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all((x is None and y is None) or x == y for x, y in zip(a, b, strict=True))


def main() -> None:
    from rewardkit.trl import remote_reward_func, reward_func

    url = sys.argv[1]
    local = {name: reward_func(name, REWARDS, workers=1) for name in ("exact", "short")}
    remote = {name: remote_reward_func(url, name) for name in ("exact", "short")}
    train("TRL GRPOTrainer, in-process, standard format", [timed(local["exact"], True), timed(local["short"], True)],
          conversational=False)
    train("TRL GRPOTrainer, remote, standard format", [timed(remote["exact"]), timed(remote["short"])],
          conversational=False)
    train("TRL GRPOTrainer, in-process, conversational", [timed(local["exact"], True), timed(local["short"], True)],
          conversational=True)
    train("TRL GRPOTrainer, remote, conversational", [timed(remote["exact"]), timed(remote["short"])],
          conversational=True)
    asynchronous = [reward_func("exact", REWARDS, workers=1, asynchronous=True),
                    remote_reward_func(url, "short", asynchronous=True)]
    train("TRL GRPOTrainer, asynchronous reward functions", asynchronous, conversational=False)
    # The same batches, both ways: the in-process answers recorded in training, the remote ones now.
    agree, nan_seen = 0, 0
    for name, prompts, completions, columns, values in SEEN:
        agree += same(values, remote[name](prompts=prompts, completions=completions, **columns))
        nan_seen += sum(v is None for v in values)
    report("TRL: in-process and remote give identical rewards on the trained batches", agree == len(SEEN) > 0,
           f"{agree}/{len(SEEN)} batches, {nan_seen} failed items answered None (NaN in TRL)")
    for function in local.values():
        function.close()


if __name__ == "__main__":
    main()
