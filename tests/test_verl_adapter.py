"""rewardkit.verl: loaded and called exactly as verl loads and calls a custom reward function.

As volcengine/verl does it (commit b178a3c):
- verl/trainer/ppo/reward.py `get_custom_reward_fn`: `raw_fn = load_extern_object(module_path=path,
  object_name=name)`, then `partial(_call_with_kwargs, raw_fn, reward_kwargs)`, where `_call_with_kwargs`
  calls `raw_fn(*args, **{**kwargs, **extra_kwargs})` (custom_reward_function.reward_kwargs win);
- verl/utils/import_utils.py `load_module`: `pkg://a.b` is `importlib.import_module("a.b")`; a file path is
  executed as a module of its own named `custom_module_<hash>`, outside any package;
- verl/workers/reward_manager/naive.py `NaiveRewardManager.__call__`, per item:
  `extra_info = non_tensor_batch.get("extra_info", {})`, `extra_info["num_turns"] = num_turns`,
  `extra_info["rollout_reward_scores"] = rollout_reward_scores`, then
  `compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=extra_info)`; a dict
  result's `score` is the reward and every key is appended to `reward_extra_info[key]`;
- verl/workers/reward_manager/batch.py `BatchRewardManager.verify`: `compute_score(data_sources=...,
  solution_strs=..., ground_truths=..., extra_infos=..., **reward_kwargs)`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

import rewardkit.verl
from rewardkit.verl import RewardFailed

from .conftest import REPO
from .verl_assembly import _call_with_kwargs, load_extern_object

TRAINER_REWARDS = str(REPO / "tests" / "trainer_rewards.py")
BASE = {"target": TRAINER_REWARDS, "workers": 1}


def custom_reward_fn(reward_kwargs: dict[str, Any], path: str = "pkg://rewardkit.verl",
                     name: str = "compute_score") -> Any:
    """verl/trainer/ppo/reward.py get_custom_reward_fn, from custom_reward_function's path, name, reward_kwargs."""
    raw_fn = load_extern_object(module_path=path, object_name=name)
    return partial(_call_with_kwargs, raw_fn, dict(reward_kwargs))


def naive_manager(compute_score: Any, rows: list[dict[str, Any]]) -> tuple[list[float], dict[str, list[Any]]]:
    """NaiveRewardManager.__call__'s loop, each row a dataset row plus the decoded `response`."""
    rewards, reward_extra_info = [], defaultdict(list)
    for row in rows:
        extra_info = row.get("extra_info", {})
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        score = compute_score(data_source=row["data_source"], solution_str=row["response"],
                              ground_truth=row["reward_model"]["ground_truth"], extra_info=extra_info)
        if isinstance(score, dict):
            reward = score["score"]
            for key, value in score.items():
                reward_extra_info[key].append(value)
        else:
            reward = score
        rewards.append(reward)
    return rewards, dict(reward_extra_info)


def row(data_source: str, response: str, ground_truth: Any, **extra_info: Any) -> dict[str, Any]:
    """A verl dataset row as examples/data_preprocess/gsm8k.py writes it, plus the response."""
    return {"data_source": data_source, "reward_model": {"style": "rule", "ground_truth": ground_truth},
            "extra_info": {"split": "train", "index": 0, **extra_info}, "response": response}


@pytest.fixture(scope="module", autouse=True)
def stop_pools():
    yield
    from rewardkit._trainers.embedded import _close_all

    _close_all()


def test_routes_each_data_source_to_its_reward_with_a_default():
    compute_score = custom_reward_fn({**BASE, "rewards": {"openai/gsm8k": "gold_number", "*": "response_length"}})
    rewards, _ = naive_manager(compute_score, [row("openai/gsm8k", "so #### 72", "72"),
                                               row("lighteval/MATH", "abc", "1")])
    assert rewards == [72.0, 3.0]


