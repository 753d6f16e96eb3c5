"""Failure codes as a contract: each declared once (rewardkit/_errors.py), each error class with a code, the
built-in rewards' errors in rewardkit's tree, and docs/failures.md's table what the code does."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import rewardkit
import rewards
from rewardkit import _errors, reward, sample
from rewardkit._cli.codes import BEGIN, END, page_with_table
from rewardkit._errors import CODES, RewardkitError

from .conftest import REPO

# The sandbox's per-test verdicts are another closed set (a test's result, not a call's failure) that shares two
# names with the failure codes; they are declared with the verdicts, in rewardkit/sandbox/_types.py.
# Names, not codes: the sandbox's deprecated aliases of its old verdict constants (TIMEOUT is now TIME_LIMIT).
_VERDICTS = {("rewardkit/sandbox/__init__.py", "TIMEOUT"), ("rewardkit/sandbox/__init__.py", "SANDBOX_ERROR")}


# Modules that act when imported: the command line's entry, and the forkserver's guard (it would watch this
# process as the forkserver of a server started by an earlier test, and stop it with that server).
_ACTING = ("__main__", "forkserver_guard")


def _modules(package: ModuleType) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if not m.name.endswith(_ACTING)]


def _sources() -> list[Path]:
    return sorted(p for folder in ("rewardkit", "rewards") for p in (REPO / folder).rglob("*.py"))


def test_the_failure_code_table_of_docs_failures_md_is_the_code_s() -> None:
    page = (REPO / "docs" / "failures.md").read_text(encoding="utf-8")
    assert BEGIN in page and END in page
    assert page == page_with_table(page), "docs/failures.md's table is out of date: run " \
        "`rewardkit codes --write docs/failures.md` (the codes are declared in rewardkit/_errors.py)"


def test_every_failure_code_is_spelled_out_only_where_it_is_declared() -> None:
    restated = []
    for path in _sources():
        where = path.relative_to(REPO).as_posix()
        if where == "rewardkit/_errors.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exported = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Assign)  # `__all__` lists names
                    and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                    for n in ast.walk(node.value)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in CODES and (where, node.value) not in _VERDICTS \
                    and id(node) not in exported:
                restated.append(f"{where}:{node.lineno}: {node.value!r}")
    assert not restated, "import the code from rewardkit._errors instead:\n" + "\n".join(restated)


def test_every_rewardkit_error_fails_a_call_with_a_declared_code() -> None:
    for name in _modules(rewardkit) + _modules(rewards):
        importlib.import_module(name)
    pending, seen = [RewardkitError], []
    while pending:
        cls = pending.pop()
        seen.append(cls)
        pending.extend(cls.__subclasses__())
        assert cls.code in CODES, f"{cls.__module__}.{cls.__qualname__}: code {cls.code!r} is not declared"
        if "code" in vars(cls):  # a class naming a code of its own is part of the tree drawn in _errors
            # (defined there: its __module__ may name the public module that shows it, `rewardkit`)
            assert vars(_errors).get(cls.__name__) is cls, f"{cls.__qualname__} declares a code outside _errors"
    assert len(seen) > 40  # the walk found the errors of every module, not the base alone


def test_the_built_in_rewards_errors_are_rewardkit_errors() -> None:
    strays = []
    for name in _modules(rewards):
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == name \
                    and not issubclass(value, RewardkitError):
                strays.append(f"{name}.{value.__qualname__}")
    assert not strays, f"rewards' errors must subclass rewardkit.RewardkitError: {strays}"


_OWN_CODE = [cls for cls in vars(_errors).values()
             if isinstance(cls, type) and issubclass(cls, RewardkitError) and "code" in vars(cls)]


@pytest.mark.parametrize("error", _OWN_CODE, ids=lambda cls: cls.__name__)
def test_an_error_raised_in_a_reward_fails_the_call_with_its_class_s_code(error: type[RewardkitError]) -> None:
    @reward(name=f"raises_{error.__name__}")
    def raising(response: str) -> float:
        raise error("what went wrong")

    outcome = rewardkit.call(raising, sample("the answer", reference="gold"))
    assert outcome.score is None and outcome.failure is not None
    assert outcome.failure.code == error.code and "what went wrong" in outcome.failure.message


def test_rewards_option_errors_are_reward_errors_and_still_value_errors() -> None:
    from rewards.common import OptionError

    assert issubclass(OptionError, ValueError) and OptionError.code == _errors.REWARD_ERROR
