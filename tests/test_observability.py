"""Metrics, structured logs, bearer auth, and the platform-config commands."""

import json
import signal
import subprocess

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import rewardkit
from rewardkit._settings import Settings

from .conftest import EXAMPLE_REWARDS, contract_example
from .served import rewardkit_command, serve
from .test_server import group_body, vertex_body


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    text = client.get("/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_outcomes_values_and_errors():
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=1))) as client:
        client.post("/rewards/contains_reference", json=vertex_body("Paris"))
        client.post("/rewards/contains_reference/api/v1", json=group_body("Paris", "Rome"))
        client.post("/rewards/broken", json=vertex_body("x"))
        client.post("/rewards/broken_with_fallback", json=vertex_body("x"))
        client.post("/rewards/tagged", content=b"{not json")
        client.post("/rewards/nope", json=vertex_body("x"))
        m = samples(client)
    requests = "rewardkit_requests_total"
    assert value(m, requests, reward="contains_reference", contract="vertex", outcome="success") == 1
    assert value(m, requests, reward="contains_reference", contract="dashscope", outcome="success") == 1
    assert value(m, requests, reward="broken", contract="vertex", outcome="failed") == 1
    assert value(m, requests, reward="broken_with_fallback", contract="vertex", outcome="fallback") == 1
    assert value(m, requests, reward="tagged", contract="vertex", outcome="invalid") == 1
    assert value(m, requests, reward="(unknown)", contract="vertex", outcome="unknown_reward") == 1
    # three scores of contains_reference: 1.0, then 1.0 and 0.0 for the group
    assert value(m, "rewardkit_reward_value_count", reward="contains_reference") == 3
    assert value(m, "rewardkit_reward_value_bucket", reward="contains_reference", le="0.0") == 1
    assert value(m, "rewardkit_reward_errors_total", reward="broken", code="REWARD_ERROR") == 1
    assert value(m, "rewardkit_request_duration_seconds_count", reward="contains_reference", contract="vertex") == 1
    assert value(m, "rewardkit_workers") == 1 and value(m, "rewardkit_calls_waiting") == 0
    assert value(m, "rewardkit_requests_in_flight") == 0


def test_metrics_count_timeouts_and_worker_restarts():
    engine_rewards = EXAMPLE_REWARDS.replace("example_rewards", "engine_rewards")
    with TestClient(rewardkit.create_app(engine_rewards, settings=Settings(workers=1, timeout=1))) as client:
        assert client.post("/rewards/sleepy", json=vertex_body("30")).json()["error_code"] == "TIMEOUT"
        m = samples(client)
    assert value(m, "rewardkit_reward_timeouts_total", reward="sleepy") == 1
    assert value(m, "rewardkit_reward_errors_total", reward="sleepy", code="TIMEOUT") == 1
    assert value(m, "rewardkit_worker_restarts_total", reason="timeout") == 1


def test_json_logs_carry_severity_trace_and_platform_ids():
    with serve([EXAMPLE_REWARDS, "--log-format", "json", "--workers", "1"],
               env={"GOOGLE_CLOUD_PROJECT": "proj-1"}) as s:
        httpx.post(f"{s.url}/rewards/contains_reference", json=vertex_body("Paris"),
                   headers={"X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/255;o=1"})
        httpx.post(f"{s.url}/rewards/broken/api/v1", json=contract_example("dashscope_reward_request.json"),
                   headers={"x-fc-request-id": "fc-req-42"})
        s.process.send_signal(signal.SIGTERM)
        s.process.wait(timeout=15)
        lines = [json.loads(line) for line in s.output().splitlines() if line.startswith("{")]
    assert lines and all({"severity", "message", "time"} <= set(line) for line in lines)
    vertex = next(e for e in lines if e.get("reward") == "contains_reference" and "httpRequest" in e)
    assert vertex["logging.googleapis.com/trace"] == "projects/proj-1/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert vertex["logging.googleapis.com/spanId"] == f"{255:016x}"
    assert vertex["httpRequest"]["status"] == 200 and vertex["step"] == 3 and vertex["tuning_job_id"] == 123
    failure = next(e for e in lines if e["severity"] == "WARNING" and e.get("reward") == "broken")
    assert failure["fc_request_id"] == "fc-req-42" and failure["error_code"] == "REWARD_ERROR"
    assert failure["job_id"] == "ft-202611210001" and failure["rollout_id"] == "ro-5f0c2a9e81b4"
    assert "ZeroDivisionError" in failure["message"]


