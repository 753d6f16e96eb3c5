"""The adapter serving an unchanged Vertex code-execution scorer `evaluate(example, response) -> float`."""

import copy
import json
import textwrap
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

import rewardkit
from rewardkit import Message, RegistrationError, ToolCall
from rewardkit._settings import Settings
from rewardkit.registry import Registry, spec_of
from rewardkit.testing import score, score_group
from rewards.vertex.code_execution import (
    VERTEX_TIMEOUT,
    camel_case,
    code_execution_reward,
    from_snippet,
    vertex_evaluate,
    vertex_example,
    vertex_response,
)

# The example from Vertex's reward-functions guide, unchanged.
DOCS_SNIPPET = '''
def evaluate(example, response) -> float:
  response_str = response.get("parts", [])[0]["text"]
  references = example.get("references", {})

  if response_str == references.get("concise_answer"):
    return 1.0
  return -1.0
'''

VERTEX_BODY = {
    "example": {
        "systemInstruction": {"parts": [{"text": "Answer Yes or No."}]},
        "contents": [{"role": "user", "parts": [{"text": "Is Paris in France?"}]}],
        "references": {"concise_answer": "Yes", "verbose_answer": "The answer is Yes"},
    },
    "response": {"role": "model", "parts": [{"text": "Yes"}]},
    "metadata": {"step": 4, "tuning_job_id": "99"},
}


def recorder():
    """An evaluate that records what it was given and scores 0.5."""
    seen = []

    def evaluate(example, response):
        seen.append((copy.deepcopy(example), copy.deepcopy(response)))
        return 0.5

    return evaluate, seen


def dashscope(messages, rollout_extra=None, ground_truth=None):
    return {"func_type": "reward", "ground_truth": ground_truth,
            "agent_output": {"messages": messages, "rollout_extra": rollout_extra}}


def serve(*specs):
    return TestClient(rewardkit.create_app(Registry(list(specs))))


# ---- what evaluate receives ----

def test_vertex_request_passes_the_platform_dicts_unchanged():
    evaluate, seen = recorder()
    with serve(code_execution_reward(evaluate, "rec")) as client:
        assert client.post("/rewards/rec", json=VERTEX_BODY).json()["reward"] == 0.5
    assert seen == [(VERTEX_BODY["example"], VERTEX_BODY["response"])]


def test_snake_case_fields_become_camel_case_but_user_keys_stay():
    body = {
        "example": {"system_instruction": {"parts": [{"text": "sys"}]},
                    "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AA=="}},
                                                            {"text": "look"}]}],
                    "references": {"concise_answer": "Yes", "snake_key": "v"}},
        "response": {"role": "model", "parts": [
            {"text": "hm", "thought": True, "thought_signature": "c2ln"},
            {"function_call": {"name": "lookup", "args": {"user_id": 7, "deep": {"a_b": 1}}}}]},
        "metadata": {"step": 1, "tuningJobId": 5},
    }
    evaluate, seen = recorder()
    with serve(code_execution_reward(evaluate, "rec2")) as client:
        assert client.post("/rewards/rec2", json=body).status_code == 200
    example, response = seen[0]
    assert example["systemInstruction"] == {"parts": [{"text": "sys"}]}
    assert example["contents"][0]["parts"][0] == {"inlineData": {"mimeType": "image/png", "data": "AA=="}}
    assert example["references"] == {"concise_answer": "Yes", "snake_key": "v"}
    assert response["parts"][0] == {"text": "hm", "thought": True, "thoughtSignature": "c2ln"}
    assert response["parts"][1] == {"functionCall": {"name": "lookup", "args": {"user_id": 7, "deep": {"a_b": 1}}}}


def test_camel_case_leaves_function_response_payloads_alone():
    value = {"function_response": {"name": "f", "response": {"result_value": [{"x_y": 1}]}}}
    assert camel_case(value) == {"functionResponse": {"name": "f", "response": {"result_value": [{"x_y": 1}]}}}


