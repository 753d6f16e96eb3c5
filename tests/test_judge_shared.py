"""A judge's limits, concurrency cap and cache shared across instances through a real Redis (docs/judges.md).

In-process: two AsyncJudge clients of one name stand for two instances. Served: four real `rewardkit
serve` processes on loopback ports share a `redis-server` (tests/redis_server.py) and the local fake
judge (tests/judge_server.py). Also the judge's own caches: the memory LRU and the bounded disk cache.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, Iterator

import httpx
import pytest

from rewardkit.clients import AsyncJudge, JudgeError, JudgeLimits, _shared, _telemetry, judge
from rewardkit.clients._cache import DiskCache, cache_key
from rewardkit.testing import vertex_request

from .conftest import REPO
from .judge_server import running
from .redis_server import Redis, running_redis
from .served import Served, serve

REWARDS = str(REPO / "tests" / "shared_judge_rewards.py")
INSTANCES = 4


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    with running() as url:
        yield url


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with running_redis() as server:
        yield server


@pytest.fixture(autouse=True)
def quick_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_shared, "RECONNECT_AFTER", 0.2)  # in-process: retry a downed Redis sooner than 2 s


def script(judge_url: str, **settings: Any) -> None:
    httpx.post(f"{judge_url}/control", json=settings).raise_for_status()


def stats(judge_url: str) -> dict[str, Any]:
    return httpx.get(f"{judge_url}/stats").json()


def client(judge_url: str, name: str, redis_url: str, **limits: Any) -> AsyncJudge:
    return AsyncJudge("m", base_url=f"{judge_url}/v1", api_key_env=None, name=name,
                      limits=JudgeLimits(redis_url=redis_url, **limits))


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def fallbacks(name: str) -> float:
    return sum(s.value for m in _telemetry.REDIS_FALLBACKS.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels["judge"] == name)


def redis_up(name: str) -> float | None:
    return _telemetry.REGISTRY.get_sample_value("rewardkit_judge_redis_up", {"judge": name})


# ---- in process: two clients of one name, one Redis ---------------------------------------------

def test_concurrency_cap_holds_across_instances(judge_url: str, redis: Redis) -> None:
    script(judge_url, latency=0.15)

    async def main() -> None:
        a, b = (client(judge_url, "capped", redis.url, concurrency=2) for _ in range(2))
        await asyncio.gather(*(j.complete(chat(f"cap {i}")) for i in range(8) for j in (a, b)))

    asyncio.run(main())
    seen = stats(judge_url)
    assert seen["requests"] == 16
    assert seen["max_in_flight"] == 2  # each client alone would allow 2: together, still 2


def test_rate_limit_holds_across_instances(judge_url: str, redis: Redis) -> None:
    script(judge_url)
    outcomes: list[Any] = []

    async def main() -> float:
        clients = [client(judge_url, "paced-in-process", redis.url, requests_per_minute=20, deadline=2.0)
                   for _ in range(2)]
        started = time.monotonic()
        outcomes.extend(await asyncio.gather(*(c.complete(chat(f"pace {i}")) for i in range(20) for c in clients),
                                             return_exceptions=True))
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    sent = stats(judge_url)["requests"]
    # GCRA admits a minute's burst (20), then one every 3 s; +1 for a grant at the edge of the window.
    assert 20 <= sent <= 20 + elapsed / 3 + 1, (sent, elapsed)
    refused = [o for o in outcomes if isinstance(o, JudgeError)]
    assert len(refused) == 40 - sent and all("requests-per-minute limit" in str(e) for e in refused)


def test_a_verdict_judged_by_one_instance_is_a_cache_hit_on_another(judge_url: str, redis: Redis) -> None:
    script(judge_url, default="Score: 4")

    async def main() -> tuple[Any, Any]:
        first = await client(judge_url, "cached", redis.url).complete(chat("cache me"))
        return first, await client(judge_url, "cached", redis.url).complete(chat("cache me"))

    first, second = asyncio.run(main())
    assert not first.cached and second.cached and second.text == first.text == "Score: 4"
    assert stats(judge_url)["requests"] == 1


def test_cache_key_names_the_provider() -> None:
    assert cache_key("openai", "m", chat("x"), {}, 0) != cache_key("gemini", "m", chat("x"), {}, 0)


def test_redis_outage_falls_back_per_instance_and_recovers(judge_url: str, redis: Redis,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    script(judge_url)
    name = "outage"

    async def ask(text: str) -> Any:
        return await client(judge_url, name, redis.url, requests_per_minute=600, concurrency=4).complete(chat(text))

    try:
        assert not asyncio.run(ask("before")).cached
        redis.stop()
        with caplog.at_level(logging.WARNING, logger="rewardkit.judge"):
            replies = [asyncio.run(ask(f"during {i}")) for i in range(3)]  # no call fails for want of Redis
        assert [r.text for r in replies] == ["Score: 3"] * 3
        assert fallbacks(name) > 0 and "judge limits and cache are per instance" in caplog.text
        assert redis_up(name) == 0
        assert caplog.text.count("per instance until it answers again") == 1  # warned once per outage
    finally:
        redis.start()
    time.sleep(_shared.RECONNECT_AFTER)  # the next call may try Redis again
    assert not asyncio.run(ask("after")).cached
    assert asyncio.run(ask("after")).cached  # shared again: the new Redis holds what the first call stored
    assert redis_up(name) == 1


def test_without_redis_the_limits_are_per_instance(judge_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_shared.URL_ENV, raising=False)
    script(judge_url, latency=0.1)

    async def main() -> None:
        a, b = (AsyncJudge("m", base_url=f"{judge_url}/v1", api_key_env=None, name="alone",
                           limits=JudgeLimits(concurrency=2)) for _ in range(2))
        await asyncio.gather(*(j.complete(chat(f"alone {i}")) for i in range(6) for j in (a, b)))

    asyncio.run(main())
    assert stats(judge_url)["max_in_flight"] == 4  # today's behaviour: a cap per client


# ---- the judge's own caches -----------------------------------------------------------------------

def test_memory_cache_keeps_the_recently_used(judge_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(judge, "MEMORY_CACHE_SIZE", 2)
    script(judge_url)

    async def main() -> list[bool]:
        asked = AsyncJudge("m", base_url=f"{judge_url}/v1", api_key_env=None, limits=JudgeLimits(redis_url=""))
        return [(await asked.complete(chat(t))).cached for t in ("a", "b", "a", "c", "a", "b")]

    # "a" was used again before "c" came: "b" is the least recently used and goes, "a" stays.
    assert asyncio.run(main()) == [False, False, True, False, True, False]


def test_disk_cache_stays_within_its_size(tmp_path: Any) -> None:
    cache = DiskCache(tmp_path, size_mb=0.25)
    for i in range(1000):
        cache.put(f"key {i}", json.dumps({"text": "x" * 1000, "n": i}).encode())
    assert cache.store.volume() <= 0.25 * 1024 * 1024 * 1.5  # diskcache culls past the limit, a few rows at a time
    assert cache.get("key 999") is not None and cache.get("key 0") is None  # the oldest went first


# ---- four served instances, one Redis ---------------------------------------------------------------

@pytest.fixture(scope="module")
def instances(judge_url: str, redis: Redis) -> Iterator[list[Served]]:
    env = {"REWARDKIT_JUDGE_BASE_URL": f"{judge_url}/v1", "REWARDKIT_JUDGE_MODEL": "judge-model",
           "OPENAI_API_KEY": "sk-test", _shared.URL_ENV: redis.url}
    contexts = [serve([REWARDS, "--workers", "0"], env=env, timeout=120) for _ in range(INSTANCES)]
    with ExitStack() as stack, ThreadPoolExecutor(INSTANCES) as pool:
        starting = [pool.submit(context.__enter__) for context in contexts]  # the four start side by side
        for context, start in zip(contexts, starting, strict=True):
            if start.exception() is None:
                stack.push(context.__exit__)
        served = [start.result() for start in starting]  # the first failure, once the others will be stopped
        for number, instance in enumerate(served):  # each loads its judge client (aiohttp, redis-py) once, now
            scored(httpx.post(f"{instance.url}/rewards/shared", json=vertex_request(f"warm-up {number}"), timeout=60))
        yield served


async def spread(instances: list[Served], reward: str, responses: list[str]) -> list[httpx.Response]:
    """Each response to the next instance, round robin, all at once."""
    async with httpx.AsyncClient(timeout=60) as http:
        return list(await asyncio.gather(*(
            http.post(f"{instances[i % len(instances)].url}/rewards/{reward}", json=vertex_request(text))
            for i, text in enumerate(responses))))


def scored(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return json.loads(answer.json()["user_requested_aux_info"])


def test_served_instances_share_the_rate_limit(instances: list[Served], judge_url: str) -> None:
    script(judge_url, default="Score: 5")
    started = time.monotonic()
    answers = asyncio.run(spread(instances, "paced", [f"paced answer {i}" for i in range(80)]))
    elapsed = time.monotonic() - started
    sent = stats(judge_url)["requests"]
    # 30 a minute for all four: a burst of 30 then one every 2 s (+2: grants at the window's edges). Four
    # instances each with their own limit would have sent all 80.
    assert 30 <= sent <= 30 + elapsed / 2 + 2, (sent, elapsed)
    judged = [a for a in answers if a.status_code == 200]
    assert len(judged) == sent and all(scored(a)["score"] == 1.0 for a in judged)
    refused = [a.json() for a in answers if a.status_code != 200]
    assert all(r["error_code"] == "JUDGE_ERROR" and "requests-per-minute limit" in r["error"] for r in refused), refused


def test_a_response_judged_on_one_instance_is_a_cache_hit_on_another(instances: list[Served],
                                                                    judge_url: str) -> None:
    script(judge_url, default="Score: 4")
    first = scored(httpx.post(f"{instances[0].url}/rewards/shared", json=vertex_request("judged once"), timeout=60))
    assert first["metrics"]["judge_cached"] == 0
    for other in instances[1:]:
        again = scored(httpx.post(f"{other.url}/rewards/shared", json=vertex_request("judged once"), timeout=60))
        assert again["metrics"]["judge_cached"] == 1 and again["score"] == first["score"] == 0.75
    assert stats(judge_url)["requests"] == 1


def test_killing_redis_mid_run_loses_no_answer(instances: list[Served], judge_url: str, redis: Redis) -> None:
    script(judge_url, latency=0.2, default="Score: 3")

    def kill_once_judging() -> None:
        deadline = time.monotonic() + 30
        while stats(judge_url)["requests"] < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        redis.stop()

    killer = threading.Thread(target=kill_once_judging)
    killer.start()
    try:
        answers = asyncio.run(spread(instances, "shared", [f"outage answer {i}" for i in range(48)]))
    finally:
        killer.join()
        redis.start()
    assert [scored(a)["score"] for a in answers] == [0.5] * 48
    metrics = "".join(httpx.get(f"{s.url}/metrics").text for s in instances)
    assert 'rewardkit_judge_redis_fallbacks_total{judge="shared"' in metrics
