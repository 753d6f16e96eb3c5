"""Rewards that misbehave on request, for the fault-injection suite (tests/test_faults.py).

Every reward echoes the id of its request back (in `reason` and in the
metric `id`), so a test can check that each answer is its own request's.
A response is `ID` or `ID ACTION [ARG]`; the actions are what a reward, or
a library it calls, can do to the process running it.
"""

import asyncio
import os
import pickle
import struct
import subprocess
import sys
import time

import rewardkit
from rewardkit import Score


def _echo(request_id: str) -> Score:
    return Score(1.0, f"id={request_id}", {"id": float(request_id)})


def _scribble() -> None:
    """Write a forged answer (an id no call has) on every socket this process holds: the worker's pipe."""
    forged = pickle.dumps(("done", -1, os.getpid(), [(0.5, "forged", None, None, None, None)], 0.0))
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                os.write(fd, struct.pack("!i", len(forged)) + forged)
        except OSError:
            pass


def _act(action: str, arg: str) -> None:
    if action == "sleep":
        time.sleep(float(arg))
    elif action == "fork":  # a child that returns from the reward too, with another answer
        if os.fork() == 0:
            time.sleep(float(arg or 0))
            return
    elif action == "fork_stay":  # a child that keeps running, holding the worker's pipe open
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    elif action == "crash_leaving_child":
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        os._exit(3)
    elif action == "spawn_and_hang":  # a subprocess of a call that overruns its timeout
        child = subprocess.Popen(["sleep", "600"])
        with open(arg, "w") as note:
            note.write(str(child.pid))
        time.sleep(600)
    elif action == "spawn":  # a subprocess left running by a call that returns
        child = subprocess.Popen(["sleep", "600"])
        with open(arg, "w") as note:
            note.write(str(child.pid))
    elif action == "exit":
        sys.exit(0)
    elif action == "interrupt":
        raise KeyboardInterrupt
    elif action == "scribble":
        _scribble()
    elif action == "scribble_child":  # a second writer: a forked child answers on the pipe
        if os.fork() == 0:
            _scribble()
            os._exit(0)
        time.sleep(0.5)  # the child's bytes arrive first
    elif action == "crash":
        os._exit(5)


@rewardkit.reward
def echo(response: str) -> Score:
    request_id, _, rest = response.partition(" ")
    action, _, arg = rest.partition(" ")
    _act(action, arg)
    return _echo(request_id)


async def _exits(kind: str) -> None:
    raise SystemExit(0) if kind == "exit" else KeyboardInterrupt


@rewardkit.reward
async def aecho(response: str) -> Score:
    request_id, _, rest = response.partition(" ")
    action, _, arg = rest.partition(" ")
    if action == "exit":
        raise SystemExit(0)
    if action == "interrupt":
        raise KeyboardInterrupt
    if action == "cancelled":  # raised by the reward itself, not a cancellation of its task
        raise asyncio.CancelledError("a library's own")
    if action == "subtask":  # a task of its own raises: asyncio re-raises that out of the loop
        await asyncio.gather(_exits(arg))
    if action == "block":  # CPU work (here a sleep) on the event loop: what async rewards must not do
        time.sleep(float(arg))
    if action == "sleep":
        await asyncio.sleep(float(arg))
    return _echo(request_id)


@rewardkit.grouped_reward
async def agroup(responses: list) -> list:
    for response in responses:
        if " exit" in response:
            raise SystemExit(0)
        if " interrupt" in response:
            raise KeyboardInterrupt
    return [_echo(r.partition(" ")[0]) for r in responses]


both = rewardkit.composite("both", {echo: 1.0, aecho: 1.0}, rule="weighted_mean")


@rewardkit.parsed_reward(rewardkit.parsers.identity())
def sized(parsed: str, references: dict) -> Score:
    """Never fails, whatever the body held, and shows what it read: for the property-based tests of the contracts."""
    return Score(min(1.0, len(parsed) / 100), f"read {parsed!s:.50} with references {sorted(references)!s:.50}")


@rewardkit.grouped_reward
def sized_group(responses: list) -> list:
    return [min(1.0, len(r) / 100) for r in responses]
