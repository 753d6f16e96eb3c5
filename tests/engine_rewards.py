"""Misbehaving rewards, for the execution-engine tests."""

import os
import signal
import threading
import time

import rewardkit
from rewardkit import Score

SETUP_RUNS: list[int] = []


def count_setup() -> None:
    SETUP_RUNS.append(os.getpid())


@rewardkit.reward
def sleepy(response: str) -> float:
    """Sleeps for `response` seconds, then scores 1."""
    time.sleep(float(response))
    return 1.0


@rewardkit.reward(timeout=0.5, fallback=-0.5)
def sleepy_with_fallback(response: str) -> float:
    time.sleep(float(response))
    return 1.0


@rewardkit.reward
def crash(response: str) -> float:
    os._exit(3)


@rewardkit.reward
def segfault(response: str) -> float:
    os.kill(os.getpid(), signal.SIGSEGV)
    return 0.0


# Filling 1 GiB of pages takes seconds on a slow machine: the cap, not the clock, stops it.
@rewardkit.reward(timeout=120)
def hog(response: str) -> float:
    chunks = []
    while True:
        chunks.append(bytearray(64 * 2**20))


@rewardkit.reward(setup=count_setup)
def where(response: str) -> Score:
    """Reports the worker it ran in; sleeps `response` seconds first."""
    time.sleep(float(response or 0))
    return Score(float(response or 0), metrics={
        "pid": float(os.getpid()),
        "main_thread": float(threading.current_thread() is threading.main_thread()),
        "setup_runs": float(len(SETUP_RUNS)),
    })


@rewardkit.reward
def alarm(response: str) -> Score:
    """Uses signal.alarm the way math-verify times itself out (only possible in a main thread)."""

    def expired(signum, frame):
        raise TimeoutError("alarm fired")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(1)
    try:
        time.sleep(5)
        return Score(0.0, "the alarm did not fire")
    except TimeoutError:
        return Score(1.0, "the alarm fired")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@rewardkit.reward
def quick(response: str) -> float:
    """Scores float(response) at once (a fast reward), except 'hang' (sleeps a minute) and 'crash' (exits)."""
    if response == "hang":
        time.sleep(60)
    if response == "crash":
        os._exit(4)
    return float(response)
