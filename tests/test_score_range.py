"""Scores out of range (issue 22): a reward's own `score_range=` is enforced alike in every contract, and a
score outside the range a contract expects is sent as it is, logged once per reward and counted.

Through a real `rewardkit serve`, over the Vertex and the DashScope contract."""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest

from rewardkit import RegistrationError, grouped_reward, parsed_reward, reward, variant

from .served import rewardkit_command, serve

RANGE_REWARDS = '''
import rewardkit
from rewardkit import Score


@rewardkit.reward(score_range=(0, 1))
def bounded(response: str) -> float:
    return float(response)


@rewardkit.reward(score_range=(-1, 1), fallback=0.0)
def bounded_fallback(response: str) -> float:
    return float(response)


@rewardkit.parsed_reward("boxed", score_range=(0, 10))
def bounded_parsed(parsed: str) -> float:
    return float(parsed)


@rewardkit.grouped_reward(score_range=(0, 1))
def bounded_group(responses: list[str]) -> list[float]:
    return [float(r) for r in responses]


@rewardkit.reward
def unbounded(response: str) -> Score:
    return Score(float(response), "as written")


@rewardkit.reward
def also_unbounded(response: str) -> float:
    return float(response)
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    module = tmp_path_factory.mktemp("ranges") / "range_rewards.py"
    module.write_text(RANGE_REWARDS)
    with serve([str(module), "--workers", "1"], timeout=120) as served:
        yield served


def vertex(url: str, reward_name: str, text: str) -> httpx.Response:
    body = {"example": {"contents": [{"role": "user", "parts": [{"text": "Score?"}]}]},
            "response": {"role": "model", "parts": [{"text": text}]}}
    return httpx.post(f"{url}/rewards/{reward_name}", json=body, timeout=60)


def dashscope(url: str, reward_name: str, *texts: str) -> dict:
    outputs = [{"messages": [{"role": "user", "content": "Score?"}, {"role": "assistant", "content": t}]}
               for t in texts]
    body = ({"func_type": "reward", "agent_output": outputs[0]} if len(texts) == 1 else
            {"func_type": "group_reward", "agent_outputs": outputs})
    answer = httpx.post(f"{url}/rewards/{reward_name}/api/v1", json=body, timeout=60)
    assert answer.status_code == 200
    return answer.json()


def test_the_declared_range_is_listed(server):
    listed = {r["name"]: r for r in httpx.get(f"{server.url}/rewards").json()["rewards"]}
    assert listed["bounded"]["score_range"] == [0.0, 1.0] and listed["unbounded"]["score_range"] is None


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("0", 0.0), ("1", 1.0), ("1.0", 1.0)])
def test_a_score_inside_the_declared_range_is_sent_in_both_contracts(server, text, value):
    assert vertex(server.url, "bounded", text).json()["reward"] == value
    answer = dashscope(server.url, "bounded", text)
    assert answer["status"] == "success" and answer["reward"]["reward_score"] == value


@pytest.mark.parametrize("text", ["2.0", "-0.25", "1.0000001", "1e9"])
def test_a_score_outside_the_declared_range_fails_alike_in_both_contracts(server, text):
    shown = repr(float(text))
    answer = vertex(server.url, "bounded", text)
    assert answer.status_code == 500 and answer.json()["error_code"] == "INVALID_SCORE"
    assert f"score {shown} is outside the reward's score_range [0, 1]" in answer.json()["error"]
    dash = dashscope(server.url, "bounded", text)
    assert dash["status"] == "failed" and dash["error_code"] == "INVALID_SCORE"
    assert f"score {shown} is outside the reward's score_range [0, 1]" in dash["error"]


def test_a_parse_then_score_reward_and_a_fallback_keep_to_the_range(server):
    assert vertex(server.url, "bounded_parsed", "\\boxed{7}").json()["reward"] == 7.0
    assert vertex(server.url, "bounded_parsed", "\\boxed{11}").json()["error_code"] == "INVALID_SCORE"
    assert dashscope(server.url, "bounded_parsed", "\\boxed{-1}")["error_code"] == "INVALID_SCORE"
    # With a fallback, the fallback score is sent and the error reported beside it, as for any failure.
    answer = vertex(server.url, "bounded_fallback", "3").json()
    assert answer["reward"] == 0.0 and '"code":"INVALID_SCORE"' in answer["user_requested_aux_info"]
    dash = dashscope(server.url, "bounded_fallback", "-3")
    assert dash["reward"]["reward_score"] == 0.0
    assert dash["reward"]["reward_metrics"]["bounded_fallback.error.INVALID_SCORE"] == 1.0


def test_a_grouped_reward_fails_only_the_outputs_outside_its_range(server):
    answer = dashscope(server.url, "bounded_group", "0.5", "2", "1")
    assert answer["status"] == "failed" and answer["error_code"] == "INVALID_SCORE"
    assert [r["reward_score"] for r in answer["reward"]["rewards"]] == [0.5, 0.0, 1.0]
    assert "failed on 1 of 3 outputs: output 1:" in answer["error"] and "score_range [0, 1]" in answer["error"]


def out_of_range_count(url: str) -> dict[tuple[str, str], float]:
    found = re.findall(r'^rewardkit_scores_out_of_range_total\{contract="(\w+)",reward="(\w+)"\} (\S+)$',
                       httpx.get(f"{url}/metrics").text, re.M)
    return {(contract, name): float(count) for contract, name, count in found}


def test_without_a_declared_range_a_score_is_sent_as_it_is_logged_once_and_counted(server):
    for text in ("3", "-2", "1.5"):
        assert vertex(server.url, "unbounded", text).json()["reward"] == float(text)  # not clipped
    assert vertex(server.url, "unbounded", "0.25").json()["reward"] == 0.25
    assert vertex(server.url, "also_unbounded", "7").json()["reward"] == 7.0
    # DashScope documents no range: the value as is, and nothing to warn about.
    answer = dashscope(server.url, "unbounded", "3")
    assert answer["status"] == "success" and answer["reward"]["reward_score"] == 3.0
    counts = out_of_range_count(server.url)
    assert counts[("vertex", "unbounded")] == 3.0 and counts[("vertex", "also_unbounded")] == 1.0
    assert not any(contract == "dashscope" for contract, _ in counts)
    log = server.output()
    for name, value in (("unbounded", "3.0"), ("also_unbounded", "7.0")):
        warnings = re.findall(rf"reward {name} returned [-\d.]+, outside \[-1, 1\]", log)
        assert warnings == [f"reward {name} returned {value}, outside [-1, 1]"], log
    assert "declare score_range=(low, high)" in log and "the platform clips it to that range" in log


BAD_DECLARATIONS = [
    ("@rewardkit.reward(score_range=(1, 0))", "score_range must be (low, high) with low < high, got (1, 0)"),
    ("@rewardkit.reward(score_range=(0, float('nan')))", "each bound of score_range must be a finite number"),
    ("@rewardkit.reward(score_range=1)", "score_range must be (low, high), got 1"),
    ("@rewardkit.reward(score_range=(0, 1), fallback=-1.0)", "fallback -1.0 is outside its score_range [0, 1]"),
    ("@rewardkit.parsed_reward('boxed', score_range=(0.5, 1))", "on_parse_error 0.0 is outside its score_range"),
]


@pytest.mark.parametrize("decorator, message", BAD_DECLARATIONS)
def test_a_bad_declaration_stops_rewardkit_serve_naming_it(tmp_path, decorator, message):
    module = tmp_path / "bad_range.py"
    parameter = "parsed" if "parsed_reward" in decorator else "response"
    module.write_text(f"import rewardkit\n\n{decorator}\ndef scored({parameter}: str) -> float:\n    return 1.0\n")
    result = subprocess.run([*rewardkit_command(), "serve", str(module)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "reward 'scored'" in result.stderr and message in result.stderr, result.stderr


def test_the_range_is_one_option_of_every_decorator_and_a_variant_keeps_to_it():
    @reward(score_range=(-1, 1))
    def signed(response: str) -> float:
        return 0.0

    @grouped_reward(score_range=(0, 1))
    def ranked(responses: list[str]) -> list[float]:
        return [0.0] * len(responses)

    @parsed_reward("boxed", score_range=(0, 1), on_parse_error=0.0)
    def boxed(parsed: str) -> float:
        return 1.0

    from rewardkit.registry import spec_of

    assert [spec_of(f).score_range for f in (signed, ranked, boxed)] == [(-1.0, 1.0), (0.0, 1.0), (0.0, 1.0)]
    assert spec_of(variant(signed, "signed_v")).score_range == (-1.0, 1.0)
    with pytest.raises(RegistrationError, match=r"fallback 2 is outside its score_range \[-1, 1\]"):
        variant(signed, "signed_fallback", fallback=2)
