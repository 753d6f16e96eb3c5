"""`rewardkit.testing.score` honours a reward's `timeout=` as the server does."""

import time

import rewardkit
from rewardkit.testing import score


@rewardkit.reward(timeout=0.2)
def slow(response: str) -> float:
    time.sleep(3)
    return 1.0


@rewardkit.reward(timeout=5)
def quick(response: str) -> float:
    return 1.0


def test_a_sync_reward_past_its_timeout_is_answered_timeout():
    began = time.monotonic()
    out = score(slow, "x")
    assert out.value is None and out.failure.code == "TIMEOUT" and "0.2 s" in out.failure.message
    assert time.monotonic() - began < 2.5  # answered at the deadline, not after the reward's 3 s


def test_a_reward_within_its_timeout_scores():
    assert score(quick, "x").value == 1.0
