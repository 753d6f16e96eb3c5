"""Which rewardkit this is: version and location, for `--version` and the start-up log.

Another project on PyPI (`harbor-rewardkit`, a grading toolkit) also installs an
import package and a command named `rewardkit`; naming the project and its path
lets a user see at once which one answered.
"""

from __future__ import annotations

from pathlib import Path

from .. import __version__

PROJECT = "rewardkit (reward functions for LLM RL fine-tuning: Vertex AI and Model Studio reward services)"


def identity() -> str:
    """`rewardkit 0.1.0 from /path/to/rewardkit`, plus what this rewardkit is."""
    return f"rewardkit {__version__} from {Path(__file__).resolve().parent.parent}\n{PROJECT}"
