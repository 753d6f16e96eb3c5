"""Plug-ins declared by entry point: every extension point loads its group the same way.

A broken plug-in is logged with its name and what went wrong, and the built-in ones keep
working; an incomplete one is refused by the extension point's own `register`.
"""

from __future__ import annotations

import importlib
import logging
import threading
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


class Loader:
    """Registers an extension point's built-in modules' `attribute`, then its entry points: once, at first use.

    Built-ins come in through the same `register` as plug-ins (pytest's `default_plugins`), and
    only when the extension point is first listed, so `import rewardkit` stays light."""

    def __init__(self, package: str, builtins: tuple[str, ...], attribute: str, group: str, what: str,
                 register: Callable[[Any], Any]) -> None:
        self.package, self.builtins, self.attribute = package, builtins, attribute
        self.group, self.what, self.register = group, what, register
        self.loaded = False
        # Another thread waits until the loading is done (it saw an empty registry before); the loading thread
        # itself, re-entering through a module it imports, returns at once.
        self._lock = threading.RLock()
        self._loading = False

    def __call__(self) -> None:
        if self.loaded:
            return
        with self._lock:
            if self.loaded or self._loading:
                return
            self._loading = True
            try:
                for module in self.builtins:
                    self.register(getattr(importlib.import_module(f"{self.package}.{module}"), self.attribute))
                load_entry_points(self.group, self.register, self.what)
            finally:
                self._loading, self.loaded = False, True