def test_dashscope_request_is_rebuilt_as_vertex_would_send_it():
    evaluate, seen = recorder()
    body = dashscope([{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Capital of France?"},
                      {"role": "assistant", "content": "Paris", "reasoning_content": "It is Paris."}],
                     rollout_extra={"answer": "Paris", "difficulty": 3, "tags": ["geo"], "none": None},
                     ground_truth=42)
    with serve(code_execution_reward(evaluate, "rec3")) as client:
        out = client.post("/rewards/rec3/api/v1", json=body).json()
    assert out["status"] == "success" and out["reward"]["reward_score"] == 0.5
    example, response = seen[0]
    assert example == {
        "contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        # Vertex references are strings: other values arrive as compact JSON; ground_truth is added.
        "references": {"answer": "Paris", "difficulty": "3", "tags": '["geo"]', "ground_truth": "42"},
    }
    assert response == {"role": "model", "parts": [{"text": "Paris"}]}


def test_agent_trajectory_history_tool_calls_and_thoughts():
    sample = rewardkit.Sample(
        response="Done: 21C.",
        thinking="weather looked up",
        prompt=(Message("user", "Weather in Rome?"),),
        references={"city": "Rome"},
        ground_truth="21",
        trajectory=(
            Message("user", "Weather in Rome?"),
            Message("assistant", "", tool_calls=(ToolCall("weather", '{"city": "Rome"}', "c1"),)),
            Message("tool", '{"temp_c": 21}', tool_call_id="c1", name="weather"),
            Message("assistant", "Done: 21C.", thinking="weather looked up"),
        ),
    )
    example = vertex_example(sample, ground_truth_key="expected")
    assert example["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Rome?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Rome"}, "id": "c1"}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"temp_c": 21}, "id": "c1"}}]},
    ]
    assert example["references"] == {"city": "Rome", "expected": "21"}
    assert "systemInstruction" not in example
    assert vertex_response(sample) == {"role": "model", "parts": [{"text": "Done: 21C."}]}
    assert vertex_response(sample, include_thoughts=True)["parts"] == [
        {"text": "weather looked up", "thought": True}, {"text": "Done: 21C."}]


def test_ground_truth_does_not_override_a_reference_of_the_same_name():
    sample = rewardkit.Sample(response="x", references={"ground_truth": "from extra"}, ground_truth="top")
    assert vertex_example(sample)["references"] == {"ground_truth": "from extra"}
    assert "references" not in vertex_example(rewardkit.Sample(response="x"), ground_truth_key=None)


def test_local_scoring_with_an_empty_response_still_has_a_text_part():
    evaluate, seen = recorder()
    assert score(code_execution_reward(evaluate, "rec4"), "").value == 0.5
    assert seen[0][1] == {"role": "model", "parts": [{"text": ""}]}
    assert seen[0][0] == {"contents": []}


def test_evaluate_cannot_corrupt_what_other_rewards_see():
    def vandal(example, response):
        example["references"]["concise_answer"] = "No"
        response["parts"].clear()
        return 0.0

    docs = from_snippet(DOCS_SNIPPET, "docs_after_vandal")
    both = rewardkit.composite("vandal_then_docs", [code_execution_reward(vandal, "vandal"), docs], rule="weighted_sum")
    with serve(both) as client:
        out = client.post("/rewards/vandal_then_docs", json=VERTEX_BODY).json()
    assert out["reward"] == 1.0
    assert json.loads(out["user_requested_aux_info"])["components"]["docs_after_vandal"]["score"] == 1.0


# ---- scores ----

def test_the_guide_example_runs_unchanged_on_both_contracts():
    docs = from_snippet(DOCS_SNIPPET, "concise")
    with serve(docs) as client:
        assert client.post("/rewards/concise", json=VERTEX_BODY).json()["reward"] == 1.0
        no = copy.deepcopy(VERTEX_BODY)
        no["response"]["parts"] = [{"text": "No"}]
        assert client.post("/rewards/concise", json=no).json()["reward"] == -1.0
        body = dashscope([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "Yes"}],
                         rollout_extra={"concise_answer": "Yes"})
        assert client.post("/rewards/concise/api/v1", json=body).json()["reward"]["reward_score"] == 1.0
        group = {"func_type": "group_reward", "agent_outputs": [
            {"messages": [{"role": "assistant", "content": c}], "rollout_extra": {"concise_answer": "Yes"}}
            for c in ("Yes", "No", "yes")]}
        scores = [r["reward_score"]
                  for r in client.post("/rewards/concise/api/v1", json=group).json()["reward"]["rewards"]]
        assert scores == [1.0, -1.0, -1.0]


def test_results_are_clipped_to_vertex_range_on_every_contract():
    loud = code_execution_reward(lambda example, response: 5, "loud")
    out = score(loud, "x")
    assert out.value == 1.0 and "clipped" in out.score.reason and out.score.metrics == {"clipped": 1.0}
    assert score(code_execution_reward(lambda e, r: -3.5, "neg"), "x").value == -1.0
    unclipped = code_execution_reward(lambda e, r: 5, "loud_raw", clip=False)
    assert score(unclipped, "x").value == 5.0


@pytest.mark.parametrize("result, expected", [(True, 1.0), (0, 0.0), (Decimal("0.25"), 0.25), (-0.5, -0.5)])
def test_numbers_of_any_kind_are_accepted(result, expected):
    assert score(code_execution_reward(lambda e, r: result, "num"), "x").value == expected


@pytest.mark.parametrize("result", [None, "1.0", float("nan"), float("inf"), [1.0]])
def test_non_numbers_are_invalid_scores(result):
    out = score(code_execution_reward(lambda e, r: result, "bad_result"), "x")
    assert out.failure.code == "INVALID_SCORE"


