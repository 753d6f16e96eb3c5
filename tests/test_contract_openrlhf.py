"""The OpenRLHF remote reward model contract, through a real `rewardkit serve` process.

The bodies are shaped as OpenRLHF's client builds them (github.com/OpenRLHF/OpenRLHF):
- the current client, `openrlhf/utils/agent.py` `SingleTurnAgentExecutor._fetch_rewards_via_http` (commit 3c3be62):
  aiohttp, `session.post(url, json={"query": [q], "prompts": [p], "labels": [l]})`, `raise_for_status()`,
  `await response.json()`, then `.get("scores")` (else `rewards`), `.get("rewards")`, `.get("extra_logs") or {}`,
  each wrapped as `torch.tensor([value])` (`openrlhf/trainer/ppo_utils/samples_generator.py`);
- the older client, `openrlhf/utils/remote_rm_utils.py` `request_api_wrapper` (commit 629870839^): `requests.post(
  url, json=batch, headers={"Content-Type": "application/json"}, timeout=180)`, read by
  `experience_maker.update_samples_with_rewards`: `torch.cat` of `info["rewards"]`, `info["scores"]` and each
  `info["extra_logs"][key]`, split back one per query.
`q` is `tokenizer.decode(prompt_ids + response_ids, skip_special_tokens=False)`: the prompt, the response and
its end-of-sequence token. Torch is not installed here: the tests check what those torch calls need (one
finite number per query, in lists).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import subprocess
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from rewardkit.contracts.openrlhf import CONTRACT, END_TOKENS, openrlhf_request, response_of

from .conftest import REPO, contract_example
from .served import Served, rewardkit_command, serve
from .test_pytest_plugin import run_pytest, write_jsonl

TRAINER_REWARDS = str(REPO / "tests" / "remote_rm_rewards.py")
PROMPT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nReply with the word "
          "yes.<|im_end|>\n<|im_start|>assistant\n")


def batch(*responses: str, label: Any = "yes") -> dict[str, Any]:
    """A batch as the older client posts it: each query is the prompt, the response and `<|im_end|>`."""
    return {"query": [PROMPT + r + "<|im_end|>" for r in responses], "prompts": [PROMPT] * len(responses),
            "labels": [label] * len(responses)}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve([TRAINER_REWARDS, "--reward", "math_accuracy", "--workers", "2"]) as s:
        yield s


def post_like_the_current_client(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What SingleTurnAgentExecutor reads back (openrlhf/utils/agent.py): reward, scores and extra_logs."""
    async def post() -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as session:
            async with session.post(url, json=payload) as response:
                response.raise_for_status()
                return await response.json()

    info = asyncio.run(post())
    score_value = info.get("scores")
    if score_value is None:
        score_value = info.get("rewards")
    return {"reward": info.get("rewards"), "scores": score_value, "extra_logs": info.get("extra_logs") or {}}


def read_like_the_older_client(info: dict[str, Any], size: int) -> None:
    """What update_samples_with_rewards needs of an answer to `size` queries: lists torch.cat can join."""
    for values in (info["rewards"], info.get("scores", info["rewards"]), *info.get("extra_logs", {}).values()):
        assert isinstance(values, list) and len(values) == size
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


# ---- scores -----------------------------------------------------------------------

def test_the_current_clients_one_item_body_is_scored_as_it_reads_it(served):
    body = contract_example("openrlhf_request.json")
    read = post_like_the_current_client(f"{served.url}/rewards/math_accuracy/openrlhf", body)
    assert read == {"reward": [1.0], "scores": [1.0], "extra_logs": {"math_accuracy.parsed_ok": [1.0]}}


def test_the_older_clients_batch_is_scored_in_order(served):
    body = contract_example("openrlhf_batch_request.json")
    response = requests.post(f"{served.url}/rewards/math_accuracy/openrlhf", json=body,
                             headers={"Content-Type": "application/json"}, timeout=180)
    response.raise_for_status()
    info = response.json()
    read_like_the_older_client(info, len(body["query"]))
    assert info["rewards"] == info["scores"] == [1.0, 0.0, 1.0, 1.0]
    assert info == contract_example("openrlhf_batch_response.json")


