"""The slime `remote_rm` contract, through a real `rewardkit serve` process.

The bodies are shaped as slime's client builds them (github.com/THUDM/slime, commit 624b824):
`slime/rollout/rm_hub/__init__.py` `remote_rm` posts `{"prompt": sample.prompt, "response": sample.response,
"label": sample.label}` with aiohttp (`session.post(args.rm_url, json=payload)`, a 120 s total timeout),
`raise_for_status()`, and takes `await resp.json()` whole as `sample.reward`; `slime/utils/types.py`
`Sample.get_reward_value` uses it as the number (no `--reward-key`). `prompt` is the chat-templated text with
`--apply-chat-template` (`slime/utils/data.py`), else the dataset's message list.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from rewardkit.contracts.slime import CONTRACT, slime_request

from .conftest import contract_example
from .served import Served, rewardkit_command, serve
from .test_contract_openrlhf import TRAINER_REWARDS
from .test_pytest_plugin import run_pytest, write_jsonl


def body(response: str, label: Any = "yes") -> dict[str, Any]:
    return {"prompt": "<|im_start|>user\nReply with the word yes.<|im_end|>\n<|im_start|>assistant\n",
            "response": response, "label": label}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve([TRAINER_REWARDS, "--reward", "math_accuracy", "--workers", "2"]) as s:
        yield s


def reward_like_slime(url: str, payload: dict[str, Any]) -> Any:
    """`sample.reward` as remote_rm sets it (slime/rollout/rm_hub/__init__.py)."""
    async def post() -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            async with session.post(url, json=payload) as resp:
                resp.raise_for_status()
                return await resp.json()

    return asyncio.run(post())


def test_the_templated_and_the_message_prompts_are_scored_as_slime_reads_them(served):
    for example in ("slime_request.json", "slime_messages_request.json"):
        reward = reward_like_slime(f"{served.url}/rewards/math_accuracy/slime", contract_example(example))
        # get_reward_value: the bare reward when --reward-key is unset
        assert isinstance(reward, float) and math.isfinite(reward) and reward == 1.0
    assert reward_like_slime(f"{served.url}/rewards/picky/slime", body("no")) == 0.0
    assert reward_like_slime(f"{served.url}/rewards/picky/slime", body("yes", {"answer": "yes"})) == 1.0


def test_a_label_of_json_object_text_is_the_references(served):
    """slime's Sample.label is `data[--label-key]` as the dataset holds it (slime/utils/types.py)."""
    label = '{"answer": "2", "unit": "cm"}'
    assert reward_like_slime(f"{served.url}/slime", body("so \\boxed{2}", label)) == 1.0
    assert reward_like_slime(f"{served.url}/slime", body("so \\boxed{3}", label)) == 0.0
    for other in ('{"answer": "yes"', '"yes"', "2"):  # other text is the gold answer as it is
        assert reward_like_slime(f"{served.url}/rewards/picky/slime", body(other, other)) == 1.0, other


def test_a_failing_hanging_or_nan_reward_fails_the_request_with_its_code(served):
    cases = (("PLEASE RAISE", "REWARD_ERROR"), ("PLEASE HANG", "TIMEOUT"), ("PLEASE NAN", "INVALID_SCORE"))
    for response, code in cases:
        answer = httpx.post(f"{served.url}/rewards/picky/slime", json=body(response), timeout=60)
        assert answer.status_code == 500 and answer.json()["error_code"] == code
        assert f"[0] {code}" in answer.json()["message"]
    with pytest.raises(aiohttp.ClientResponseError) as raised:  # what remote_rm retries, then raises
        reward_like_slime(f"{served.url}/rewards/picky/slime", body("PLEASE RAISE"))
    assert raised.value.status == 500


def test_a_fallback_score_is_the_answer(served):
    assert reward_like_slime(f"{served.url}/rewards/picky_with_fallback/slime", body("PLEASE HANG")) == -1.0


def test_a_missing_label_is_a_422(served):
    answer = httpx.post(f"{served.url}/slime", json=body("\\boxed{1}", label=None), timeout=60)
    assert answer.status_code == 422 and answer.json()["error_code"] == "MISSING_REFERENCE"


