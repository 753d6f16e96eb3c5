"""Public names shown under the path a user imports them from, and names that moved, kept for one release.

As httpx's `__init__` does: a class defined in a private module but exported by a public one reports the
public path (`rewardkit.Score`, not `rewardkit._score.Score`) in its repr, tracebacks and pickles. Its
annotations are resolved first, in the module that wrote them: `typing.get_type_hints` (and pydantic) look
names up in the module `__module__` names, where `Mapping` or `Any` may not be.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Mapping, get_type_hints


def show_as(module: str, *classes: type) -> None:
    """Give each class the public module path `module`, its own annotations resolved beforehand."""
    for cls in classes:
        own = cls.__dict__.get("__annotations__")
        if own:
            hints = get_type_hints(cls)
            cls.__annotations__ = {name: hints[name] for name in own}
        cls.__module__ = module


def moved(module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` serving names that moved (name -> new module) with a DeprecationWarning naming the
    new path; any other name is an AttributeError, as without it."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} moved to {home}.{name}; import it from there (the old path goes in the "
                      "next release)", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(home), name)

    return __getattr__
