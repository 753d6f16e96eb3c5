"""slime's `remote_rm` against a served rewardkit (integration/slime_bed.py runs it).

slime is not on the package index, so its code is read from a slime checkout (or git directory) given as the
first argument: `remote_rm` and `_get_shared_session` are taken out of `slime/rollout/rm_hub/__init__.py` with
`ast` (the module itself imports slime's reward zoo) and run as they are, with aiohttp. Usage:
check_slime.py SLIME_CHECKOUT URL
"""

from __future__ import annotations

import ast
import asyncio
import logging
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tiny import report

RM_HUB = "slime/rollout/rm_hub/__init__.py"


def slime_source(where: str) -> tuple[str, str]:
    """(source of rm_hub/__init__.py, its commit)."""
    folder = Path(where)
    if (folder / RM_HUB).exists():
        commit = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        return (folder / RM_HUB).read_text(), commit.strip()
    show = subprocess.run(["git", "--git-dir", where, "show", f"HEAD:{RM_HUB}"], capture_output=True, text=True,
                          check=True)
    commit = subprocess.run(["git", "--git-dir", where, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    return show.stdout, commit.strip()


def load_remote_rm(source: str) -> Any:
    """slime's own remote_rm (and the session it shares), compiled from its source."""
    tree = ast.parse(source)
    wanted = [node for node in tree.body if getattr(node, "name", None) in ("_get_shared_session", "remote_rm")
              or (isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_shared_session")]
    namespace: dict[str, Any] = {"aiohttp": aiohttp, "asyncio": asyncio, "random": random, "Sample": Any,
                                 "logger": logging.getLogger("slime"), "__name__": "slime_rm_hub"}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), RM_HUB, "exec"), namespace)
    return namespace["remote_rm"], namespace


@dataclass
class Args:
    rm_url: str


@dataclass
class Sample:  # the fields of slime/utils/types.py Sample that remote_rm reads
    prompt: Any
    response: str
    label: Any


def main() -> None:
    source, commit = slime_source(sys.argv[1])
    url = sys.argv[2]
    remote_rm, namespace = load_remote_rm(source)
    report(f"slime source: {RM_HUB} at {commit[:10]}", "async def remote_rm" in source, commit)
    prompt = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n"

    async def run() -> None:
        cases = [("templated prompt, text label", Sample(prompt, "so \\boxed{42}", "42"), 1.0),
                 ("message prompt, wrong answer", Sample([{"role": "user", "content": "6 * 7?"}], "\\boxed{41}", "42"),
                  0.0),
                 ("JSON-object label scores as its answer",
                  Sample(prompt, "It is \\boxed{2} cm.", '{"answer": "2", "unit": "cm"}'), 1.0)]
        for name, sample, want in cases:
            started = time.monotonic()
            got = await remote_rm(Args(f"{url}/rewards/math_accuracy/slime"), sample)
            report(f"slime remote_rm: {name}", got == want, got, time.monotonic() - started)
        started = time.monotonic()
        batch = [Sample(prompt, f"\\boxed{{{n}}}", "42") for n in range(40, 44)] * 8
        got = await asyncio.gather(*(remote_rm(Args(f"{url}/rewards/math_accuracy/slime"), s) for s in batch))
        report("slime remote_rm: 32 samples at once (batched_async_rm's gather)", got == [0.0, 0.0, 1.0, 0.0] * 8,
               f"{sum(got):g} correct", time.monotonic() - started)
        started = time.monotonic()
        try:  # the default is 10 attempts with backoff up to 30 s; 2 show the same path sooner
            await remote_rm(Args(f"{url}/rewards/word_count/slime"), Sample(prompt, "RAISE", None), max_retries=2)
        except aiohttp.ClientResponseError as exc:
            report("slime remote_rm: a failed reward (500) is retried, then raised", exc.status == 500,
                   f"HTTP {exc.status} after 2 attempts", time.monotonic() - started)
        else:
            report("slime remote_rm: a failed reward (500) is retried, then raised", False, "no exception")
        session = namespace.get("_shared_session")
        if session is not None:
            await session.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
