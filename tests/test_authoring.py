"""The authoring API: decorators stay plain functions, bad rewards fail at registration."""

import math

import pytest

import rewardkit
from rewardkit import RegistrationError, Score
from rewardkit.registry import Registry, spec_of
from rewardkit.testing import score, score_group

from . import example_rewards as ex


def test_decorated_rewards_stay_plain_functions():
    assert ex.contains_reference("the answer is Paris", "Paris") is True
    assert ex.short_enough("x" * 30) == 0.0
    assert ex.short_enough("x" * 30, limit=50) == 1.0
    assert ex.tagged("42", "42").value == 1.0
    assert ex.rank(["aaa", "a", "aa"]) == [0.0, 1.0, 0.5]


def test_spec_records_kind_name_weight_and_doc():
    spec = spec_of(ex.short_enough)
    assert (spec.name, spec.kind, spec.weight) == ("length_ok", "single", 0.5)
    assert spec_of(ex.tagged).parser.name == "tag:answer"
    assert spec_of(ex.rank).grouped
    assert "Shorter responses" in spec_of(ex.rank).doc


def test_testing_score_runs_the_full_pipeline():
    assert score(ex.tagged, "<answer>7</answer>", reference="7").value == 1.0
    failed_parse = score(ex.tagged, "7", reference="7")
    assert failed_parse.value == -1.0 and "no <answer>" in failed_parse.score.reason
    assert failed_parse.score.metrics["parsed_ok"] == 0.0
    broken = score(ex.broken, "x")
    assert broken.score is None and broken.failure.code == "REWARD_ERROR"
    assert "ZeroDivisionError" in broken.failure.message
    assert score(ex.broken_with_fallback, "x").value == 0.25
    assert score(ex.not_a_number, "x").failure.code == "INVALID_SCORE"
    assert score(ex.async_judge, " yes ", reference="yes").value == 1.0


def test_group_scoring_keeps_order_and_maps_single_rewards():
    assert [o.value for o in score_group(ex.rank, ["bb", "a", "ccc"])] == [0.5, 1.0, 0.0]
    assert [o.value for o in score_group(ex.contains_reference, ["x 7", "8"], reference="7")] == [1.0, 0.0]


def test_composite_rules_are_weighted_mean_and_weighted_sum():
    mean = score(ex.mean_mix, "Paris", reference="Paris" * 10)
    assert mean.value == pytest.approx((3 * 0 + 1 * 1) / 4)
    summed = score(ex.sum_mix, "it is Paris", reference="Paris")
    assert summed.value == pytest.approx(3 * 1 + 1 * 1)
    assert {c.name: c.outcome.value for c in summed.components} == {"contains_reference": 1.0, "length_ok": 1.0}


def test_composite_component_failure_fails_or_counts_zero():
    strict = rewardkit.composite("strict", [ex.contains_reference, ex.broken], rule="weighted_mean")
    out = score(strict, "x", reference="x")
    assert out.score is None and out.failure.code == "COMPONENT_FAILED" and "'broken'" in out.failure.message
    lenient = rewardkit.composite("lenient", [ex.contains_reference, ex.broken], rule="weighted_sum",
                                  on_component_error="zero")
    out = score(lenient, "x", reference="x")
    assert out.value == 1.0
    assert [c.outcome.failure.code for c in out.components if c.outcome.failure] == ["REWARD_ERROR"]


def test_variant_binds_options_under_a_new_name():
    loose = rewardkit.variant(ex.short_enough, "very_short", limit=3)
    assert loose.name == "very_short"
    assert score(loose, "abcd").value == 0.0 and score(ex.short_enough, "abcd").value == 1.0
    assert loose("abcd") == 0.0
    with pytest.raises(RegistrationError, match="unknown option.*limt.*limit"):
        rewardkit.variant(ex.short_enough, "bad", limt=3)


def test_unservable_signature_names_the_function_and_the_parameter():
    with pytest.raises(RegistrationError, match=r"reward 'judge' .*parameter 'answer' is not an input"):
        @rewardkit.reward
        def judge(answer: str) -> float:
            return 0.0


