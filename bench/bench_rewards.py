"""The trivial reward rewardkit serves in the benchmark."""

import rewardkit


@rewardkit.reward
def constant(response: str) -> float:
    return 1.0


@rewardkit.reward
async def constant_async(response: str) -> float:
    """The same constant as an async reward: it runs on the event loop, with no worker round trip."""
    return 1.0
