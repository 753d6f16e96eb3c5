"""The pytest plugin: fixture files (*.reward.json, *.reward.jsonl) collected and run as tests.

Each test runs pytest in a subprocess on a temporary folder, as a user's
project would; the plugin is loaded through its `pytest11` entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .conftest import EXAMPLE_REWARDS, REPO

FIXTURES = REPO / "rewards" / "fixtures"


def run_pytest(folder: Path, *args: str, workers: str | None = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("REWARDKIT_TARGET", None)
    if workers is not None:
        env["REWARDKIT_WORKERS"] = workers
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300, env=env)


def vertex(answer: str, reference: str = "72") -> dict[str, Any]:
    return {"example": {"contents": [{"role": "user", "parts": [{"text": "q"}]}], "references": {"answer": reference}},
            "response": {"role": "model", "parts": [{"text": answer}]}, "metadata": {"step": 1, "tuning_job_id": "1"}}


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    points = {ep.name: ep.value for ep in metadata.entry_points(group="pytest11")}
    assert points.get("rewardkit") == "rewardkit.pytest_plugin", (
        "the installed rewardkit has no pytest11 entry point: reinstall it (pip install -e .)")


def test_each_record_is_an_item_named_file_and_record_id(tmp_path):
    write_jsonl(tmp_path / "math.reward.jsonl", [
        {"id": "boxed", "reward": "math_accuracy", "request": vertex("\\boxed{72}"), "expect": {"score": 1.0}},
        {"reward": "math_accuracy", "request": vertex("72"), "expect": {"score": 1.0}},
    ])
    (tmp_path / "one.reward.json").write_text(json.dumps(
        {"id": "single", "reward": "exact_match", "request": vertex("72"), "expect": {"score": 1.0}}))
    (tmp_path / "notes.json").write_text("{}")  # other JSON files are not fixtures
    (tmp_path / "data.jsonl").write_text("not json at all\n")
    result = run_pytest(tmp_path, "--collect-only")
    assert result.returncode == 0, result.stdout + result.stderr
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    assert ids == ["math.reward.jsonl::boxed", "math.reward.jsonl::record#2", "one.reward.json::single"]
    result = run_pytest(tmp_path)
    assert result.returncode == 0 and "3 passed" in result.stdout, result.stdout
    verbose = run_pytest(tmp_path, "-vv")  # (-q is on) the item lines read as the docs show them
    assert "math.reward.jsonl::boxed PASSED" in verbose.stdout, verbose.stdout
    assert "one.reward.json::single PASSED" in verbose.stdout


def test_a_failure_shows_the_request_the_expected_and_actual_score_and_the_reason(tmp_path):
    long_answer = "I think " + "very " * 60 + "much it is \\boxed{71}"
    write_jsonl(tmp_path / "fail.reward.jsonl", [
        {"id": "vertex-wrong", "reward": "math_accuracy", "request": vertex(long_answer), "expect": {"score": 1.0}},
        {"id": "dashscope-wrong", "reward": "exact_match",
         "request": {"func_type": "reward", "ground_truth": None,
                     "agent_output": {"messages": [{"role": "user", "content": "q"},
                                                   {"role": "assistant", "content": "London"}],
                                      "rollout_extra": {"solution": "Paris"}}},
         "expect": {"score": 1.0}},
        {"id": "expects-error", "reward": "exact_match", "request": vertex("72"),
         "expect": {"status": 500, "error_code": "REWARD_ERROR"}},
    ])
    result = run_pytest(tmp_path)
    out = result.stdout
    assert result.returncode == 1 and "3 failed" in out, out
    assert "FAILED fail.reward.jsonl::vertex-wrong" in out
    assert f"{tmp_path / 'fail.reward.jsonl'}:1: fixture 'vertex-wrong' failed" in out
    assert "contract: vertex, POST /rewards/math_accuracy (reward math_accuracy)" in out
    shown = next(line for line in out.splitlines() if line.strip().startswith("response:"))
    assert shown.strip().startswith("response: 'I think very very") and shown.rstrip().endswith("...'")
    assert len(shown.split("response: ", 1)[1]) <= 202  # the first 200 characters, quoted
    assert 'gold: references {"answer": "72"}' in out
    assert "expected: score 1 (tolerance 1e-06)" in out and "actual: scores [0.0] (HTTP 200)" in out
    assert "reason: " in out and "71" in out.split("reason: ", 1)[1].splitlines()[0]
    assert "contract: dashscope, POST /rewards/exact_match/api/v1" in out and "response: 'London'" in out
    assert 'gold: references {"solution": "Paris"}' in out and "reason: 'London' != 'Paris'" in out
    assert "expected: HTTP 500, error_code REWARD_ERROR" in out
    assert "actual: scores [0.0] (HTTP 200)" in out and "problem: HTTP status 200, expected 500" in out
    assert "Traceback" not in out and "def runtest" not in out  # the message, not the plugin's code


def test_the_target_comes_from_the_command_line_or_the_ini_file(tmp_path):
    records = [{"id": "contains", "reward": "contains_reference", "request": vertex("so 72"), "expect": {"score": 1.0}},
               {"id": "default-route", "request": vertex("so 72"), "expect": {"score": 1.0}}]
    write_jsonl(tmp_path / "tests" / "mine.reward.jsonl", records)
    # `--opt=VALUE`: pytest reads a separate path-like value as a test path when it looks for its rootdir.
    result = run_pytest(tmp_path, f"--rewardkit-target={EXAMPLE_REWARDS}")
    # The default route needs a default reward: example_rewards has several, so POST / is a 404.
    assert "1 failed, 1 passed" in result.stdout and "FAILED tests/mine.reward.jsonl::default-route" in result.stdout
    assert "no score: HTTP 404" in result.stdout
    rewards = tmp_path / "my_rewards.py"
    rewards.write_text("import rewardkit\n\n@rewardkit.reward\ndef contains_reference(response: str, reference: str)"
                       " -> float:\n    return float(reference in response)\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nrewardkit_target = my_rewards.py\n")
    result = run_pytest(tmp_path / "tests")  # run from elsewhere: the ini's path is relative to the ini file
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout


def test_the_rewardkit_client_fixture_is_the_session_app(tmp_path):
    (tmp_path / "test_client.py").write_text(
        "from rewardkit.testing import vertex_request\n\n"
        "def test_client(rewardkit_client):\n"
        "    r = rewardkit_client.post('/rewards/exact_match', json=vertex_request('72', reference='72'))\n"
        "    assert r.json()['reward'] == 1.0\n")
    result = run_pytest(tmp_path, workers=None)  # the default engine: worker processes, as `rewardkit serve`
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout


def test_a_bad_fixture_file_is_a_collection_error_with_its_line(tmp_path):
    path = tmp_path / "bad.reward.jsonl"
    path.write_text(json.dumps({"id": "ok", "request": vertex("72"), "expect": {"score": 1}}) + "\n"
                    + json.dumps({"id": "no", "request": {"prompt": "x"}}) + "\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 2 and "ERROR collecting bad.reward.jsonl" in result.stdout
    assert f"bad fixture file: {path}:2: not a request body of any registered contract" in result.stdout


def test_an_unloadable_target_fails_the_items_with_the_reason(tmp_path):
    write_jsonl(tmp_path / "x.reward.jsonl", [{"id": "a", "request": vertex("72"), "expect": {"score": 1}}])
    result = run_pytest(tmp_path, "--rewardkit-target", "no_such_rewards_module")
    assert result.returncode == 1 and "1 failed" in result.stdout
    assert "rewardkit cannot serve target 'no_such_rewards_module'" in result.stdout


def test_a_project_without_fixture_files_is_untouched(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n")
    result = run_pytest(tmp_path, "--rewardkit-target", "no_such_rewards_module")  # never imported
    assert result.returncode == 0 and "1 passed" in result.stdout


def test_the_repository_fixtures_pass_as_tests_through_the_plugin():
    # The project's own run (testpaths = tests) replays rewards/fixtures in test_builtin_rewards and
    # test_replay; this checks that the same files also pass when collected by the plugin.
    result = run_pytest(REPO, str(FIXTURES), workers=None)
    cases = sum(1 for p in FIXTURES.glob("*.reward.jsonl") for line in p.read_text().splitlines() if line.strip())
    assert result.returncode == 0 and f"{cases} passed" in result.stdout, result.stdout[-3000:]
