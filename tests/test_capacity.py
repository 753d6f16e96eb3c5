"""Capacity from the tuning job: the sizing arithmetic (rewardkit._project.capacity), `rewardkit replay --bench`
that measures a reward's cost, and `rewardkit config capacity` / `rewardkit deploy` that size the service with it."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit._cli.main import main as cli_main
from rewardkit._project.capacity import (
    CLOUD_RUN_MAX_CONCURRENCY,
    FC_MAX_CONCURRENCY,
    CapacityError,
    JobShape,
    RewardCost,
    read_bench,
    read_job,
    size,
)
from rewardkit._project.scaffold import create_project

from .served import rewardkit_command

ISSUE_JOB = JobShape(samples_per_prompt=16, batch_size=32)  # issue 28's example: 512 calls a step
VERTEX_JOB = {"baseModel": "gemini-2.5-flash", "reinforcementTuningSpec": {
    "trainingDatasetUri": "gs://b/train.jsonl", "hyperParameters": {"samplesPerPrompt": 16, "batchSize": 32}}}


# ---- the arithmetic ------------------------------------------------------------------

def test_the_issue_job_on_cloud_run_fits_one_warm_instance_that_admits_the_whole_burst():
    sizing = size("cloudrun", ISSUE_JOB, RewardCost(calls_per_second_per_worker=20, p99_seconds=0.5))
    assert sizing.calls == 512
    assert (sizing.min_instances, sizing.max_instances, sizing.concurrency) == (1, 2, 512)
    assert sizing.max_queue == 510  # 512 admitted, 2 running: the default queue of 100 would refuse 410 with 503
    assert (sizing.cpu, sizing.memory) == (2, "2Gi")
    assert sizing.step_seconds == pytest.approx(512 / 40 + 0.5)
    assert "16 x 32 = 512 calls" in sizing.lines[0]
    assert any(line.startswith("min-instances = instances = 1") for line in sizing.lines)


def test_a_slow_reward_gets_the_fewest_instances_that_finish_the_burst_within_half_the_timeout():
    cost = RewardCost(calls_per_second_per_worker=0.5, p99_seconds=10)  # 1 call/s per 2-vCPU instance
    sizing = size("cloudrun", ISSUE_JOB, cost, timeout=300)
    assert sizing.min_instances == 4  # ceil(512 / (1 x (150 - 10)))
    assert sizing.concurrency == 128
    assert sizing.step_seconds <= 150
    fewer = math.ceil(512 / (sizing.min_instances - 1)) / 1 + 10
    assert fewer > 150  # one instance less would not make it


def test_function_compute_caps_concurrency_at_100_so_the_burst_needs_six_instances():
    sizing = size("fc", ISSUE_JOB, RewardCost(calls_per_second_per_worker=100, p99_seconds=0.05))
    assert (sizing.min_instances, sizing.concurrency, sizing.max_instances) == (6, 86, 12)
    assert sizing.memory_mb == 2048  # 1 GB per vCPU at least, a multiple of 64
    assert sizing.settings() == {"concurrency": 86, "capacity": 6, "min_capacity": 6, "max_capacity": 12, "cpu": 2,
                                 "memory_size": 2048, "REWARDKIT_MAX_QUEUE": 100}
    assert any("at most 100 requests per instance" in line for line in sizing.lines)


def test_a_group_reward_gets_one_call_per_prompt():
    grouped = JobShape(samples_per_prompt=16, batch_size=32, grouped=True)
    assert grouped.calls == 32
    assert size("fc", grouped, RewardCost(5, 1)).concurrency == 32


def test_an_async_reward_keeps_the_calls_in_flight_its_rate_was_measured_with():
    small = JobShape(samples_per_prompt=4, batch_size=4)  # 16 calls
    judged = RewardCost(calls_per_second_per_worker=200, p99_seconds=0.3, in_flight_per_worker=32)
    assert size("cloudrun", small, judged).concurrency == 64  # 32 per worker x 2 workers, not 16


def test_a_reward_slower_than_the_budget_is_refused_with_the_reason():
    with pytest.raises(CapacityError, match=r"p99 \(200 s\) leaves no time within 150 s"):
        size("cloudrun", ISSUE_JOB, RewardCost(10, 200))


@pytest.mark.parametrize("platform, cpu, message", [
    ("cloudrun", 3, "Cloud Run takes 1, 2, 4, 6 or 8 vCPUs"),
    ("fc", 0.5, "whole number of vCPUs from 1 to 16"),
])
def test_cpu_the_platform_does_not_offer_is_refused(platform, cpu, message):
    with pytest.raises(CapacityError, match=message):
        size(platform, ISSUE_JOB, RewardCost(10, 1), cpu=cpu)


def test_cloud_run_memory_follows_its_cpu_rules():
    sizing = size("cloudrun", ISSUE_JOB, RewardCost(10, 1), cpu=8)
    assert sizing.memory == "5Gi"  # (8 + 1) x 512 MB, in whole GiB; 8 vCPUs need at least 4


@pytest.mark.parametrize("bad", [0, -3, True, 2.5])
def test_a_job_shape_must_be_whole_positive_numbers(bad):
    with pytest.raises(CapacityError, match="samples_per_prompt must be a whole number"):
        JobShape(samples_per_prompt=bad, batch_size=32)


@settings(max_examples=60, deadline=None)
@given(samples=st.integers(1, 64), batch=st.integers(1, 256), rate=st.floats(0.05, 500), p99=st.floats(0.001, 60),
       platform=st.sampled_from(["cloudrun", "fc"]), cpu=st.sampled_from([1, 2, 4, 8]))
def test_every_sizing_admits_the_burst_and_finishes_it_within_the_budget(samples, batch, rate, p99, platform, cpu):
    job = JobShape(samples, batch)
    try:
        sizing = size(platform, job, RewardCost(rate, p99), cpu=cpu)
    except CapacityError:
        assert p99 >= 150 or cpu * rate * (150 - p99) < 1  # not even one call fits the budget
        return
    cap = CLOUD_RUN_MAX_CONCURRENCY if platform == "cloudrun" else FC_MAX_CONCURRENCY
    assert sizing.concurrency <= cap
    assert sizing.min_instances * sizing.concurrency >= job.calls
    assert sizing.step_seconds <= 150 + 1e-9
    assert sizing.max_queue >= sizing.concurrency - sizing.workers
    assert 1 <= sizing.min_instances < sizing.max_instances


# ---- reading the job and the bench ---------------------------------------------------------

def test_the_shape_is_read_from_a_vertex_job_and_a_dashscope_job_file():
    assert read_job(json.dumps(VERTEX_JOB), "job.json") == (16, 32)
    dashscope = "model:\n  name: qwen3-8b\ntraining:\n  hyper_parameters:\n    n_rollouts: '8'\n    batch_size: '64'\n"
    assert read_job(dashscope, "job.yaml") == (8, 64)  # the SDK keeps hyperparameters as strings
    assert read_job('{"reinforcementTuningSpec": {"hyperParameters": {}}}', "job.json") == (None, None)


@pytest.mark.parametrize("text, message", [
    ('{"reinforcementTuningSpec": {"hyperParameters": {"batchSize": "many"}}}', "hyperParameters.batchSize"),
    ("training:\n  hyper_parameters:\n    n_rollouts: 0\n", "training.hyper_parameters.n_rollouts"),
    ('{"baseModel": "x"}', "neither a Vertex tuning job"),
    ("[1, 2]", "expected a job object"),
])
def test_a_job_file_without_a_usable_shape_names_the_field(text, message):
    with pytest.raises(CapacityError, match=message):
        read_job(text, "job")


def test_a_bench_file_must_hold_the_measured_figures():
    assert read_bench('{"calls_per_second_per_worker": 3.5, "p99_seconds": 0.2}', "b.json") == RewardCost(3.5, 0.2)
    with pytest.raises(CapacityError, match="calls_per_second_per_worker and p99_seconds"):
        read_bench('{"calls": 10}', "b.json")
    with pytest.raises(CapacityError, match="p99_seconds must be a number above 0"):
        read_bench('{"calls_per_second_per_worker": 3.5, "p99_seconds": 0}', "b.json")


# ---- through the command line ---------------------------------------------------------------

BENCH_REWARDS = '''
import rewardkit

@rewardkit.reward
def quick(response: str) -> float:
    return 1.0

@rewardkit.reward
def broken(response: str) -> float:
    raise ValueError("no")
'''


def vertex_request(text: str) -> dict:
    return {"example": {"contents": [{"role": "user", "parts": [{"text": "Q"}]}]},
            "response": {"role": "model", "parts": [{"text": text}]}}


@pytest.fixture(scope="module")
def bench_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    (folder / "capacity_bench_rewards.py").write_text(BENCH_REWARDS)
    requests = folder / "requests.jsonl"
    requests.write_text("".join(json.dumps(vertex_request(f"answer {n}")) + "\n" for n in range(5)))
    (folder / "job.json").write_text(json.dumps(VERTEX_JOB))
    return folder


def test_replay_bench_measures_the_reward_and_config_capacity_sizes_the_issue_job_from_it(bench_files, capsys):
    out = bench_files / "bench.json"
    code = cli_main(["replay", str(bench_files / "requests.jsonl"), "--target",
                     str(bench_files / "capacity_bench_rewards.py"), "--reward", "quick", "--workers", "0",
                     "--bench", "--bench-calls", "20", "--bench-out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "calls/s per worker" in printed.out and "p99" in printed.out
    figures = json.loads(out.read_text())
    assert figures["calls"] == 20 and figures["failed"] == 0 and figures["workers"] == 1
    assert figures["calls_per_second_per_worker"] > 0 and 0 < figures["p99_seconds"] <= figures["max_seconds"]

    code = cli_main(["config", "capacity", "cloudrun", "--tuning-job", str(bench_files / "job.json"),
                     "--bench", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "burst         = samples_per_prompt x batch_size = 16 x 32 = 512 calls" in printed.out
    assert "min-instances: 1" in printed.out and "concurrency: 512" in printed.out


def test_a_bench_whose_calls_fail_says_so_and_writes_nothing(bench_files, capsys):
    out = bench_files / "broken.json"
    code = cli_main(["replay", str(bench_files / "requests.jsonl"), "--target",
                     str(bench_files / "capacity_bench_rewards.py"), "--reward", "broken", "--workers", "0",
                     "--bench", "--bench-calls", "10", "--bench-out", str(out)])
    assert code == 1
    assert "the figures are not the reward's cost" in capsys.readouterr().err
    assert not out.exists()


def test_config_capacity_without_the_reward_cost_says_how_to_measure_it(capsys):
    code = cli_main(["config", "capacity", "fc", "--samples-per-prompt", "16", "--batch-size", "32"])
    assert code == 2
    assert "rewardkit replay --bench --bench-out FILE" in capsys.readouterr().err


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("capacity") / "quiz-rewards"
    create_project(folder, wheel=False)
    return folder


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*rewardkit_command(), *argv], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_deploy_cloudrun_deploys_the_sized_service_for_the_issue_job_and_keeps_a_setting_given(project):
    done = run(project, "deploy", "cloudrun", "--project", "p", "--region", "us-central1", "--dry-run",
               "--samples-per-prompt", "16", "--batch-size", "32", "--calls-per-second", "0.5", "--p99", "10",
               "--max-instances", "10")
    assert done.returncode == 0, done.stderr
    deploy = done.stdout.splitlines()[0]
    for flag in ("--concurrency=128", "--cpu=2", "--memory=2Gi", "--min-instances=4", "--max-instances=10"):
        assert f" {flag}" in deploy
    assert "REWARDKIT_MAX_QUEUE=126" in deploy
    assert "instances     = ceil(burst / instance load) = ceil(512 / 140) = 4" in done.stderr
    assert "--max-instances 10 given: kept instead of 8" in done.stderr


def test_deploy_fc_writes_the_sized_function_and_says_how_many_to_keep_warm(project):
    done = run(project, "deploy", "fc", "--region", "cn-hangzhou", "--namespace", "team", "--dry-run",
               "--samples-per-prompt", "16", "--batch-size", "32", "--calls-per-second", "100", "--p99", "0.05")
    assert done.returncode == 0, done.stderr
    assert "instanceConcurrency: 86" in done.stdout and "memorySize: 2048" in done.stdout
    assert "set the function's minimum instances to 6" in done.stderr


def test_without_the_job_deploy_keeps_its_defaults(project):
    done = run(project, "deploy", "cloudrun", "--project", "p", "--region", "us-central1", "--dry-run")
    assert done.returncode == 0, done.stderr
    deploy = done.stdout.splitlines()[0]
    assert " --concurrency=16 " in deploy and "--min-instances" not in deploy and "MAX_QUEUE" not in deploy
