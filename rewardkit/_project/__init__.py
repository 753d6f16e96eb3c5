"""A user's reward project: the `init` scaffold, rewardkit's wheel for it, its checks, its deploy configs."""
