"""Reward options declared once, in the reward's signature: variant() checks values against the declaration
(Literal choices, Annotated bounds, the type), `check_options` adds the rules across options, and
docs/builtin-rewards.md's option tables are the declaration's (`rewardkit options --markdown`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import pytest
from annotated_types import Gt
from pydantic import Field

import rewardkit
import rewards
from rewardkit._loader import load_registry
from rewardkit._options import describe, markdown, parameter_docs, validate

DOCS = Path(__file__).resolve().parent.parent / "docs" / "builtin-rewards.md"


@pytest.mark.parametrize(("base", "options", "message"), [
    (rewards.length_penalty, {"unit": "words"}, "option 'unit': expected 'tokens' or 'chars', got 'words'"),
    (rewards.length_penalty, {"target": -1}, "option 'target': expected greater than or equal to 0, got -1"),
    (rewards.length_penalty, {"limit": float("nan")}, "option 'limit': expected a finite number, got nan"),
    (rewards.turn_budget, {"max_turns": "5"}, "option 'max_turns': expected a valid integer, got '5'"),
    (rewards.turn_budget, {"max_turns": True}, "option 'max_turns': expected a valid integer, got True"),
    (rewards.turn_budget, {"penalty_per_turn": 1.5}, "option 'penalty_per_turn': expected less than or equal to 1"),
    (rewards.tool_call_match, {"mode": "recall"}, "option 'mode': expected 'binary_strict', 'fractional' or 'f1'"),
    (rewards.tool_call_match, {"omittable": "unit"}, "option 'omittable'"),
    (rewards.json_match, {"tolerance": -0.1}, "option 'tolerance': expected greater than or equal to 0"),
    (rewards.json_schema, {"mode": "strict"}, "option 'mode': expected 'binary' or 'keys', got 'strict'"),
    (rewards.instruction_following, {"scoring": "most"}, "option 'scoring': expected 'fraction' or 'all'"),
    (rewards.code_tests, {"retries": -1}, "option 'retries': expected greater than or equal to 0, got -1"),
    (rewards.think_format, {"open_tag": ""}, "option 'open_tag'"),
    (rewards.repetition_penalty, {"n": 0}, "option 'n'"),
])
def test_a_value_its_declaration_refuses_fails_the_variant(base, options, message):
    with pytest.raises(rewardkit.RegistrationError) as caught:
        rewardkit.variant(base, "bad", **options)
    assert str(caught.value).startswith(f"variant 'bad' of '{rewardkit.registry.spec_of(base).name}': ")
    assert message in str(caught.value)


def test_every_bad_option_is_named_at_once():
    with pytest.raises(rewardkit.RegistrationError, match="option 'unit'.*; option 'shape'"):
        rewardkit.variant(rewards.length_penalty, "bad", unit="words", shape="step")


def test_rules_across_options_stay_with_check_options():
    with pytest.raises(rewardkit.RegistrationError, match=r"limit \(100\) must be greater than target \(200\)"):
        rewardkit.variant(rewards.length_penalty, "bad", target=200, limit=100)
    with pytest.raises(rewardkit.RegistrationError, match="needs sandbox_url"):
        rewardkit.variant(rewards.code_tests, "bad", backend="sandboxfusion")
    with pytest.raises(rewardkit.RegistrationError, match="choices must be distinct letters"):
        rewardkit.variant(rewards.multiple_choice, "bad", choices="AAB")


def test_good_values_make_a_variant_that_runs_with_them():
    concise = rewardkit.variant(rewards.length_penalty, "concise", target=2, limit=4, unit="chars", shape="cosine")
    assert concise("abc", "").value == pytest.approx(0.5)
    # an int is a float; case-insensitive operation names stay accepted, as Vertex's are
    rewardkit.variant(rewards.json_match, "tolerant", tolerance=1)
    partial = rewardkit.variant(rewards.string_match, "partial", match_operation="partial_match", expression="b")
    assert partial("abc", {}).value == 1.0


@rewardkit.reward(check_options=lambda *, low, high, **_: None if low < high else (_ for _ in ()).throw(
    ValueError(f"low ({low}) must be below high ({high})")))
def _banded(response: str, style: Literal["words", "chars"] = "words",
            low: Annotated[int, Field(ge=0)] = 1, high: Annotated[float, Gt(0)] = 10.0) -> float:
    """1.0 when the length lies in [low, high].

    Parameters:
        style: "words" or "chars".
        low: the shortest length
            that scores 1.0.
        high: the longest.
    """
    length = len(response.split()) if style == "words" else len(response)
    return 1.0 if low <= length <= high else 0.0


def test_a_user_reward_declares_its_options_with_annotated():
    spec = rewardkit.variant(_banded, "narrow", low=2, high=3)
    assert spec("a b") == 1.0
    with pytest.raises(rewardkit.RegistrationError, match=r"variant 'wide' of '_banded': option 'low': "
                                                          r"expected greater than or equal to 0, got -1"):
        rewardkit.variant(_banded, "wide", low=-1)
    with pytest.raises(rewardkit.RegistrationError, match="option 'high': expected greater than 0, got 0"):
        rewardkit.variant(_banded, "wide", high=0)
    with pytest.raises(rewardkit.RegistrationError, match=r"low \(5\) must be below high \(4\)"):
        rewardkit.variant(_banded, "wide", low=5, high=4)
    listed = {o.name: o for o in describe(spec)}
    assert listed["low"].bounds == ">= 0" and listed["low"].value == 2 and listed["low"].default == 1
    assert listed["low"].description == "the shortest length that scores 1.0."
    assert listed["style"].allowed == ("words", "chars") and listed["high"].bounds == "> 0"


def test_a_default_that_breaks_its_own_declaration_is_reported():
    @rewardkit.reward
    def stubborn(response: str, n: Annotated[int, Field(ge=1)] = 0) -> float:
        return 1.0

    with pytest.raises(rewardkit.RegistrationError,
                       match=r"the default of option 'n': expected greater than or equal to 1, got 0"):
        rewardkit.variant(stubborn, "any")


def test_every_builtin_rewards_defaults_keep_its_declaration():
    for spec in load_registry("rewards"):
        if isinstance(spec, rewardkit.RewardSpec):
            validate(spec, spec.options, spec.name)  # raises RegistrationError naming a bad default


def test_an_unknown_decorator_option_is_refused():
    with pytest.raises(TypeError, match="unexpected option.*wieght"):
        rewardkit.reward(wieght=2.0)  # type: ignore[call-overload]


def test_parameter_docs_read_continuations_and_stop_at_the_section_end():
    doc = "Summary.\n\nParameters:\n    a: first\n        and more.\n    b: second.\n\nNot a parameter: text."
    assert parameter_docs(doc) == {"a": "first and more.", "b": "second."}


def test_the_docs_option_tables_are_the_declarations():
    page = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- options: generated by `rewardkit options --markdown` -->\n(.*?)<!-- options: end -->",
                      page, re.S)
    assert found, "docs/builtin-rewards.md lost its generated option tables"
    assert found.group(1) == markdown(load_registry("rewards")), (
        "docs/builtin-rewards.md's option tables differ from the rewards' declarations: "
        "regenerate them with `rewardkit options --markdown`")
