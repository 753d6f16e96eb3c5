"""`rewardkit serve --record`: a JSONL copy of each scored request, off the request path, that replays exactly."""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import rewardkit
from rewardkit._cli.main import main as cli
from rewardkit._serving import record as _record
from rewardkit._settings import Settings
from rewardkit.contracts import dashscope, vertex

from .conftest import EXAMPLE_REWARDS
from .served import rewardkit_command, serve

SECRET = "s3cret-token-never-written"
PROMPT = "What is the capital of France? Think it over."


def lines(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("*.reward.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text().splitlines() if line.strip()]


def vertex_call(text: str, step: int, reference: str = "Paris") -> dict[str, Any]:
    return vertex.request(text, reference=reference, prompt=PROMPT, step=step, tuning_job_id="7")


def dashscope_group(*texts: str, sample_id: str) -> dict[str, Any]:
    return dashscope.group_request(list(texts), reference="Paris", prompt=PROMPT,
                                   request_metadata={"job_id": "ds-job-1", "sample_id": sample_id,
                                                     "rollout_id": "r-1", "attempt_id": "a-1"})


TRAFFIC = [  # (route, body, what it is)
    ("/rewards/contains_reference", vertex_call("Paris", step=1), "scored 1"),
    ("/rewards/contains_reference", vertex_call("Rome", step=1), "scored 0"),
    ("/rewards/contains_reference/api/v1", dashscope_group("Paris", "Lyon", "Paris!", sample_id="s-1"), "group"),
    ("/rewards/broken", vertex_call("x", step=2), "fails: 500 REWARD_ERROR"),
    ("/rewards/broken_with_fallback", vertex_call("x", step=2), "fallback 0.25"),
    ("/rewards/mean_mix", vertex_call("Paris is it", step=2), "composite with components"),
    ("/rewards/length_ok", vertex_call("a" * 40, step=3), "a score below 1"),
]


def post_traffic(url: str) -> list[int]:
    headers = {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET,
               "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    statuses = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for route, body, _ in TRAFFIC:
            statuses.append(client.post(route, json=body).status_code)
        # refused before scoring: nothing to replay, so not recorded
        assert client.post("/rewards/contains_reference", content=b"{not json").status_code == 400
        assert client.post("/rewards/nope", json=vertex_call("x", 1)).status_code == 404
    return statuses


def test_a_run_recorded_by_rewardkit_serve_replays_exactly_and_keeps_no_secret(tmp_path, capsys):
    folder = tmp_path / "records"
    env = {"REWARDKIT_AUTH_TOKEN": SECRET, "REWARDKIT_RECORD": str(folder)}
    with serve([EXAMPLE_REWARDS, "--workers", "1"], env=env) as served:
        statuses = post_traffic(served.url)
        metrics = httpx.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {SECRET}"}).text
    assert statuses == [200, 200, 200, 500, 200, 200, 200]
    assert "rewardkit_records_waiting" in metrics
    records = lines(folder)  # written by the time the process exited on SIGTERM
    assert len(records) == len(TRAFFIC)
    assert SECRET not in "".join(p.read_text() for p in folder.iterdir())
    by_id = {r["request"]["response"]["parts"][0]["text"] if "response" in r["request"] else "group": r
             for r in records}
    assert by_id["Paris"]["expect"] == {"status": 200, "score": 1.0}
    assert by_id["Rome"]["expect"] == {"status": 200, "score": 0.0}
    assert by_id["group"]["expect"] == {"status": 200, "scores": [1.0, 0.0, 1.0]}
    failed = next(r for r in records if r["reward"] == "broken")
    assert failed["expect"] == {"status": 500, "error_code": "REWARD_ERROR"}
    assert failed["recorded"]["samples"][0]["failure"]["code"] == "REWARD_ERROR"
    fallback = next(r for r in records if r["reward"] == "broken_with_fallback")
    assert fallback["expect"]["score"] == 0.25 and fallback["recorded"]["samples"][0]["failure"]["code"]
    mix = next(r for r in records if r["reward"] == "mean_mix")["recorded"]["samples"][0]
    assert set(mix["components"]) == {"contains_reference", "length_ok"}
    paris = by_id["Paris"]["recorded"]
    assert paris["contract"] == "vertex" and paris["http_status"] == 200 and paris["latency_ms"] > 0
    assert paris["ids"] == {"step": 1, "tuning_job_id": 7}
    assert paris["samples"][0]["step"] == 1 and paris["samples"][0]["job_id"] == "7"
    assert paris["headers"] == {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    group = by_id["group"]["recorded"]["samples"]
    assert [s["sample_id"] for s in group] == ["s-1"] * 3 and len({s["group"] for s in group}) == 1
    assert [s["response_chars"] for s in group] == [5, 4, 6]

    # The recorded folder replays, every answer as it was.
    assert cli(["replay", str(folder), "--target", EXAMPLE_REWARDS, "--workers", "0"]) == 0
    assert f"{len(TRAFFIC)} passed" in capsys.readouterr().out


def test_replay_of_a_record_fails_when_the_reward_now_answers_differently(tmp_path, capsys):
    folder = tmp_path / "records"
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=0, record=str(folder)))) as client:
        assert client.post("/rewards/contains_reference", json=vertex_call("Paris", 1)).json()["reward"] == 1.0
    [record] = lines(folder)
    record["request"]["example"]["references"]["answer"] = "Berlin"  # the reward would now answer 0
    (folder / "changed.reward.jsonl").write_text(json.dumps(record) + "\n")
    for path in folder.glob("records-*"):
        path.unlink()
    assert cli(["replay", str(folder), "--target", EXAMPLE_REWARDS, "--workers", "0"]) == 1
    assert "scores [0.0], expected [1.0]" in capsys.readouterr().out


def test_redacted_prompts_are_not_written_and_the_record_still_replays(tmp_path, capsys):
    folder = tmp_path / "records"
    settings = Settings(workers=0, record=str(folder), record_redact_prompt=True)
    with TestClient(rewardkit.create_app(EXAMPLE_REWARDS, settings=settings)) as client:
        client.post("/rewards/contains_reference", json=vertex_call("Paris", 1))
        client.post("/rewards/contains_reference/api/v1", json=dashscope_group("Paris", "Rome", sample_id="s"))
        # a prompt whose text holds the job id and step: they are not the prompt, and stay (the body must parse)
        client.post("/rewards/contains_reference", json=vertex.request("Paris", reference="Paris", step=7,
                                                                      prompt="What is 7 * 6?", tuning_job_id="7"))
    text = "".join(p.read_text() for p in folder.iterdir())
    assert "capital of France" not in text and "[redacted]" in text
    records = lines(folder)
    assert all(r["recorded"]["redacted"] == ["prompt"] for r in records)
    assert "What is 7 * 6?" not in text and records[2]["request"]["metadata"]["tuning_job_id"] == "7"
    # the responses, the gold answer and the body's structure stay: the reward reads them
    assert records[0]["request"]["example"]["contents"][0]["role"] == "user"
    assert cli(["replay", str(folder), "--target", EXAMPLE_REWARDS, "--workers", "0"]) == 0
    capsys.readouterr()


def scored_item(text: str = "Paris") -> _record.Scored:
    """One scored request as the route hands it over, from the in-process scoring steps."""
    import asyncio

    from rewardkit._engine.inline import InlineEngine
    from rewardkit._loader import load_registry
    from rewardkit._serving.answer import answer

    registry = load_registry(EXAMPLE_REWARDS)
    spec = registry.get("contains_reference")
    contract = rewardkit.contracts.get("vertex")
    body = vertex_call(text, 1)
    status, content, outcomes = asyncio.run(answer(contract, spec, body, InlineEngine(registry)))
    return _record.Scored(contract, spec, body, contract.parse(body), outcomes, status, content, 0.01, {}, time.time())


def test_a_full_queue_drops_and_counts_records_and_never_waits(tmp_path):
    dropped: list[tuple[str, int]] = []
    recorder = _record.Recorder(tmp_path, queue_size=2)
    recorder.on_dropped = lambda reason, count: dropped.append((reason, count))
    item = scored_item()
    started = time.perf_counter()
    for _ in range(5):  # the writer is not running: the queue fills
        recorder.offer(item)
    assert time.perf_counter() - started < 0.5
    assert dropped == [("queue_full", 1)] * 3
    recorder.start()
    recorder.stop()
    assert len(lines(tmp_path)) == 2


def test_dropped_records_are_counted_in_the_metrics(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    app = rewardkit.create_app(EXAMPLE_REWARDS, settings=Settings(workers=0, record=str(tmp_path)))
    recorder = app.scoring.recorder
    with TestClient(app) as client:
        recorder.stop()  # the writer stops: what comes next waits in the queue until it is full
        for _ in range(_record.QUEUE_SIZE + 3):
            recorder.offer(scored_item())
        text = client.get("/metrics").text
    found = {(s.name, tuple(s.labels.items())): s.value
             for family in text_string_to_metric_families(text) for s in family.samples}
    assert found[("rewardkit_records_dropped_total", (("reason", "queue_full"),))] == 3
    assert found[("rewardkit_records_waiting", ())] == _record.QUEUE_SIZE


def test_files_rotate_by_size_and_by_age_and_every_record_is_in_one(tmp_path):
    item = scored_item()
    by_size = _record.Recorder(tmp_path / "size", max_bytes=3000)
    (tmp_path / "size").mkdir()
    by_size.start()
    for _ in range(20):
        by_size.offer(item)
    by_size.stop()
    files = sorted((tmp_path / "size").glob("*.reward.jsonl"))
    assert len(files) > 2 and all(f.stat().st_size < 3000 + 2000 for f in files)
    assert len({r["id"] for r in lines(tmp_path / "size")}) == 20

    (tmp_path / "age").mkdir()
    by_age = _record.Recorder(tmp_path / "age", max_seconds=0.2)
    by_age.start()
    by_age.offer(item)
    time.sleep(1.5)  # the writer closes the file past its age, even with nothing more to write
    by_age.offer(item)
    by_age.stop()
    assert len(list((tmp_path / "age").glob("*.reward.jsonl"))) == 2


def test_the_record_rate_samples_requests(tmp_path):
    random.seed(7)
    recorder = _record.Recorder(tmp_path, rate=0.25, queue_size=10_000)
    item = scored_item()
    for _ in range(800):
        recorder.offer(item)
    assert 120 < recorder.waiting < 280


@pytest.mark.parametrize("flags, message", [
    (["--record", "gs://bucket/runs"], "object-store prefixes are not supported yet"),
    (["--record", "/proc/no-such/records"], "cannot create the folder"),
    (["--record", "runs", "--record-rate", "1.5"], "--record-rate must be <= 1"),
])
def test_serve_refuses_a_record_destination_or_rate_it_cannot_use(tmp_path, flags, message):
    result = subprocess.run([*rewardkit_command(), "serve", EXAMPLE_REWARDS, *flags], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
