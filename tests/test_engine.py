"""The execution engine against a real `rewardkit serve`: timeouts, crashes, memory, queue, shutdown.

Nothing here is timing-based beyond generous upper bounds: each test checks
what was answered, and that the service keeps answering.
"""

import asyncio
import json
import signal
import subprocess

import httpx
import pytest

from .conftest import REPO
from .served import rewardkit_command, serve

ENGINE_REWARDS = str(REPO / "tests" / "engine_rewards.py")
ARGS = [ENGINE_REWARDS, "--workers", "2", "--timeout", "3", "--worker-memory", "1024"]


def vertex(text: str) -> dict:
    return {"example": {"contents": [{"role": "user", "parts": [{"text": "q"}]}]},
            "response": {"parts": [{"text": text}]}}


def group(*texts: str) -> dict:
    return {"func_type": "group_reward",
            "agent_outputs": [{"messages": [{"role": "assistant", "content": t}]} for t in texts]}


def metrics(answer: dict) -> dict:
    return json.loads(answer["user_requested_aux_info"])["metrics"]


@pytest.fixture(scope="module")
def served():
    with serve(ARGS) as s:
        yield s


async def post_all(url: str, requests: list[tuple[str, dict]], timeout: float = 30) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        return await asyncio.gather(*(client.post(path, json=body) for path, body in requests))


def restarts(served) -> int:
    return httpx.get(f"{served.url}/health").json()["workers"]["restarts"]


def test_rewards_run_in_a_worker_main_thread_with_setup_run_once_per_worker(served):
    answers = asyncio.run(post_all(served.url, [("/rewards/where", vertex("0.3"))] * 4))
    seen = [metrics(a.json()) for a in answers]
    assert all(m["main_thread"] == 1.0 for m in seen)
    assert all(m["setup_runs"] == 1.0 for m in seen)
    assert len({m["pid"] for m in seen}) == 2  # both workers were used


def test_signal_alarm_works_inside_workers(served):
    answer = httpx.post(f"{served.url}/rewards/alarm", json=vertex("x"), timeout=30).json()
    assert answer["reward"] == 1.0


def test_timeout_kills_the_call_while_a_concurrent_good_request_succeeds(served):
    before = restarts(served)
    slow, good = asyncio.run(post_all(served.url, [("/rewards/sleepy", vertex("60")), ("/rewards/where", vertex("0"))]))
    assert good.status_code == 200
    assert slow.status_code == 500 and slow.json()["error_code"] == "TIMEOUT"
    assert "longer than 3 s" in slow.json()["error"]
    assert restarts(served) == before + 1
    slow = httpx.post(f"{served.url}/rewards/sleepy/api/v1", json=group("60", "0"), timeout=30).json()
    assert slow["status"] == "failed" and slow["error_code"] == "TIMEOUT"
    assert [r["reward_score"] for r in slow["reward"]["rewards"]] == [0.0, 1.0]  # the fast sample still scored


def test_per_reward_timeout_with_fallback(served):
    answer = httpx.post(f"{served.url}/rewards/sleepy_with_fallback", json=vertex("60"), timeout=30)
    assert answer.status_code == 200 and answer.json()["reward"] == -0.5
    assert json.loads(answer.json()["user_requested_aux_info"])["error"]["code"] == "TIMEOUT"


@pytest.mark.parametrize("reward", ["crash", "segfault"])
def test_a_crashing_worker_is_replaced_and_the_next_request_served(served, reward):
    before = restarts(served)
    answer = httpx.post(f"{served.url}/rewards/{reward}/api/v1", json=group("x"), timeout=30).json()
    assert answer["status"] == "failed" and answer["error_code"] == "WORKER_CRASHED"
    assert ("exit code 3" if reward == "crash" else "SIGSEGV") in answer["error"]
    assert restarts(served) == before + 1
    after = asyncio.run(post_all(served.url, [("/rewards/where", vertex("0"))] * 4))
    assert all(a.status_code == 200 for a in after)


def test_unbounded_allocation_is_contained(served):
    answer = httpx.post(f"{served.url}/rewards/hog", json=vertex("x"), timeout=60)
    assert answer.status_code == 500
    assert answer.json()["error_code"] in ("OUT_OF_MEMORY", "WORKER_CRASHED")
    assert httpx.post(f"{served.url}/rewards/where", json=vertex("0"), timeout=30).status_code == 200


def test_group_fans_out_across_workers_and_keeps_order(served):
    answer = httpx.post(f"{served.url}/rewards/where/api/v1", json=group("0.4", "0.1", "0.3", "0.2"), timeout=30).json()
    rewards = answer["reward"]["rewards"]
    assert [r["reward_score"] for r in rewards] == [0.4, 0.1, 0.3, 0.2]
    assert len({r["reward_metrics"]["where.pid"] for r in rewards}) == 2


