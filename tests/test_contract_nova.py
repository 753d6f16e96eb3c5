"""The Amazon Nova RFT reward contract (rewardkit/contracts/nova.py).

The bodies are shaped as the platform sends them: a bare JSON list, the sampled answer appended to
`messages` as the last assistant turn, an `id` added, the gold in `metadata.reference_answer` (Bedrock:
https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html, "Input structure") or in a
top-level `reference_answer` (SageMaker: https://docs.aws.amazon.com/sagemaker/latest/dg/nova-implementing-reward-functions.html).
Answers are checked with the rules of the Nova Forge SDK's reward verifier
(aws/nova-forge-sdk src/amzn_nova_forge/util/reward_verifier.py, `_validate_output_format`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from rewardkit._engine.inline import InlineEngine
from rewardkit._engine.pipeline import evaluate
from rewardkit._loader import load_registry
from rewardkit.contracts import ContractError, Prompt, Response
from rewardkit.contracts.nova import CONTRACT as NOVA

from .nova_events import item, verifier_errors

EXAMPLES = Path(__file__).parent / "contract_examples"
REWARDS = str(Path(__file__).parent / "nova_rewards.py")


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def score(reward: str, event: Any, target: str = REWARDS) -> tuple[int, Any]:
    registry = load_registry(target)
    spec = registry.get(reward)
    parsed = NOVA.parse(event)
    outcomes = asyncio.run(evaluate(spec, parsed.samples, InlineEngine(registry)))
    return NOVA.render(spec, outcomes, parsed)


def test_its_routes():
    assert NOVA.route_for("math_accuracy") == "/rewards/math_accuracy/nova"
    assert NOVA.route_for(None) == "/nova"


def test_the_example_batch_scores_in_order_with_the_builtin_reward():
    event = example("nova_request.json")
    status, answer = score("math_accuracy", event, target="rewards")
    assert status == 200 and not verifier_errors(answer, event)
    assert [a["aggregate_reward_score"] for a in answer] == [1.0, 0.0, 1.0]
    assert answer[0]["metrics_list"][0] == {"name": "math_accuracy", "value": 1.0, "type": "Reward"}


def test_both_gold_placements_and_the_lines_other_keys_reach_the_reward():
    samples = NOVA.parse(example("nova_request.json")).samples
    # Bedrock: metadata.reference_answer, an object: its keys are references, found by the default keys.
    assert samples[0].reference() == "72" and samples[0].references["my_key"] == "sample-001"
    assert samples[0].references["reference_answer"] == {"solution": "72", "explanation": "48 + 24 = 72"}
    # SageMaker: a top-level text reference_answer is the ground truth; other top-level keys are references.
    assert samples[2].ground_truth == "42" and samples[2].references == {"task_id": "arith-7"}
    assert samples[0].system.startswith("You are a math tutor") and samples[0].prompt_text.startswith("Natalia")
    assert samples[0].response.endswith("The answer is 72.") and samples[0].metadata.sample_id == "123"


def test_reasoning_and_tool_calls_of_the_sampled_turn_are_kept_apart_from_the_answer():
    event = [item("a", "The answer is 42.")]
    event[0]["messages"][-1].update(reasoning_content="6 sevens", role="nova_assistant",
                                    tool_calls=[{"id": "c1", "type": "function",
                                                 "function": {"name": "calc", "arguments": {"x": 6}}}])
    sample = NOVA.parse(event).samples[0]
    assert (sample.response, sample.thinking) == ("The answer is 42.", "6 sevens")
    call = sample.trajectory[-1].tool_calls[0]
    assert (call.name, json.loads(call.arguments), call.id) == ("calc", {"x": 6}, "c1")
    assert sample.trajectory[-1].role == "assistant"


def test_metrics_list_has_one_reward_entry_and_the_components_and_metrics_as_metrics():
    event = [item("a", "42"), item("b", "The answer, after a long and winding explanation, is 41.")]
    status, answer = score("graded_and_brief", event)
    assert status == 200 and not verifier_errors(answer, event)
    assert answer[0]["aggregate_reward_score"] == 1.0 and answer[1]["aggregate_reward_score"] == 0.0
    assert answer[0]["metrics_list"] == [
        {"name": "graded_and_brief", "value": 1.0, "type": "Reward"},
        {"name": "graded", "value": 1.0, "type": "Metric"},
        {"name": "graded.length", "value": 2.0, "type": "Metric"},
        {"name": "brevity", "value": 1.0, "type": "Metric"},
    ]


def test_the_evaluation_jobs_shape_with_nova_assistant_and_text_parts_is_read_alike():
    # SageMaker RFT evaluation's Lambda request (https://docs.aws.amazon.com/sagemaker/latest/dg/nova-hp-evaluate-rft.html):
    # content as text parts, the sampled turn's role `nova_assistant`, the gold at the top level.
    event = [{"id": "sample-001",
              "messages": [{"role": "user", "content": [{"type": "text", "text": "What is 6 x 7?"}]},
                           {"role": "nova_assistant", "content": [{"type": "text", "text": "The answer is "},
                                                                  {"type": "text", "text": "42."}]}],
              "reference_answer": {"answer": "42"}}]
    [sample] = NOVA.parse(event).samples
    assert (sample.prompt_text, sample.response, sample.reference()) == ("What is 6 x 7?", "The answer is 42.", "42")
    status, answer = score("graded", event)
    assert status == 200 and answer[0]["aggregate_reward_score"] == 1.0


def test_each_id_is_answered_as_it_came():
    event = [item("text-id", "42"), {**item("x", "42"), "id": 17}]
    status, answer = score("brevity", event)
    assert status == 200 and [a["id"] for a in answer] == ["text-id", 17]


@pytest.mark.parametrize("response, code", [("raise", "REWARD_ERROR"), ("nan", "INVALID_SCORE")])
def test_a_failed_item_fails_the_batch_naming_it_and_never_sends_a_number(response, code):
    event = [item("ok-1", "42"), item("bad-7", response), item("ok-2", "43")]
    status, body = score("graded", event)
    assert status == 500 and isinstance(body, dict)
    assert body["failed"] == [{"id": "bad-7", "index": 1, "error_code": code, "error": body["failed"][0]["error"]}]
    assert "'bad-7'" in body["message"] and "1 of 3 items" in body["message"] and body["error_code"] == code


def test_a_fallback_scores_the_failed_item_and_says_so_in_a_metric():
    event = [item("a", "fine"), item("b", "raise")]
    status, answer = score("lenient", event)
    assert status == 200 and not verifier_errors(answer, event)
    assert [a["aggregate_reward_score"] for a in answer] == [0.5, 0.0]
    assert {"name": "lenient.error.REWARD_ERROR", "value": 1.0, "type": "Metric"} in answer[1]["metrics_list"]


def test_items_without_the_gold_answer_are_a_422_naming_them():
    event = [item("a", "42", gold=None), item("b", "42", gold=None)]
    status, body = score("graded", event)
    assert status == 422 and [f["id"] for f in body["failed"]] == ["a", "b"]
    assert {f["error_code"] for f in body["failed"]} == {"MISSING_REFERENCE"}


@pytest.mark.parametrize("event, words", [
    ({"id": "1", "messages": []}, ["expected the batch", "got a JSON object"]),
    ([{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}], ["[0].id"]),
    ([item("a", "x"), {"id": "b"}], ["[1].messages"]),
    ([{"id": "a", "messages": [{"role": "user", "content": "q"}]}], ["[0].messages", "assistant", "'user'"]),
    ({"requestContext": {}, "body": "[]"}, ["API Gateway", "invoked directly"]),
])
def test_a_bad_event_names_the_field(event, words):
    with pytest.raises(ContractError) as caught:
        NOVA.parse(event)
    assert all(word in caught.value.message for word in words), caught.value.message


def test_builders_round_trip_through_parse_and_read_answer():
    prompt = Prompt.of("What is the capital of France?", references={"answer": "Paris"})
    [body] = NOVA.requests(prompt, [Response("Paris"), Response("Lyon", thinking="hmm")])
    assert NOVA.looks_like(body) and [i["id"] for i in body] == ["sample-0", "sample-1"]
    samples = NOVA.parse(body).samples
    assert [s.reference() for s in samples] == ["Paris", "Paris"] and samples[1].thinking == "hmm"
    assert NOVA.read_answer(200, [{"id": "x", "aggregate_reward_score": 0.5}]).scores == (0.5,)
    failed = NOVA.read_answer(500, {"message": "boom", "error_code": "TIMEOUT", "failed": []})
    assert (failed.scores, failed.error_code, failed.reason) == ((), "TIMEOUT", "boom")


def test_a_training_line_reads_as_a_prompt_with_its_gold():
    line = json.loads((EXAMPLES / "nova_training_line.jsonl").read_text())
    prompt = NOVA.read_line(line)
    assert prompt.user_text == "Solve: 2x + 5 = 13" and prompt.references["solution"] == "x = 4"
    assert prompt.references["task_id"] == "algebra_001"
    [body] = NOVA.requests(prompt, [Response("x = 4")])
    assert body[0]["metadata"]["reference_answer"] == line["reference_answer"] and body[0]["id"] == "math-001-0"


# ---- through a real `rewardkit serve` ------------------------------------------------

@pytest.fixture(scope="module")
def server():
    from .served import serve

    with serve([REWARDS, "--reward", "graded", "--workers", "2"]) as served:
        yield served


def post(server, path: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=60)


@pytest.mark.parametrize("path", ["/nova", "/rewards/graded/nova"])
def test_served_routes_score_a_batch_in_order(server, path):
    event = [item("x-1", "It is 42."), item("x-2", "It is 41."), item("x-3", "42", gold={"answer": "42"})]
    answer = post(server, path, event)
    assert answer.status_code == 200, answer.text
    assert not verifier_errors(answer.json(), event)
    assert [a["aggregate_reward_score"] for a in answer.json()] == [1.0, 0.0, 1.0]


def test_served_composite_reports_its_components(server):
    answer = post(server, "/rewards/graded_and_brief/nova", [item("c", "42")])
    assert answer.status_code == 200
    names = [(m["name"], m["type"]) for m in answer.json()[0]["metrics_list"]]
    assert names == [("graded_and_brief", "Reward"), ("graded", "Metric"), ("graded.length", "Metric"),
                     ("brevity", "Metric")]


def test_served_failures_name_the_items_and_a_hang_costs_only_its_own_item(server):
    answer = post(server, "/nova", [item("ok", "42"), item("stuck", "hang"), item("bad", "raise")])
    assert answer.status_code == 500
    failed = {f["id"]: f["error_code"] for f in answer.json()["failed"]}
    assert failed == {"stuck": "TIMEOUT", "bad": "REWARD_ERROR"}
    assert "2 of 3 items" in answer.json()["message"]
    again = post(server, "/nova", [item("after", "42")])  # the worker that hung was replaced
    assert again.status_code == 200 and again.json()[0]["aggregate_reward_score"] == 1.0


def test_served_bad_body_is_a_422_naming_the_field(server):
    answer = post(server, "/nova", [item("a", "42"), {"id": "b", "messages": [{"role": "user", "content": "q"}]}])
    assert answer.status_code == 422 and "[1].messages" in answer.text and "assistant" in answer.text


def test_served_grouped_reward_is_refused_with_the_reason(server):
    answer = post(server, "/rewards/ranked/nova", [item("a", "42"), item("b", "41")])
    assert answer.status_code == 422 and "grouped" in answer.text and "one prompt" in answer.text


def test_registered_among_the_builtin_contracts():
    from rewardkit.contracts import get, registered

    assert get("nova") is NOVA and NOVA in registered()


def test_served_rewards_list_and_openapi_show_the_nova_routes(server):
    listed = httpx.get(server.url + "/rewards").json()
    graded = next(r for r in listed["rewards"] if r["name"] == "graded")
    assert graded["routes"]["nova"] == "/rewards/graded/nova"
    schema = httpx.get(server.url + "/openapi.json").json()
    assert {"/rewards/{name}/nova", "/nova"} <= set(schema["paths"])
    body = schema["paths"]["/nova"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/NovaItem"}}
    assert "NovaItem" in schema["components"]["schemas"]


def test_validate_data_checks_nova_lines_and_names_each_problem(tmp_path):
    from .served import rewardkit_command

    good = EXAMPLES / "nova_training_line.jsonl"
    bad = tmp_path / "train.jsonl"
    bad.write_text("\n".join(json.dumps(line) for line in [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "system", "content": "late"}],
         "reference_answer": "x"},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]},
    ]) + "\n")
    ok = subprocess.run([*rewardkit_command(), "validate-data", "--platform", "nova", str(good)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    done = subprocess.run([*rewardkit_command(), "validate-data", "--platform", "nova", str(bad)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert f"{bad}:1: messages[1]: a system message may only be the first message" in done.stdout
    assert f"{bad}:2: messages[0].content: expected non-blank text" in done.stdout
    assert f'{bad}:2: reference_answer: missing required field "reference_answer"' in done.stdout


def test_training_lines_are_told_apart_from_dashscope_lines():
    from rewardkit._replay.training import detect_format

    nova_line = json.loads((EXAMPLES / "nova_training_line.jsonl").read_text())
    dashscope_line = json.loads((EXAMPLES / "dashscope_training_line.jsonl").read_text())
    assert detect_format(nova_line, "here").name == "nova"
    assert detect_format(dashscope_line, "here").name == "dashscope"


def test_the_names_rewardkit_emits_are_the_documented_ones():
    from rewardkit.contracts.nova import NovaResult

    section = (EXAMPLES / "CONTRACTS.md").read_text().split("## D. ")[1]
    status, answer = score("graded_and_brief", [item("a", "42")])
    emitted = {key for entry in answer for key in entry} | {key for m in answer[0]["metrics_list"] for key in m}
    emitted |= {m["type"] for m in answer[0]["metrics_list"]}
    assert status == 200 and all(f'"{name}"' in section for name in emitted), emitted
    for entry in example("nova_response.json"):
        NovaResult.model_validate(entry)


def test_a_body_posted_to_the_wrong_contracts_route_is_told_where_it_goes(server):
    nova_to_vertex = post(server, "/rewards/graded", [item("a", "42")])
    assert nova_to_vertex.status_code == 422 and "post it to /rewards/graded/nova" in nova_to_vertex.text
    vertex_body = json.loads((EXAMPLES / "vertex_request.json").read_text())
    vertex_to_nova = post(server, "/rewards/graded/nova", vertex_body)
    assert vertex_to_nova.status_code == 422 and "post it to /rewards/graded" in vertex_to_nova.text


def test_the_testing_builder_makes_a_batch_the_service_scores():
    from rewardkit.testing import request, reward_client

    [body] = request("nova", ["The answer is 42.", "It is 41."], reference="42", prompt="What is 6 x 7?")
    assert [entry["metadata"]["reference_answer"] for entry in body] == ["42", "42"]
    with reward_client("rewards") as client:
        answer = client.post("/rewards/math_accuracy/nova", json=body)
    assert [entry["aggregate_reward_score"] for entry in answer.json()] == [1.0, 0.0]


def test_replay_of_a_nova_training_file_sends_one_batch_per_line(tmp_path):
    from .served import rewardkit_command

    responses = tmp_path / "responses.jsonl"
    responses.write_text(json.dumps(["x = 4", "x = 5"]) + "\n")
    done = subprocess.run([*rewardkit_command(), "replay", "--training", str(EXAMPLES / "nova_training_line.jsonl"),
                           "--responses", str(responses), "--reward", "math_accuracy", "--format", "json",
                           "--workers", "0"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["contract"] == "nova" and result["route"] == "/rewards/math_accuracy/nova"
    assert result["scores"] == [1.0, 0.0] and [r["id"] for r in result["response"]] == ["math-001-0", "math-001-1"]