def test_a_grouped_reward_is_refused_with_the_reason(served):
    answer = httpx.post(f"{served.url}/rewards/shortest_wins/slime", json=body("yes"), timeout=60)
    assert answer.status_code == 422 and "--group-rm" in answer.json()["message"]


@pytest.mark.parametrize("change, field", [
    (lambda b: b.pop("response"), "response"),
    (lambda b: b.update(response=["a list"]), "response"),
    (lambda b: b.update(prompt=[{"content": "no role"}]), "prompt"),
])
def test_a_bad_body_is_a_422_naming_the_field(served, change, field):
    bad = body("yes")
    change(bad)
    answer = httpx.post(f"{served.url}/rewards/picky/slime", json=bad, timeout=60)
    assert answer.status_code == 422 and field in answer.json()["message"], answer.text


def test_the_default_route_and_the_reward_list(served):
    assert reward_like_slime(f"{served.url}/slime", contract_example("slime_request.json")) == 1.0
    listed = {r["name"]: r["routes"] for r in httpx.get(f"{served.url}/rewards", timeout=10).json()["rewards"]}
    assert listed["math_accuracy"]["slime"] == "/rewards/math_accuracy/slime"
    assert "POST /rewards/{name}/slime (slime)" in served.output()  # the start-up log's route patterns
    assert "/rewards/{name}/slime" in httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]


def test_replay_of_a_saved_body(served, tmp_path):
    saved = tmp_path / "saved.jsonl"
    saved.write_text("".join(json.dumps(contract_example(f)) + "\n"
                             for f in ("slime_request.json", "slime_messages_request.json")))
    for where in (["--target", TRAINER_REWARDS, "--workers", "0"], ["--url", served.url]):
        result = subprocess.run([*rewardkit_command(), "replay", str(saved), "--reward", "math_accuracy",
                                 "--format", "json", *where], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert [r["scores"] for r in report["results"]] == [[1.0], [1.0]]
        assert report["results"][0]["route"] == "/rewards/math_accuracy/slime"


def test_a_fixture_file_of_slime_bodies_runs_under_the_pytest_plugin(tmp_path):
    write_jsonl(tmp_path / "slime.reward.jsonl", [
        {"id": "templated", "reward": "math_accuracy", "request": contract_example("slime_request.json"),
         "expect": {"score": 1.0}},
        {"id": "exact", "reward": "picky", "request": body("yes"), "expect": {"score": 1.0}},
        {"id": "raises", "reward": "picky", "request": body("PLEASE RAISE"),
         "expect": {"status": 500, "error_code": "REWARD_ERROR"}},
        {"id": "wrong", "reward": "picky", "request": body("no"), "expect": {"score": 1.0}},
    ])
    result = run_pytest(tmp_path, "--rewardkit-target", TRAINER_REWARDS)
    assert "1 failed, 3 passed" in result.stdout or "3 passed, 1 failed" in result.stdout, result.stdout[-3000:]
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and "slime.reward.jsonl::wrong" in failed[0], result.stdout[-3000:]
    assert "expected: score 1 " in result.stdout and "response: 'no'" in result.stdout


def test_the_builder_makes_what_the_contract_reads_back():
    body = slime_request("\\boxed{72}", reference="72", prompt="What is 12 * 6?", system="Be brief.")
    sample = CONTRACT.parse(body).samples[0]
    assert (sample.response, sample.ground_truth, sample.system, sample.prompt_text) == (
        "\\boxed{72}", "72", "Be brief.", "What is 12 * 6?")
    assert CONTRACT.read_answer(200, 0.5).scores == (0.5,)
    assert CONTRACT.read_answer(200, {"score": 1}).error_code == "BAD_ANSWER"


def test_rewardkit_testing_builds_slime_bodies_for_a_reward_client():
    from rewardkit.testing import request, reward_client

    with reward_client("rewards", workers=0) as client:
        body = slime_request("so \\boxed{72}", reference="72", prompt="What is 12 * 6?")
        assert client.post("/rewards/math_accuracy/slime", json=body).json() == 1.0
        bodies = request("slime", ["\\boxed{72}", "\\boxed{7}"], reference="72", thinking="12 * 6 = 72")
        assert [client.post("/rewards/math_accuracy/slime", json=b).json() for b in bodies] == [1.0, 0.0]
