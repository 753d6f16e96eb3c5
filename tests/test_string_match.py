"""string_match: Vertex's stringMatchRewardScorer reproduced offline."""

import json

import pytest
from fastapi.testclient import TestClient

import rewardkit
from rewardkit import RegistrationError
from rewardkit.registry import Registry
from rewardkit.testing import score, score_group
from rewards import string_match, think_format
from rewards.vertex.string_match import fill_placeholders, re2_incompatibility, string_match_from_vertex


def vertex_body(text, references):
    return {"example": {"contents": [{"role": "user", "parts": [{"text": "Q?"}]}], "references": references},
            "response": {"role": "model", "parts": [{"text": text}]}, "metadata": {"step": 1, "tuning_job_id": "7"}}


def dashscope_body(text, rollout_extra, ground_truth=None):
    return {"func_type": "reward", "ground_truth": ground_truth,
            "agent_output": {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": text}],
                             "rollout_extra": rollout_extra}}


# ---- defaults and direct calls ----

def test_default_is_exact_match_against_the_gold_without_trimming():
    assert score(string_match, "Paris", reference="Paris").value == 1.0
    assert score(string_match, "Paris ", reference="Paris").value == 0.0  # Vertex compares as is
    assert score(string_match, " Paris\n", reference="Paris", ).score.metrics == {"matched": 0.0}
    trimmed = rewardkit.variant(string_match, "sm_strip", strip=True)
    assert score(trimmed, " Paris\n", reference="Paris").value == 1.0


def test_direct_call_with_plain_values():
    result = string_match(response="Paris", references={}, reference="Paris")
    assert result.value == 1.0 and "matches" in result.reason
    assert string_match(response="It is Paris", references={"city": "Paris"}, reference=None,
                        match_operation="PARTIAL_MATCH", expression="{{references.city}}").value == 1.0


def test_unicode_is_compared_code_point_for_code_point():
    assert score(string_match, "東京", reference="東京").value == 1.0
    # No normalisation: precomposed é (U+00E9) is not e + combining acute (U+0301).
    assert score(string_match, "caf\u00e9", reference="cafe\u0301").value == 0.0


def test_missing_gold_is_an_error_not_a_zero():
    out = score(string_match, "Paris")
    assert out.failure.code == "MISSING_REFERENCE" and "no gold answer" in out.failure.message


# ---- the three operations ----

def test_partial_match_treats_regex_characters_in_references_literally():
    partial = rewardkit.variant(string_match, "sm_partial", match_operation="PARTIAL_MATCH",
                                     expression="{{references.answer}}")
    assert score(partial, "so f(x) = x^2 + 1.5* [done]", reference="f(x) = x^2 + 1.5*").value == 1.0
    assert score(partial, "so f(x) = x^2 + 1.5 [done]", reference="f(x) = x^2 + 1.5*").value == 0.0
    assert score(partial, "a.c", reference="a.c").value == 1.0
    assert score(partial, "abc", reference="a.c").value == 0.0


def test_regex_contains_searches_anywhere_and_substitutes_values_verbatim():
    contains = rewardkit.variant(string_match, "sm_regex", match_operation="REGEX_CONTAINS",
                                      expression=".*{{references.concise_answer}}.*")
    assert score(contains, "The answer is Yes.", references={"concise_answer": "Yes"}).value == 1.0
    anchored = rewardkit.variant(string_match, "sm_anchored", match_operation="REGEX_CONTAINS",
                                      expression="^{{references.answer}}$")
    assert score(anchored, "42", reference="42").value == 1.0
    assert score(anchored, "x42", reference="42").value == 0.0
    # Like Vertex, a placeholder value is regex text: "1+1" matches "11" but not "1+1".
    assert score(anchored, "11", reference="1+1").value == 1.0
    assert score(anchored, "1+1", reference="1+1").value == 0.0
    literal = rewardkit.variant(string_match, "sm_escaped", match_operation="REGEX_CONTAINS",
                                     expression="^{{references.answer}}$", escape_references=True)
    assert score(literal, "1+1", reference="1+1").value == 1.0
    assert score(literal, "11", reference="1+1").value == 0.0


