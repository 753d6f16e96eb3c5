"""Server CPU time per request, a git ref against the working tree, side by side in one run.

    python bench/cpu_per_request.py [--ref main] [--requests 2000] [--rounds 5] [--route /rewards/constant]

Both servers (`rewardkit serve bench/bench_rewards.py --workers 1`) run at once
on loopback; the rounds alternate between them. Each round sends the same
Vertex request REQUESTS times from 16 concurrent httpx connections and reads
the CPU seconds the server and its workers used (/proc). CPU per request does
not depend on how fast the client is, so an httpx client is enough here
(throughput figures need serve_bench.py). Prints the median over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.served import free_port, wait_healthy  # noqa: E402

BODY = json.dumps({"example": {"contents": [{"role": "user", "parts": [{"text": "What is 6*12?"}]}],
                               "references": {"answer": "72"}},
                   "response": {"parts": [{"text": "The answer is 72."}]},
                   "metadata": {"step": 1, "tuning_job_id": "1"}}).encode()


def export(ref: str, folder: Path) -> None:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "rewardkit", "rewards"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(folder)


def start(source: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "rewardkit", "serve", str(REPO / "bench" / "bench_rewards.py"), "--workers", "1",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": str(source)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(process, url, 60, "rewardkit serve", lambda: "")
    return process, url


def cpu_seconds(session: int) -> float:
    """CPU time of every process in the server's session (the server, the forkserver) and the workers'
    (each leads a session of its own, its parent the forkserver)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stats[int(name)] = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    ours = {pid for pid, fields in stats.items() if int(fields[3]) == session}
    ours |= {pid for pid, fields in stats.items() if int(fields[1]) in ours}
    for pid in ours:
        total += (int(stats[pid][11]) + int(stats[pid][12])) / tick
    return total


async def load(url: str, count: int) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=16), timeout=60) as client:
        gate = asyncio.Semaphore(16)

        async def one() -> None:
            async with gate:
                answer = await client.post(url, content=BODY, headers={"content-type": "application/json"})
                assert answer.status_code == 200, answer.text

        await asyncio.gather(*(one() for _ in range(count)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default="main")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--route", default="/rewards/constant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rewardkit-ref-") as folder:
        export(args.ref, Path(folder))
        servers = {args.ref: start(Path(folder)), "working tree": start(REPO)}
        try:
            figures: dict[str, list[float]] = {name: [] for name in servers}
            for _, url in servers.values():
                asyncio.run(load(url + args.route, 300))  # warm up: the pool learns the reward is fast
            for _ in range(args.rounds):
                for name, (process, url) in servers.items():
                    before = cpu_seconds(process.pid)
                    asyncio.run(load(url + args.route, args.requests))
                    figures[name].append((cpu_seconds(process.pid) - before) / args.requests * 1e6)
        finally:
            for process, _ in servers.values():
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
    for name, values in figures.items():
        print(f"{args.route}  {name:>14}: median {statistics.median(values):6.0f} us of server CPU per request "
              f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
