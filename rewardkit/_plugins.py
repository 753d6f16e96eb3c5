"""Plug-ins declared by entry point: every extension point loads its group the same way.

A broken plug-in is logged with its name and what went wrong, and the built-in ones keep
working; an incomplete one is refused by the extension point's own `register`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger("rewardkit")


def load_entry_points(group: str, register: Callable[[Any], Any], what: str) -> None:
    """Register every object the `group` entry points name; one that fails is logged as a `what` plug-in."""
    for point in entry_points(group=group):
        try:
            register(point.load())
        except Exception as exc:  # a broken plug-in must not take the built-in ones down with it
            log.error("%s plug-in %s = %s could not be registered: %s: %s", what, point.name, point.value,
                      type(exc).__name__, exc)
