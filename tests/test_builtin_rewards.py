"""The built-in `rewards` package served as the default target: the platforms' example bodies and fixture files."""

import json

import pytest

from rewardkit._replay.fixtures import FixtureCase, check, load_cases
from rewardkit.contracts import get

from .conftest import REPO, contract_example

FIXTURES = sorted((REPO / "rewards" / "fixtures").glob("*.reward.jsonl"))
CASES = [case for path in FIXTURES for case in load_cases(path)]


def route(case: FixtureCase) -> str:
    return get(case.contract).route_for(case.reward)


def test_every_builtin_reward_has_fixtures_in_both_contracts(builtin_client):
    names = {r["name"] for r in builtin_client.get("/rewards").json()["rewards"]}
    covered = {(c.reward, c.contract) for c in CASES}
    assert {(n, k) for n in names for k in ("vertex", "dashscope")} <= covered


@pytest.mark.parametrize("case", CASES, ids=[f"{c.reward}:{c.id}" for c in CASES])
def test_fixture(builtin_client, case):
    r = builtin_client.post(route(case), json=case.request)
    assert check(case, r.status_code, r.json()) == [], r.json()


def test_platform_vertex_example(builtin_client):
    r = builtin_client.post("/rewards/math_accuracy", json=contract_example("vertex_request.json"))
    assert r.status_code == 200
    assert r.json()["reward"] == contract_example("vertex_response.json")["reward"] == 1.0
    aux = json.loads(r.json()["user_requested_aux_info"])
    assert aux["parsed"] == "72" and aux["metrics"]["parsed_ok"] == 1.0


def test_platform_dashscope_examples_validate_against_the_sdk_models(builtin_client):
    data = pytest.importorskip("dashscope.finetune.reinforcement.component.data")
    single = builtin_client.post("/rewards/math_accuracy/api/v1",
                                 json=contract_example("dashscope_reward_request.json"))
    out = data.RewardOutput.model_validate(single.json())
    assert out.status.value == "success" and out.reward.reward_score == 1.0
    assert out.reward.reward_metrics == contract_example("dashscope_reward_response.json")["reward"]["reward_metrics"]
    group = builtin_client.post("/rewards/math_accuracy/api/v1", json=contract_example("dashscope_group_request.json"))
    out = data.GroupRewardOutput.model_validate(group.json())
    assert [r.reward_score for r in out.reward.rewards] == [1.0, 0.0, 1.0]
    expected = contract_example("dashscope_group_response.json")
    assert [r["reward_score"] for r in expected["reward"]["rewards"]] == [1.0, 0.0, 1.0]


def test_platform_requests_validate_as_sdk_inputs():
    data = pytest.importorskip("dashscope.finetune.reinforcement.component.data")
    data.RewardInput.model_validate(contract_example("dashscope_reward_request.json"))
    data.GroupRewardInput.model_validate(contract_example("dashscope_group_request.json"))


def test_failed_dashscope_answer_validates_against_the_sdk(builtin_client):
    data = pytest.importorskip("dashscope.finetune.reinforcement.component.data")
    body = contract_example("dashscope_reward_request.json")
    body["agent_output"]["rollout_extra"] = {}
    r = builtin_client.post("/rewards/math_accuracy/api/v1", json=body)
    out = data.RewardOutput.model_validate(r.json())
    assert out.status.value == "failed" and out.error_code == "MISSING_REFERENCE" and "no gold answer" in out.error