def test_plain_logs_for_a_terminal():
    with serve([EXAMPLE_REWARDS, "--log-format", "plain", "--workers", "1"]) as s:
        httpx.post(f"{s.url}/rewards/contains_reference", json=vertex_body("Paris"))
        s.process.send_signal(signal.SIGTERM)
        s.process.wait(timeout=15)
        out = s.output()
    assert "POST /rewards/contains_reference 200 success" in out
    assert not any(line.startswith("{") for line in out.splitlines())


def test_bearer_auth_guards_everything_but_health():
    settings = Settings(workers=0, auth_token="s3cret, next-secret")
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=settings)) as client:
        assert client.get("/health").status_code == 200
        missing = client.post("/rewards/contains_reference", json=vertex_body("Paris"))
        assert missing.status_code == 401 and "Authorization: Bearer" in missing.json()["message"]
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/rewards/contains_reference", json=vertex_body("Paris"),
                            headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["message"] == "invalid bearer token"
        basic = client.get("/rewards", headers={"Authorization": "Basic czNjcmV0"})
        assert basic.status_code == 401 and "must be 'Bearer <token>'" in basic.json()["message"]
        for token in ("s3cret", "next-secret"):  # both accepted, so a secret can be rotated
            ok = client.post("/rewards/contains_reference", json=vertex_body("Paris"),
                             headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and ok.json()["reward"] == 1.0
        assert client.get("/metrics").status_code == 401


def test_function_compute_lifecycle_hooks():
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=0, auth_token="t"))) as client:
        assert client.post("/initialize").json() == {"status": "ok"}
        assert client.get("/pre-stop").json() == {"status": "ok"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*rewardkit_command(), *args], capture_output=True, text=True, timeout=60)


def test_config_vertex_matches_the_contract_shapes():
    single = json.loads(run_cli("config", "vertex", "--url", "https://rk-x.a.run.app", "--reward",
                                "math_accuracy").stdout)
    assert single == {"singleRewardConfig": {
        "rewardName": "math_accuracy", "parseResponseConfig": {"parseType": "IDENTITY"},
        "cloudRunRewardScorer": {"cloudRunUri": "https://rk-x.a.run.app/rewards/math_accuracy"}}}
    composite = json.loads(run_cli("config", "vertex", "--url", "https://rk-x.a.run.app",
                                   "--reward", "math_accuracy:0.8", "--reward", "think_format:0.2").stdout)
    entries = composite["compositeRewardConfig"]["weightedRewardConfigs"]
    assert [(e["rewardConfig"]["rewardName"], e["weight"]) for e in entries] == [("math_accuracy", 0.8),
                                                                                 ("think_format", 0.2)]
    job = json.loads(run_cli("config", "vertex", "--url", "https://rk-x.a.run.app", "--reward", "exact_match",
                             "--job").stdout)
    assert "singleRewardConfig" in json.dumps(job) and job["baseModel"]


def test_config_commands_refuse_what_cannot_work():
    several = run_cli("config", "vertex", "--url", "https://rk-x.a.run.app")
    assert several.returncode == 2 and "choose with --reward" in several.stderr
    unknown = run_cli("config", "vertex", "--url", "https://rk-x.a.run.app", "--reward", "nope")
    assert unknown.returncode == 2 and "no reward 'nope'" in unknown.stderr
    grouped = run_cli("config", "vertex", "--url", "https://x.run.app", "--reward", "rank", "--target", EXAMPLE_REWARDS)
    assert grouped.returncode == 2 and "grouped" in grouped.stderr
    insecure = run_cli("config", "vertex", "--url", "http://x.run.app", "--reward", "exact_match")
    assert insecure.returncode == 2 and "https" in insecure.stderr


def test_config_dashscope_points_the_sdk_at_rewardkit_processors():
    config = json.loads(run_cli("config", "dashscope", "--reward", "rank", "--reward", "contains_reference:2",
                                "--target", EXAMPLE_REWARDS).stdout)
    rank, contains = config["functions"]
    assert rank["type"] == "group_reward"
    assert rank["fcmodel"]["classpath"] == "rewardkit.dashscope.TargetGroupRewardProcessor"
    assert contains["type"] == "reward" and contains["weight"] == 2.0
    assert contains["runtime"]["env"] == {"REWARDKIT_TARGET": EXAMPLE_REWARDS, "REWARDKIT_REWARD": "contains_reference"}


def test_deploy_cloudrun_dry_run_prints_private_deploy_and_invoker_grant():
    out = run_cli("deploy", "cloudrun", "--project", "my-proj", "--region", "us-central1", "--dry-run")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].startswith("gcloud run deploy rewardkit --source=.") and "--no-allow-unauthenticated" in lines[0]
    assert "--member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-vertex-tune.iam.gserviceaccount.com" in lines[2]
    assert "--role=roles/run.invoker" in lines[2]
