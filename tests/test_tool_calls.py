"""Tool-call rewards: the matching logic, the failure categories, the options and the trajectory helpers."""

import json
import re

import pytest

import rewardkit
from rewardkit import Message, RegistrationError, ToolCall, variant
from rewardkit.registry import spec_of
from rewardkit.testing import dashscope_request, reward_client, score
from rewards import exact_match, tool_call_match, tool_error_rate, tool_schema_valid, turn_budget
from rewards.tool_calls import answer_after_tools, final_answer_after_tools
from rewards.tool_calls._calls import Call, normalise_name
from rewards.tool_calls._match import CATEGORIES, Rules, compare, match, maximum_matching

from .conftest import REPO

PROMPT = (Message("user", "What is the weather in Paris and Tokyo?"),)
GOLD = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_weather", "arguments": {"city": "Tokyo", "unit": "celsius"}}]


def turns(*calls, text=""):
    """The prompt, then one assistant turn making `calls` ((name, arguments) with arguments an object or JSON text)."""
    tool_calls = tuple(ToolCall(n, a if isinstance(a, str) else json.dumps(a)) for n, a in calls)
    return (*PROMPT, Message("assistant", text, tool_calls=tool_calls))


def run(reward, trajectory, gold=GOLD, **references):
    return score(reward, prompt=list(PROMPT), trajectory=trajectory,
                 references={"tool_calls": json.dumps(gold), **references}).score


PARIS, TOKYO = ("get_weather", GOLD[0]["arguments"]), ("get_weather", GOLD[1]["arguments"])


# ---- matching ------------------------------------------------------------------------------------

def test_maximum_matching_finds_what_a_greedy_pass_misses():
    # Left 0 could take right 0 or 1, left 1 only right 0: greedy 0->0 leaves 1 unmatched.
    assert maximum_matching([[0, 1], [0]], 2) == {0: 1, 1: 0}
    assert maximum_matching([[0], [0], [0]], 1) == {0: 0}
    assert maximum_matching([[], [1]], 2) == {1: 1}


@pytest.mark.parametrize("expected, actual, category", [
    (1, "1", "ARGUMENT_TYPE_DIFFERENT"),
    (1, True, "ARGUMENT_TYPE_DIFFERENT"),
    (False, 0, "ARGUMENT_TYPE_DIFFERENT"),
    (None, "null", "ARGUMENT_TYPE_DIFFERENT"),
    ({"a": 1}, {"a": 1, "b": 2}, "ARGUMENT_KEYS_DIFFERENT"),
    ({"a": {"x": 1}}, {"a": {"y": 1}}, "ARGUMENT_KEYS_DIFFERENT"),
    ([1, 2], [1, 2, 3], "ARGUMENT_VALUE_DIFFERENT"),
    ([1, 2], [2, 1], "ARGUMENT_VALUE_DIFFERENT"),
    ("Paris", "paris", "ARGUMENT_VALUE_DIFFERENT"),
    (0.1, 0.11, "ARGUMENT_VALUE_DIFFERENT"),
    (10**400, 10**400 + 1, "ARGUMENT_VALUE_DIFFERENT"),
])
def test_values_compare_by_json_type(expected, actual, category):
    assert compare(expected, actual, Rules(), "f").category == category


@pytest.mark.parametrize("expected, actual", [
    (1, 1.0), (0.1 + 0.2, 0.3), ({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}), (10**400, 10**400),
])
def test_equal_values(expected, actual):
    assert compare(expected, actual, Rules(), "f") is None


def test_loose_strings_ignore_case_and_whitespace_only_when_asked():
    assert compare("New  York", " new york", Rules(loose_strings=True), "f") is None
    assert compare("New  York", " new york", Rules(), "f") is not None
    assert compare("New York", "Newark", Rules(loose_strings=True), "f") is not None


def test_deep_nesting_is_a_mismatch_not_a_crash():
    deep = current = {}
    for _ in range(200):
        current["a"] = {}
        current = current["a"]
    assert compare(deep, deep, Rules(), "f").category == "ARGUMENT_VALUE_DIFFERENT"