def test_ground_truth_wins_over_an_answer_in_extra_info():
    """gsm8k's preprocessing puts the whole worked answer in extra_info['answer']; the gold is ground_truth."""
    compute_score = custom_reward_fn({**BASE, "reward": "gold_number"})
    rewards, _ = naive_manager(compute_score, [row("openai/gsm8k", "x", "72", answer="6 * 12 = 72 #### 72")])
    assert rewards == [72.0]


def test_metrics_are_flat_keys_on_every_item():
    compute_score = custom_reward_fn({**BASE, "reward": "exact"})
    rewards, info = naive_manager(compute_score, [row("s", "72", "72"), row("s", "7", "72")])
    assert rewards == [1.0, 0.0]
    assert info == {"score": [1.0, 0.0], "rewardkit.failed": [0.0, 0.0], "rewardkit.error": ["", ""],
                    "exact.length": [2.0, 1.0]}


def test_loaded_by_file_path_outside_the_package():
    """Older verl (and `path: /.../rewardkit/verl.py`) executes the file as a module of its own."""
    compute_score = custom_reward_fn({**BASE, "reward": "response_length"}, path=rewardkit.verl.__file__)
    assert naive_manager(compute_score, [row("s", "abcd", "1")])[0] == [4.0]


def test_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("REWARDKIT_TARGET", TRAINER_REWARDS)
    monkeypatch.setenv("REWARDKIT_WORKERS", "1")
    monkeypatch.setenv("REWARDKIT_VERL_REWARDS", '{"a": "gold_number", "*": "response_length"}')
    compute_score = custom_reward_fn({})
    assert naive_manager(compute_score, [row("a", "xy", "5"), row("b", "xy", "5")])[0] == [5.0, 2.0]
    # reward_kwargs win over the environment
    compute_score = custom_reward_fn({"rewards": {"*": "gold_number"}})
    assert naive_manager(compute_score, [row("b", "xy", "5")])[0] == [5.0]


def test_a_failed_reward_raises_naming_its_code():
    compute_score = custom_reward_fn({**BASE, "reward": "misbehave"})
    with pytest.raises(RewardFailed, match="REWARD_ERROR.*'misbehave'.*data_source 'code'.*failure_score") as caught:
        naive_manager(compute_score, [row("code", "raise", None)])
    assert caught.value.code == "REWARD_ERROR"


def test_failure_score_scores_a_failed_item_and_marks_it():
    compute_score = custom_reward_fn({**BASE, "reward": "misbehave", "failure_score": -1})
    rewards, info = naive_manager(compute_score, [row("code", "raise", None), row("code", "ok", None)])
    assert rewards == [-1.0, 1.0]
    assert info["rewardkit.failed"] == [1.0, 0.0]


def test_a_crashing_worker_fails_its_item_and_the_next_works():
    compute_score = custom_reward_fn({**BASE, "reward": "misbehave", "failure_score": 0.0})
    rewards, info = naive_manager(compute_score, [row("code", "crash", None), row("code", "ok", None)])
    assert rewards == [0.0, 1.0] and info["rewardkit.failed"] == [1.0, 0.0]
    with pytest.raises(RewardFailed) as caught:
        custom_reward_fn({**BASE, "reward": "misbehave"})(data_source="code", solution_str="crash", ground_truth=None)
    assert caught.value.code == "WORKER_CRASHED"


def test_missing_metrics_of_a_failed_item_are_nan():
    compute_score = custom_reward_fn({**BASE, "reward": "exact", "failure_score": 0.0})
    _, info = naive_manager(compute_score, [row("s", "72", "72"), row("s", "72", None)])
    assert info["exact.length"][0] == 2.0 and math.isnan(info["exact.length"][1])


