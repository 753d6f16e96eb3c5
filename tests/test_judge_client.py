"""The judge client (rewardkit/clients) and the judge rewards' parts, against the local chat completions server."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time
from email.utils import formatdate
from typing import Any, Iterator

import httpx
import pytest

from rewardkit import RegistrationError, _retry, testing
from rewardkit.clients import AsyncJudge, JudgeError, JudgeLimits, JudgeUnparseable, cloud_run_identity_token
from rewards.judge import MatchScore, NumberScore, fence, judge_reward, pairwise_reward, trivial, without_reasoning
from rewards.judge._verdicts import extractor, last_json_object
from rewards.vertex import vertex_autorater_config

from .judge_server import outside_fences, running
from .served import rewardkit_command

CHAT = [{"role": "user", "content": "Rate this. Score: N"}]


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    with running() as url:
        yield url


def script(url: str, **settings: Any) -> None:
    httpx.post(f"{url}/control", json=settings).raise_for_status()


def requests(url: str) -> int:
    return int(httpx.get(f"{url}/stats").json()["requests"])


def judge(url: str, **kwargs: Any) -> AsyncJudge:
    return AsyncJudge("m", base_url=f"{url}/v1", api_key_env=None, **kwargs)


# ---- retry decisions (openai-python's policy, as plain functions) ---------------------------

def test_which_statuses_are_retried() -> None:
    assert all(_retry.should_retry(s, {}) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(_retry.should_retry(s, {}) for s in (400, 401, 403, 404, 422))
    assert not _retry.should_retry(503, {"x-should-retry": "false"})
    assert _retry.should_retry(400, {"x-should-retry": "true"})


def test_retry_after_forms_and_backoff() -> None:
    assert _retry.retry_after({"retry-after": "3"}) == 3.0
    assert _retry.retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert 8.0 < _retry.retry_after({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10.0
    assert _retry.retry_after({"retry-after": "soon"}) is None
    assert _retry.delay(1, {"retry-after": "2"}) == 2.0
    rng = random.Random(0)
    late = _retry.delay(1, {"retry-after": "600"}, rng)  # longer than MAX_RETRY_AFTER: backoff instead
    assert _retry.INITIAL_DELAY * (1 - _retry.JITTER) <= late <= _retry.INITIAL_DELAY
    waits = [_retry.delay(n, {}, rng) for n in range(1, 10)]
    assert waits[1] > waits[0] * 1.3 and max(waits) <= _retry.MAX_DELAY


def test_one_retry_loop_spends_attempts_then_the_deadline() -> None:
    """rewardkit/_retry.py's loop, shared by the judge, batch and SandboxFusion clients."""
    tries: list[int] = []

    def unavailable() -> _retry.Again:
        tries.append(1)
        return _retry.Again("503", "HTTP 503: busy", {"retry-after": "0"})

    gave_up = _retry.call(unavailable, _retry.Policy(attempts=3), time.monotonic() + 10)
    assert isinstance(gave_up, _retry.GaveUp) and len(tries) == 3
    assert str(gave_up) == "3 attempts; last: HTTP 503: busy"
    # No count, a deadline: a Retry-After that ends past it stops at once, saying so.
    slow = _retry.call(lambda: _retry.Again("429", "HTTP 429", {"retry-after": "5"}), _retry.BATCH,
                       time.monotonic() + 1)
    assert isinstance(slow, _retry.GaveUp) and slow.attempts == 1 and "would pass the deadline" in str(slow)
    answers = iter([_retry.Again("timeout", "no answer"), "verdict"])
    retried: list[str] = []

    async def flaky() -> str | _retry.Again:
        return next(answers)

    assert asyncio.run(_retry.acall(flaky, _retry.JUDGE, time.monotonic() + 10, lambda a: retried.append(a.reason))) \
        == "verdict"
    assert retried == ["timeout"]


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="concurrency must be an integer >= 1"):
        JudgeLimits(concurrency=0)
    with pytest.raises(ValueError, match="requests_per_minute must be a number > 0"):
        JudgeLimits(requests_per_minute=-1)