def test_mcp_names_normalise_only_the_mcp_form():
    assert normalise_name("mcp__calculator__add", True) == "add"
    assert normalise_name("mcp__server__my__tool", True) == "my__tool"
    assert normalise_name("mcp__calculator__add", False) == "mcp__calculator__add"
    assert normalise_name("calculator__add", True) == "calculator__add"


# ---- modes and categories -------------------------------------------------------------------------

def test_parallel_calls_match_in_any_order():
    assert run(tool_call_match, turns(TOKYO, PARIS)).value == 1.0


def test_two_right_calls_and_twenty_junk_calls_do_not_score_one():
    junk = [("lookup", {"q": i}) for i in range(20)]
    f1 = run(tool_call_match, turns(PARIS, TOKYO, *junk))
    assert f1.value == pytest.approx(4 / 24) and f1.metrics["UNEXPECTED_TOOL"] == 1.0
    strict = variant(tool_call_match, "strict_calls", mode="binary_strict")
    fractional = variant(tool_call_match, "fractional_calls", mode="fractional")
    assert run(strict, turns(PARIS, TOKYO, *junk)).value == 0.0
    assert run(fractional, turns(PARIS, TOKYO, *junk)).value == 1.0
    assert run(strict, turns(TOKYO, PARIS)).value == 1.0


def test_a_duplicate_call_matches_one_expected_call_only():
    result = run(tool_call_match, turns(PARIS, PARIS))
    assert result.value == 0.5 and result.metrics["matched"] == 1.0
    assert result.reason.startswith("ARGUMENT_VALUE_DIFFERENT") and "Tokyo" in result.reason


@pytest.mark.parametrize("calls, category", [
    ((), "NO_TOOL_CALL"),
    ((PARIS, ("get_time", {"city": "Tokyo"})), "UNEXPECTED_TOOL"),
    ((PARIS, ("get_weather", '{"city": "Tokyo", "unit": ')), "ARGUMENTS_DECODE_ERROR"),
    ((PARIS, ("get_weather", "[1, 2]")), "ARGUMENTS_DECODE_ERROR"),
    ((PARIS, ("get_weather", {"city": "Tokyo", "unit": 0})), "ARGUMENT_TYPE_DIFFERENT"),
    ((PARIS, ("get_weather", {"city": "Tokyo"})), "ARGUMENT_KEYS_DIFFERENT"),
    ((PARIS, ("get_weather", {"city": "Kyoto", "unit": "celsius"})), "ARGUMENT_VALUE_DIFFERENT"),
    ((PARIS,), "CALL_COUNT_DIFFERENT"),
    ((PARIS, TOKYO, TOKYO), "CALL_COUNT_DIFFERENT"),
])
def test_every_shortfall_names_its_category_as_reason_and_metric(calls, category):
    result = run(tool_call_match, turns(*calls))
    assert result.value < 1.0
    assert result.reason.startswith(category + ":")
    assert result.metrics[category] == 1.0
    assert not (set(CATEGORIES) - {category}) & set(result.metrics)


def test_the_closest_same_name_call_explains_the_miss():
    # The model tried get_weather twice for Tokyo: a wrong type and a wrong value; the value one is closer.
    result = run(tool_call_match, turns(PARIS, ("get_weather", {"city": 5, "unit": "celsius"}),
                                        ("get_weather", {"city": "Kyoto", "unit": "celsius"})))
    assert result.reason.startswith("ARGUMENT_VALUE_DIFFERENT")


def test_malformed_model_json_is_a_score_not_an_error():
    outcome = score(tool_call_match, prompt=list(PROMPT), trajectory=turns(("get_weather", "{not json")),
                    references={"tool_calls": json.dumps(GOLD[0])})
    assert outcome.failure is None and outcome.value == 0.0
    assert outcome.score.metrics["ARGUMENTS_DECODE_ERROR"] == 1.0


