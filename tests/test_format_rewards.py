"""Format and shape rewards: think_format, boxed_format, length_penalty, repetition_penalty."""

import math

import pytest
from fastapi.testclient import TestClient

import rewardkit
from rewardkit import RegistrationError
from rewardkit.registry import Registry
from rewardkit.testing import score, score_group
from rewards import boxed_format, length_penalty, repetition_penalty, think_format
from rewards.format import repeated_ratio


def words(n, word="w"):
    return " ".join([word] * n)


# ---- think_format ----

@pytest.mark.parametrize("response", [
    "<think>2+2=4</think>4",
    "  \n<think>\nmulti\nline\n</think>\n\nThe answer is 4.",
    "<think>\u601d\u8003</think>\u7b54\u6848\u662f 4\u3002",
    "<think>a < b and b > c</think>so a < c",
])
def test_well_formed_responses(response):
    out = score(think_format, response)
    assert out.value == 1.0


@pytest.mark.parametrize("response, reason", [
    ("4", "no <think>...</think> block"),
    ("", "no <think>...</think> block"),
    ("Sure! <think>r</think>4", "text before <think>: 'Sure! '"),
    ("reasoning</think>4", "</think> without <think>"),
    ("<think>a</think>4<think>b</think>4", "2 <think> tags"),
    ("<think>a</think></think>4", "2 </think> tags"),
    ("<think>reasoning that never ends", "never closed"),
    ("<think> \n </think>4", "empty <think> block"),
    ("<think>r</think>\n\t ", "no answer after </think>"),
    ("<THINK>r</THINK>4", "no <think>...</think> block"),
])
def test_each_broken_rule_has_its_reason(response, reason):
    out = score(think_format, response)
    assert out.value == 0.0 and reason in out.score.reason


def test_custom_tags_and_empty_thinking():
    reasoning = rewardkit.variant(think_format, "reasoning_format", open_tag="<reasoning>", close_tag="</reasoning>",
                                       allow_empty_thinking=True)
    assert score(reasoning, "<reasoning></reasoning>42").value == 1.0
    assert score(reasoning, "<think>x</think>42").value == 0.0
    assert "no <reasoning>...</reasoning> block" in score(reasoning, "<think>x</think>42").score.reason


def test_reasoning_delivered_separately_counts_by_default():
    assert score(think_format, "4", thinking="2+2").value == 1.0
    assert score(think_format, "  ", thinking="2+2").value == 0.0
    assert score(think_format, "4", thinking=" \n ").value == 0.0  # empty reasoning, as an empty block
    assert score(think_format, "4").value == 0.0  # no reasoning anywhere
    assert score(think_format, "<think>r</think>4", thinking="x").value == 1.0


def test_kept_off_the_reason_says_where_the_reasoning_went():
    inline = rewardkit.variant(think_format, "think_inline", accept_separate_thinking=False)
    out = score(inline, "4", thinking="2+2")
    assert out.value == 0.0
    assert "the reasoning arrived separately" in out.score.reason
    assert "set accept_separate_thinking=True" in out.score.reason
    assert score(inline, "4").score.reason == "no <think>...</think> block"  # nothing arrived separately


@pytest.mark.parametrize("contract", ["vertex", "dashscope"])
def test_thinking_from_the_platforms_own_fields(builtin_client, contract):
    """Vertex thought parts and DashScope reasoning_content reach think_format as the thinking."""
    from rewardkit.contracts import get
    from rewardkit.testing import request

    routes = {"vertex": "/rewards/think_format", "dashscope": "/rewards/think_format/api/v1"}
    for thinking, response, expected in (("2+2", "4", 1.0), (None, "4", 0.0), (None, "<think>2+2</think>4", 1.0)):
        [body] = request(contract, response, thinking=thinking)
        answered = builtin_client.post(routes[contract], json=body)
        assert get(contract).read_answer(answered.status_code, answered.json()).scores == (expected,), body


@pytest.mark.parametrize("options, message", [
    ({"open_tag": ""}, "open_tag"), ({"close_tag": "  "}, "close_tag"),
    ({"open_tag": "<t>", "close_tag": "<t>"}, "must not contain each other"),
    ({"open_tag": "<t", "close_tag": "<t>"}, "must not contain each other"),
])
def test_bad_tags_fail_at_variant_creation(options, message):
    with pytest.raises(RegistrationError, match=f"'my_think'.*{message}"):
        rewardkit.variant(think_format, "my_think", **options)


# ---- boxed_format ----

@pytest.mark.parametrize("response", [
    "so \\boxed{42}.",
    "$\\boxed{\\frac{1}{2}}$",
    "\\boxed{\\{1, 2\\}}",
    "\\fbox{x}",
    "\\boxed {7}",
    "<think>\\boxed{1} or \\boxed{2}</think>final: \\boxed{2}",
    "\\boxed{\u5317\u4eac}",
])
def test_exactly_one_complete_box(response):
    assert score(boxed_format, response).value == 1.0