def test_the_response_is_the_query_after_its_prompt_without_the_end_token(served):
    # picky scores 1 only when the response is exactly the label: no prompt text, no <|im_end|>.
    answer = httpx.post(f"{served.url}/rewards/picky/openrlhf", json=batch("yes", " yes ", "no"), timeout=60).json()
    assert answer["rewards"] == [1.0, 1.0, 0.0]
    # `matched` is missing from the third item: NaN there, the same keys in every answer (declared metrics).
    assert answer["extra_logs"]["picky.chars"] == [3.0, 5.0, 2.0]
    matched = answer["extra_logs"]["picky.matched"]
    assert matched[:2] == [1.0, 1.0] and math.isnan(matched[2])
    # A decoded BOS before the prompt is skipped; a dict label is the references.
    body = {"query": ["<s>" + PROMPT + "yes</s>"], "prompts": [PROMPT], "labels": [{"answer": "yes"}]}
    assert httpx.post(f"{served.url}/rewards/picky/openrlhf", json=body, timeout=60).json()["rewards"] == [1.0]


def test_a_label_of_json_object_text_is_the_references(served):
    """OpenRLHF posts --label_key's column as the dataset holds it (openrlhf/datasets/prompts_dataset.py
    preprocess_data: `label = "" if label_key is None else data[label_key]`), and datasets keep several
    references as JSON text: its `answer` is the gold answer."""
    label = '{"answer": "2", "unit": "cm"}'
    url = f"{served.url}/openrlhf"
    assert post_like_the_current_client(url, batch("so \\boxed{2}", label=label))["reward"] == [1.0]
    assert post_like_the_current_client(url, batch("so \\boxed{3}", label=label))["reward"] == [0.0]
    picky = f"{served.url}/rewards/picky/openrlhf"
    assert post_like_the_current_client(picky, batch("yes", label=' {"answer": "yes", "n": 1} '))["reward"] == [1.0]
    # Any other label is the gold answer as it is: broken JSON, a JSON string, a number's text.
    for other in ('{"answer": "yes"', '"yes"', "2"):
        assert post_like_the_current_client(picky, batch(other, label=other))["reward"] == [1.0], other
    # An object with no answer-like key: the gold is missing, and the message names the keys it has.
    response = httpx.post(url, json=batch("\\boxed{2}", label='{"unit": "cm"}'), timeout=60)
    assert response.status_code == 422 and "MISSING_REFERENCE" in response.text and "unit" in response.text


def test_an_empty_batch_is_answered_with_empty_lists(served):
    # The older client slices a batch across its URLs; with more URLs than queries a slice is empty.
    answer = httpx.post(f"{served.url}/rewards/math_accuracy/openrlhf", json={"query": [], "prompts": [], "labels": []},
                        timeout=60)
    assert answer.status_code == 200
    assert answer.json() == {"rewards": [], "scores": [], "extra_logs": {"math_accuracy.parsed_ok": []}}


# ---- failures: the whole request fails, naming each item --------------------------

def test_a_batch_with_failing_hanging_and_nan_items_fails_whole_naming_each(served):
    response = httpx.post(f"{served.url}/rewards/picky/openrlhf",
                          json=batch("yes", "PLEASE RAISE", "no", "PLEASE HANG", "PLEASE NAN"), timeout=60)
    assert response.status_code == 500
    answer = response.json()
    assert [(f["index"], f["error_code"]) for f in answer["failed"]] == [
        (1, "REWARD_ERROR"), (3, "TIMEOUT"), (4, "INVALID_SCORE")]
    assert "rewards" not in answer and "NaN" not in response.text  # never a partial answer, never a NaN
    assert "failed on 3 of 5 items: [1] REWARD_ERROR" in answer["message"] and "[3] TIMEOUT" in answer["message"]
    with pytest.raises(aiohttp.ClientResponseError) as raised:  # the client's retry-then-raise path
        post_like_the_current_client(f"{served.url}/rewards/picky/openrlhf", batch("PLEASE RAISE"))
    assert raised.value.status == 500


def test_a_fallback_score_answers_the_failed_items(served):
    response = httpx.post(f"{served.url}/rewards/picky_with_fallback/openrlhf",
                          json=batch("yes", "PLEASE RAISE", "PLEASE HANG", "PLEASE NAN"), timeout=60)
    assert response.status_code == 200 and response.json()["rewards"] == [1.0, -1.0, -1.0, -1.0]