def test_regex_contains_with_the_gold_as_pattern():
    regex_gold = rewardkit.variant(string_match, "sm_regex_gold", match_operation="regex_contains")
    assert score(regex_gold, "answer: 1990", reference=r"\b19\d\d\b").value == 1.0
    assert score(regex_gold, "answer: 2090", reference=r"\b19\d\d\b").value == 0.0


def test_a_placeholder_value_that_breaks_the_regex_is_an_error():
    contains = rewardkit.variant(string_match, "sm_regex_broken", match_operation="REGEX_CONTAINS",
                                      expression="x{{references.answer}}")
    out = score(contains, "x(", reference="(")
    assert out.failure.code == "REWARD_ERROR" and "not a valid regular expression" in out.failure.message


# ---- placeholders ----

def test_placeholders_fill_from_references_and_tolerate_spaces():
    both = fill_placeholders("{{references.a}}-{{ references.b }}-{{references.a}}", {"a": "1", "b": "x"})
    assert both == "1-x-1"
    assert fill_placeholders("{{other.a}} {{references.n}}", {"n": 3.5}) == "{{other.a}} 3.5"
    assert fill_placeholders("{{references.l}}", {"l": [1, "b"]}) == '[1,"b"]'


def test_missing_placeholder_key_is_an_error_naming_the_key():
    variant = rewardkit.variant(string_match, "sm_ph", expression="{{references.capital}}")
    out = score(variant, "Paris", references={"answer": "Paris"})
    assert out.failure.code == "MISSING_REFERENCE"
    assert "references.capital" in out.failure.message and "answer" in out.failure.message


def test_non_string_dashscope_references_match_as_text():
    variant = rewardkit.variant(string_match, "sm_num", expression="{{references.n}}")
    assert score(variant, "72", references={"n": 72}).value == 1.0
    assert score(variant, "true", references={"n": True}).value == 1.0


# ---- JSON first-level key ----

def test_json_key_applies_the_match_to_that_value():
    city = rewardkit.variant(string_match, "sm_json", json_key="city", expression="{{references.answer}}")
    assert score(city, '{"city": "Paris", "country": "FR"}', reference="Paris").value == 1.0
    assert score(city, '  {"city": "Lyon"}\n', reference="Paris").value == 0.0
    count = rewardkit.variant(string_match, "sm_json_num", json_key="count")
    assert score(count, '{"count": 42}', reference="42").value == 1.0
    nested = rewardkit.variant(string_match, "sm_json_obj", json_key="point")
    assert score(nested, '{"point": {"x": 1, "y": 2}}', reference='{"x":1,"y":2}').value == 1.0


def test_json_key_failures_score_wrong_with_a_reason():
    city = rewardkit.variant(string_match, "sm_json_bad", json_key="city", wrong_answer_reward=-1.0)
    not_json = score(city, "```json\n{\"city\": \"Paris\"}\n```", reference="Paris")
    assert not_json.value == -1.0 and "not JSON" in not_json.score.reason
    missing = score(city, '{"town": "Paris"}', reference="Paris")
    assert missing.value == -1.0 and "'city'" in missing.score.reason and "'town'" in missing.score.reason
    array = score(city, '["Paris"]', reference="Paris")
    assert array.value == -1.0 and "not an object" in array.score.reason


def test_regex_extract_then_json_key_reads_a_fenced_block():
    fenced = rewardkit.variant(string_match, "sm_fenced", regex_extract=r"(?s)```json\s*(.*?)```", json_key="city")
    assert score(fenced, 'Sure:\n```json\n{"city": "Paris"}\n```', reference="Paris").value == 1.0
    no_block = score(fenced, '{"city": "Paris"}', reference="Paris")
    assert no_block.value == 0.0 and "no match" in no_block.score.reason


def test_regex_extract_takes_the_last_match():
    tagged = rewardkit.variant(string_match, "sm_tag", regex_extract=r"<ans>(.*?)</ans>")
    assert score(tagged, "<ans>3</ans> no wait <ans>4</ans>", reference="4").value == 1.0
    assert score(tagged, "<ans>4</ans> no wait <ans>3</ans>", reference="4").value == 0.0