@pytest.mark.parametrize("response, reason", [
    ("42", "no \\boxed{...} in the final answer"),
    ("\\boxed 42", "no \\boxed{...}"),
    ("\\boxed{1} \\boxed{2}", "2 \\boxed{...} in the final answer"),
    ("\\boxed{2} so \\fbox{2}", "2 \\boxed{...}"),
    ("\\boxed{\\frac{1}{2}", "never closed"),
    ("\\boxed{1} then \\boxed{", "never closed"),
    ("\\boxed{ }", "empty \\boxed{}"),
    ("<think>\\boxed{3}</think>the answer is 3", "no \\boxed"),
    ("<think>so \\boxed{3}", "<think> is never closed"),
])
def test_box_failures_have_reasons(response, reason):
    out = score(boxed_format, response)
    assert out.value == 0.0 and reason in out.score.reason


def test_reasoning_never_counts_and_the_think_tag_is_configurable():
    assert score(boxed_format, "3", thinking="\\boxed{3}").value == 0.0
    whole = rewardkit.variant(boxed_format, "boxed_whole", think_close_tag=None)
    assert score(whole, "<think>\\boxed{3}</think>\\boxed{3}").value == 0.0
    custom = rewardkit.variant(boxed_format, "boxed_custom", think_close_tag="</reasoning>")
    assert score(custom, "\\boxed{1}</reasoning>\\boxed{2}").value == 1.0
    assert score(custom, "<reasoning>\\boxed{1}").value == 0.0
    assert score(whole, "<think>\\boxed{1}").value == 1.0  # None: no reasoning block at all


def test_bad_boxed_option():
    with pytest.raises(RegistrationError, match="'my_boxed'.*think_close_tag"):
        rewardkit.variant(boxed_format, "my_boxed", think_close_tag="")


# ---- length_penalty ----

@pytest.mark.parametrize("length, expected", [(0, 1.0), (512, 1.0), (896, 0.75), (1280, 0.5), (2047, 1 / 1536),
                                              (2048, 0.0), (10_000, 0.0)])
def test_linear_default_formula(length, expected):
    out = score(length_penalty, words(length))
    assert out.value == pytest.approx(expected) and out.score.metrics == {"length": float(length)}


@pytest.mark.parametrize("length", [150, 200, 250, 300, 350])
def test_cosine_shape_formula(length):
    cosine = rewardkit.variant(length_penalty, "len_cos", target=100, limit=400, shape="cosine")
    progress = (length - 100) / 300
    assert score(cosine, words(length)).value == pytest.approx((1 + math.cos(math.pi * progress)) / 2)


def test_cosine_is_gentler_near_the_target_and_steeper_in_the_middle():
    linear = rewardkit.variant(length_penalty, "len_lin", target=100, limit=200)
    cosine = rewardkit.variant(length_penalty, "len_cos2", target=100, limit=200, shape="cosine")
    assert score(cosine, words(110)).value > score(linear, words(110)).value
    assert score(cosine, words(150)).value == pytest.approx(score(linear, words(150)).value) == pytest.approx(0.5)
    assert score(cosine, words(190)).value < score(linear, words(190)).value


def test_chars_unit_for_text_without_spaces():
    chinese = "\u597d" * 150
    assert score(length_penalty, chinese).value == 1.0  # one whitespace token
    chars = rewardkit.variant(length_penalty, "len_chars", target=100, limit=200, unit="chars")
    assert score(chars, chinese).value == pytest.approx(0.5)


def test_thinking_counts_only_when_asked_and_penalty_range():
    assert score(length_penalty, "short", thinking=words(5000)).value == 1.0
    with_thinking = rewardkit.variant(length_penalty, "len_think", target=10, limit=20, include_thinking=True)
    assert score(with_thinking, words(5), thinking=words(10)).value == pytest.approx(0.5)
    penalty = rewardkit.variant(length_penalty, "len_pen", target=10, limit=20, as_penalty=True)
    assert [score(penalty, words(n)).value for n in (5, 15, 30)] == pytest.approx([0.0, -0.5, -1.0])


@pytest.mark.parametrize("options, message", [
    ({"target": 100, "limit": 100}, "limit"), ({"target": -1}, "target"), ({"limit": float("inf")}, "limit"),
    ({"unit": "words"}, "unit"), ({"shape": "exp"}, "shape"), ({"target": True}, "target"),
])
def test_bad_length_options_fail_at_variant_creation(options, message):
    with pytest.raises(RegistrationError, match=f"'my_len'.*{message}"):
        rewardkit.variant(length_penalty, "my_len", **options)


# ---- repetition_penalty ----

@pytest.mark.parametrize("text, expected", [
    ("the cat sat on the mat", 1.0),
    ("a b a b a b a b", 1 / 3),
    (words(10, "go"), 1 / 8),
    ("x y z x y z", 0.75),
    ("hi there", 1.0),
    ("", 1.0),
])
def test_score_is_one_minus_the_repeated_share(text, expected):
    assert score(repetition_penalty, text).value == pytest.approx(expected)


def test_metrics_and_reason():
    out = score(repetition_penalty, "a b a b a b a b")
    assert out.score.metrics == {"repeated_ratio": pytest.approx(2 / 3), "ngrams": 6.0}
    assert "66.7% of 6 3-grams of tokens" in out.score.reason
    assert "shorter than one 3-gram" in score(repetition_penalty, "hi").score.reason