def test_a_missing_label_is_a_422_naming_the_items(served):
    # OpenRLHF sends "" as the label when the trainer has no --label_key.
    response = httpx.post(f"{served.url}/openrlhf", json=batch("\\boxed{1}", "\\boxed{2}", label=""), timeout=60)
    assert response.status_code == 422
    answer = response.json()
    assert answer["error_code"] == "MISSING_REFERENCE" and [f["index"] for f in answer["failed"]] == [0, 1]


def test_a_grouped_reward_is_refused_with_the_reason(served):
    response = httpx.post(f"{served.url}/rewards/shortest_wins/openrlhf", json=batch("a", "bb"), timeout=60)
    assert response.status_code == 422
    assert "grouped" in response.json()["message"] and "one per request" in response.json()["message"]


# ---- bad bodies ----------------------------------------------------------------------

@pytest.mark.parametrize("change, field, words", [
    (lambda b: b.pop("prompts"), "prompts", "Field required"),
    (lambda b: b.update(query="a string"), "query", "valid list"),
    (lambda b: b["prompts"].pop(), "prompts", "has 1 entries; query has 2"),
    (lambda b: b["labels"].append("x"), "labels", "has 3 entries; query has 2"),
    (lambda b: b["query"].__setitem__(1, "something else"), "query[1]", "does not contain its prompt"),
])
def test_a_bad_body_is_a_422_naming_the_field(served, change, field, words):
    body = batch("yes", "no")
    change(body)
    response = httpx.post(f"{served.url}/rewards/picky/openrlhf", json=body, timeout=60)
    assert response.status_code == 422, response.text
    assert field in response.json()["message"] and words in response.json()["message"]


def test_a_body_of_another_contract_names_the_right_route(served):
    slime = contract_example("slime_request.json")
    response = httpx.post(f"{served.url}/rewards/math_accuracy/openrlhf", json=slime, timeout=60)
    assert response.status_code == 422 and "/rewards/math_accuracy/slime" in response.json()["message"]


# ---- routes, replay, fixtures ---------------------------------------------------------

def test_the_default_route_and_the_reward_list(served):
    body = contract_example("openrlhf_batch_request.json")
    assert httpx.post(f"{served.url}/openrlhf", json=body, timeout=60).json()["rewards"] == [1.0, 0.0, 1.0, 1.0]
    assert httpx.post(f"{served.url}/openrlhf/", json=body, timeout=60).status_code == 200
    listed = {r["name"]: r["routes"] for r in httpx.get(f"{served.url}/rewards", timeout=10).json()["rewards"]}
    assert listed["picky"]["openrlhf"] == "/rewards/picky/openrlhf"
    assert "POST /rewards/{name}/openrlhf (openrlhf)" in served.output()  # the start-up log's route patterns
    schema = httpx.get(f"{served.url}/openapi.json", timeout=10).json()
    assert "/rewards/{name}/openrlhf" in schema["paths"] and "/openrlhf" in schema["paths"]
    assert "OpenRLHFRequest" in schema["components"]["schemas"]