# ---- reward values ----

def test_correct_and_wrong_rewards_are_sent_as_they_are():
    signed = rewardkit.variant(string_match, "sm_signed", correct_answer_reward=2.0, wrong_answer_reward=-1.0)
    assert score(signed, "Paris", reference="Paris").value == 2.0
    assert score(signed, "Rome", reference="Paris").value == -1.0
    with TestClient(rewardkit.create_app(Registry([signed]))) as client:
        vertex = client.post("/rewards/sm_signed", json=vertex_body("Paris", {"answer": "Paris"})).json()
        assert vertex["reward"] == 2.0  # as it is: Vertex clips it to 1.0 itself (logged and counted here)
        dash = client.post("/rewards/sm_signed/api/v1", json=dashscope_body("Paris", {"solution": "Paris"})).json()
        assert dash["reward"]["reward_score"] == 2.0  # DashScope has no fixed range
        group = client.post("/rewards/sm_signed/api/v1", json={
            "func_type": "group_reward", "ground_truth": "Paris",
            "agent_outputs": [{"messages": [{"role": "assistant", "content": c}]} for c in ("Paris", "Rome")]}).json()
        assert [r["reward_score"] for r in group["reward"]["rewards"]] == [2.0, -1.0]


# ---- option checks at variant creation ----

@pytest.mark.parametrize("options, message", [
    ({"match_operation": "FUZZY"}, "match_operation must be one of"),
    ({"match_operation": "MATCH_OPERATION_UNSPECIFIED"}, "match_operation must be one of"),
    ({"match_operation": "REGEX_CONTAINS", "expression": "([a-z]"}, "not a valid regular expression"),
    ({"match_operation": "REGEX_CONTAINS", "expression": r"(?<=\$)\d+"}, "lookbehind"),
    ({"match_operation": "REGEX_CONTAINS", "expression": r"(\w)\1{{references.answer}}"}, "backreference"),
    ({"regex_extract": "(?=x)"}, "lookahead"),
    ({"regex_extract": "("}, "not a valid regular expression"),
    ({"json_key": ""}, "json_key"),
    ({"correct_answer_reward": "1"}, "correct_answer_reward"),
    ({"wrong_answer_reward": float("nan")}, "wrong_answer_reward"),
])
def test_bad_options_fail_at_variant_creation_naming_the_variant(options, message):
    with pytest.raises(RegistrationError) as info:
        rewardkit.variant(string_match, "my_scorer", **options)
    assert "'my_scorer'" in str(info.value) and message in str(info.value)


def test_unknown_option_fails_with_the_list_of_options():
    with pytest.raises(RegistrationError, match="unknown option.*operation.*match_operation"):
        rewardkit.variant(string_match, "my_scorer", operation="EXACT_MATCH")


def test_re2_only_false_allows_python_only_regex():
    variant = rewardkit.variant(string_match, "sm_lookahead", match_operation="REGEX_CONTAINS",
                                expression=r"\d+(?= km)",
                                     re2_only=False)
    assert score(variant, "it is 12 km", reference="x").value == 1.0


def test_variant_with_a_bad_option_value_fails_at_import_naming_it():
    with pytest.raises(RegistrationError, match="variant 'sm_plain_bad' of 'string_match': .*match_operation"):
        rewardkit.variant(string_match, "sm_plain_bad", match_operation="FUZZY")


@pytest.mark.parametrize("pattern, problem", [
    (r"a(?!b)", "negative lookahead"), (r"(?P<x>a)(?P=x)", "named backreference"), (r"a++", "possessive"),
    (r"a{2,3}+", "possessive"), (r"(?>ab)", "atomic"),
])
def test_re2_incompatibilities_are_named(pattern, problem):
    assert problem in re2_incompatibility(pattern)


@pytest.mark.parametrize("pattern",
                         [r"\d+\.\d*", r"[(?=]x", r"\\1", r"a{2}b+", r"(?i)paris", r"(?P<n>\w+)", r"}+", r"\++"])
def test_re2_compatible_patterns_pass(pattern):
    assert re2_incompatibility(pattern) is None


# ---- from a Vertex job config ----

