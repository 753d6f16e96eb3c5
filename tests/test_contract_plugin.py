"""A contract from outside rewardkit, registered through the `rewardkit.contracts` entry points.

`tests/toy_contract/` is laid out as an installed package: a module and its
`.dist-info` with `entry_points.txt`. Putting it on PYTHONPATH is what `pip
install` of such a package amounts to for `importlib.metadata`, so the real
discovery path runs: rewardkit is not told about the contract anywhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import rewardkit_command, serve

TOY = Path(__file__).resolve().parent / "toy_contract"
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TOY), os.environ.get("PYTHONPATH")]))}
EXAMPLE = Path(__file__).resolve().parent / "example_rewards.py"
BATCH = {"batch": [{"question": "Capital of France?", "answer": "Paris", "gold": "Paris"},
                   {"question": "Capital of Italy?", "answer": "Milan", "gold": "Rome"}]}


def test_a_plugin_contract_is_served_on_every_reward_and_listed() -> None:
    with serve([str(EXAMPLE), "--workers", "1"], env=ENV) as served:
        answer = httpx.post(f"{served.url}/rewards/contains_reference/toy", json=BATCH, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"scores": [1.0, 0.0]}
        # Its body validated by its own models: a 422 naming the field.
        bad = httpx.post(f"{served.url}/rewards/contains_reference/toy", json={"batch": [{"question": "q"}]},
                         timeout=30)
        assert bad.status_code == 422 and "batch[0].answer: Field required" in bad.json()["message"]
        # The built-in contracts are still there, and the listing shows the new route for each reward.
        vertex = httpx.post(f"{served.url}/rewards/contains_reference", timeout=30, json={
            "example": {"contents": [{"role": "user", "parts": [{"text": "q"}]}], "references": {"answer": "Paris"}},
            "response": {"role": "model", "parts": [{"text": "Paris"}]}})
        assert vertex.json()["reward"] == 1.0
        listed = {r["name"]: r for r in httpx.get(f"{served.url}/rewards", timeout=30).json()["rewards"]}
        assert listed["contains_reference"]["routes"]["toy"] == "/rewards/contains_reference/toy"
        assert "POST /rewards/{name}/toy (toy)" in served.output()  # the start-up log's route patterns
        schema = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
        assert "/rewards/{name}/toy" not in schema["paths"]  # it documents no OpenAPI entry: left out, not broken


def test_a_plugin_contract_s_failures_take_its_own_shape() -> None:
    with serve([str(EXAMPLE), "--workers", "1"], env=ENV) as served:
        body = {"batch": [{"answer": "x", "gold": "x"}, {"answer": "boom", "gold": "x"}]}
        answer = httpx.post(f"{served.url}/rewards/broken/toy", json=body, timeout=30)
        assert answer.status_code == 500 and answer.json()["failed"] == [0, 1]


def test_replay_and_fixture_files_recognise_a_plugin_contract_s_bodies(tmp_path: Path) -> None:
    requests = tmp_path / "batch.json"
    requests.write_text(json.dumps(BATCH))
    replay = subprocess.run([*rewardkit_command(), "replay", str(requests), "--target", str(EXAMPLE),
                             "--reward", "contains_reference", "--format", "json", "--workers", "0"],
                            env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    (result,) = json.loads(replay.stdout)["results"]
    assert result["scores"] == [1.0, 0.0] and result["route"] == "/rewards/contains_reference/toy"

    fixtures = tmp_path / "toy.reward.jsonl"
    fixtures.write_text("\n".join(json.dumps(record) for record in [
        {"id": "right-and-wrong", "reward": "contains_reference", "request": BATCH, "expect": {"scores": [1.0, 0.0]}},
        {"id": "claims-full-marks", "reward": "contains_reference", "request": BATCH, "expect": {"scores": [1.0, 1.0]}},
    ]) + "\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rewardkit-target",
                          str(EXAMPLE), str(fixtures)],
                         cwd=tmp_path, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=180)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert "claims-full-marks" in run.stdout and "scores [1.0, 0.0], expected [1.0, 1.0]" in run.stdout


def test_testing_builds_a_plugin_contract_s_requests() -> None:
    code = ("from rewardkit.testing import request\n"
            "print(request('toy', ['Paris', 'Rome'], reference='Paris', prompt='Capital?'))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **ENV}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([{"batch": [{"question": "Capital?", "answer": "Paris", "gold": "Paris"},
                                                 {"question": "Capital?", "answer": "Rome", "gold": "Paris"}]}])


def test_a_broken_plugin_is_reported_and_the_built_in_contracts_still_serve(tmp_path: Path) -> None:
    broken = tmp_path / "broken-0.1.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (broken / "entry_points.txt").write_text("[rewardkit.contracts]\nbroken = no_such_module:Contract\n")
    with serve([str(EXAMPLE), "--workers", "0"], env={"PYTHONPATH": str(tmp_path)}) as served:
        assert httpx.post(f"{served.url}/rewards/contains_reference/api/v1", timeout=30, json={
            "func_type": "reward", "ground_truth": "Paris",
            "agent_output": {"messages": [{"role": "assistant", "content": "Paris"}]}}).json()["status"] == "success"
        assert "contract plug-in broken = no_such_module:Contract could not be registered" in served.output()


def test_a_contract_missing_a_required_method_is_refused_naming_it() -> None:
    from rewardkit.contracts import Contract, register

    class Half(Contract):  # parse and render, but nothing to recognise, build or read its bodies with
        name, title, suffix = "half", "Half", "/half"

        def parse(self, raw: object) -> Any:
            raise AssertionError

        def render(self, spec: object, outcomes: object, parsed: object) -> Any:
            raise AssertionError

    with pytest.raises(TypeError, match="looks_like, read_answer, requests"):
        register(Half)
