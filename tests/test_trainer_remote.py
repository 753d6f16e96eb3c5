"""The remote trainer adapters (rewardkit.trl.remote_reward_func, rewardkit.verl with `url`) over HTTP.

Against a small real local HTTP server speaking the Nova batch route (`POST /rewards/{name}/nova`: a JSON
list of `{"id", "messages", "reference_answer", "metadata"}` in, a list of `{"id", "aggregate_reward_score",
"metrics_list"}` out, in order), scripted to fail: 503s, a dead port, a bad reward name. TRL's and verl's
calls are built as in tests/test_trl_adapter.py and tests/test_verl_adapter.py (which cite their code).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from rewardkit.trl import RemoteError, remote_reward_func, reward_func

from .served import free_port
from .test_trl_adapter import QUESTION, Trainer, repeated, same
from .test_verl_adapter import custom_reward_fn, naive_manager, row


class NovaStandIn:
    """Scores each item by the length of its last message, as rewardkit/contracts/nova.py answers: an item
    "fail" fails the whole batch (500, `failed` naming it), an item "fallback" is scored 0 with the Metric
    `length.error.TIMEOUT`. `failures` (status codes) are answered first."""

    def __init__(self) -> None:
        self.failures: list[int] = []
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.latency = 0.0
        self.lock = threading.Lock()

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.paths.append(path)
            if self.failures:
                return self.failures.pop(0), {"message": "overloaded, retry shortly"}
            self.bodies.append(body)
        if not path.startswith("/rewards/length/"):
            return 404, {"message": f"no reward named {path.split('/')[2]!r}"}
        texts = [item["messages"][-1]["content"] for item in body]
        failed = [{"id": item["id"], "index": i, "error_code": "REWARD_ERROR", "error": "ValueError: fail"}
                  for i, (item, text) in enumerate(zip(body, texts, strict=True)) if text == "fail"]
        if failed:
            return 500, {"message": "reward 'length' failed", "error_code": "REWARD_ERROR", "failed": failed}
        answers = []
        for item, text in zip(body, texts, strict=True):
            score = 0.0 if text == "fallback" else float(len(text))
            metrics = [{"name": "length", "value": score, "type": "Reward"},
                       {"name": "length.words", "value": float(len(text.split())), "type": "Metric"}]
            if text == "fallback":
                metrics.append({"name": "length.error.TIMEOUT", "value": 1.0, "type": "Metric"})
            answers.append({"id": item["id"], "aggregate_reward_score": score, "metrics_list": metrics})
        return 200, answers


@contextmanager
def nova_server() -> Iterator[tuple[str, NovaStandIn]]:
    state = NovaStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            """GET /rewards as rewardkit/_serving/app.py lists them: each reward's declared metric keys."""
            data = json.dumps({"rewards": [{"name": "length", "metrics": ["length.words"]}]}).encode()
            self.send_response(200 if self.path == "/rewards" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.latency)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = state.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_trl_batches_go_out_as_nova_items_in_order():
    with nova_server() as (url, server):
        function = remote_reward_func(url, "length", batch_size=2, concurrency=2)
        prompt = [{"role": "user", "content": QUESTION}]
        completions = [[{"role": "assistant", "content": "4" * n, "reasoning_content": "hmm"}] for n in range(1, 6)]
        trainer = Trainer(step=3)
        values = trainer.calculate_rewards(function, repeated([{"prompt": prompt, "answer": "42"}], 5), completions)
    assert values == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert sorted(len(b) for b in server.bodies) == [1, 2, 2] and server.max_in_flight <= 2
    first = next(item for body in server.bodies for item in body if item["id"] == "0")
    # the columns as references (metadata), as the route reads them; no ground_truth column, no reference_answer
    assert first == {"id": "0", "messages": [{"role": "user", "content": QUESTION},
                                             {"role": "assistant", "content": "4", "reasoning_content": "hmm"}],
                     "metadata": {"answer": "42"}}
    assert function.__name__ == "length"
    assert trainer.metrics["rewardkit/length.words"] == [1.0]


def test_concurrency_is_bounded():
    with nova_server() as (url, server):
        server.latency = 0.05
        function = remote_reward_func(url, "length", batch_size=1, concurrency=3)
        values = Trainer().calculate_rewards(function, [{"prompt": "p"}] * 12, ["ab"] * 12)
    assert values == [2.0] * 12
    assert 1 <= server.max_in_flight <= 3


def test_503_is_retried_then_scored():
    with nova_server() as (url, server):
        server.failures = [503, 503]
        function = remote_reward_func(url, "length", deadline=30)
        values = Trainer().calculate_rewards(function, [{"prompt": "p"}] * 2, ["abc", "de"])
    assert values == [3.0, 2.0]
    assert len(server.paths) == 3


def test_a_batch_failed_on_some_items_scores_the_others(caplog):
    """The route scores none of a batch in which an item failed; the failed items are None, the rest re-posted."""
    with nova_server() as (url, server):
        function = remote_reward_func(url, "length")
        with caplog.at_level(logging.WARNING, logger="rewardkit"):
            values = Trainer().calculate_rewards(function, [{"prompt": "p"}] * 4, ["abc", "fail", "fail", "de"])
    assert same(values, [3.0, None, None, 2.0])
    assert [len(body) for body in server.bodies] == [4, 2]
    assert [r.getMessage() for r in caplog.records if "REWARD_ERROR" in r.getMessage()] != []


