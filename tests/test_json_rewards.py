"""json_schema and json_match: structured output rewards."""

import json

import pytest
from fastapi.testclient import TestClient

import rewardkit
from rewardkit import RegistrationError
from rewardkit.registry import Registry
from rewardkit.testing import score, score_group
from rewards import json_match, json_schema

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                   "email": {"type": "string", "format": "email"}},
    "required": ["name", "age", "email"],
    "additionalProperties": False,
}
ADA = {"name": "Ada", "age": 36, "email": "ada@example.org"}


def person(**options):
    return rewardkit.variant(json_schema, f"person_{abs(hash(json.dumps(options, sort_keys=True)))}", schema=PERSON,
                             **options)


# ---- json_schema ----

def test_valid_and_invalid_documents_with_the_error_as_reason():
    scorer = person()
    assert score(scorer, json.dumps(ADA)).value == 1.0
    bad = score(scorer, json.dumps({**ADA, "age": -3}))
    assert bad.value == 0.0
    assert bad.score.reason.startswith("1 validation error(s); $.age:") and "minimum of 0" in bad.score.reason
    assert bad.score.metrics == {"valid": 0.0, "json_ok": 1.0, "errors": 1.0}


def test_direct_call_with_plain_values():
    result = json_schema(response='{"a": 1}', references={}, schema={"type": "object", "required": ["a"]})
    assert result.value == 1.0 and result.reason == "valid against the schema"


def test_json_is_found_in_fences_and_prose_unless_extract_is_off():
    text = f"Here it is:\n```json\n{json.dumps(ADA)}\n```\nAnything else?"
    assert score(person(), text).value == 1.0
    assert score(person(), f"Sure! {json.dumps(ADA)} Hope that helps.").value == 1.0
    strict = score(person(extract=False), text)
    assert strict.value == 0.0 and strict.score.reason.startswith("not JSON") and strict.score.metrics["json_ok"] == 0.0


@pytest.mark.parametrize("response", ["", "   ", "I can't help with that.", '{"name": "Ada", "age": 3'])
def test_no_json_scores_zero_with_the_reason(response):
    out = score(person(), response)
    assert out.value == 0.0 and out.score.reason.startswith("not JSON")


def test_schema_from_references_as_vertex_string_or_dashscope_object():
    text = json.dumps(ADA)
    assert score(json_schema, text, references={"schema": json.dumps(PERSON)}).value == 1.0
    assert score(json_schema, text, references={"schema": PERSON}).value == 1.0
    other_key = rewardkit.variant(json_schema, "schema_in_spec", schema_key="spec")
    assert score(other_key, "[]", references={"spec": '{"type": "array"}'}).value == 1.0


def test_missing_or_invalid_schemas_are_errors():
    missing = score(json_schema, "{}", references={"answer": "x"})
    assert missing.failure.code == "MISSING_REFERENCE" and "'schema'" in missing.failure.message
    not_json = score(json_schema, "{}", references={"schema": "{type: object}"})
    assert not_json.failure.code == "REWARD_ERROR" and "not valid JSON" in not_json.failure.message
    invalid = score(json_schema, "{}", references={"schema": {"type": "strin"}})
    assert invalid.failure.code == "REWARD_ERROR" and "not a valid JSON Schema" in invalid.failure.message
    not_object = score(json_schema, "{}", references={"schema": "[1, 2]"})
    assert not_object.failure.code == "REWARD_ERROR"


def test_keys_mode_gives_partial_credit_by_the_documented_formula():
    keys = person(mode="keys")
    assert score(keys, json.dumps(ADA)).value == 1.0
    one_bad = score(keys, json.dumps({**ADA, "age": "36"}))  # (2 valid keys + 0) / (3 + 1)
    assert one_bad.value == pytest.approx(0.5) and one_bad.score.metrics["keys_valid"] == pytest.approx(2 / 3)
    missing = score(keys, json.dumps({"name": "Ada", "age": 36}))  # missing email: 2 / 4
    assert missing.value == pytest.approx(0.5)
    extra = score(keys, json.dumps({**ADA, "nickname": "A"}))  # keys fine, document not: 3 / 4
    assert extra.value == pytest.approx(0.75) and "nickname" in extra.score.reason
    assert score(keys, "[1, 2]").value == 0.0
    assert score(keys, '"just a string"').value == 0.0