def test_hostile_numbers_of_calls_are_bounded_and_still_counted():
    calls = [("get_weather", {"city": "Paris", "unit": "celsius"})] * 5000
    result = match([Call("get_weather", GOLD[0]["arguments"])],
                   [Call(n, a) for n, a in calls], Rules())
    assert (result.matched, result.called) == (1, 5000)


def test_omittable_arguments_per_option_per_tool_and_per_call():
    without_unit = turns(("get_weather", {"city": "Paris"}), TOKYO)
    assert run(tool_call_match, without_unit).value == 0.5
    assert run(variant(tool_call_match, "o1", omittable=["unit"]), without_unit).value == 1.0
    assert run(variant(tool_call_match, "o2", omittable=["get_weather.unit"]), without_unit).value == 1.0
    assert run(variant(tool_call_match, "o3", omittable=["other.unit"]), without_unit).value == 0.5
    gold = [dict(GOLD[0], omittable=["unit"]), GOLD[1]]
    assert run(tool_call_match, without_unit, gold=gold).value == 1.0
    # Omittable means it may be left out, not that any value goes.
    assert run(tool_call_match, turns(("get_weather", {"city": "Paris", "unit": "kelvin"}), TOKYO),
               gold=gold).value == 0.5


def test_namespacing_option():
    namespaced = turns(("mcp__weather__get_weather", GOLD[0]["arguments"]),
                       ("mcp__weather__get_weather", GOLD[1]["arguments"]))
    assert run(tool_call_match, namespaced).value == 1.0
    exact = run(variant(tool_call_match, "exact_names", strip_mcp_namespace=False), namespaced)
    assert exact.value == 0.0 and exact.metrics["UNEXPECTED_TOOL"] == 1.0


def test_scope_final_reads_only_the_last_assistant_turn_that_made_calls():
    episode = (*PROMPT,
               Message("assistant", "", tool_calls=(ToolCall("get_weather", json.dumps(GOLD[0]["arguments"])),)),
               Message("tool", "18C"),
               Message("assistant", "", tool_calls=(ToolCall("get_weather", json.dumps(GOLD[1]["arguments"])),)))
    assert run(tool_call_match, episode).value == 1.0
    assert run(variant(tool_call_match, "final_calls", scope="final"), episode).value == pytest.approx(2 / 3)


def test_expected_calls_in_openai_shape_with_json_text_arguments():
    gold = [{"type": "function", "function": {"name": "get_weather", "arguments": json.dumps(g["arguments"])}}
            for g in GOLD]
    assert run(tool_call_match, turns(PARIS, TOKYO), gold=gold).value == 1.0


@pytest.mark.parametrize("references, code, message", [
    ({}, "MISSING_REFERENCE", "no expected tool calls"),
    ({"tool_calls": "{not json"}, "REWARD_ERROR", "is not valid JSON"),
    ({"tool_calls": json.dumps({"arguments": {}})}, "REWARD_ERROR", "no tool name"),
    ({"tool_calls": json.dumps({"name": "f", "arguments": "[1]"})}, "REWARD_ERROR", "not an object"),
])
def test_missing_or_unreadable_gold_is_an_error_naming_it(references, code, message):
    outcome = score(tool_call_match, prompt=list(PROMPT), trajectory=turns(PARIS), references=references)
    assert outcome.score is None and outcome.failure.code == code and message in outcome.failure.message


def test_bad_options_fail_when_the_variant_is_made():
    with pytest.raises(RegistrationError, match="option 'mode': expected 'binary_strict', 'fractional' or 'f1'"):
        variant(tool_call_match, "bad", mode="f2")
    with pytest.raises(RegistrationError, match="scope"):
        variant(tool_call_match, "bad", scope="all")
    with pytest.raises(RegistrationError, match="omittable"):
        variant(tool_call_match, "bad", omittable="unit")


