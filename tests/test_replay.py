"""`rewardkit replay`: in-process and over HTTP, expectations, exit codes, output, credentials."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from rewardkit._cli.main import main as cli_main
from rewardkit._replay.fixtures import Expectation, FixtureCase, load_cases
from rewardkit._replay.replay import judge, read_answer
from rewardkit._replay.report import Progress, histogram, percentile, summarize

from .conftest import EXAMPLE_REWARDS, REPO, contract_example
from .served import rewardkit_command, serve

FIXTURES = sorted((REPO / "rewards" / "fixtures").glob("*.reward.jsonl"))


def replay_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli_main(["replay", *argv, "--format", "json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out)


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def vertex_body(answer: str, reference: str = "72") -> dict[str, Any]:
    return {"example": {"contents": [{"role": "user", "parts": [{"text": "q"}]}], "references": {"answer": reference}},
            "response": {"role": "model", "parts": [{"text": answer}]}, "metadata": {"step": 1, "tuning_job_id": "7"}}


# ---- the repository's fixtures, both ways -----------------------------------------

def test_repository_fixtures_score_identically_in_process_and_against_rewardkit_serve(capsys):
    paths = [str(p) for p in FIXTURES]
    assert paths, "rewards/fixtures has no *.reward.jsonl files"
    local_code, local = replay_json(capsys, *paths)
    with serve() as served:
        remote_code, remote = replay_json(capsys, *paths, "--url", served.url)
    cases = sum(len(load_cases(p)) for p in paths)
    assert local["summary"]["count"] == remote["summary"]["count"] == cases
    assert local_code == remote_code == 0, [r for r in local["results"] if not r["passed"]]

    def key(result: dict[str, Any]) -> tuple[Any, ...]:
        return (result["source"], result["route"], result["http_status"], result["scores"], result["passed"],
                result["error_code"])

    assert [key(r) for r in local["results"]] == [key(r) for r in remote["results"]]
    # Not only the scores: the whole answers (aux info, metrics, error texts) are the same JSON.
    assert [r["response"] for r in local["results"]] == [r["response"] for r in remote["results"]]


# ---- expectations and exit codes ---------------------------------------------------

def test_exit_code_0_table_and_summary_when_every_case_passes(tmp_path, capsys):
    fixtures = write_jsonl(tmp_path / "ok.reward.jsonl", [
        {"id": "hit", "reward": "contains_reference", "request": vertex_body("it is 72"), "expect": {"score": 1.0}},
        {"id": "miss", "reward": "contains_reference", "request": vertex_body("it is 71"), "expect": {"score": 0.0}},
        {"id": "broken-expected", "reward": "broken", "request": vertex_body("x"),
         "expect": {"status": 500, "error_code": "REWARD_ERROR"}},
    ])
    code = cli_main(["replay", str(fixtures), "--target", EXAMPLE_REWARDS, "--workers", "0"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    table, summary = out.split("\n\n", 1)
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "REWARD", "EXPECTED", "RESULT", "MS", "REASON"]
    assert rows[0].split()[:4] == ["hit", "1", "1", "pass"]
    assert rows[1].split()[:4] == ["miss", "0", "0", "pass"]
    assert rows[2].split()[:6] == ["broken-expected", "-", "500", "REWARD_ERROR", "pass", rows[2].split()[5]]
    assert "ZeroDivisionError" in rows[2]
    assert "3 cases: 3 passed, 0 failed (3 with an expectation)" in summary
    assert "reward: mean 0.5, min 0, max 1 (2 scores)" in summary
    assert "[  0.00,   0.10)     1 " in summary and "[  0.90,   1.00]     1 " in summary
    assert "errors: REWARD_ERROR x1" in summary
    assert "latency: p50 " in summary and " ms, p95 " in summary
    assert "\r[" not in err  # no progress bar when stderr is not a terminal


def test_exit_code_1_when_an_expectation_fails_and_the_failure_says_where(tmp_path, capsys):
    fixtures = write_jsonl(tmp_path / "bad.reward.jsonl", [
        {"id": "fine", "reward": "contains_reference", "request": vertex_body("72"), "expect": {"score": 1.0}},
        {"id": "wrong", "reward": "contains_reference", "request": vertex_body("71"), "expect": {"score": 1.0}},
    ])
    code, report = replay_json(capsys, str(fixtures), "--target", EXAMPLE_REWARDS, "--workers", "0")
    assert code == 1
    wrong = report["results"][1]
    assert wrong["passed"] is False and wrong["source"] == f"{fixtures}:2"
    assert wrong["problems"] == ["scores [0.0], expected [1.0] (tolerance 1e-06)"]
    assert report["summary"]["failed"] == 1 and report["summary"]["passed"] == 1


def test_a_bare_request_passes_when_scored_and_fails_when_the_reward_fails(tmp_path, capsys):
    requests = write_jsonl(tmp_path / "requests.jsonl", [vertex_body("so 72"), vertex_body("so 72")])
    code, report = replay_json(capsys, str(requests), "--target", EXAMPLE_REWARDS, "--workers", "0",
                               "--reward", "contains_reference")
    assert code == 0 and [r["scores"] for r in report["results"]] == [[1.0], [1.0]]
    assert report["results"][0]["id"] == "requests.jsonl#1" and report["results"][0]["expected"] is None
    code, report = replay_json(capsys, str(requests), "--target", EXAMPLE_REWARDS, "--workers", "0",
                               "--reward", "broken")
    assert code == 1
    assert report["summary"]["errors"] == {"REWARD_ERROR": 2}
    assert report["results"][0]["problems"][0].startswith("not scored: HTTP 500, REWARD_ERROR: ")


def test_a_single_json_document_and_a_folder_of_fixtures_are_inputs(tmp_path, capsys):
    body = contract_example("dashscope_group_request.json")
    (tmp_path / "group.json").write_text(json.dumps(body))
    code, report = replay_json(capsys, str(tmp_path / "group.json"), "--reward", "math_accuracy", "--workers", "0")
    assert code == 0 and report["results"][0]["scores"] == [1.0, 0.0, 1.0]
    assert report["results"][0]["route"] == "/rewards/math_accuracy/api/v1"
    code, report = replay_json(capsys, str(REPO / "rewards" / "fixtures"), "--workers", "0")
    failed = [{k: r[k] for k in ("id", "source", "problems", "error_code", "reason")}
              for r in report["results"] if not r["passed"]]
    assert code == 0 and not failed, failed
    assert report["summary"]["count"] == sum(len(load_cases(p)) for p in FIXTURES)


@pytest.mark.parametrize("content, reason", [
    ('{"example": {}, "response": {}}\n\n{"prompt": "hi", "answer": "x"}\n',
     ":3: not a request body of any registered contract (a Vertex cloudRunRewardScorer body needs 'example' and "
     "'response'; "),
    ('{"example": {}, "response": {}}\n{"example": \n', ":2: not valid JSON"),
    ('{"id": "x", "request": {"func_type": "reward", "agent_output": {}}, "expect": {"scor": 1}}\n',
     ":1: unknown key(s) in 'expect': scor"),
])
def test_exit_code_2_on_bad_input_names_the_file_and_line(tmp_path, capsys, content, reason):
    path = tmp_path / "input.jsonl"
    path.write_text(content)
    assert cli_main(["replay", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"rewardkit replay: {path}") and reason in err


def test_exit_code_2_for_missing_files_unloadable_targets_and_unknown_rewards(tmp_path, capsys):
    assert cli_main(["replay", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
    requests = write_jsonl(tmp_path / "r.jsonl", [vertex_body("72")])
    assert cli_main(["replay", str(requests), "--target", str(tmp_path / "missing.py"), "--workers", "0"]) == 2
    assert "cannot serve" in capsys.readouterr().err
    assert cli_main(["replay", str(requests), "--reward", "nope", "--workers", "0"]) == 2
    assert "no reward named 'nope'" in capsys.readouterr().err
    assert cli_main(["replay"]) == 2
    assert "nothing to replay" in capsys.readouterr().err


def test_the_console_script_exits_2_with_the_line_and_1_on_a_failed_expectation(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(vertex_body("72")) + "\n" + json.dumps({"text": "hi"}) + "\n")
    result = subprocess.run([*rewardkit_command(), "replay", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"{bad}:2: not a request body of any registered contract" in result.stderr
    failing = write_jsonl(tmp_path / "f.reward.jsonl", [
        {"id": "f", "reward": "exact_match", "request": vertex_body("71"), "expect": {"score": 1.0}}])
    result = subprocess.run([*rewardkit_command(), "replay", str(failing), "--workers", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"{failing}:1 f: scores [0.0], expected [1.0]" in result.stdout


def test_jsonl_output_is_one_result_a_line_then_the_summary(tmp_path, capsys):
    requests = write_jsonl(tmp_path / "r.jsonl", [vertex_body("72"), vertex_body("70")])
    code = cli_main(["replay", str(requests), "--reward", "exact_match", "--format", "jsonl", "--workers", "0"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(lines) == 3
    assert [line["score"] for line in lines[:2]] == [1.0, 0.0]
    assert lines[2]["summary"]["mean"] == 0.5 and lines[2]["summary"]["count"] == 2


# ---- concurrency -------------------------------------------------------------------

CONCURRENCY_REWARDS = '''
import asyncio
import rewardkit

state = {"now": 0, "peak": 0}

@rewardkit.reward
async def slow(response: str) -> float:
    state["now"] += 1
    state["peak"] = max(state["peak"], state["now"])
    await asyncio.sleep(0.05)
    state["now"] -= 1
    return 1.0
'''


@pytest.mark.parametrize("concurrency, peak", [(1, 1), (3, 3), (12, 12)])
def test_concurrency_bounds_the_requests_in_flight(tmp_path, capsys, concurrency, peak):
    target = tmp_path / f"replay_concurrency_{concurrency}.py"  # a module name of its own for each run
    target.write_text(CONCURRENCY_REWARDS)
    requests = write_jsonl(tmp_path / "r.jsonl", [vertex_body(str(i)) for i in range(12)])
    code, report = replay_json(capsys, str(requests), "--target", str(target), "--workers", "0",
                               "--concurrency", str(concurrency))
    assert code == 0 and report["summary"]["count"] == 12
    assert sys.modules[target.stem].state["peak"] == peak


# ---- a remote service: routes and credentials --------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.server.seen.append((self.path, self.headers.get("authorization")))  # type: ignore[attr-defined]
        body = json.dumps({"reward": 0.5, "user_requested_aux_info": "half"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_url_mode_routes_each_record_and_sends_the_bearer_token(tmp_path, capsys, recorder, monkeypatch):
    monkeypatch.delenv("REWARDKIT_TOKEN", raising=False)
    fixtures = write_jsonl(tmp_path / "x.reward.jsonl", [
        {"id": "named", "reward": "exact_match", "request": vertex_body("72"), "expect": {"score": 0.5}},
        {"id": "default", "request": vertex_body("72")},
    ])
    code, report = replay_json(capsys, str(fixtures), "--url", url_of(recorder), "--token", "s3cret")
    assert code == 0
    assert sorted(recorder.seen) == [("/", "Bearer s3cret"), ("/rewards/exact_match", "Bearer s3cret")]
    assert report["results"][1]["reason"] == "half"
    recorder.seen.clear()
    monkeypatch.setenv("REWARDKIT_TOKEN", "from-env")
    replay_json(capsys, str(fixtures), "--url", url_of(recorder), "--reward", "other")
    assert recorder.seen == [("/rewards/other", "Bearer from-env")] * 2


def test_gcloud_auth_asks_gcloud_once_for_an_identity_token(tmp_path, capsys, recorder, monkeypatch):
    calls = tmp_path / "calls"
    gcloud = tmp_path / "bin" / "gcloud"
    gcloud.parent.mkdir()
    gcloud.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho id-token-123\n')
    gcloud.chmod(0o755)
    monkeypatch.setenv("PATH", f"{gcloud.parent}{os.pathsep}{os.environ['PATH']}")
    requests = write_jsonl(tmp_path / "r.jsonl", [vertex_body("1"), vertex_body("2"), vertex_body("3")])
    code, _ = replay_json(capsys, str(requests), "--url", url_of(recorder), "--gcloud-auth")
    assert code == 0
    assert {auth for _, auth in recorder.seen} == {"Bearer id-token-123"} and len(recorder.seen) == 3
    assert calls.read_text().splitlines() == ["auth print-identity-token"]
    assert cli_main(["replay", str(requests), "--gcloud-auth"]) == 2
    assert "--gcloud-auth is for a deployed service" in capsys.readouterr().err


def test_a_service_that_does_not_answer_fails_every_case(tmp_path, capsys):
    from .served import free_port

    requests = write_jsonl(tmp_path / "r.jsonl", [vertex_body("1")])
    code, report = replay_json(capsys, str(requests), "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert report["results"][0]["error_code"] == "NO_ANSWER" and report["results"][0]["http_status"] is None
    assert report["summary"]["errors"] == {"NO_ANSWER": 1}


# ---- pieces ------------------------------------------------------------------------

def test_histogram_bins_cover_the_reward_range():
    bins = histogram([0.0, 0.3, 0.3, 1.0])
    assert [(b.low, b.high) for b in bins][:2] == [(0.0, 0.1), (0.1, 0.2)] and len(bins) == 10
    assert [b.count for b in bins] == [1, 0, 0, 2, 0, 0, 0, 0, 0, 1]  # 0.3 is not lost to 2.9999...
    assert (histogram([-1.0, 0.5])[0].low, histogram([-1.0, 0.5])[-1].high) == (-1.0, 1.0)
    wide = histogram([2.0, 7.0])
    assert (wide[0].low, wide[-1].high, wide[0].count, wide[-1].count) == (2.0, 7.0, 1, 1)
    assert [(b.low, b.high, b.count) for b in histogram([5.0, 5.0])] == [(5.0, 5.0, 2)]
    assert histogram([]) == ()


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)
    assert percentile([7.0], 0.95) == 7.0 and percentile([], 0.5) is None


def test_answers_of_both_contracts_are_read_into_scores_codes_and_reasons():
    fallback = {"reward": {"reward_score": 0.25, "reward_metrics": {"judge.error.REWARD_ERROR": 1.0}},
                "status": "success", "error": None, "error_code": None}
    assert read_answer("dashscope", 200, fallback).scores == (0.25,)
    assert read_answer("dashscope", 200, fallback).error_code == "REWARD_ERROR"
    failed = {"reward": {"reward_score": 0.0, "reward_metrics": None}, "status": "failed",
              "error": "boom", "error_code": "TIMEOUT"}
    assert (read_answer("dashscope", 200, failed).scores,
            read_answer("dashscope", 200, failed).error_code) == ((), "TIMEOUT")
    aux = json.dumps({"reward": "r", "score": 1.0, "error": {"code": "TIMEOUT", "message": "slow"}})
    vertex = read_answer("vertex", 200, {"reward": 1.0, "user_requested_aux_info": aux})
    assert (vertex.scores, vertex.error_code, vertex.reason) == ((1.0,), "TIMEOUT", "slow")
    assert read_answer("vertex", 502, "<html>bad gateway</html>").error_code == "HTTP_502"
    assert read_answer("vertex", 422, {"message": "bad field"}).reason == "bad field"
    assert read_answer("vertex", 200, {"unexpected": True}).error_code == "BAD_ANSWER"


def bare_case(contract: str = "dashscope") -> FixtureCase:
    return FixtureCase("c", None, contract, {}, Expectation(), "f.jsonl:1")


def test_progress_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    result = judge(bare_case("vertex"), "/", 200, {"reward": 1.0}, 0.01)
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(2, stream)
        progress.update(result)
        progress.update(result)
        progress.close()
    assert "1/2" in terminal.getvalue() and "2/2" in terminal.getvalue() and terminal.getvalue().endswith("\r")
    assert log.getvalue() == ""


def test_summary_counts_every_score_of_a_group_and_none_of_a_failed_answer():
    group = judge(bare_case(), "/api/v1", 200, {"reward": {"rewards": [{"reward_score": 1.0}, {"reward_score": 0.0}]},
                                                "status": "success", "error": None}, 0.02)
    failed = judge(bare_case(), "/api/v1", 200, {"reward": {"reward_score": 0.0}, "status": "failed", "error": "x",
                                                 "error_code": "REWARD_ERROR"}, 0.04)
    summary = summarize([group, failed])
    assert summary.scores == (1.0, 0.0) and summary.mean == 0.5
    assert (summary.count, summary.passed, summary.failed, summary.checked) == (2, 1, 1, 0)
    assert summary.errors == {"REWARD_ERROR": 1}
    assert summary.p50_ms == pytest.approx(20.0) and summary.p95_ms == pytest.approx(40.0)
