"""The HTTP surface, in-process: routes, both contracts, errors, containment."""

import json

import pytest

import rewardkit
from rewardkit._settings import Settings

from .conftest import EXAMPLE_REWARDS, contract_example


def vertex_body(text: str, reference: str = "Paris", **extra):
    return {
        "example": {"contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
                    "references": {"answer": reference}},
        "response": {"role": "model", "parts": [{"text": text}]},
        "metadata": {"step": 3, "tuning_job_id": "123"},
        **extra,
    }


def dashscope_body(text: str, solution: str = "Paris"):
    return {"func_type": "reward",
            "agent_output": {"messages": [{"role": "user", "content": "Capital?"},
                                          {"role": "assistant", "content": text}],
                             "rollout_extra": {"solution": solution}}}


def group_body(*texts: str, solution: str = "Paris"):
    outputs = [dashscope_body(t, solution)["agent_output"] for t in texts]
    return {"func_type": "group_reward", "agent_outputs": outputs}


def aux(response) -> dict:
    return json.loads(response.json()["user_requested_aux_info"])


def test_vertex_named_route_scores_and_explains(example_client):
    r = example_client.post("/rewards/tagged", json=vertex_body("<answer>Paris</answer>"))
    assert r.status_code == 200
    assert r.json()["reward"] == 1.0
    info = aux(r)
    assert info["reward"] == "tagged" and info["parsed"] == "Paris" and info["metrics"]["length"] == 5.0


def test_vertex_accepts_snake_case_int64_strings_and_unknown_fields(example_client):
    body = {
        "example": {"contents": [{"role": "user",
                                  "parts": [{"text": "q", "inline_data": {"mime_type": "image/png", "data": "AA=="}}]}],
                    "system_instruction": {"parts": [{"text": "be brief"}]}, "references": {"answer": "Paris"}},
        "response": {"parts": [{"text": "Paris", "thought_signature": "abc"}], "future_field": 1},
        "metadata": {"step": "7", "tuningJobId": 8417203931234567890},
        "brand_new_top_level": True,
    }
    r = example_client.post("/rewards/contains_reference", json=body)
    assert r.status_code == 200 and r.json()["reward"] == 1.0


def test_vertex_thought_parts_are_not_the_response(example_client):
    body = vertex_body("London")
    body["response"]["parts"].insert(0, {"text": "It is Paris.", "thought": True})
    assert example_client.post("/rewards/contains_reference", json=body).json()["reward"] == 0.0


def test_vertex_gets_a_score_outside_its_range_as_it_is_and_the_platform_clips(example_client):
    # Never changed silently: sent as is, logged and counted (tests/test_score_range.py); Vertex clips it itself.
    r = example_client.post("/rewards/too_big", json=vertex_body("x"))
    assert r.json()["reward"] == 3.0 and "clipped_from" not in aux(r)


def test_dashscope_does_not_clip(example_client):
    r = example_client.post("/rewards/too_big/api/v1", json=dashscope_body("x"))
    assert r.json()["reward"]["reward_score"] == 3.0


def test_dashscope_single_and_group(example_client):
    single = example_client.post("/rewards/tagged/api/v1", json=dashscope_body("<answer>Paris</answer>")).json()
    assert single == {"reward": {"reward_score": 1.0,
                                 "reward_metrics": {"tagged.parsed_ok": 1.0, "tagged.length": 5.0}},
                      "status": "success", "error": None, "error_code": None}
    group = example_client.post("/rewards/contains_reference/api/v1", json=group_body("Paris!", "Rome", "paris")).json()
    assert [r["reward_score"] for r in group["reward"]["rewards"]] == [1.0, 0.0, 0.0]
    assert group["status"] == "success" and "error_code" not in group


def test_grouped_reward_ranks_the_group_in_order(example_client):
    group = example_client.post("/rewards/rank/api/v1", json=group_body("ccc", "a", "bb")).json()
    assert [r["reward_score"] for r in group["reward"]["rewards"]] == [0.0, 1.0, 0.5]


def test_grouped_reward_refuses_single_requests_with_422(example_client):
    r = example_client.post("/rewards/rank/api/v1", json=dashscope_body("a"))
    assert r.status_code == 422 and "grouped" in r.json()["message"] and "group_reward" in r.json()["message"]
    r = example_client.post("/rewards/rank", json=vertex_body("a"))
    assert r.status_code == 422 and "one response per call" in r.json()["message"]


