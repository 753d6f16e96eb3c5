"""Text cut to fit one line of a message: the one rule for rewardkit's reasons, errors and reports.

(rewards/common/text.py has the same rule for the built-in rewards, which import only the public API.)
"""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters, else its first `limit - 3` and "..."."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
