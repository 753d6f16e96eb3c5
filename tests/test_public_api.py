"""The public API: what `import rewardkit` offers, where the plumbing went, and the paths classes show."""

from __future__ import annotations

import importlib
import inspect
import pickle
import typing

import pytest

import rewardkit
import rewards.judge

# What a reward author uses: decorators and the specs they return, the sample and the score, the parsers, running a
# reward on a sample, serving, and the errors an author raises or meets.
AUTHORING = {
    "reward", "grouped_reward", "parsed_reward", "composite", "variant", "RewardSpec", "CompositeSpec",
    "Score", "Sample", "Message", "Media", "ToolCall", "Metadata", "sample", "parsers", "call", "Outcome", "Failure",
    "create_app", "RewardkitError", "RegistrationError", "LoadError", "ParseError", "InvalidScoreError",
    "UnknownRewardError", "MissingReferenceError", "InvalidReferenceError", "MediaError",
}
MOVED = {
    "Registry": "rewardkit.registry", "collect": "rewardkit.registry", "spec_of": "rewardkit.registry",
    "attach": "rewardkit.registry", "NATIVE_TWIN": "rewardkit.registry", "DEFAULT_REFERENCE_KEYS": "rewardkit.registry",
    "JudgeError": "rewardkit.clients", "JudgeUnparseable": "rewardkit.clients",
}
# The public modules whose classes must show their public path (rewardkit.sandbox's exports are being reworked apart).
PUBLIC = ("rewardkit", "rewardkit.registry", "rewardkit.clients", "rewardkit.clients.providers", "rewardkit.contracts",
          "rewardkit.parsers", "rewardkit.audit", "rewardkit.trl", "rewardkit.verl")


def test_the_top_level_is_the_authoring_api() -> None:
    assert set(rewardkit.__all__) == AUTHORING
    assert all(hasattr(rewardkit, name) for name in rewardkit.__all__)
    assert not MOVED.keys() & vars(rewardkit).keys()  # only reachable through the warning below


@pytest.mark.parametrize("name", sorted(MOVED))
def test_a_moved_name_still_works_for_one_release_and_warns(name: str) -> None:
    home = importlib.import_module(MOVED[name])
    assert name in home.__all__
    with pytest.warns(DeprecationWarning, match=rf"rewardkit\.{name} moved to {MOVED[name]}\.{name}"):
        assert getattr(rewardkit, name) is getattr(home, name)


def test_from_import_of_a_moved_name_warns() -> None:
    with pytest.warns(DeprecationWarning, match="rewardkit.registry.Registry"):
        from rewardkit import Registry
    assert Registry is importlib.import_module("rewardkit.registry").Registry


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="'rewardkit' has no attribute 'Regsitry'"):
        rewardkit.Regsitry  # noqa: B018


def test_judge_errors_have_one_home() -> None:
    homes = [m for m in ("rewardkit", "rewardkit.clients", "rewards.judge")
             if "JudgeError" in importlib.import_module(m).__all__]
    assert homes == ["rewardkit.clients"]
    from rewardkit.clients import JudgeError, JudgeUnparseable

    assert repr(JudgeError) == "<class 'rewardkit.clients.JudgeError'>"
    with pytest.warns(DeprecationWarning, match="rewards.judge.JudgeUnparseable moved to rewardkit.clients"):
        assert rewards.judge.JudgeUnparseable is JudgeUnparseable


def _exported_classes() -> list[tuple[str, type]]:
    found = []
    for module in PUBLIC:
        namespace = importlib.import_module(module)
        found += [(f"{module}.{name}", getattr(namespace, name)) for name in namespace.__all__
                  if inspect.isclass(getattr(namespace, name))]
    return found


@pytest.mark.parametrize(("path", "cls"), _exported_classes(), ids=lambda v: v if isinstance(v, str) else "")
def test_exported_classes_show_a_public_path(path: str, cls: type) -> None:
    assert not any(part.startswith("_") for part in cls.__module__.split(".")), f"{path} shows {cls.__module__}"
    assert getattr(importlib.import_module(cls.__module__), cls.__qualname__) is cls  # what pickle looks up
    typing.get_type_hints(cls)  # annotations still resolve, though __module__ no longer wrote them


def test_reprs_pickles_and_tracebacks_name_the_public_path() -> None:
    assert repr(rewardkit.Score) == "<class 'rewardkit.Score'>"
    assert repr(rewardkit.Sample) == "<class 'rewardkit.Sample'>"
    assert repr(importlib.import_module("rewardkit.registry").Registry) == "<class 'rewardkit.registry.Registry'>"
    sample = rewardkit.sample("x", reference="y")
    outcome = rewardkit.Outcome("r", score=rewardkit.Score(0.5, "half"))
    for value in (sample, outcome, rewardkit.Failure("TIMEOUT", "slow"), rewardkit.Score(1.0)):
        assert pickle.loads(pickle.dumps(value)) == value  # the engine sends these between processes
    assert b"rewardkit._" not in pickle.dumps(sample)
    error = pickle.loads(pickle.dumps(rewardkit.MissingReferenceError("no gold")))
    assert type(error) is rewardkit.MissingReferenceError
