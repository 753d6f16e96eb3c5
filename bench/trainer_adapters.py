"""The in-process trainer adapters: how verl's reward managers and TRL call them, side by side in one run.

    python bench/trainer_adapters.py [--items 2000] [--rounds 5] [--workers 2]

One batch of ITEMS responses scored with the built-in `exact_match` (a trivial reward, so the numbers are
the adapters' own cost) in the same worker pool, four ways, the rounds alternating:
- `verl naive`: `rewardkit.verl.compute_score` once per item, one after another, as verl's
  NaiveRewardManager calls it (verl/workers/reward_manager/naive.py);
- `verl reward loop`: the same from 8 threads at once, as verl's reward loop runs a sync compute_score
  in its executor (verl/experimental/reward_loop/reward_manager/naive.py);
- `verl batch`: `compute_score_batch` on the whole batch (verl/workers/reward_manager/batch.py);
- `trl`: `rewardkit.trl.reward_func` on the whole batch, as GRPOTrainer calls it.
Prints the median items per second of each and its ratio to `verl naive`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewardkit.trl import reward_func  # noqa: E402
from rewardkit.verl import compute_score, compute_score_batch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    n, options = args.items, {"reward": "exact_match", "workers": args.workers}
    answers = [str(i % 7) for i in range(n)]
    truths = [str(i % 5) for i in range(n)]

    def naive() -> None:
        for answer, truth in zip(answers, truths, strict=True):
            compute_score(data_source="s", solution_str=answer, ground_truth=truth, extra_info={}, **options)

    def reward_loop() -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: compute_score(data_source="s", solution_str=answers[i], ground_truth=truths[i],
                                                  extra_info={}, **options), range(n)))

    def batch() -> None:
        compute_score_batch(data_sources=["s"] * n, solution_strs=answers, ground_truths=truths,
                            extra_infos=[{}] * n, **options)

    trl = reward_func("exact_match", workers=args.workers)

    def trl_call() -> None:
        trl(prompts=["q"] * n, completions=answers, completion_ids=[[1]] * n, answer=truths)

    ways: dict[str, Callable[[], None]] = {"verl naive": naive, "verl reward loop": reward_loop,
                                           "verl batch": batch, "trl": trl_call}
    for way in ways.values():  # start the pools, warm the workers
        way()
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            began = time.perf_counter()
            way()
            rates[name].append(n / (time.perf_counter() - began))
    base = statistics.median(rates["verl naive"])
    print(f"{n} items, {args.workers} workers, median of {args.rounds} rounds")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:17} {median:10.0f} items/s   x{median / base:.1f}")


if __name__ == "__main__":
    main()
