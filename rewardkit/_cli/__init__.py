"""The `rewardkit` command: one module per verb; `main` is the console script."""

from .main import main

__all__ = ["main"]