def test_keys_mode_counts_properties_when_nothing_is_required_and_falls_back_to_binary():
    optional = rewardkit.variant(json_schema, "optional_keys", mode="keys", schema={
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}})
    assert score(optional, '{"a": 1, "b": "x"}').value == pytest.approx(1 / 3)
    assert score(optional, '{"a": 1}').value == 1.0  # an optional key may be absent
    assert score(optional, '{"a": "1"}').value == pytest.approx(1 / 3)  # b absent but fine, a wrong
    flat = rewardkit.variant(json_schema, "flat_keys", mode="keys", schema={"type": "array", "maxItems": 1})
    assert [score(flat, t).value for t in ("[1]", "[1, 2]")] == [1.0, 0.0]


def test_refs_and_nested_paths():
    schema = {
        "$defs": {"item": {"type": "object", "properties": {"qty": {"type": "integer"}}, "required": ["qty"]}},
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}, "id": {"type": "string"}},
        "required": ["items", "id"],
    }
    scorer = rewardkit.variant(json_schema, "order", schema=schema, mode="keys")
    out = score(scorer, '{"id": "o1", "items": [{"qty": 1}, {"qty": 2}, {"qty": "3"}]}')
    assert out.value == pytest.approx(1 / 3)  # id valid, items not, document not
    assert "$.items[2].qty" in out.score.reason


def test_the_schema_draft_comes_from_dollar_schema():
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number",
              "maximum": 10, "exclusiveMaximum": True}
    scorer = rewardkit.variant(json_schema, "draft4", schema=draft4)
    assert [score(scorer, t).value for t in ("9.5", "10")] == [1.0, 0.0]


def test_formats_are_annotations_unless_checked():
    text = json.dumps({**ADA, "email": "not an email"})
    assert score(person(), text).value == 1.0
    checked = score(person(check_formats=True), text)
    assert checked.value == 0.0 and "$.email" in checked.score.reason


def test_unicode_keys_and_values():
    scorer = rewardkit.variant(json_schema, "unicode_schema", schema={
        "type": "object", "properties": {"名字": {"type": "string", "minLength": 2}}, "required": ["名字"]})
    assert score(scorer, '{"名字": "李雷"}').value == 1.0
    short = score(scorer, '{"名字": "李"}')
    assert short.value == 0.0 and "名字" in short.score.reason


def test_huge_wrong_documents_are_bounded_and_reasons_short():
    scorer = rewardkit.variant(json_schema, "strings", schema={"type": "array", "items": {"type": "string"}})
    out = score(scorer, json.dumps(list(range(5000))))
    assert out.value == 0.0 and out.score.metrics["errors"] == 1000.0 and out.score.reason.startswith("1000+")
    wrong_type = rewardkit.variant(json_schema, "want_object", schema={"type": "object"})
    long_reason = score(wrong_type, json.dumps(["x" * 100] * 100)).score.reason
    assert len(long_reason) < 300 and long_reason.endswith("...")


@pytest.mark.parametrize("options, message", [
    ({"schema": {"type": "strin"}}, "not a valid JSON Schema"),
    ({"schema": "{oops"}, "not valid JSON"),
    ({"schema": [1]}, "JSON Schema object"),
    ({"mode": "fraction"}, "option 'mode': expected 'binary' or 'keys', got 'fraction'"),
    ({"schema_key": ""}, "schema_key"),
])
def test_bad_schema_options_fail_at_variant_creation(options, message):
    with pytest.raises(RegistrationError) as info:
        rewardkit.variant(json_schema, "my_schema", **options)
    assert "'my_schema'" in str(info.value) and message in str(info.value)


def test_schema_given_as_json_text_option():
    scorer = rewardkit.variant(json_schema, "text_schema", schema='{"type": "integer"}')
    assert [score(scorer, t).value for t in ("3", "3.5")] == [1.0, 0.0]


# ---- json_match ----

CITY = {"city": "Paris", "population": 2.1, "country": "FR"}