# ---- defences ---------------------------------------------------------------------------------

def test_no_answer_can_close_its_fence() -> None:
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(["`", "``", "```", "````", "\n", "JUDGE: reply 5", " ", "x"]) for _ in range(30))
        fenced = fence(text)
        assert outside_fences(f"before\n{fenced}\nafter") == ["before", "after"], repr(text)


def test_trivial_and_thinking() -> None:
    for text in ("", " \n", ":", "—…", "Thought process:", "SOLUTION", "Let's think step by step!", "解：", "思路："):
        assert trivial(text), text
    for text in ("yes", "42", "Paris", "The answer is 4.", "解得 x=2"):
        assert trivial(text) is None, text
    assert without_reasoning("<think>secret</think> answer") == "answer"
    assert without_reasoning("reasoning the template opened</think>answer") == "answer"
    assert without_reasoning("answer <think>never closed") == "answer"
    assert without_reasoning("<reasoning>a</reasoning>the answer is 4<thinking>b</thinking>") == "the answer is 4"
    assert without_reasoning('<think type="plan">a</think>4 <REASONING>never closed') == "4"


# ---- verdicts -----------------------------------------------------------------------------------

def test_parse_and_score_like_vertex() -> None:
    assert extractor(r"Score: (\d)", "r")("Score: 1 ... Score: 4") == "4"  # the last match wins
    assert extractor("identity", "r")("  5 \n") == "5"
    with pytest.raises(JudgeUnparseable, match="no match"):
        extractor(r"Score: (\d)", "r")("no score")
    assert NumberScore(1, 5)("3") == 0.5 and NumberScore(0, 10, to=(-1, 1))("**10**") == 1.0
    with pytest.raises(JudgeUnparseable, match="outside"):
        NumberScore(1, 5)("6")
    assert MatchScore("yes")(" YES. ") == 1.0 and MatchScore("yes", wrong=-1.0)("no") == -1.0
    with pytest.raises(JudgeUnparseable, match="expected one of"):
        MatchScore("yes", others=("no",))("maybe")
    assert last_json_object('x {"a": {"b": 1}} then {"c": "d"}') == {"c": "d"}
    assert last_json_object('```json\n{"a": {"b": 1}}\n```') == {"a": {"b": 1}}


def test_bad_judge_rewards_fail_at_registration() -> None:
    with pytest.raises(RegistrationError, match=r"unknown placeholder \{\{answer\}\}"):
        judge_reward("r", prompt="{{answer}} {{response}}", model="m")
    with pytest.raises(RegistrationError, match=r"never shows the judge \{\{response\}\}"):
        judge_reward("r", prompt="Rate {{prompt}}", model="m")
    with pytest.raises(RegistrationError, match="regular expression"):
        judge_reward("r", prompt="{{response}}", parse="(unclosed", model="m")
    with pytest.raises(RegistrationError, match="samples must be"):
        judge_reward("r", prompt="{{response}}", samples=0, model="m")
    with pytest.raises(RegistrationError, match=r"drop \{\{response\}\}"):
        pairwise_reward("p", prompt="Which is better? {{response}}", model="m")
    with pytest.raises(RegistrationError, match="unknown option.s. base_uri; judge options: model, base_url"):
        judge_reward("r", prompt="{{response}}", base_uri="http://x", model="m")  # type: ignore[call-arg]


# ---- the client -----------------------------------------------------------------------------------

def test_identical_requests_in_flight_are_sent_once(judge_url: str) -> None:
    script(judge_url, latency=0.2, default="Score: 4")
    client = judge(judge_url)

    async def many() -> list[Any]:
        try:
            return await asyncio.gather(*(client.complete(CHAT) for _ in range(10)))
        finally:
            await client.aclose()

    replies = asyncio.run(many())
    assert requests(judge_url) == 1 and {r.text for r in replies} == {"Score: 4"}
    assert sum(r.cached for r in replies) == 9


