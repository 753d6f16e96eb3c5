"""The worker pool itself (rewardkit._engine.pool.ProcessEngine), driven directly with real worker processes.

Calls submitted in one event-loop turn are dispatched together, so these
tests decide exactly which calls travel to a worker in one batch.
"""

import asyncio
import pickle
import random

import pytest

from rewardkit._engine.codec import FrameReader, frame
from rewardkit._engine.pool import ProcessEngine
from rewardkit._loader import load_registry
from rewardkit._sample import sample
from rewardkit._settings import Settings

from .conftest import REPO

ENGINE_REWARDS = str(REPO / "tests" / "engine_rewards.py")
REGISTRY = load_registry(ENGINE_REWARDS)
QUICK = REGISTRY.get("quick")


class Batches:
    """Records how many calls each write to a worker carried."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        send = ProcessEngine._send

        def recording(engine, worker, limit):
            before = len(worker.jobs)
            sent = send(engine, worker, limit)
            if len(worker.jobs) > before:
                self.sizes.append(len(worker.jobs) - before)
            return sent

        monkeypatch.setattr(ProcessEngine, "_send", recording)


def with_engine(workers: int, timeout: float, scenario):
    async def main():
        engine = ProcessEngine(ENGINE_REWARDS, REGISTRY,
                               Settings(workers=workers, timeout=timeout, worker_memory_mb=0, max_queue=1000))
        await engine.start()
        try:
            return await scenario(engine)
        finally:
            await engine.stop()

    return asyncio.run(main())


async def score(engine, response: str):
    (outcome,) = await engine.run(QUICK, [sample(response)])
    return outcome


async def warm_up(engine) -> None:
    """Enough calls, one at a time, for the engine to know `quick` is fast."""
    for _ in range(5):
        await score(engine, "0")


def test_calls_of_a_fast_reward_travel_together_and_each_gets_its_own_answer(monkeypatch):
    batches = Batches(monkeypatch)

    async def scenario(engine):
        await warm_up(engine)
        batches.sizes.clear()
        outcomes = await asyncio.gather(*(score(engine, str(i)) for i in range(200)))
        return outcomes, engine.waiting, engine.running

    outcomes, waiting, running = with_engine(2, 30, scenario)
    assert [o.value for o in outcomes] == [float(i) for i in range(200)]
    assert max(batches.sizes) > 1 and sum(batches.sizes) == 200
    assert (waiting, running) == (0, 0)


def test_a_call_of_an_unknown_or_slow_reward_always_travels_alone(monkeypatch):
    batches = Batches(monkeypatch)

    async def scenario(engine):  # no warm-up: nothing is known of `quick` yet
        return await asyncio.gather(*(score(engine, str(i)) for i in range(6)))

    outcomes = with_engine(1, 30, scenario)
    assert [o.value for o in outcomes] == [float(i) for i in range(6)]
    assert batches.sizes[0] == 1


@pytest.mark.parametrize("bad, code", [("hang", "TIMEOUT"), ("crash", "WORKER_CRASHED")])
def test_the_calls_sent_behind_a_call_that_hangs_or_crashes_are_run_by_the_next_worker(monkeypatch, bad, code):
    batches = Batches(monkeypatch)

    async def scenario(engine):
        await warm_up(engine)
        batches.sizes.clear()
        outcomes = await asyncio.gather(score(engine, bad), *(score(engine, str(i)) for i in range(1, 9)))
        return outcomes, engine.restarts, engine.waiting, engine.running

    (failed, *good), restarts, waiting, running = with_engine(1, 1.0, scenario)
    assert batches.sizes[0] == 9  # all nine went to the one worker together, the bad call first
    assert failed.failure is not None and failed.failure.code == code
    assert [o.value for o in good] == [float(i) for i in range(1, 9)]
    assert restarts == 1 and (waiting, running) == (0, 0)


def test_a_running_call_of_a_fast_reward_finishes_when_its_request_goes_away():
    async def scenario(engine):
        await warm_up(engine)
        cancelled = [asyncio.ensure_future(score(engine, "1")) for _ in range(8)]
        while engine.running < 8:  # all sent to the worker: the first is running, the rest next in line
            await asyncio.sleep(0)
        for task in cancelled:
            task.cancel()
        await asyncio.gather(*cancelled, return_exceptions=True)
        after = await score(engine, "2")
        return engine.restarts, after.value, engine.waiting, engine.running

    restarts, value, waiting, running = with_engine(1, 30, scenario)
    assert restarts == 0 and value == 2.0 and (waiting, running) == (0, 0)


def test_a_cancelled_call_that_never_started_leaves_the_queue_without_running():
    sleepy = REGISTRY.get("sleepy")

    async def scenario(engine):
        first = asyncio.ensure_future(engine.run(sleepy, [sample("0.5")]))
        queued = asyncio.ensure_future(engine.run(sleepy, [sample("30")]))
        await asyncio.sleep(0.1)
        assert (engine.running, engine.waiting) == (1, 1)
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        counts = (engine.running, engine.waiting)
        (outcome,) = await first
        return counts, outcome.value, engine.restarts

    counts, value, restarts = with_engine(1, 60, scenario)
    assert counts == (1, 0) and value == 1.0 and restarts == 0


def test_frames_come_out_whole_however_the_bytes_are_split():
    messages = [("done", [(1.0, None, None, None, None, None)], 0.001), None, "x" * 70_000, {"k": list(range(500))}]
    stream = b"".join(frame(m) for m in messages)
    rng = random.Random(7)
    for _ in range(50):
        reader, received, offset = FrameReader(), [], 0
        while offset < len(stream):
            step = rng.choice([1, 3, 4, 5, 100, 4096, 65536])
            received += reader.feed(stream[offset:offset + step])
            offset += step
        assert received == messages


def test_frames_match_what_the_worker_side_connection_reads():
    import multiprocessing

    mine, theirs = multiprocessing.Pipe(duplex=True)
    try:
        import os

        os.write(mine.fileno(), frame(("quick", ("1", {}))))
        assert pickle.loads(theirs.recv_bytes()) == ("quick", ("1", {}))
        theirs.send_bytes(pickle.dumps(("done", [], 0.5)))
        assert FrameReader().feed(os.read(mine.fileno(), 1024)) == [("done", [], 0.5)]
    finally:
        mine.close()
        theirs.close()


WHERE = REGISTRY.get("where")  # sleeps `response` seconds


async def nap(engine, seconds: str):
    (outcome,) = await engine.run(WHERE, [sample(seconds)])
    return outcome


def test_a_steady_reward_has_its_next_call_sent_behind_the_running_one_and_back_if_that_one_hangs(monkeypatch):
    batches = Batches(monkeypatch)

    async def scenario(engine):
        for _ in range(3):  # calls of ~10 ms: the engine learns `where` is steady, not fast
            await nap(engine, "0.01")
        batches.sizes.clear()
        outcomes = await asyncio.gather(nap(engine, "30"), *(nap(engine, "0.01") for _ in range(3)))
        return outcomes, engine.restarts, engine.waiting, engine.running

    (hung, *good), restarts, waiting, running = with_engine(1, 1.0, scenario)
    # The hanging call went with one behind it; once it overran, the reward no longer counts as steady.
    assert batches.sizes == [2, 1, 1, 1]
    assert hung.failure is not None and hung.failure.code == "TIMEOUT"
    assert [o.value for o in good] == [0.01] * 3
    assert restarts == 1 and (waiting, running) == (0, 0)


def test_requests_cancelled_together_leave_the_counts_right_and_later_calls_served():
    async def scenario(engine):
        for _ in range(3):
            await nap(engine, "0.01")
        running = asyncio.ensure_future(nap(engine, "30"))
        behind = asyncio.ensure_future(nap(engine, "0.01"))
        while engine.running < 2:
            await asyncio.sleep(0)
        running.cancel()  # stops the worker: the call behind would go back to the queue, but it is cancelled too
        behind.cancel()
        await asyncio.gather(running, behind, return_exceptions=True)
        counts = (engine.waiting, engine.running)
        later = await asyncio.wait_for(nap(engine, "0.01"), 30)
        return counts, later.value, engine.restarts

    counts, value, restarts = with_engine(1, 60, scenario)
    assert counts == (0, 0) and value == 0.01 and restarts == 1