def test_parsed_reward_requires_a_parser_and_a_parsed_parameter():
    with pytest.raises(RegistrationError, match="unknown parser 'boxd'"):
        @rewardkit.parsed_reward("boxd")
        def a(parsed: str) -> float:
            return 0.0
    with pytest.raises(RegistrationError, match="needs a parser first"):
        @rewardkit.parsed_reward
        def b(parsed: str) -> float:
            return 0.0
    with pytest.raises(RegistrationError, match="must take a 'parsed' parameter"):
        @rewardkit.parsed_reward("boxed")
        def c(response: str) -> float:
            return 0.0


def test_grouped_reward_must_take_the_group():
    with pytest.raises(RegistrationError, match="must take 'responses'"):
        @rewardkit.grouped_reward
        def g(prompt: str) -> list:
            return []


def test_bad_settings_fail_at_registration():
    with pytest.raises(RegistrationError, match="weight must be > 0"):
        rewardkit.reward(weight=0)(lambda response: 1.0)
    with pytest.raises(RegistrationError, match="rule must be"):
        rewardkit.composite("c", [ex.contains_reference], rule="mean")


def test_duplicate_names_fail_with_both_origins(tmp_path):
    module = tmp_path / "dupes.py"
    module.write_text(
        "import rewardkit\n"
        "@rewardkit.reward\ndef same(response): return 1.0\n"
        "@rewardkit.reward(name='same')\ndef other(response): return 0.0\n"
    )
    with pytest.raises(RegistrationError, match=r"'same' is registered twice.*dupes\.py:2.*dupes\.py:4"):
        rewardkit.create_app(str(module))


def test_scores_reject_nan_infinity_and_non_numbers():
    from rewardkit._score import to_score

    for bad in (math.nan, math.inf, "1.0", None, Score(math.inf)):
        with pytest.raises(rewardkit.InvalidScoreError):
            to_score(bad)
    with pytest.raises(rewardkit.InvalidScoreError, match="metric 'm'"):
        to_score(Score(1.0, metrics={"m": math.nan}))
    assert to_score(True).value == 1.0


def test_import_rewardkit_does_not_load_heavy_libraries():
    import subprocess
    import sys

    code = ("import rewardkit, sys; "
            "print(sorted(m for m in ('sympy', 'math_verify', 'fastapi', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_check_options_rejects_bad_values_when_the_variant_is_made():
    def check(limit=20):
        if limit <= 0:
            raise ValueError(f"limit must be > 0, got {limit}")

    @rewardkit.reward(check_options=check)
    def short(response: str, limit: int = 20) -> float:
        return float(len(response) <= limit)

    assert rewardkit.variant(short, "short_5", limit=5)("abcdef") == 0.0
    with pytest.raises(RegistrationError, match="variant 'short_0' of 'short': limit must be > 0, got 0"):
        rewardkit.variant(short, "short_0", limit=0)


def test_declared_metrics_become_fixed_flat_keys_and_are_listed():
    from fastapi.testclient import TestClient

    from rewardkit._registry import metric_keys, spec_of

    @rewardkit.reward(metrics=["words", "digits"])
    def counted(response: str) -> Score:
        return Score(1.0, None, {"words": 1.0})

    @rewardkit.parsed_reward("boxed", metrics=["length"])
    def boxed_len(parsed: str) -> Score:
        return Score(1.0, None, {"length": float(len(parsed))})

    both = rewardkit.composite("both", [counted, boxed_len], rule="weighted_mean")
    assert metric_keys(rewardkit.variant(counted, "counted2")) == ("counted2.words", "counted2.digits")
    assert metric_keys(both) == ("counted.score", "counted.words", "counted.digits", "boxed_len.score",
                                 "boxed_len.parsed_ok", "boxed_len.length")
    with TestClient(rewardkit.create_app(Registry([spec_of(counted), spec_of(boxed_len), both]))) as client:
        listed = {r["name"]: r["metrics"] for r in client.get("/rewards").json()["rewards"]}
    assert listed["boxed_len"] == ["boxed_len.parsed_ok", "boxed_len.length"]
    assert listed["both"] == list(metric_keys(both))


@pytest.mark.parametrize("metrics", [["a", "a"], [""], [3]])
def test_bad_metric_declarations_are_refused_naming_the_reward(metrics):
    with pytest.raises(RegistrationError, match="reward 'declared': metrics must list distinct, non-empty"):
        rewardkit.reward(name="declared", metrics=metrics)(lambda response: 1.0)