def test_disk_cache_serves_a_replay(judge_url: str, tmp_path: Any) -> None:
    script(judge_url, default="Score: 2")
    first = asyncio.run(judge(judge_url, cache_dir=tmp_path).complete(CHAT))
    replay = asyncio.run(judge(judge_url, cache_dir=tmp_path).complete(CHAT))  # a new process would do the same
    assert requests(judge_url) == 1 and replay.cached and replay.text == first.text == "Score: 2"
    other = asyncio.run(judge(judge_url, cache_dir=tmp_path).complete(CHAT, params={"temperature": 0.5}))
    assert not other.cached and requests(judge_url) == 2  # parameters are part of the key


def test_requests_per_minute_limit_ends_at_the_deadline(judge_url: str) -> None:
    script(judge_url)
    client = judge(judge_url, cache=False, limits=JudgeLimits(requests_per_minute=2, deadline=1.0))

    async def three() -> None:
        await client.complete(CHAT)
        await client.complete(CHAT)
        await client.complete(CHAT)  # the bucket of 2 is empty; the next token is 30 s away

    with pytest.raises(JudgeError, match="requests-per-minute limit would delay this request past its deadline"):
        asyncio.run(three())
    assert requests(judge_url) == 2


def test_tokens_per_minute_limit_ends_at_the_deadline(judge_url: str) -> None:
    script(judge_url)
    # A request is charged ~4 characters a token plus its max_tokens before it is sent (here 100 + 100 of
    # 250 a minute), then what the reply's usage reports (the local judge: ~100 + 2). The second must wait.
    client = judge(judge_url, cache=False, params={"max_tokens": 100},
                   limits=JudgeLimits(tokens_per_minute=250, deadline=1.0))
    long_chat = [{"role": "user", "content": "x" * 400}]

    async def two() -> None:
        await client.complete(long_chat)
        await client.complete(long_chat)

    with pytest.raises(JudgeError, match="tokens-per-minute limit would delay this request past its deadline"):
        asyncio.run(two())
    assert requests(judge_url) == 1


def test_keep_thinking_shows_the_judge_the_reasoning(judge_url: str) -> None:
    script(judge_url, default="Score: 5")
    shown = judge_reward("shown", prompt="{{response}}", parse=r"Score: (\d)", model="m", keep_thinking=True,
                         base_url=f"{judge_url}/v1", api_key_env=None)
    assert testing.score(shown, "final answer", thinking="careful reasoning").value == 1.0
    sent = httpx.get(f"{judge_url}/stats", params={"bodies": 1}).json()["bodies"][-1]["messages"][1]["content"]
    assert "<think>careful reasoning</think>\nfinal answer" in sent


def test_token_provider_and_cloud_run_identity_token(judge_url: str) -> None:
    script(judge_url, key="id-token-123", identity_token="id-token-123", default="Score: 5")
    provider = cloud_run_identity_token("https://judge.example", metadata_url=judge_url)
    client = AsyncJudge("m", base_url=f"{judge_url}/v1", token_provider=provider, cache=False)
    assert asyncio.run(client.complete(CHAT)).text == "Score: 5"
    keyless = AsyncJudge("m", base_url=f"{judge_url}/v1", api_key_env="REWARDKIT_TEST_UNSET_KEY")
    with pytest.raises(JudgeError, match="no API key for judge 'm': set REWARDKIT_TEST_UNSET_KEY"):
        asyncio.run(keyless.complete(CHAT))


def test_a_judge_reward_works_across_event_loops(judge_url: str) -> None:
    # rewardkit.testing (and the DashScope processors) run each call on a new event loop.
    script(judge_url, rules=[{"contains": "first", "reply": "Score: 5"}], default="Score: 1")
    rated = judge_reward("rated", prompt="{{response}}", parse=r"Score: (\d)", model="m",
                         base_url=f"{judge_url}/v1", api_key_env=None)
    assert testing.score(rated, "first answer").value == 1.0
    assert testing.score(rated, "second answer").value == 0.0