def test_a_raising_evaluate_fails_visibly_or_falls_back():
    def broken(example, response):
        return response["parts"][5]["text"]

    with serve(code_execution_reward(broken, "broken"), code_execution_reward(broken, "soft", fallback=-1.0)) as client:
        hard = client.post("/rewards/broken", json=VERTEX_BODY)
        assert hard.status_code == 500 and hard.json()["error_code"] == "REWARD_ERROR"
        assert "IndexError" in hard.json()["error"]
        dash = client.post("/rewards/broken/api/v1", json=dashscope([{"role": "assistant", "content": "x"}]))
        assert dash.json()["status"] == "failed"
        assert client.post("/rewards/soft", json=VERTEX_BODY).json()["reward"] == -1.0


# ---- registration ----

def test_decorator_keeps_the_plain_function_and_registers_it():
    @vertex_evaluate(name="deco", clip=False)
    def evaluate(example, response):
        """Scores 2 for anything."""
        return 2.0

    assert evaluate({}, {}) == 2.0
    spec = spec_of(evaluate)
    assert spec.name == "deco" and spec.options["clip"] is False and spec.timeout == VERTEX_TIMEOUT
    assert spec.doc.startswith("Scores 2 for anything.")
    assert score(evaluate, "x").value == 2.0

    @vertex_evaluate
    def bare(example, response):
        return 0.0

    assert spec_of(bare).name == "bare"


def test_served_from_a_module_through_worker_processes(tmp_path):
    module = tmp_path / "vertex_code_scorers.py"
    module.write_text(textwrap.dedent(f'''
        from rewards.vertex import code_execution_reward, from_snippet, vertex_evaluate

        concise = from_snippet({DOCS_SNIPPET!r}, "concise")

        def _length(example, response):
            return min(len(response["parts"][0]["text"]) / 10, 1.0)

        length = code_execution_reward(_length, "length")

        @vertex_evaluate
        def has_system(example, response):
            return 1.0 if "systemInstruction" in example else 0.0
    '''))
    app = rewardkit.create_app(str(module), settings=Settings(workers=1))
    with TestClient(app) as client:
        names = {r["name"] for r in client.get("/rewards").json()["rewards"]}
        assert names == {"concise", "length", "has_system"}
        assert client.post("/rewards/concise", json=VERTEX_BODY).json()["reward"] == 1.0
        assert client.post("/rewards/length", json=VERTEX_BODY).json()["reward"] == pytest.approx(0.3)
        assert client.post("/rewards/has_system", json=VERTEX_BODY).json()["reward"] == 1.0
        body = dashscope([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "Yes"}])
        assert client.post("/rewards/has_system/api/v1", json=body).json()["reward"]["reward_score"] == 0.0


def test_snippet_problems_fail_at_registration():
    with pytest.raises(RegistrationError, match="'s1'.*SyntaxError"):
        from_snippet("def evaluate(example, response)\n  return 1", "s1")
    with pytest.raises(RegistrationError, match="'s2'.*no evaluate"):
        from_snippet("def score(example, response):\n  return 1", "s2")
    with pytest.raises(RegistrationError, match="'s3'.*ZeroDivisionError"):
        from_snippet("x = 1 / 0", "s3")
    with pytest.raises(RegistrationError, match="empty"):
        from_snippet("  ", "s4")
    uses_imports = from_snippet("import math\ndef evaluate(example, response):\n  return math.cos(0)", "s5")
    assert score(uses_imports, "x").value == 1.0


def test_evaluate_must_take_example_and_response():
    with pytest.raises(RegistrationError, match="evaluate\\(example, response\\)"):
        code_execution_reward(lambda example: 1.0, "one_arg")

    async def later(example, response):
        return 1.0

    with pytest.raises(RegistrationError, match="not async"):
        code_execution_reward(later, "async_one")
    with pytest.raises(RegistrationError, match="expected a function"):
        code_execution_reward("def evaluate(e, r): return 1", "a_string")


def test_listed_with_its_options_and_timeout():
    def evaluate(example, response):
        """My scorer."""
        return 1.0

    with serve(code_execution_reward(evaluate, "listed")) as client:
        info = client.get("/rewards").json()["rewards"][0]
    assert info["name"] == "listed" and info["timeout"] == VERTEX_TIMEOUT
    assert info["doc"].startswith("My scorer.") and "include_thoughts" in info["doc"]
    assert set(info["options"]) == {"clip", "include_thoughts", "ground_truth_key"}


def test_group_of_local_samples():
    scorer = code_execution_reward(lambda e, r: float(len(r["parts"][0]["text"])) / 10, "len10")
    assert [o.value for o in score_group(scorer, ["a", "abcde", "x" * 50])] == [0.1, 0.5, 1.0]