def test_a_fallback_score_is_a_score_and_counted_failed():
    with nova_server() as (url, _server):
        trainer = Trainer()
        values = trainer.calculate_rewards(remote_reward_func(url, "length"), [{"prompt": "p"}] * 2, ["fallback", "ab"])
    assert values == [0.0, 2.0]
    assert trainer.metrics["rewardkit/length.failed"] == [0.5]


def test_unavailable_past_the_deadline_is_none_and_logged_once(caplog):
    with nova_server() as (url, server):
        server.failures = [503] * 1_000_000  # more than 0.3 s of retries can use
        function = remote_reward_func(url, "length", deadline=0.3)
        with caplog.at_level(logging.WARNING, logger="rewardkit"):
            values = Trainer().calculate_rewards(function, [{"prompt": "p"}] * 3, ["a", "b", "c"])
    assert all(math.isnan(v) for v in values)
    lines = [r.getMessage() for r in caplog.records if "SERVICE_UNAVAILABLE" in r.getMessage()]
    assert len(lines) == 1 and "HTTP 503" in lines[0]


def test_a_dead_port_is_none_not_a_crash():
    url = f"http://127.0.0.1:{free_port()}"
    values = Trainer().calculate_rewards(remote_reward_func(url, "length", deadline=0.3), [{"prompt": "p"}], ["a"])
    assert math.isnan(values[0])


def test_a_wrong_reward_name_raises_with_the_servers_message():
    with nova_server() as (url, _server), pytest.raises(RemoteError, match="404.*no reward named 'lenght'"):
        Trainer().calculate_rewards(remote_reward_func(url, "lenght"), [{"prompt": "p"}], ["a"])


def test_verl_remote_mode_posts_and_reads_metrics():
    with nova_server() as (url, server):
        compute_score = custom_reward_fn({"url": url, "reward": "length"})
        rewards, info = naive_manager(compute_score, [row("openai/gsm8k", "#### 72", "72", answer="full text")])
    assert rewards == [7.0]
    assert info == {"score": [7.0], "rewardkit.failed": [0.0], "rewardkit.error": [""], "length.words": [2.0]}
    [item] = server.bodies[0]
    assert item["messages"] == [{"role": "assistant", "content": "#### 72"}]
    assert item["reference_answer"] == "72"  # a text reference_answer is the ground truth
    assert item["metadata"] == {"split": "train", "index": 0, "answer": "full text"}


def test_verl_remote_failure_follows_the_failure_rule():
    from rewardkit.verl import RewardFailed

    with nova_server() as (url, _server):
        with pytest.raises(RewardFailed, match="REWARD_ERROR"):
            custom_reward_fn({"url": url, "reward": "length"})(data_source="s", solution_str="fail", ground_truth="x")
        scored = custom_reward_fn({"url": url, "reward": "length", "failure_score": 0})(
            data_source="s", solution_str="fail", ground_truth="x")
    assert scored["score"] == 0.0 and scored["rewardkit.failed"] == 1.0


# ---- against the real `rewardkit serve` ------------------------------------------------------

@pytest.fixture(scope="module")
def served_url() -> Iterator[str]:
    from .served import serve
    from .test_trl_adapter import TRAINER_REWARDS

    with serve([TRAINER_REWARDS, "--workers", "1", "--timeout", "5"]) as server:
        yield server.url


def test_trl_remote_scores_as_in_process(served_url):
    from .test_trl_adapter import TRAINER_REWARDS

    chat = [{"role": "user", "content": QUESTION}]
    inputs = [{"prompt": chat, "answer": "42"}] * 3 + [{"prompt": chat, "answer": None}]
    completions = [[{"role": "assistant", "content": c, "reasoning_content": "r"}] for c in ("42", "4", " 42 ", "42")]
    local = reward_func("exact", TRAINER_REWARDS, workers=1)
    here, there = Trainer(), Trainer()
    try:
        expected = here.calculate_rewards(local, inputs, completions)
    finally:
        local.close()
    got = there.calculate_rewards(remote_reward_func(served_url, "exact"), inputs, completions)
    assert same(got, [1.0, 0.0, 1.0, None]) and same(expected, [1.0, 0.0, 1.0, None])
    assert there.metrics == here.metrics  # the same metric names and values, failures included


def test_trl_remote_a_failing_item_is_none_and_the_rest_scored(served_url):
    values = Trainer().calculate_rewards(remote_reward_func(served_url, "misbehave"), [{"prompt": "p"}] * 4,
                                         ["ok", "raise", "crash", "ok"])
    assert same(values, [1.0, None, None, 1.0])


@pytest.mark.parametrize("reward", ["exact", "exact_and_short"])
def test_verl_remote_answers_as_in_process(served_url, reward):
    """The same scores and the same keys (a composite's components included) from the served rewardkit."""
    from .test_trl_adapter import TRAINER_REWARDS

    def rows() -> list[dict]:
        return [row("openai/gsm8k", "72", "72", answer="6 * 12 #### 72"), row("openai/gsm8k", "7", "72")]

    local = naive_manager(custom_reward_fn({"target": TRAINER_REWARDS, "workers": 1, "reward": reward}), rows())
    remote = naive_manager(custom_reward_fn({"url": served_url, "reward": reward}), rows())
    assert remote == local
    assert remote[1]["exact.length"] == [2.0, 1.0]
    if reward == "exact_and_short":
        assert remote[0] == [1.02, 0.01] and remote[1]["exact.score"] == [1.0, 0.0]