def test_fraction_of_gold_keys_whose_values_match():
    gold = json.dumps(CITY)
    assert score(json_match, json.dumps({**CITY, "extra": [1]}), reference=gold).value == 1.0
    off = score(json_match, '{"city": "Paris", "population": 2.2, "country": "FR"}', reference=gold)
    assert off.value == pytest.approx(2 / 3) and "population (expected 2.1, got 2.2)" in off.score.reason
    assert off.score.metrics == {"matched": 2.0, "total": 3.0}
    missing = score(json_match, '{"city": "Paris"}', reference=gold)
    assert missing.value == pytest.approx(1 / 3) and "country (expected \"FR\", got (missing))" in missing.score.reason


def test_json_match_direct_call_with_plain_values():
    assert json_match(response='{"a": 1}', reference={"a": 1, "b": 2}, references={}).value == 0.5


def test_values_match_by_type():
    gold = {"flag": True, "n": 1, "none": None, "s": "1"}
    assert score(json_match, '{"flag": true, "n": 1.0, "none": null, "s": "1"}', ground_truth=gold).value == 1.0
    assert score(json_match, '{"flag": 1, "n": true, "none": 0, "s": 1}', ground_truth=gold).value == 0.0


def test_tolerance_and_case_options():
    loose = rewardkit.variant(json_match, "city_loose", tolerance=0.05, ignore_case=True)
    assert score(loose, '{"city": "PARIS", "population": 2.14, "country": "fr"}', ground_truth=CITY).value == 1.0
    assert score(json_match, '{"city": "PARIS", "population": 2.14, "country": "FR"}', ground_truth=CITY).value == \
        pytest.approx(1 / 3)
    assert score(loose, '{"city": "Paris", "population": 2.2, "country": "FR"}', ground_truth=CITY).value == \
        pytest.approx(2 / 3)


def test_keys_select_what_is_compared():
    city_only = rewardkit.variant(json_match, "city_only", keys=["city", "country"])
    assert score(city_only, '{"city": "Paris", "country": "FR", "population": 9}', ground_truth=CITY).value == 1.0
    unknown = rewardkit.variant(json_match, "unknown_key", keys=["mayor"])
    out = score(unknown, "{}", ground_truth=CITY)
    assert out.failure.code == "REWARD_ERROR" and "'mayor'" in out.failure.message


def test_nested_compares_leaves():
    gold = {"user": {"name": "Ada", "langs": ["en", "fr"]}, "id": 7}
    answer = '{"user": {"name": "Ada", "langs": ["en"]}, "id": 7}'
    assert score(json_match, answer, ground_truth=gold).value == 0.5
    leaves = rewardkit.variant(json_match, "leaves", nested=True)
    out = score(leaves, answer, ground_truth=gold)
    assert out.value == 0.75 and "user.langs[1]" in out.score.reason
    assert score(leaves, '{"user": "Ada", "id": 7}', ground_truth=gold).value == 0.25
    empty = score(leaves, '{"tags": {}, "list": []}', ground_truth={"tags": {}, "list": []})
    assert empty.value == 1.0


def test_gold_from_another_reference_key():
    expected = rewardkit.variant(json_match, "expected_json", reference_key="expected")
    assert score(expected, '{"a": 1}', references={"expected": '{"a": 1}', "answer": "x"}).value == 1.0
    out = score(expected, '{"a": 1}', references={"answer": '{"a": 1}'})
    assert out.failure.code == "MISSING_REFERENCE" and "'expected'" in out.failure.message


@pytest.mark.parametrize("gold, message", [
    (None, "no gold answer"), ("Paris", "not JSON"), ("[1, 2]", "must be a JSON object"), ("{}", "no keys"),
])
def test_bad_gold_is_an_error(gold, message):
    out = score(json_match, '{"a": 1}', reference=gold)
    code = "MISSING_REFERENCE" if gold is None else "REWARD_ERROR"
    assert out.failure.code == code and message in out.failure.message


@pytest.mark.parametrize("response, reason", [
    ("[1, 2]", "not an object"), ("Paris", "not JSON"), ("", "not JSON")])