def test_reward_that_raises_is_500_for_vertex_and_failed_for_dashscope(example_client):
    r = example_client.post("/rewards/broken", json=vertex_body("x"))
    assert r.status_code == 500
    body = r.json()
    assert body["reward"] == "broken" and body["error_code"] == "REWARD_ERROR" and "ZeroDivisionError" in body["error"]
    r = example_client.post("/rewards/broken/api/v1", json=dashscope_body("x"))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "failed" and body["error_code"] == "REWARD_ERROR" and "ZeroDivisionError" in body["error"]
    # and the service keeps serving
    assert example_client.post("/rewards/contains_reference", json=vertex_body("Paris")).json()["reward"] == 1.0


def test_nan_is_never_sent(example_client):
    r = example_client.post("/rewards/not_a_number", json=vertex_body("x"))
    assert r.status_code == 500 and r.json()["error_code"] == "INVALID_SCORE"
    r = example_client.post("/rewards/not_a_number/api/v1", json=group_body("a", "b"))
    body = r.json()
    assert body["status"] == "failed" and body["error_code"] == "INVALID_SCORE" and "2 of 2 outputs" in body["error"]


def test_fallback_score_is_returned_with_the_error(example_client):
    r = example_client.post("/rewards/broken_with_fallback", json=vertex_body("x"))
    assert r.status_code == 200 and r.json()["reward"] == 0.25
    assert aux(r)["error"]["code"] == "REWARD_ERROR" and "judge unavailable" in aux(r)["error"]["message"]
    body = example_client.post("/rewards/broken_with_fallback/api/v1", json=dashscope_body("x")).json()
    assert body["status"] == "success" and body["reward"]["reward_score"] == 0.25
    assert body["reward"]["reward_metrics"] == {"broken_with_fallback.error.REWARD_ERROR": 1.0}


def test_composites_report_components_per_contract(example_client):
    r = example_client.post("/rewards/mean_mix", json=vertex_body("Paris"))
    info = aux(r)
    assert r.json()["reward"] == 1.0 and info["rule"] == "weighted_mean"
    assert info["components"]["contains_reference"] == {"weight": 3.0, "score": 1.0}
    body = example_client.post("/rewards/sum_mix/api/v1", json=dashscope_body("x" * 30 + " Paris")).json()
    assert body["reward"]["reward_score"] == 3.0
    assert body["reward"]["reward_metrics"] == {"contains_reference.score": 1.0, "length_ok.score": 0.0}


def test_sample_carries_prompt_system_thinking_and_tool_calls(example_client):
    body = contract_example("dashscope_reward_request.json")
    metrics = example_client.post("/rewards/sees_everything/api/v1", json=body).json()["reward"]["reward_metrics"]
    assert metrics["sees_everything.trajectory"] == 4.0 and metrics["sees_everything.tool_calls"] == 1.0
    assert metrics["sees_everything.prompt_messages"] == 1.0
    info = aux(example_client.post("/rewards/sees_everything", json=contract_example("vertex_request.json")))
    assert info["metrics"]["has_system"] == 1.0 and info["metrics"]["thinking_chars"] > 0


def test_not_json_is_400(example_client):
    r = example_client.post("/rewards/tagged", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["message"].startswith("request body is not valid JSON")


def test_contract_mismatch_is_422_naming_the_field(example_client):
    r = example_client.post("/rewards/tagged", json={"example": {"contents": []}, "response": {"parts": [{"text": 5}]}})
    assert r.status_code == 422
    assert "response.parts[0].text: Input should be a valid string" in r.json()["message"]
    assert r.json()["detail"][0]["loc"] == ["response", "parts", 0, "text"]
    r = example_client.post("/rewards/tagged/api/v1", json={"func_type": "reward"})
    assert r.status_code == 422 and "agent_output: Field required" in r.json()["message"]
    r = example_client.post("/rewards/tagged/api/v1", json={"func_type": "rollout", "agent_output": {}})
    assert r.status_code == 422
    assert "func_type: expected 'reward' or 'group_reward', got 'rollout'" in r.json()["message"]
    r = example_client.post("/rewards/tagged/api/v1", json=[1, 2])
    assert r.status_code == 422 and "expected a JSON object" in r.json()["message"]


def test_unknown_reward_is_404_listing_the_known_ones(example_client):
    r = example_client.post("/rewards/nope", json=vertex_body("x"))
    assert r.status_code == 404
    assert "no reward named 'nope'" in r.json()["message"] and "tagged" in r.json()["detail"]["rewards"]


def test_default_route_needs_a_default_when_several_are_registered(example_client):
    r = example_client.post("/", json=vertex_body("Paris"))
    assert r.status_code == 404 and "--reward" in r.json()["message"] and "rank" in r.json()["message"]


def test_default_reward_from_argument_or_environment(monkeypatch):
    from fastapi.testclient import TestClient

    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, reward="contains_reference")) as client:
        assert client.post("/", json=vertex_body("Paris")).json()["reward"] == 1.0
        assert client.post("/api/v1", json=dashscope_body("Rome")).json()["reward"]["reward_score"] == 0.0
    monkeypatch.setenv("REWARDKIT_REWARD", "tagged")
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS)) as client:
        assert client.get("/health").json()["default_reward"] == "tagged"
    with pytest.raises(rewardkit.UnknownRewardError, match="'nope'.*tagged"):
        rewardkit.create_app(EXAMPLE_REWARDS, reward="nope")


