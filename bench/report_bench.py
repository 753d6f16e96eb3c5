"""`rewardkit report` over a million records: wall time and peak memory.

    python bench/report_bench.py [--records 1000000] [--keep]

Writes a recorded run as `rewardkit serve --record` writes it (Vertex bodies, one
sample each, 40 steps, groups of 8 responses to one prompt, 4 failure codes in 1%
of the samples, a composite of two components in a quarter of the requests; each
line ~1 kB), then runs `rewardkit report` on it in a child process and reports
its wall time and peak resident memory (getrusage of the child).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

CODES = ("TIMEOUT", "REWARD_ERROR", "WORKER_CRASHED", "JUDGE_UNAVAILABLE")
WORDS = "the answer is therefore we compute so that step by step and boxed result".split()


def records(count: int, seed: int = 0):
    rng = random.Random(seed)
    start = datetime(2026, 12, 7, 8, tzinfo=timezone.utc)
    for i in range(count):
        step = 1 + i * 40 // count
        group = f"{step:03d}-{i // 8:07d}"
        words = rng.randint(5, 120)
        response = " ".join(rng.choice(WORDS) for _ in range(words))
        failed = rng.random() < 0.01
        score = None if failed else min(1.0, max(0.0, rng.gauss(0.3 + step / 80 + words / 400, 0.2)))
        sample = {"reward": "mix" if i % 4 == 0 else "math_accuracy", "score": score, "step": step, "job_id": "7",
                  "group": group, "response_chars": len(response), "response": response[:600],
                  "reason": "parsed 72; equal to the reference"}
        if failed:
            sample["failure"] = {"code": rng.choice(CODES), "message": "the reward failed"}
        if i % 4 == 0:
            accuracy = {"score": score, **({"failure": sample["failure"]} if failed else {})}
            sample["components"] = {"math_accuracy": accuracy, "format": {"score": float(words < 60)}}
        at = (start + timedelta(seconds=i * 0.03)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        yield {"id": f"{i:016x}", "reward": sample["reward"],
               "request": {"example": {"contents": [{"role": "user", "parts": [{"text": f"Question {group}?"}]}],
                                       "references": {"answer": "72"}},
                           "response": {"role": "model", "parts": [{"text": response}]},
                           "metadata": {"step": step, "tuning_job_id": "7"}},
               "expect": {"status": 200 if score is not None else 500, "score": score},
               "recorded": {"at": at, "contract": "vertex", "http_status": 200,
                            "latency_ms": rng.lognormvariate(1, 0.8), "ids": {"step": step}, "headers": {},
                            "redacted": [], "samples": [sample]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated run and report")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rewardkit-report-bench-"))
    path = folder / "run.reward.jsonl"
    began = time.perf_counter()
    with open(path, "w") as out:
        for record in records(args.records):
            out.write(json.dumps(record, separators=(",", ":")) + "\n")  # compact, as the recorder writes
    print(f"wrote {args.records:,} records, {path.stat().st_size / 1e6:,.0f} MB, "
          f"in {time.perf_counter() - began:.1f} s")
    command = [sys.executable, "-m", "rewardkit", "report", str(path), "--out", str(folder / "report.html")]
    began = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    size = (folder / "report.html").stat().st_size / 1e6
    print(f"rewardkit report: {args.records:,} records in {seconds:.1f} s, peak RSS {peak:,.0f} MB, "
          f"page {size:.1f} MB")
    if not args.keep:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
    else:
        print(f"kept in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
