"""A reward that needs a gold answer is never called without one (error MISSING_REFERENCE)."""

from __future__ import annotations

import textwrap

import httpx

import rewardkit
from rewardkit.registry import spec_of
from rewardkit.testing import group_request, score, score_group

from .served import serve

USER_REWARDS = textwrap.dedent('''
    import rewardkit

    CALLS = []

    @rewardkit.reward
    def exact(response: str, reference: str) -> float:
        return float(response.strip().lower() == reference.strip().lower())  # AttributeError on None

    @rewardkit.reward
    def optional_gold(response: str, reference: str | None = None) -> rewardkit.Score:
        return rewardkit.Score(1.0, reason=f"reference={reference!r}")

    @rewardkit.grouped_reward
    def closest(responses: list[str], reference: str) -> list[float]:
        return [float(r == reference) for r in responses]

    both = rewardkit.composite("both", {exact: 1.0, optional_gold: 1.0}, rule="weighted_mean",
                                 on_component_error="zero")
''')

CONCISE = {"example": {"contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
                       "references": {"concise_answer": "Paris"}},
           "response": {"role": "model", "parts": [{"text": "Paris"}]}}


def test_served_rewards_answer_422_and_missing_reference_without_calling_the_reward(tmp_path):
    target = tmp_path / "user_rewards.py"
    target.write_text(USER_REWARDS)
    with serve([str(target), "--workers", "1"]) as served:
        r = httpx.post(f"{served.url}/rewards/exact", json=CONCISE, timeout=30)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error_code"] == "MISSING_REFERENCE"
        # The message names the keys looked for and the keys the request has.
        assert "'answer'" in body["message"] and "'concise_answer'" in body["message"]
        assert "AttributeError" not in body["message"]

        dashscope = {"func_type": "reward", "ground_truth": None,
                     "agent_output": {"messages": [{"role": "user", "content": "Capital of France?"},
                                                   {"role": "assistant", "content": "Paris"}],
                                      "rollout_extra": {"city": "Paris"}}}
        r = httpx.post(f"{served.url}/rewards/exact/api/v1", json=dashscope, timeout=30)
        assert r.status_code == 200
        assert r.json()["status"] == "failed" and r.json()["error_code"] == "MISSING_REFERENCE"
        assert "'city'" in r.json()["error"]

        # A default on the parameter means the reward copes: it is called, with None.
        r = httpx.post(f"{served.url}/rewards/optional_gold", json=CONCISE, timeout=30)
        assert r.status_code == 200 and "reference=None" in r.json()["user_requested_aux_info"]

        # A composite cannot zero a missing gold away, even with on_component_error="zero".
        r = httpx.post(f"{served.url}/rewards/both", json=CONCISE, timeout=30)
        assert r.status_code == 422 and r.json()["error_code"] == "MISSING_REFERENCE"

        group = group_request(["Paris", "Lyon"])
        r = httpx.post(f"{served.url}/rewards/closest/api/v1", json=group, timeout=30)
        assert r.json()["status"] == "failed" and r.json()["error_code"] == "MISSING_REFERENCE"
        r = httpx.post(f"{served.url}/rewards/closest/api/v1", json=group_request(["Paris", "Lyon"], reference="Paris"),
                       timeout=30)
        assert [x["reward_score"] for x in r.json()["reward"]["rewards"]] == [1.0, 0.0]


@rewardkit.reward(fallback=0.0)
def with_fallback(response: str, reference: str) -> float:
    return float(response == reference)


@rewardkit.reward(reference_keys=["concise_answer"])
def concise(response: str, reference: str) -> float:
    return float(response == reference)


@rewardkit.reward
def needs_ground_truth(response: str, ground_truth: str) -> float:
    return float(response == ground_truth)


def test_a_fallback_does_not_hide_a_missing_gold_answer():
    out = score(with_fallback, "Paris")
    assert out.score is None and out.failure.code == "MISSING_REFERENCE"
    assert score(with_fallback, "Paris", reference="Paris").value == 1.0


def test_reference_keys_say_where_the_gold_is_and_blank_gold_counts_as_missing():
    assert score(concise, "Paris", references={"concise_answer": "Paris"}).value == 1.0
    blank = score(concise, "Paris", references={"concise_answer": "  "})
    assert blank.failure.code == "MISSING_REFERENCE" and "'concise_answer'" in blank.failure.message


def test_a_blank_ground_truth_falls_through_to_the_references():
    assert score(with_fallback, "Paris", ground_truth="", references={"answer": "Paris"}).value == 1.0


def test_a_required_ground_truth_is_checked_on_its_own():
    out = score(needs_ground_truth, "Paris", references={"answer": "Paris"})
    assert out.failure.code == "MISSING_REFERENCE" and "looked for ground_truth;" in out.failure.message
    assert score(needs_ground_truth, "Paris", ground_truth="Paris").value == 1.0


def test_only_the_samples_without_gold_fail_in_a_batch():
    import asyncio

    from rewardkit._engine.inline import InlineEngine
    from rewardkit._engine.pipeline import evaluate

    samples = [rewardkit.sample("Paris", "Paris"), rewardkit.sample("Paris"), rewardkit.sample("Lyon", "Paris")]
    spec = spec_of(with_fallback)
    outcomes = asyncio.run(evaluate(spec, samples, InlineEngine()))
    assert [o.value for o in outcomes] == [1.0, None, 0.0]
    assert outcomes[1].failure.code == "MISSING_REFERENCE"


def test_grouped_reward_outcomes_in_process():
    @rewardkit.grouped_reward
    def first_wins(responses: list[str], reference: str) -> list[float]:
        return [1.0] + [0.0] * (len(responses) - 1)

    outcomes = score_group(first_wins, ["a", "b"])
    assert [o.failure.code for o in outcomes] == ["MISSING_REFERENCE"] * 2
