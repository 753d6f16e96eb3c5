"""Import the serve target (a module path or a .py file) and collect its rewards."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from ._errors import LoadError, RegistrationError
from ._registry import Registry, collect

DEFAULT_TARGET = "rewards"
# Set in the built-in package's __init__: tells it apart from a user's own module named `rewards`.
BUILTIN_MARKER = "__rewardkit_builtin__"


def describe_target(target: str) -> str:
    """How messages name a target: the built-in package by what it is, anything else by its name."""
    return "the built-in rewards package" if target == DEFAULT_TARGET else repr(target)


def resolve_target(given: str | None) -> str:
    """The target a command uses: the one given, else $REWARDKIT_TARGET, else the built-in package."""
    return given or os.environ.get("REWARDKIT_TARGET", "").strip() or DEFAULT_TARGET


def target_line(doing: str, do: str, target: str, *, given: bool, flag: str) -> str:
    """`serving the built-in rewards package; pass TARGET to serve your own`, or which target was named."""
    if target != DEFAULT_TARGET:
        source = "" if given else " (from $REWARDKIT_TARGET)"
        return f"{doing} {target!r}{source}"
    return f"{doing} the built-in rewards package; pass {flag} to {do} your own"


def _own_rewards_in(folder: Path) -> Path | None:
    """A `rewards.py` or `rewards/` package in `folder` that is not rewardkit's built-in package."""
    for candidate in (folder / "rewards.py", folder / "rewards" / "__init__.py"):
        if candidate.is_file() and BUILTIN_MARKER not in candidate.read_text(errors="replace"):
            return candidate if candidate.name == "rewards.py" else candidate.parent
    return None


def shadow_note(target: str) -> str | None:
    """What to tell a user whose working directory holds a module of the built-in package's name.

    The rule: the name `rewards` (the default target, or given explicitly) always means the
    built-in package; a user's own `rewards.py` is served by its path. Saying so at start-up
    keeps the rule from surprising anyone.
    """
    if target != DEFAULT_TARGET:
        return None
    own = _own_rewards_in(Path.cwd())
    if own is None:
        return None
    return (f"./{own.name} is not served: the name 'rewards' always means the built-in package; "
            f"serve yours by its path (./{own.name})")


def _is_path(target: str) -> bool:
    return target.endswith(".py") or os.sep in target or "/" in target


def _load_file(target: str) -> ModuleType:
    path = Path(target).resolve()
    if not path.is_file():
        raise LoadError(f"cannot load {target!r}: no such file")
    # The file's folder goes on sys.path so it can import its siblings, as `python file.py` allows.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    existing = sys.modules.get(name)
    existing_file = getattr(existing, "__file__", None)
    if existing is not None and existing_file and Path(existing_file).resolve() == path:
        return existing
    if existing is not None:
        name = f"_rewardkit_target_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot load {target!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_builtin() -> ModuleType:
    """The built-in `rewards` package, never a module of that name in the working directory."""
    module = sys.modules.get(DEFAULT_TARGET)
    if module is None:
        here = {"", os.getcwd(), str(Path.cwd().resolve())}
        saved = sys.path[:]
        sys.path[:] = [entry for entry in sys.path if entry not in here]
        try:
            module = importlib.import_module(DEFAULT_TARGET)
        finally:
            sys.path[:] = saved
    if not getattr(module, BUILTIN_MARKER, False):
        raise LoadError(f"the module named 'rewards' ({getattr(module, '__file__', '?')}) is not rewardkit's built-in "
                        "package, and the name 'rewards' always means the built-in one: serve your own module by "
                        "its path (./rewards.py) or rename it")
    return module


def load_module(target: str) -> ModuleType:
    """Import `target`: a dotted module path (`my_rewards`, `pkg.rewards`) or a file path."""
    # Like `python -m` and uvicorn: modules in the current directory are importable.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if _is_path(target):
            return _load_file(target)
        if target == DEFAULT_TARGET:
            return _import_builtin()
        return importlib.import_module(target)
    except (LoadError, RegistrationError):
        raise
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise LoadError(
                f"cannot import {target!r}: no module named {exc.name!r}. Run from the folder that holds it, "
                "add that folder to PYTHONPATH, or pass the file path (./my_rewards.py)"
            ) from None
        raise LoadError(f"importing {target!r} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise LoadError(f"importing {target!r} failed: {type(exc).__name__}: {exc}") from exc


def load_registry(target: str = DEFAULT_TARGET) -> Registry:
    """The rewards a target defines; a target with none is an error."""
    registry = collect(load_module(target))
    if not len(registry):
        raise LoadError(
            f"{target!r} defines no rewards: decorate functions with @rewardkit.reward, "
            "@rewardkit.grouped_reward or @rewardkit.parsed_reward"
        )
    registry.source = describe_target(target)
    return registry
