"""rewardkit.testing: request builders from plain values, and a reward module served in-process."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from rewardkit.contracts.dashscope import DashScopeRequest, GroupRewardInput, RewardInput
from rewardkit.contracts.vertex import VertexRewardRequest
from rewardkit.testing import dashscope_request, group_request, reward_client, vertex_request

from .conftest import EXAMPLE_REWARDS


def test_vertex_request_is_what_vertex_posts():
    body = vertex_request("so 72", reference=72, prompt="12 * 6?", system="Be brief.", thinking="6*12")
    request = TypeAdapter(VertexRewardRequest).validate_python(body)
    assert request.example.references == {"answer": "72"}
    assert request.example.system_instruction.parts[0].text == "Be brief."
    assert [(p.text, p.thought) for p in request.response.parts] == [("6*12", True), ("so 72", None)]
    assert body["response"]["role"] == "model" and body["metadata"] == {"step": 1, "tuning_job_id": "1"}
    assert vertex_request("x", references={"solution": "y"})["example"]["references"] == {"solution": "y"}


def test_dashscope_request_and_group_request_match_the_sdk_models():
    single = dashscope_request("72", reference="72", prompt="How many?", thinking="48+24", rollout_extra={"k": 1})
    assert isinstance(TypeAdapter(DashScopeRequest).validate_python(single), RewardInput)
    assert single["ground_truth"] == "72"
    assert single["agent_output"]["messages"] == [
        {"role": "user", "content": "How many?"},
        {"role": "assistant", "content": "72", "reasoning_content": "48+24"},
    ]
    group = group_request(["a", "b"], reference="a", system="sys")
    assert isinstance(TypeAdapter(DashScopeRequest).validate_python(group), GroupRewardInput)
    assert [o["messages"][0] for o in group["agent_outputs"]] == [{"role": "system", "content": "sys"}] * 2
    assert [o["messages"][-1]["content"] for o in group["agent_outputs"]] == ["a", "b"]
    tools = [{"role": "user", "content": "add"}, {"role": "tool", "tool_call_id": "1", "content": "3"}]
    assert dashscope_request("3", messages=tools)["agent_output"]["messages"][:2] == tools
    data = pytest.importorskip("dashscope.finetune.reinforcement.component.data")
    data.RewardInput.model_validate(single)
    data.GroupRewardInput.model_validate(group)


def test_reward_client_serves_a_module_in_process_over_both_contracts():
    with reward_client(EXAMPLE_REWARDS, workers=0) as client:
        vertex = client.post("/rewards/contains_reference", json=vertex_request("it is 72", reference="72"))
        assert vertex.status_code == 200 and vertex.json()["reward"] == 1.0
        group = client.post("/rewards/rank/api/v1", json=group_request(["ccc", "a"])).json()
        assert [r["reward_score"] for r in group["reward"]["rewards"]] == [0.0, 1.0]
        broken = client.post("/rewards/broken", json=vertex_request("x"))
        assert broken.status_code == 500 and broken.json()["error_code"] == "REWARD_ERROR"
        assert client.get("/health").json()["status"] == "ok"


def test_reward_client_runs_the_default_engine_and_rejects_unknown_settings():
    with reward_client() as client:  # the built-in rewards, worker processes as `rewardkit serve` runs them
        body = client.post("/rewards/exact_match/api/v1", json=dashscope_request("Paris", reference="Paris")).json()
        assert body["status"] == "success" and body["reward"]["reward_score"] == 1.0
    with pytest.raises(TypeError, match="unknown setting.*wrokers"):
        with reward_client(wrokers=0):
            pass
