"""Plug-ins declared by entry point: every extension point loads its group the same way.

A broken plug-in is logged with its name and what went wrong, and the built-in ones keep
working; an incomplete one is refused by the extension point's own `register`. `Registry` is
that `register`, with `get` and `registered`, for the extension points whose plug-ins are told
apart by name alone (judge providers, sandbox backends); contracts keep their own, which also
refuses a taken route.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from ._errors import RegistrationError

log = logging.getLogger("rewardkit")


def load_entry_points(group: str, register: Callable[[Any], Any], what: str) -> None:
    """Register every object the `group` entry points name; one that fails is logged as a `what` plug-in."""
    from importlib.metadata import entry_points  # ~0.1 s of imports, paid when a registry is first listed

    for point in entry_points(group=group):
        try:
            register(point.load())
        except Exception as exc:  # a broken plug-in must not take the built-in ones down with it
            log.error("%s plug-in %s = %s could not be registered: %s: %s", what, point.name, point.value,
                      type(exc).__name__, exc)


# An extension point's (package, built-in modules, attribute naming the plug-in in each, entry point group).
LoaderSpec = tuple[str, tuple[str, ...], str, str]


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


P = TypeVar("P")


class Registry(Generic[P]):
    """An extension point's plug-ins by name: instances of `base`, the built-in ones loaded first, at first use.

    A class is instantiated once registered; an incomplete one is refused naming the abstract methods
    it lacks, a taken name naming both modules, an unknown name listing the registered ones.
    `attributes` are the class attributes (strings, `name` first) every plug-in must set; `public` is
    the path users import `base` from, for messages."""

    def __init__(self, base: type, public: str, what: str, attributes: tuple[str, ...], loader: LoaderSpec) -> None:
        # `base` is an ABC, which mypy will not take as a type[P] (type-abstract): users write Registry[Base](Base, ...)
        self.base, self.public, self.what, self.attributes = base, public, what, attributes
        self.items: dict[str, P] = {}
        self.load = Loader(*loader, what, self.register)

    def _refuse_incomplete(self, plugin: type) -> None:
        missing = sorted(getattr(plugin, "__abstractmethods__", ())) if issubclass(plugin, self.base) else []
        if missing:
            needs = ", ".join(f"{method}()" for method in sorted(getattr(self.base, "__abstractmethods__", ())))
            raise TypeError(f"{self.what} {plugin.__module__}.{plugin.__qualname__} does not implement "
                            f"{', '.join(missing)}: a {self.base.__name__} needs {needs}")

    def register(self, plugin: P | type[P]) -> P:
        """Make `plugin` available by its name; registering the same class again is a no-op."""
        if isinstance(plugin, type):
            self._refuse_incomplete(plugin)
            plugin = plugin()
        if not isinstance(plugin, self.base):
            raise TypeError(f"register() takes a {self.public}, got {type(plugin).__name__}")
        name = getattr(plugin, "name", None)
        if not name or not all(isinstance(getattr(plugin, a, None), str) for a in self.attributes):
            wanted = (f"attributes {' and '.join(self.attributes)} (strings)" if len(self.attributes) > 1
                      else f"attribute {self.attributes[0]} (a string)")
            raise TypeError(f"{self.what} {type(plugin).__module__}.{type(plugin).__qualname__} must set the class "
                            f"{wanted}")
        current = self.items.get(name)
        if current is not None:
            if type(current) is type(plugin):
                return current
            raise RegistrationError(f"{self.what} {name!r} ({type(plugin).__module__}) has the same name as the "
                                    f"registered {self.what.rsplit(' ', 1)[-1]} from {type(current).__module__}")
        self.items[name] = cast(P, plugin)  # an instance of base, checked above
        return cast(P, plugin)

    def registered(self) -> tuple[P, ...]:
        """Every registered plug-in: the built-in ones first, then the others, in registration order."""
        self.load()
        return tuple(self.items.values())

    def get(self, name: str | P) -> P:
        """The plug-in called `name` (an instance passes through); RegistrationError lists the names when none."""
        if isinstance(name, self.base):
            return cast(P, name)
        self.load()
        try:
            return self.items[name]  # type: ignore[index]
        except KeyError:
            raise RegistrationError(f"no {self.what} {name!r}; registered: {', '.join(self.items)} "
                                    f"(plug-ins declare entry points in the {self.load.group!r} group)") from None