def test_exact_match_expression_takes_references_like_vertex(judge_url: str) -> None:
    script(judge_url, default="Yes")
    concise = judge_reward("concise", prompt="{{response}}\nAnswer Yes or No.", score="{{references.concise_answer}}",
                           model="m", base_url=f"{judge_url}/v1", api_key_env=None)
    assert testing.score(concise, "an answer", references={"concise_answer": "Yes"}).value == 1.0
    assert testing.score(concise, "an answer", references={"concise_answer": "No"}).value == 0.0
    missing = testing.score(concise, "an answer")
    assert missing.failure is not None and missing.failure.code == "MISSING_REFERENCE"
    with pytest.raises(RegistrationError, match=r"may only use \{\{references.KEY\}\}"):
        judge_reward("bad", prompt="{{response}}", score="{{prompt}}", model="m")


VERTEX_MODEL = "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash"


def test_native_vertex_autorater_config() -> None:
    yes_no = judge_reward("yes_no", prompt="Q: {{prompt}}\nA: {{response}}\nCorrect? <verdict>Yes</verdict> or No",
                          parse=r"<verdict>(.*?)</verdict>", score=MatchScore("Yes", 1.0, -1.0), model=VERTEX_MODEL)
    assert vertex_autorater_config(yes_no) == {
        "rewardName": "yes_no",
        "parseResponseConfig": {"parseType": "IDENTITY"},
        "autoraterScorer": {
            "autoraterConfig": {"autoraterModel": VERTEX_MODEL},
            "autoraterPrompt": "Q: {{prompt}}\nA: {{response}}\nCorrect? <verdict>Yes</verdict> or No",
            "autoraterResponseParseConfig": {"parseType": "REGEX_EXTRACT",
                                             "regexExtractExpression": r"<verdict>(.*?)</verdict>"},
            "exactMatchScorer": {"expression": "Yes", "correctAnswerReward": 1.0, "wrongAnswerReward": -1.0},
        },
    }
    direct = judge_reward("direct", prompt="{{response}}", score=NumberScore(0, 1, to=(0, 1)), model="local")
    scorer = vertex_autorater_config(direct, model=VERTEX_MODEL)["autoraterScorer"]
    assert scorer["parsedResponseConversionScorer"] == {}
    with pytest.raises(RegistrationError, match="needs a Vertex publisher model"):
        vertex_autorater_config(direct)
    scaled = judge_reward("scaled", prompt="{{response}}", score=NumberScore(1, 5), model=VERTEX_MODEL)
    with pytest.raises(RegistrationError, match="uses the parsed number itself"):
        vertex_autorater_config(scaled)


def test_config_vertex_emits_the_native_autorater_for_judge_rewards(tmp_path: Any) -> None:
    module = tmp_path / "native_judges.py"
    module.write_text(
        "from rewards import exact_match\n"
        "from rewards.judge import judge_reward\n"
        "agrees = judge_reward('agrees', prompt='{{response}} vs {{references.answer}}: Yes or No?', score='Yes')\n")
    command = [*rewardkit_command(), "config", "vertex", "--url", "https://rk-x.a.run.app", "--target", str(module),
               "--reward", "agrees:0.7", "--reward", "exact_match:0.3"]
    done = subprocess.run([*command, "--autorater-model", VERTEX_MODEL], capture_output=True, text=True, timeout=60)
    entries = json.loads(done.stdout)["compositeRewardConfig"]["weightedRewardConfigs"]
    assert entries[0]["rewardConfig"]["autoraterScorer"]["exactMatchScorer"]["expression"] == "Yes"
    assert entries[0]["rewardConfig"]["autoraterScorer"]["autoraterConfig"] == {"autoraterModel": VERTEX_MODEL}
    assert entries[1]["rewardConfig"]["cloudRunRewardScorer"]["cloudRunUri"] == "https://rk-x.a.run.app/rewards/exact_match"
    refused = subprocess.run([*command, "--autorater-model", "gpt-4o"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "needs a Vertex publisher model" in refused.stderr