def test_body_over_the_limit_is_413():
    with serve([ENGINE_REWARDS, "--workers", "1", "--max-body-mb", "0.01"]) as s:
        big = vertex("x" * 20_000)
        answer = httpx.post(f"{s.url}/rewards/where", json=big)
        assert answer.status_code == 413 and "limit is 10485 bytes" in answer.json()["message"]
        assert httpx.post(f"{s.url}/rewards/where", json=vertex("0")).status_code == 200


def test_full_queue_is_503_with_retry_after():
    with serve([ENGINE_REWARDS, "--workers", "1", "--max-queue", "1", "--timeout", "20"]) as s:
        async def scenario():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
                busy = [asyncio.create_task(client.post("/rewards/sleepy", json=vertex("1.5"))) for _ in range(2)]
                await asyncio.sleep(0.5)  # one call running, one waiting: the queue is full
                refused = await client.post("/rewards/sleepy", json=vertex("0"))
                return refused, await asyncio.gather(*busy)

        refused, accepted = asyncio.run(scenario())
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "too busy" in refused.json()["message"]
        assert [a.status_code for a in accepted] == [200, 200]


def test_a_disconnected_client_leaves_the_queue_and_its_running_call_is_stopped():
    with serve([ENGINE_REWARDS, "--workers", "1", "--timeout", "30"]) as s:
        async def scenario():
            async with httpx.AsyncClient(base_url=s.url) as client:
                with pytest.raises(httpx.ReadTimeout):
                    await client.post("/rewards/sleepy", json=vertex("20"), timeout=0.5)
            await asyncio.sleep(1.0)

        asyncio.run(scenario())
        health = httpx.get(f"{s.url}/health").json()["workers"]
        assert health["restarts"] == 1 and health["running"] == 0 and health["waiting"] == 0
        assert httpx.post(f"{s.url}/rewards/where", json=vertex("0"), timeout=30).status_code == 200


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0():
    with serve([ENGINE_REWARDS, "--workers", "1", "--grace-period", "8"]) as s:
        async def scenario():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
                in_flight = asyncio.create_task(client.post("/rewards/where", json=vertex("1.5")))
                await asyncio.sleep(0.5)
                s.process.send_signal(signal.SIGTERM)
                return await in_flight

        answer = asyncio.run(scenario())
        assert answer.status_code == 200 and answer.json()["reward"] == 1.5  # its value as it is: Vertex clips
        assert s.process.wait(timeout=15) == 0


def test_failing_setup_stops_startup_with_a_clear_message(tmp_path):
    module = tmp_path / "bad_setup.py"
    module.write_text(
        "import rewardkit\n"
        "def load():\n    raise FileNotFoundError('model.bin')\n"
        "@rewardkit.reward(setup=load)\ndef judge(response): return 1.0\n"
    )
    result = subprocess.run([*rewardkit_command(), "serve", str(module), "--workers", "1", "--port", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "setup of reward 'judge' failed: FileNotFoundError: model.bin" in result.stdout + result.stderr


def test_worker_memory_cap_below_the_baseline_is_a_startup_error():
    result = subprocess.run([*rewardkit_command(), "serve", ENGINE_REWARDS, "--workers", "1", "--worker-memory", "1",
                             "--port", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "worker memory limit 1 MiB is below" in result.stdout + result.stderr


def test_bad_setting_is_rejected_with_its_name():
    result = subprocess.run([*rewardkit_command(), "serve", ENGINE_REWARDS, "--timeout", "soon"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--timeout must be a number, got 'soon'" in result.stderr


def test_math_verify_times_itself_out_inside_a_worker():
    # math-verify's timeouts use signal.alarm, which raises in any thread but a main thread: in a
    # thread-pool server this request errors; in a rewardkit worker math-verify stops itself after 5 s.
    body = {"example": {"contents": [], "references": {"answer": "72"}},
            "response": {"parts": [{"text": r"so \boxed{9^{9^{9^{9}}}}"}]}}
    with serve(["rewards", "--workers", "1", "--timeout", "60"]) as s:
        answer = httpx.post(f"{s.url}/rewards/math_accuracy", json=body, timeout=60)
        assert answer.status_code == 200 and answer.json()["reward"] == 0.0
        assert "timed out" in json.loads(answer.json()["user_requested_aux_info"])["reason"]
        assert httpx.get(f"{s.url}/health").json()["workers"]["restarts"] == 0
        good = dict(body, response={"parts": [{"text": r"\boxed{72}"}]})
        assert httpx.post(f"{s.url}/rewards/math_accuracy", json=good, timeout=60).json()["reward"] == 1.0
