"""When to retry a judge request, and how long to wait first: small functions of a status and its headers.

The policy follows openai/openai-python (`src/openai/_base_client.py`: `_should_retry`,
`_calculate_retry_timeout`, `_parse_retry_after_header`): obey `x-should-retry`, retry 408, 429
and 5xx, honour `Retry-After` / `retry-after-ms` up to a cap, else back off exponentially with
jitter. Unlike it, the caller spends a deadline, not only a count (see `AsyncJudge`).
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import Mapping

INITIAL_DELAY = 0.5  # seconds before the first retry without a Retry-After
MAX_DELAY = 8.0  # exponential backoff stops growing here
MAX_RETRY_AFTER = 120.0  # a server asking for longer than this is not waited for; backoff is used instead
JITTER = 0.25  # each backoff is shortened by up to this fraction, so a burst of retries spreads out

# Request timeout, too many requests, and the server's own failures. 409 (lock timeout) is OpenAI-specific.
RETRYABLE_STATUS = frozenset({408, 409, 429})


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a reply with this status is worth asking again."""
    hint = headers.get("x-should-retry", "").lower()
    if hint in ("true", "false"):
        return hint == "true"
    return status in RETRYABLE_STATUS or status >= 500


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` in seconds or as an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - (time.time() if now is None else now), 0.0)


def delay(attempt: int, headers: Mapping[str, str], rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry)."""
    asked = retry_after(headers)
    if asked is not None and asked <= MAX_RETRY_AFTER:
        return asked
    backoff = min(INITIAL_DELAY * 2.0 ** (attempt - 1), MAX_DELAY)
    return backoff * (1.0 - JITTER * (random.random() if rng is None else rng.random()))