def test_huge_repetition_is_fast_and_near_zero():
    out = score(repetition_penalty, words(300_000, "ha"))
    assert out.value == pytest.approx(1 / 299_998)
    chars = rewardkit.variant(repetition_penalty, "rep_chars_huge", unit="chars")
    assert score(chars, "\u54c8" * 1_000_000).value == pytest.approx(1 / (1_000_000 - 9))


def test_character_ngrams_for_text_without_spaces():
    chars = rewardkit.variant(repetition_penalty, "rep_chars", unit="chars", n=2)
    assert score(chars, "\u4eca\u5929\u5929\u6c14\u5f88\u597d").value == 1.0
    assert score(chars, "\u54c8\u54c8\u54c8\u54c8").value == pytest.approx(1 / 3)
    # Whitespace is removed before counting character n-grams.
    assert repeated_ratio("ab ab", 2, "chars") == repeated_ratio("abab", 2, "chars")


def test_case_n_thinking_and_penalty_options():
    assert score(repetition_penalty, "A b c a b c").value == 1.0
    folded = rewardkit.variant(repetition_penalty, "rep_ci", ignore_case=True)
    assert score(folded, "A b c a b c").value == 0.75
    bigrams = rewardkit.variant(repetition_penalty, "rep_n2", n=2)
    assert score(bigrams, "a b c a b").value == 0.75
    assert score(repetition_penalty, "clean answer here", thinking=words(100, "loop")).value == 1.0
    with_thinking = rewardkit.variant(repetition_penalty, "rep_think", include_thinking=True)
    assert score(with_thinking, "x", thinking=words(10, "go")).value == pytest.approx(2 / 9)  # 9 3-grams, 2 distinct
    penalty = rewardkit.variant(repetition_penalty, "rep_pen", as_penalty=True)
    assert score(penalty, "a b a b a b a b").value == pytest.approx(-2 / 3)
    assert score(penalty, "all different words here").value == 0.0


@pytest.mark.parametrize("options, message", [({"n": 0}, "option 'n'"), ({"n": 2.5}, "option 'n'"),
                                              ({"n": True}, "option 'n'"), ({"unit": "bytes"}, "unit")])
def test_bad_repetition_options_fail_at_variant_creation(options, message):
    with pytest.raises(RegistrationError, match=f"'my_rep'.*{message}"):
        rewardkit.variant(repetition_penalty, "my_rep", **options)


# ---- together ----

def test_direct_calls_with_plain_values():
    assert think_format(response="<think>r</think>4", thinking="").value == 1.0
    assert boxed_format(response="\\boxed{4}").value == 1.0
    assert length_penalty(response=words(1280), thinking="").value == 0.5
    assert repetition_penalty(response="a b a b a b a b", thinking="").value == pytest.approx(1 / 3)


def test_a_shaped_composite_over_both_contracts():
    shaped = rewardkit.composite("shaped", {think_format: 1, boxed_format: 1}, rule="weighted_mean")
    penalties = rewardkit.composite("penalties", [
        rewardkit.variant(length_penalty, "len_p", target=5, limit=10, as_penalty=True),
        rewardkit.variant(repetition_penalty, "rep_p", as_penalty=True)], rule="weighted_sum")
    outs = score_group(shaped, ["<think>r</think>\\boxed{4}", "\\boxed{4}", "<think>r</think>4"])
    assert [o.value for o in outs] == [1.0, 0.5, 0.5]
    assert score(penalties, "a b a b a b a b").value == pytest.approx(-0.6 - 2 / 3)
    with TestClient(rewardkit.create_app(Registry([shaped, penalties]))) as client:
        vertex = client.post("/rewards/shaped", json={
            "example": {"contents": [{"role": "user", "parts": [{"text": "2+2?"}]}]},
            "response": {"role": "model", "parts": [{"text": "<think>r</think>\\boxed{4}"}]}})
        assert vertex.json()["reward"] == 1.0
        dash = client.post("/rewards/penalties/api/v1", json={"func_type": "reward", "agent_output": {
            "messages": [{"role": "assistant", "content": "a b a b a b a b"}]}}).json()
        assert dash["reward"]["reward_score"] == pytest.approx(-0.6 - 2 / 3)
        assert dash["reward"]["reward_metrics"]["rep_p.repeated_ratio"] == pytest.approx(2 / 3)


def test_listed_with_their_parameters(builtin_client):
    listed = {r["name"]: r["doc"] for r in builtin_client.get("/rewards").json()["rewards"]}
    expected = {
        "think_format": ("open_tag", "close_tag", "allow_empty_thinking", "accept_separate_thinking"),
        "boxed_format": ("think_close_tag",),
        "length_penalty": ("target", "limit", "unit", "shape", "include_thinking", "as_penalty"),
        "repetition_penalty": ("n", "unit", "ignore_case", "include_thinking", "as_penalty"),
    }
    for name, options in expected.items():
        assert all(f"{option}:" in listed[name] for option in options), name