def test_rewards_listing_and_health(example_client):
    assert example_client.get("/health").json()["status"] == "ok"
    listing = {r["name"]: r for r in example_client.get("/rewards").json()["rewards"]}
    assert listing["tagged"]["kind"] == "parsed" and listing["tagged"]["parser"] == "tag:answer"
    assert listing["length_ok"]["weight"] == 0.5
    assert listing["rank"]["grouped"] is True and "Shorter responses" in listing["rank"]["doc"]
    assert listing["mean_mix"]["rule"] == "weighted_mean"
    assert listing["mean_mix"]["components"] == [{"name": "contains_reference", "weight": 3.0},
                                                 {"name": "length_ok", "weight": 1.0}]


def test_openapi_documents_both_contracts(example_client):
    spec = example_client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for model in ("VertexRewardRequest", "RewardInput", "GroupRewardInput", "VertexRewardResponse", "RewardOutput",
                  "GroupRewardOutput"):
        assert model in schemas, model
    body = spec["paths"]["/rewards/{name}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/VertexRewardRequest"}


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(rewardkit.LoadError, match="no module named 'no_such_rewards'"):
        rewardkit.create_app("no_such_rewards")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(rewardkit.LoadError, match="defines no rewards"):
        rewardkit.create_app(str(empty))
    with pytest.raises(rewardkit.LoadError, match="no such file"):
        rewardkit.create_app(str(tmp_path / "missing.py"))


def test_middleware_added_to_the_app_sees_the_scoring_routes_too():
    from fastapi.testclient import TestClient
    from starlette.middleware.base import BaseHTTPMiddleware

    seen = []

    async def record(request, call_next):
        seen.append(request.url.path)
        response = await call_next(request)
        response.headers["x-seen"] = "1"
        return response

    app = rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=0))
    app.add_middleware(BaseHTTPMiddleware, dispatch=record)
    with TestClient(app) as client:
        r = client.post("/rewards/contains_reference", json=vertex_body("Paris"))
        assert r.status_code == 200 and r.json()["reward"] == 1.0 and r.headers["x-seen"] == "1"
        r = client.post("/rewards/nope/api/v1", json=dashscope_body("x"))
        assert r.status_code == 404 and "no reward named 'nope'" in r.json()["message"]
    assert seen == ["/rewards/contains_reference", "/rewards/nope/api/v1"]


def test_scoring_routes_answer_only_post(example_client):
    r = example_client.get("/rewards/tagged")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_a_body_with_a_byte_order_mark_is_read(example_client):
    body = b"\xef\xbb\xbf" + json.dumps(vertex_body("Paris")).encode()
    r = example_client.post("/rewards/contains_reference", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["reward"] == 1.0


def test_a_composite_that_overflows_is_an_invalid_score_never_infinity(tmp_path):
    from fastapi.testclient import TestClient

    module = tmp_path / "huge_rewards.py"
    module.write_text(
        "import rewardkit\n"
        "@rewardkit.reward\ndef huge(response): return 1e308\n"
        "@rewardkit.reward\ndef also_huge(response): return 1e308\n"
        "total = rewardkit.composite('total', {huge: 1.0, also_huge: 1.0}, rule='weighted_sum')\n"
    )
    with TestClient(rewardkit.create_app(str(module), settings=Settings(workers=0))) as client:
        body = client.post("/rewards/total/api/v1", json=dashscope_body("x")).json()
        assert body["status"] == "failed" and body["error_code"] == "INVALID_SCORE" and "inf" in body["error"]
        assert client.post("/rewards/total", json=vertex_body("x")).status_code == 500


def test_a_body_nested_beyond_reason_is_400_not_a_crash(example_client):
    r = example_client.post("/rewards/tagged", content=b"[" * 100_000, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["message"]