def test_dashscope_arguments_sent_as_an_object_are_read_as_json():
    # Some producers put the arguments object itself in `function.arguments`; it must not become a Python repr.
    messages = [{"role": "user", "content": "Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "get_weather", "arguments": GOLD[0]["arguments"]}}]}]
    body = dashscope_request("", messages=messages, rollout_extra={"tool_calls": GOLD[0]})
    body["agent_output"]["messages"] = messages  # the tool-calling turn is the answer
    with reward_client("rewards", workers=0) as client:
        answer = client.post("/rewards/tool_call_match/api/v1", json=body).json()
    assert answer["status"] == "success" and answer["reward"]["reward_score"] == 1.0


# ---- tool_schema_valid -------------------------------------------------------------------------------

GEMINI = [{"functionDeclarations": [{"name": "get_weather", "parameters": {
    "type": "OBJECT", "properties": {"city": {"type": "STRING"}, "unit": {"type": "STRING", "nullable": True}},
    "required": ["city"]}}]}]


@pytest.mark.parametrize("call, value, category", [
    (("get_weather", {"city": "Paris", "unit": None}), 1.0, None),
    (("get_weather", {"city": 7}), 0.0, "ARGUMENT_TYPE_DIFFERENT"),
    (("get_weather", {"unit": "celsius"}), 0.0, "ARGUMENT_KEYS_DIFFERENT"),
    (("get_weather", "{"), 0.0, "ARGUMENTS_DECODE_ERROR"),
    (("get_time", {}), 0.0, "UNEXPECTED_TOOL"),
])
def test_schema_validity_per_call_with_gemini_declarations(call, value, category):
    result = run(tool_schema_valid, turns(call), tools=json.dumps(GEMINI))
    assert result.value == value
    assert category is None or (result.reason.startswith(category) and result.metrics[category] == 1.0)


def test_schema_partial_credit_and_map_form():
    schemas = {"add": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}
    result = run(tool_schema_valid, turns(("add", {"a": 1}), ("add", {"a": 1.5}), ("add", {"a": 2}), ("add", {})),
                 tools=json.dumps(schemas))
    assert result.value == 0.5 and result.metrics == {"valid": 2.0, "called": 4.0, "ARGUMENT_TYPE_DIFFERENT": 1.0}


def test_an_invalid_declared_schema_is_an_error():
    outcome = score(tool_schema_valid, prompt=list(PROMPT), trajectory=turns(PARIS),
                    references={"tools": json.dumps({"get_weather": {"type": "no-such-type"}})})
    assert outcome.failure.code == "REWARD_ERROR" and "not a valid JSON Schema" in outcome.failure.message


# ---- trajectory shaping --------------------------------------------------------------------------------

def episode_with_results(*results, final="Done."):
    messages = [*PROMPT]
    for i, text in enumerate(results):
        messages += [Message("assistant", "", tool_calls=(ToolCall("f", "{}", f"c{i}"),)),
                     Message("tool", text, tool_call_id=f"c{i}")]
    return tuple(messages + ([Message("assistant", final)] if final is not None else []))


def test_tool_error_rate_reads_mcp_gemini_and_plain_text_errors():
    trajectory = episode_with_results("42", json.dumps({"isError": True, "content": []}), json.dumps({"error": "bad"}),
                                      "Error: division by zero", json.dumps({"output": "7", "error": None}),
                                      "No errors found in the file.")
    result = score(tool_error_rate, prompt=list(PROMPT), trajectory=trajectory).score
    assert result.metrics == {"tool_results": 6.0, "tool_errors": 3.0, "error_rate": 0.5} and result.value == 0.5
    penalty = score(variant(tool_error_rate, "errs", as_penalty=True), prompt=list(PROMPT), trajectory=trajectory)
    assert penalty.value == -0.5


def test_turn_budget_penalises_each_turn_past_the_budget():
    short = variant(turn_budget, "short_budget", max_turns=2, penalty_per_turn=0.5)
    assert score(short, prompt=list(PROMPT), trajectory=episode_with_results("1")).value == 1.0
    assert score(short, prompt=list(PROMPT), trajectory=episode_with_results("1", "2")).value == 0.5
    assert score(short, prompt=list(PROMPT), trajectory=episode_with_results("1", "2", "3", "4")).value == 0.0
    with pytest.raises(RegistrationError, match="max_turns"):
        variant(turn_budget, "bad", max_turns=0)


def test_answer_after_tools_is_what_follows_the_last_tool_result():
    assert answer_after_tools(episode_with_results("1", "2", final="It is 3."), PROMPT) == ("It is 3.", "")
    assert answer_after_tools(episode_with_results("1", final=None), PROMPT) == ("", "")
    plain = (*PROMPT, Message("assistant", "first"), Message("user", "more?"), Message("assistant", "second"))
    assert answer_after_tools(plain, PROMPT) == ("second", "")


def test_final_answer_after_tools_wraps_any_answer_reward():
    exact_after = final_answer_after_tools(exact_match, name="exact_after_tools")
    assert spec_of(exact_after).name == "exact_after_tools"
    trajectory = (*PROMPT, Message("assistant", "Paris", tool_calls=(ToolCall("f", "{}"),)), Message("tool", "Paris"),
                  Message("assistant", "Tokyo"))
    assert score(exact_after, prompt=list(PROMPT), trajectory=trajectory, references={"answer": "Tokyo"}).value == 1.0
    assert score(exact_after, prompt=list(PROMPT), trajectory=trajectory, references={"answer": "Paris"}).value == 0.0
    missing = score(exact_after, prompt=list(PROMPT), trajectory=trajectory)
    assert missing.failure.code == "MISSING_REFERENCE" and "no gold answer" in missing.failure.message


def test_final_answer_after_tools_refuses_grouped_rewards():
    @rewardkit.grouped_reward
    def ranked(responses):
        return [0.0] * len(responses)

    with pytest.raises(RegistrationError, match="single or parse-then-score"):
        final_answer_after_tools(ranked)


# ---- docs/agents.md: the calculator agent ------------------------------------------------------------------

def _doc_blocks(language):
    text = (REPO / "docs" / "agents.md").read_text()
    return [body for lang, body in re.findall(r"```(\w+)\n(.*?)```", text, re.S) if lang == language]


def test_the_calculator_agent_composite_of_the_guide_scores_its_episode(tmp_path):
    module = next(b for b in _doc_blocks("python") if b.startswith("# agent_rewards.py"))
    (tmp_path / "agent_rewards.py").write_text(module)
    episode = json.loads(_doc_blocks("json")[0])
    with reward_client(str(tmp_path / "agent_rewards.py"), workers=0) as client:
        good = client.post("/rewards/calculator_agent/api/v1", json=episode).json()
        messages = episode["agent_output"]["messages"]
        messages[-1]["content"] = "The total is \\boxed{50} kg."  # wrong answer after right calls
        wrong = client.post("/rewards/calculator_agent/api/v1", json=episode).json()
    assert good["status"] == "success" and good["reward"]["reward_score"] == pytest.approx(1.0)
    assert good["reward"]["reward_metrics"]["tool_call_match.score"] == 1.0
    assert wrong["reward"]["reward_score"] == pytest.approx(0.4)


# ---- scope="final" and empty arguments, served by a real `rewardkit serve` -----------------------------

FINAL_REWARDS = '''
import rewardkit
from rewards import tool_call_match, tool_schema_valid

last_calls = rewardkit.variant(tool_call_match, "last_calls", mode="binary_strict", scope="final")
last_calls_f1 = rewardkit.variant(tool_call_match, "last_calls_f1", scope="final")
every_call = rewardkit.variant(tool_call_match, "every_call", mode="binary_strict")
last_schema = rewardkit.variant(tool_schema_valid, "last_schema", scope="final")
'''
ADD, MULTIPLY = {"name": "add", "arguments": {"a": 50, "b": 3}}, {"name": "multiply", "arguments": {"a": 12.5, "b": 4}}


@pytest.fixture(scope="module")
def final_server(tmp_path_factory):
    from .served import serve

    module = tmp_path_factory.mktemp("final") / "final_rewards.py"
    module.write_text(FINAL_REWARDS)
    with serve([str(module), "--workers", "1"], timeout=120) as served:
        yield served.url


def chat_call(name, arguments, n=1):
    text = arguments if isinstance(arguments, str) or arguments is None else json.dumps(arguments)
    return {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": text}}


def calling(*calls, content=""):
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def tool_result(text, n=1):
    return {"role": "tool", "tool_call_id": f"call_{n}", "content": text}


def dashscope_episode(*turns, gold):
    return {"func_type": "reward", "ground_truth": None,
            "agent_output": {"messages": [{"role": "user", "content": "4 boxes of 12.5 kg and a 3 kg bag?"}, *turns],
                             "rollout_extra": {"tool_calls": gold}}}


def post_dashscope(url, reward, body):
    import httpx

    answer = httpx.post(f"{url}/rewards/{reward}/api/v1", json=body, timeout=60).json()
    assert answer["status"] == "success", answer
    return answer["reward"]["reward_score"], answer["reward"]["reward_metrics"]


ANSWERED = (calling(chat_call("mcp__calculator__multiply", MULTIPLY["arguments"])), tool_result("50.0"),
            calling(chat_call("mcp__calculator__add", ADD["arguments"], 2)), tool_result("53.0", 2),
            {"role": "assistant", "content": "The total is \\boxed{53} kg."})
RETRIED = (calling(chat_call("add", {"a": "50", "b": 3})), tool_result("Error: a must be a number"),
           calling(chat_call("add", ADD["arguments"], 2)), tool_result("53", 2),
           {"role": "assistant", "content": "53"})
OTHER_TOOL_LAST = (calling(chat_call("add", ADD["arguments"])), tool_result("53"),
                   calling(chat_call("multiply", MULTIPLY["arguments"], 2)), tool_result("50.0", 2),
                   {"role": "assistant", "content": "50"})


@pytest.mark.parametrize("turns, gold, last, every", [
    # Ends with the answer: the calls are those of the turn before it (before issue 22: 0, NO_TOOL_CALL).
    (ANSWERED, ADD, 1.0, 0.0),
    (ANSWERED, [MULTIPLY, ADD], 0.0, 1.0),
    # A tool error and a retry: the retry is the call that counts.
    (RETRIED, ADD, 1.0, 0.0),
    # Another tool in the last calling turn: the expected add made earlier does not count.
    (OTHER_TOOL_LAST, ADD, 0.0, 0.0),
    (OTHER_TOOL_LAST, MULTIPLY, 1.0, 0.0),
    # Parallel calls in the last calling turn, with text beside them, then the answer.
    ((calling(chat_call("add", ADD["arguments"]), chat_call("multiply", MULTIPLY["arguments"], 2),
              content="Both at once."), tool_result("53"), tool_result("50.0", 2),
      {"role": "assistant", "content": "53 and 50"}), [MULTIPLY, ADD], 1.0, 1.0),
])
def test_scope_final_reads_the_last_turn_that_made_calls_in_dashscope_episodes(final_server, turns, gold, last,
                                                                               every):
    body = dashscope_episode(*turns, gold=gold)
    assert post_dashscope(final_server, "last_calls", body)[0] == last
    assert post_dashscope(final_server, "every_call", body)[0] == every


def test_scope_final_names_what_the_last_calling_turn_did(final_server):
    value, metrics = post_dashscope(final_server, "last_calls_f1", dashscope_episode(*OTHER_TOOL_LAST, gold=ADD))
    assert value == 0.0 and metrics["last_calls_f1.UNEXPECTED_TOOL"] == 1.0 and metrics["last_calls_f1.called"] == 1.0
    value, metrics = post_dashscope(final_server, "last_calls_f1", dashscope_episode(
        {"role": "assistant", "content": "It is 53."}, gold=ADD))
    assert value == 0.0 and metrics["last_calls_f1.NO_TOOL_CALL"] == 1.0
    # tool_schema_valid's "final" reads the same turn: the failed attempt with a string is not checked.
    schema = {"add": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}
    body = dashscope_episode(*RETRIED, gold=ADD)
    body["agent_output"]["rollout_extra"]["tools"] = schema
    assert post_dashscope(final_server, "last_schema", body)[0] == 1.0
    assert post_dashscope(final_server, "tool_schema_valid", body)[0] == 0.5


def vertex_calls(*parts, gold):
    return {"example": {"contents": [
        {"role": "user", "parts": [{"text": "4 boxes of 12.5 kg and a 3 kg bag?"}]},
        # an earlier turn of the dataset's conversation: the dataset's, not the model's
        {"role": "model", "parts": [{"functionCall": {"name": "add", "args": ADD["arguments"]}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "add", "response": {"result": 53}}}]}],
        "references": {"tool_calls": json.dumps(gold)}},
        "response": {"role": "model", "parts": list(parts)}}


@pytest.mark.parametrize("parts, gold, value", [
    ([{"text": "Let me multiply."}, {"functionCall": {"name": "multiply", "args": MULTIPLY["arguments"]}}],
     MULTIPLY, 1.0),
    ([{"functionCall": {"name": "add", "args": ADD["arguments"]}},
      {"functionCall": {"name": "multiply", "args": MULTIPLY["arguments"]}}], [MULTIPLY, ADD], 1.0),
    ([{"text": "The total is 53 kg."}], ADD, 0.0),  # the answer alone: the prompt's call is not the model's
    ([{"functionCall": {"name": "multiply", "args": MULTIPLY["arguments"]}}], ADD, 0.0),
])
def test_scope_final_on_vertex_reads_the_one_response_turn(final_server, parts, gold, value):
    import httpx

    for reward in ("last_calls", "every_call"):
        answer = httpx.post(f"{final_server}/rewards/{reward}", json=vertex_calls(*parts, gold=gold), timeout=60)
        assert answer.status_code == 200 and answer.json()["reward"] == value, answer.text


@pytest.mark.parametrize("arguments, gold_arguments, value, category", [
    ("", {}, 1.0, None),
    ("   ", {}, 1.0, None),
    (None, {}, 1.0, None),  # "arguments": null
    ("", {"path": "/"}, 0.0, "ARGUMENT_KEYS_DIFFERENT"),
    (None, {"path": "/"}, 0.0, "ARGUMENT_KEYS_DIFFERENT"),
    ({"path": ""}, {"path": "/"}, 0.0, "ARGUMENT_VALUE_DIFFERENT"),
    ({"path": ""}, {"path": None}, 0.0, "ARGUMENT_TYPE_DIFFERENT"),
])
def test_empty_arguments_are_no_arguments_and_an_empty_string_value_is_a_value(final_server, arguments,
                                                                               gold_arguments, value, category):
    gold = {"name": "list_files", "arguments": gold_arguments}
    body = dashscope_episode(calling(chat_call("list_files", arguments)), tool_result("a.txt"),
                             {"role": "assistant", "content": "a.txt"}, gold=gold)
    score_value, metrics = post_dashscope(final_server, "last_calls_f1", body)
    assert score_value == value and (category is None or metrics[f"last_calls_f1.{category}"] == 1.0), metrics


def test_an_omittable_argument_given_as_an_empty_string_is_not_left_out(final_server):
    gold = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}, "omittable": ["unit"]}
    for arguments, value in (({"city": "Paris"}, 1.0), ({"city": "Paris", "unit": ""}, 0.0)):
        body = dashscope_episode(calling(chat_call("get_weather", arguments)), gold=gold)
        assert post_dashscope(final_server, "last_calls_f1", body)[0] == value


def test_vertex_function_call_without_args_and_gold_without_arguments(final_server):
    import httpx

    for gold in ({"name": "list_files"}, {"name": "list_files", "arguments": ""},
                 {"name": "list_files", "arguments": None}):
        body = vertex_calls({"functionCall": {"name": "list_files"}}, gold=gold)
        answer = httpx.post(f"{final_server}/rewards/last_calls", json=body, timeout=60)
        assert answer.status_code == 200 and answer.json()["reward"] == 1.0, answer.text