def test_from_vertex_single_reward_config():
    spec = string_match_from_vertex({
        "rewardName": "final_answer",
        "parseResponseConfig": {"parseType": "REGEX_EXTRACT", "regexExtractExpression": "<answer>(.*?)</answer>"},
        "stringMatchRewardScorer": {
            "stringMatchExpression": {"matchOperation": "EXACT_MATCH", "expression": "{{references.answer}}"},
            "correctAnswerReward": 1.0, "wrongAnswerReward": -1.0}})
    assert spec.name == "final_answer"
    assert score(spec, "think... <answer>Paris</answer>", reference="Paris").value == 1.0
    assert score(spec, "<answer>Rome</answer>", reference="Paris").value == -1.0
    assert score(spec, "Paris", reference="Paris").value == -1.0  # nothing extracted


def test_from_vertex_json_match_expression_in_snake_case():
    spec = string_match_from_vertex({"json_match_expression": {
        "key_name": "verdict",
        "value_string_match_expression": {"match_operation": "PARTIAL_MATCH", "expression": "{{references.v}}"}}},
        name="verdict_ok")
    assert score(spec, '{"verdict": "safe and sound"}', references={"v": "safe"}).value == 1.0


def test_from_vertex_rejects_incomplete_configs():
    with pytest.raises(RegistrationError, match="match_operation"):
        string_match_from_vertex({"stringMatchExpression": {"expression": "x"}}, name="no_op")
    with pytest.raises(RegistrationError, match="exactly one"):
        string_match_from_vertex({"stringMatchExpression": {}, "jsonMatchExpression": {}}, name="both")
    with pytest.raises(RegistrationError, match="name"):
        string_match_from_vertex({"stringMatchExpression": {"matchOperation": "EXACT_MATCH"}})


# ---- serving and composing ----

def test_variants_serve_in_both_contracts():
    capital = rewardkit.variant(string_match, "capital", match_operation="PARTIAL_MATCH",
                                expression="{{references.capital}}",
                                     wrong_answer_reward=-1.0)
    with TestClient(rewardkit.create_app(Registry([capital]))) as client:
        ok = client.post("/rewards/capital", json=vertex_body("It is Paris.", {"capital": "Paris"}))
        assert ok.status_code == 200 and ok.json()["reward"] == 1.0
        assert json.loads(ok.json()["user_requested_aux_info"])["metrics"] == {"matched": 1.0}
        wrong = client.post("/rewards/capital/api/v1", json=dashscope_body("Rome", {"capital": "Paris"}))
        assert wrong.json()["reward"] == {"reward_score": -1.0, "reward_metrics": {"capital.matched": 0.0}}
        missing = client.post("/rewards/capital/api/v1", json=dashscope_body("Rome", {"answer": "Paris"}))
        assert missing.json()["status"] == "failed" and "references.capital" in missing.json()["error"]


def test_in_a_composite():
    # Variants are specs (not hashable): list them, with their own weight.
    quality = rewardkit.composite("sm_quality",
                                  [rewardkit.variant(string_match, "sm_c", strip=True, weight=3), think_format],
                                  rule="weighted_mean")
    out = score(quality, "<think>easy</think> Paris", reference="Paris")
    assert out.value == pytest.approx(0.25)  # the whole text is not "Paris"
    tagged = rewardkit.variant(string_match, "sm_c2", regex_extract=r"</think>\s*(.*)")
    both = rewardkit.composite("sm_quality2", [tagged, think_format], rule="weighted_sum")
    assert score(both, "<think>easy</think> Paris", reference="Paris").value == 2.0
    assert [o.value for o in score_group(both, ["<think>a</think>Paris", "Paris"], reference="Paris")] == [2.0, 0.0]


def test_listed_with_its_parameters(builtin_client):
    listed = {r["name"]: r for r in builtin_client.get("/rewards").json()["rewards"]}
    doc = listed["string_match"]["doc"]
    for option in ("match_operation", "expression", "json_key", "regex_extract", "correct_answer_reward",
                   "wrong_answer_reward", "escape_references", "strip", "re2_only"):
        assert f"{option}:" in doc