def test_batch_manager_call_scores_every_item_with_the_same_keys():
    compute_score = custom_reward_fn({**BASE, "rewards": {"a": "exact", "*": "response_length"}},
                                     name="compute_score_batch")
    scores = compute_score(data_sources=["a", "b", "a"], solution_strs=["72", "xyz", "1"],
                           ground_truths=["72", None, "2"],
                           extra_infos=[{"rollout_reward_scores": {}}, {"rollout_reward_scores": {}}, {}])
    assert [s["score"] for s in scores] == [1.0, 3.0, 0.0]
    assert all(set(s) == {"score", "rewardkit.failed", "rewardkit.error", "exact.length"} for s in scores)
    assert math.isnan(scores[1]["exact.length"])


def test_thread_safe_as_verls_reward_loop_calls_it():
    """verl/experimental/reward_loop/reward_manager/naive.py runs a sync compute_score in the loop's executor."""
    compute_score = custom_reward_fn({**BASE, "reward": "response_length"})
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda n: compute_score(data_source="s", solution_str="x" * n, ground_truth=None,
                                                    extra_info={}, reward_router_address=None), range(24)))
    assert [g["score"] for g in got] == [float(n) for n in range(24)]


@pytest.mark.parametrize("kwargs, message", [
    ({"rewards": {"a": "exact"}}, "no reward for data_source 'b'"),
    ({"reward": "group_position"}, "grouped"),
    ({"reward": "exact", "rewrads": {}}, "unknown reward_kwargs for rewardkit.verl: rewrads"),
    ({"reward": "nope"}, "no reward named 'nope'"),
    ({"reward": "exact", "failure_score": "low"}, "failure_score must be a number"),
])
def test_configuration_mistakes_are_named(kwargs, message):
    with pytest.raises(Exception, match=message):
        custom_reward_fn({**BASE, **kwargs})(data_source="b", solution_str="x", ground_truth="x", extra_info={})


# ---- one metric schema, under verl's own assembly code (tests/verl_assembly.py), each run a fresh process ----

ASSEMBLY = REPO / "tests" / "verl_assembly.py"
MIXED = {"target": TRAINER_REWARDS, "workers": 0, "rewards": {"a": "exact", "b": "word_count"}}
SCHEMA = {"score", "rewardkit.failed", "rewardkit.error", "exact.length", "word_count.words", "word_count.digits"}


def assemble(manager: str, reward_kwargs: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """verl's `manager` over `rows` in a fresh Python process: its rewards and gathered extra info, or its error."""
    done = subprocess.run([sys.executable, str(ASSEMBLY), manager, json.dumps(reward_kwargs), json.dumps(rows)],
                          capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def mixed_rows(failing: int, size: int = 8) -> list[dict[str, Any]]:
    """Data sources a (reward exact) and b (word_count) in turn; the item at `failing` fails (a: no gold
    answer, MISSING_REFERENCE; b: the reward raises, REWARD_ERROR); b's items at 3 and 7 have digits."""
    rows = []
    for i in range(size):
        if i % 2 == 0:
            rows.append(row("a", "72", None if i == failing else "72"))
        else:
            rows.append(row("b", "raise" if i == failing else ("w 3" if i % 4 == 3 else "one two"), None))
    return rows


def expected(failing: int, size: int = 8) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {key: [] for key in SCHEMA}
    for i in range(size):
        failed, source_a = i == failing, i % 2 == 0
        values = {"score": -1.0 if failed else (1.0 if source_a else 2.0), "rewardkit.failed": float(failed),
                  "rewardkit.error": ("MISSING_REFERENCE" if source_a else "REWARD_ERROR") if failed else "",
                  "exact.length": 2.0 if source_a and not failed else None,
                  "word_count.words": 2.0 if not source_a and not failed else None,
                  "word_count.digits": 1.0 if not source_a and not failed and i % 4 == 3 else None}
        for key, value in values.items():
            columns[key].append(value)
    return columns


@pytest.mark.parametrize("manager", ["loop", "naive", "batch"])
def test_two_data_sources_and_a_failure_anywhere_keep_one_schema(manager):
    """verl 0.9.1's reward loop took the first item's keys for the batch (KeyError when another item had more,
    metrics silently dropped when the first failed); its legacy naive manager made lists of unequal length.
    Every item now carries the same keys, whatever its reward and wherever the failure is."""
    kwargs = {**MIXED, "failure_score": -1}
    if manager == "batch":
        kwargs["workers"] = 1  # the whole batch at once across worker processes
    # Which item is recorded first decides the keys: the first item of each source failing, one inside, the last.
    positions = (0, 1, 4, 7)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda failing: assemble(manager, kwargs, mixed_rows(failing)), positions))
    for failing, got in zip(positions, runs, strict=True):
        assert "error" not in got, f"failure at {failing}: {got['error']}"
        want = expected(failing)
        assert got["rewards"] == want["score"], failing
        assert got["info"] == want, failing