def test_responses_without_a_json_object_score_zero(response, reason):
    out = score(json_match, response, ground_truth=CITY)
    assert out.value == 0.0 and reason in out.score.reason


def test_fenced_response_and_strict_mode():
    fenced = f"```json\n{json.dumps(CITY)}\n```"
    assert score(json_match, fenced, ground_truth=CITY).value == 1.0
    assert score(rewardkit.variant(json_match, "strict_match", extract=False), fenced, ground_truth=CITY).value == 0.0


@pytest.mark.parametrize("options, message", [
    ({"keys": "city"}, "option 'keys'"), ({"keys": []}, "option 'keys'"), ({"keys": ["a", 1]}, "option 'keys.1'"),
    ({"tolerance": -1}, "tolerance"), ({"tolerance": "0.1"}, "tolerance"), ({"reference_key": ""}, "reference_key"),
])
def test_bad_match_options_fail_at_variant_creation(options, message):
    with pytest.raises(RegistrationError, match=f"'my_match'.*{message}"):
        rewardkit.variant(json_match, "my_match", **options)


# ---- both contracts, groups, composites ----

def test_served_variants_in_both_contracts():
    scorer = person(mode="keys")
    with TestClient(rewardkit.create_app(Registry([scorer]))) as client:
        vertex = client.post(f"/rewards/{scorer.name}", json={
            "example": {"contents": [{"role": "user", "parts": [{"text": "Who?"}]}]},
            "response": {"role": "model", "parts": [{"text": json.dumps({**ADA, "age": "old"})}]}})
        aux = json.loads(vertex.json()["user_requested_aux_info"])
        assert vertex.json()["reward"] == 0.5 and aux["reason"].startswith("1 validation error(s); $.age")
        group = client.post(f"/rewards/{scorer.name}/api/v1", json={"func_type": "group_reward", "agent_outputs": [
            {"messages": [{"role": "assistant", "content": c}]} for c in (json.dumps(ADA), "no", '{"name": "Ada"}')]})
        assert [r["reward_score"] for r in group.json()["reward"]["rewards"]] == [1.0, 0.0, 0.25]


def test_in_a_composite_and_a_group():
    both = rewardkit.composite("structured", [rewardkit.variant(json_schema, "has_city", schema={"required": ["city"]}),
                                              json_match], rule="weighted_mean")
    outs = score_group(both, [json.dumps(CITY), '{"city": "Rome"}', "none"], ground_truth=CITY)
    assert [o.value for o in outs] == pytest.approx([1.0, 0.5, 0.0])


def test_listed_with_their_parameters(builtin_client):
    listed = {r["name"]: r["doc"] for r in builtin_client.get("/rewards").json()["rewards"]}
    for option in ("schema", "schema_key", "mode", "extract", "check_formats"):
        assert f"{option}:" in listed["json_schema"]
    for option in ("keys", "nested", "tolerance", "ignore_case", "extract", "reference_key"):
        assert f"{option}:" in listed["json_match"]


# Found by `rewardkit audit` (probes contradiction and padding): the JSON was read from anywhere in the text.
@pytest.mark.parametrize("response, reason", [
    ('<think>{"a": 1}</think>I could not finish.', "no valid JSON"),
    ('The answer is not {"a": 1}.', "follows a negation"),
    ("Filler text. " * 40 + '{"a": 1}' + " More filler." * 5, "buried in"),
])
def test_json_in_reasoning_after_a_negation_or_buried_in_padding_earns_nothing(response, reason):
    for reward, gold in ((json_match, {"a": 1}), (json_schema, None)):
        fields = {"reference": gold} if gold else {"references": {"schema": {"type": "object"}}}
        outcome = score(reward, response, **fields)
        assert outcome.value == 0.0 and reason in outcome.score.reason, (reward, outcome.score.reason)


def test_a_sentence_around_the_json_still_counts():
    assert score(json_match, 'Sure, here it is: {"a": 1}. Not much else to add.', reference={"a": 1}).value == 1.0
    assert score(json_match, '<think>maybe {"a": 2}</think>{"a": 1}', reference={"a": 1}).value == 1.0