def test_replay_of_a_saved_body_in_process_and_against_the_service(served, tmp_path):
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(contract_example("openrlhf_batch_request.json")))
    for where in (["--target", TRAINER_REWARDS, "--workers", "0"], ["--url", served.url]):
        result = subprocess.run([*rewardkit_command(), "replay", str(saved), "--reward", "math_accuracy",
                                 "--format", "json", *where], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert [r["scores"] for r in report["results"]] == [[1.0, 0.0, 1.0, 1.0]]
        assert report["results"][0]["route"] == "/rewards/math_accuracy/openrlhf"


def test_a_fixture_file_of_openrlhf_bodies_runs_under_the_pytest_plugin(tmp_path):
    failing = batch("yes", "PLEASE RAISE")
    write_jsonl(tmp_path / "openrlhf.reward.jsonl", [
        {"id": "batch", "reward": "math_accuracy", "request": contract_example("openrlhf_batch_request.json"),
         "expect": {"scores": [1.0, 0.0, 1.0, 1.0]}},
        {"id": "exact", "reward": "picky", "request": batch("yes", "no"), "expect": {"scores": [1.0, 0.0]}},
        {"id": "raises", "reward": "picky", "request": failing,
         "expect": {"status": 500, "error_code": "REWARD_ERROR"}},
        {"id": "wrong", "reward": "picky", "request": copy.deepcopy(failing), "expect": {"scores": [1.0, 1.0]}},
    ])
    result = run_pytest(tmp_path, "--rewardkit-target", TRAINER_REWARDS)
    assert "3 passed, 1 failed" in result.stdout or "1 failed, 3 passed" in result.stdout, result.stdout[-3000:]
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and "openrlhf.reward.jsonl::wrong" in failed[0], result.stdout[-3000:]


# ---- the contract in-process: how the response is cut out of the query ------------------

@given(prompt=st.text(max_size=40), response=st.text(max_size=40),
       ends=st.lists(st.sampled_from(END_TOKENS), max_size=2))
def test_the_response_is_recovered_from_any_query_the_decode_makes(prompt, response, ends):
    assume(not any(response.endswith(token) for token in END_TOKENS))
    assert response_of(prompt + response + "".join(ends), prompt) == response


def test_a_prompt_cut_from_the_left_is_found_by_what_the_trainer_kept():
    # SingleTurnAgentExecutor.execute keeps prompt_token_ids[-max_prompt_length:] of a prompt too long for
    # --max_len (openrlhf/utils/agent.py) but posts the whole prompt text in `prompts`.
    prompt = "Context: " + "the report says é and more. " * 20 + PROMPT
    assert response_of(prompt[300:] + "yes<|im_end|>", prompt) == "yes"
    assert response_of("\ufffd" + prompt[301:] + "yes<|im_end|>", prompt) == "yes"  # a cut inside a character
    # The response repeating the prompt's end does not move the cut; too little of the prompt is no prompt.
    assert response_of(prompt[300:] + "yes" + PROMPT + "no", prompt) == "yes" + PROMPT + "no"
    assert response_of(prompt[-40:] + "yes", prompt) is None and response_of("yes", prompt) is None


@given(cut=st.integers(0, 200), response=st.text(max_size=40))
def test_any_left_cut_of_a_prompt_is_found(cut, response):
    prompt = "".join(f"line {i}: the numbers {i * 7} and {i * 13}.\n" for i in range(12)) + PROMPT
    assume(not any(response.endswith(token) for token in END_TOKENS))
    assert response_of(prompt[cut:] + response, prompt) == response


def test_the_builder_makes_what_the_contract_reads_back():
    body = openrlhf_request(["\\boxed{72}", "no idea"], reference="72", prompt="What is 12 * 6?", system="Be brief.")
    samples = CONTRACT.parse(body).samples
    assert [s.response for s in samples] == ["\\boxed{72}", "no idea"]
    assert all(s.ground_truth == "72" and s.metadata.platform == "openrlhf" for s in samples)
    assert CONTRACT.parse(openrlhf_request("x", references={"answer": "1"})).samples[0].reference() == "1"
    assert CONTRACT.read_answer(200, contract_example("openrlhf_batch_response.json")).scores == (1.0, 0.0, 1.0, 1.0)
    assert CONTRACT.read_answer(500, {"error_code": "TIMEOUT", "message": "m"}).error_code == "TIMEOUT"


def test_rewardkit_testing_builds_openrlhf_batches_for_a_reward_client():
    from rewardkit.testing import request, reward_client

    with reward_client("rewards", workers=0) as client:
        body = openrlhf_request(["so \\boxed{72}", "\\boxed{7}"], reference="72", prompt="What is 12 * 6?")
        assert client.post("/rewards/math_accuracy/openrlhf", json=body).json()["rewards"] == [1.0, 0.0]
        # The gold answer only in the reasoning never counts (rewards/math/_answers.py), inline as OpenRLHF decodes it.
        [body] = request("openrlhf", "I am not sure.", reference="72", thinking="maybe \\boxed{72}")
        assert "<think>" in body["query"][0]
        assert client.post("/rewards/math_accuracy/openrlhf", json=body).json()["rewards"] == [0.0]
