"""The trainer test bed's shared part: a virtual environment per trainer with pinned versions, the served
rewardkit the remote checks post to, and the table each script prints.

Each `integration/<trainer>_bed.py` is run with rewardkit's own environment (`.venv/bin/python
integration/verl_bed.py`). It makes (once) `integration/.venvs/<name>` with the trainer's pinned packages from
the package index and this checkout of rewardkit, then runs its `integration/inside/` script there: that
script builds a tiny random-weight causal LM and tokenizer locally (integration/inside/tiny.py; nothing is
downloaded), runs the trainer's own code against rewardkit, and prints one JSON line per check. The driver
prints the table: check, PASS/FAIL, the reward calls' time, what was seen.

Not part of .ci/run (the environments take minutes and gigabytes); run before a release and when a trainer
publishes a version, and put the table in docs/trainers.md with its date.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
HERE = REPO / "integration"
VENVS = Path(os.environ.get("REWARDKIT_BED_VENVS", HERE / ".venvs"))
WORK = Path(os.environ.get("REWARDKIT_BED_WORK", HERE / ".work"))
REWARDS = HERE / "inside" / "bed_rewards.py"  # the rewards every trainer is run against


def venv(name: str, requirements: Sequence[str], no_deps: Sequence[str] = ()) -> Path:
    """The python of `integration/.venvs/<name>`, made (or remade, when the pins changed) with `requirements`,
    then `no_deps` installed without their dependencies, then this checkout of rewardkit."""
    folder = VENVS / name
    python = folder / "bin" / "python"
    stamp = folder / "bed-requirements.txt"
    wanted = "\n".join([*requirements, "--no-deps", *no_deps])
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    quiet_pip([*pip, "--upgrade", "pip"])
    quiet_pip([*pip, *requirements])
    if no_deps:
        quiet_pip([*pip, "--no-deps", *no_deps])
    quiet_pip([*pip, "-e", str(REPO)])
    stamp.write_text(wanted)
    return python


def versions(python: Path, packages: Sequence[str]) -> dict[str, str]:
    """The installed versions of `packages` in that environment."""
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))")
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(*args: str) -> Iterator[str]:
    """`rewardkit serve` on a loopback port (this environment's rewardkit), serving the bed's rewards."""
    port = free_port()
    WORK.mkdir(parents=True, exist_ok=True)
    log = open(WORK / f"serve-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "rewardkit", "serve", str(REWARDS), "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "2", *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rewardkit serve did not start; see {log.name}") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(60)
        log.close()


def run_inside(python: Path, script: str, *args: str, timeout: float = 1800) -> list[dict[str, Any]]:
    """Run integration/inside/<script> in the trainer's environment; its JSON lines are the checks."""
    env = {**os.environ, "PYTHONPATH": str(HERE / "inside"), "REWARDKIT_BED_WORK": str(WORK),
           "REWARDKIT_BED_REWARDS": str(REWARDS)}
    started = time.monotonic()
    done = subprocess.run([str(python), str(HERE / "inside" / script), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(WORK))
    rows = []
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"check"' in line:
            rows.append(json.loads(line))
    if done.returncode != 0 or not rows:
        rows.append({"check": f"{script} exited {done.returncode} after {time.monotonic() - started:.0f} s",
                     "ok": False, "detail": done.stderr.strip().splitlines()[-5:]})
    return rows


def table(trainer: str, found: dict[str, str], rows: list[dict[str, Any]]) -> bool:
    """Print the pass/fail table; True when every check passed."""
    print(f"\n{trainer}: " + ", ".join(f"{k} {v}" for k, v in found.items()) + f"  ({time.strftime('%Y-%m-%d')})")
    width = max(len(r["check"]) for r in rows)
    for row in rows:
        calls = row.get("reward_seconds")
        timing = f"{calls:7.2f} s" if isinstance(calls, (int, float)) else " " * 9
        print(f"  {'PASS' if row['ok'] else 'FAIL'}  {row['check']:<{width}}  {timing}  {row.get('detail', '')}")
    ok = all(row["ok"] for row in rows)
    print(f"  {sum(r['ok'] for r in rows)}/{len(rows)} passed")
    return ok


def quiet_pip(command: list[str]) -> None:
    """pip, its output kept in .work/pip.log unless it fails."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / "pip.log", "a") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed; see {WORK / 'pip.log'}")