def test_the_reward_loop_with_worker_processes_and_threads():
    """As verl runs it: items in the loop's executor threads at once, scored in rewardkit's worker pool."""
    got = assemble("loop", {**MIXED, "workers": 2, "failure_score": -1}, mixed_rows(5, size=16))
    assert got["info"] == expected(5, size=16)


def test_a_failure_without_failure_score_stops_verl_naming_the_code():
    got = assemble("loop", MIXED, mixed_rows(3))
    assert got["error"].startswith("RewardFailed: REWARD_ERROR: reward 'word_count' failed on an item of "
                                   "data_source 'b'")


def test_an_undeclared_metric_is_left_out_and_named(caplog):
    compute_score = custom_reward_fn({**BASE, "rewards": {"a": "undeclared", "b": "exact"}})
    with caplog.at_level("WARNING", logger="rewardkit"):
        _, info = naive_manager(compute_score, [row("a", "x", None), row("b", "72", "72"), row("a", "y", None)])
    assert set(info) == {"score", "rewardkit.failed", "rewardkit.error", "exact.length"}
    assert [len(v) for v in info.values()] == [3] * 4
    warned = [r.getMessage() for r in caplog.records if "undeclared.secret" in r.getMessage()]
    assert len(warned) == 1 and "@reward(metrics=[...])" in warned[0]


def test_remote_mode_takes_the_schema_from_the_served_listing():
    """`url` set: the keys come from the served rewardkit's GET /rewards, before any item is scored."""
    from .served import serve

    with serve([TRAINER_REWARDS, "--workers", "2"]) as served:
        kwargs = {"url": served.url, "rewards": {"a": "exact", "b": "word_count"}, "failure_score": -1}
        for manager, failing in (("loop", 0), ("batch", 7)):
            got = assemble(manager, kwargs, mixed_rows(failing))
            assert got.get("info") == expected(failing), got


def test_the_reward_loops_bookkeeping_is_not_a_reference():
    """0.9's reward loop merges the agent loop's tool_extra_fields (turn_scores, tool_rewards) into extra_info
    and gdpo adds experiment_name (verl/experimental/reward_loop/reward_manager/naive.py, gdpo.py)."""
    compute_score = custom_reward_fn({**BASE, "reward": "column_count"})
    got = compute_score(data_source="s", solution_str="x", ground_truth=None,
                        extra_info={"split": "train", "index": 0, "num_turns": 2, "rollout_reward_scores": {},
                                    "turn_scores": [], "tool_rewards": [], "experiment_name": "run"})
    assert got["score"] == 2.0  # split and index


def test_image_paths_in_extra_info_are_the_prompts_media(tmp_path):
    """verl passes compute_score no media; a dataset that puts its image paths in extra_info has them read."""
    from PIL import Image

    picture = tmp_path / "q1.png"
    Image.new("RGB", (120, 90)).save(picture)
    compute_score = custom_reward_fn({"target": str(REPO / "tests" / "media_rewards.py"), "workers": 1,
                                      "reward": "image_width"})
    rewards, _ = naive_manager(compute_score, [row("geo", "A", "A", images=[str(picture)])])
    assert rewards == [0.12]
