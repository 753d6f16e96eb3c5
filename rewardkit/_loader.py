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
    if existing is not None and getattr(existing, "__file__", None) and Path(existing.__file__).resolve() == path:
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


def load_module(target: str) -> ModuleType:
    """Import `target`: a dotted module path (`my_rewards`, `pkg.rewards`) or a file path."""
    # Like `python -m` and uvicorn: modules in the current directory are importable.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if _is_path(target):
            return _load_file(target)
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
    return registry
