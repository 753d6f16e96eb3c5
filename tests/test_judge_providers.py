"""Judge providers: the default OpenAI-compatible one, and one from outside rewardkit through the
`rewardkit.judge_providers` entry points, served by a real `rewardkit serve` against tests/judge_server.py.

`tests/toy_judge_provider/` is laid out as an installed package (a module and its `.dist-info`
with `entry_points.txt`); on PYTHONPATH, `importlib.metadata` finds it as it would after `pip install`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rewardkit import RegistrationError
from rewardkit.clients import AsyncJudge, JudgeError
from rewardkit.clients.providers import Chat, HTTPRequest, Provider, Reply, get, register
from rewardkit.testing import request

from .judge_server import running
from .served import serve

TOY = Path(__file__).resolve().parent / "toy_judge_provider"
REWARDS = str(Path(__file__).resolve().parent / "judge_provider_rewards.py")


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    with running() as url:
        yield url


def script(judge_url: str, **settings: Any) -> None:
    httpx.post(f"{judge_url}/control", json=settings).raise_for_status()


def test_a_plugin_provider_serves_a_judge_reward_in_its_own_wire_shape(judge_url: str) -> None:
    script(judge_url, key="g-key", default="Fine. Score: 4", default_probabilities={"4": 0.5, "5": 0.5})
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TOY), os.environ.get("PYTHONPATH")])),
           "TOY_GEMINI_URL": f"{judge_url}/v1beta"}
    with serve([REWARDS, "--workers", "1"], env=env) as served:
        answer = httpx.post(f"{served.url}/rewards/gemini_quality", json=request("vertex", "An answer.")[0],
                            timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["reward"] == 0.75
        # Log-probabilities come back through the plug-in too: 0.5 x 4 + 0.5 x 5 = 4.5 on 1..5.
        weighted = httpx.post(f"{served.url}/rewards/gemini_weighted", json=request("vertex", "An answer.")[0],
                              timeout=60)
        assert weighted.json()["reward"] == pytest.approx(0.875), weighted.text
    bodies = httpx.get(f"{judge_url}/stats", params={"bodies": 1}).json()["bodies"]
    assert [b["model"] for b in bodies] == ["gemini-toy", "gemini-toy"]  # generateContent's path named the model
    assert bodies[0]["temperature"] == 0.0 and bodies[1]["logprobs"] is True and bodies[1]["top_logprobs"] == 20
    assert "never instructions" in bodies[0]["messages"][0]["content"]  # systemInstruction, read back as system


def test_a_provider_missing_a_method_is_refused_naming_it() -> None:
    class Half(Provider):  # builds requests, but cannot read a reply
        name, default_base_url = "half", "http://127.0.0.1:1"

        def request(self, base_url: str, chat: Chat) -> HTTPRequest:
            raise AssertionError

    with pytest.raises(TypeError, match=r"Half does not implement reply"):
        register(Half)


def test_an_unknown_provider_or_a_taken_name_is_refused_at_import() -> None:
    with pytest.raises(RegistrationError, match=r"no judge provider 'gemeni'; registered: openai"):
        AsyncJudge("m", provider="gemeni")

    class Impostor(Provider):
        name, default_base_url = "openai", "http://127.0.0.1:1"

        def request(self, base_url: str, chat: Chat) -> HTTPRequest:
            raise AssertionError

        def reply(self, body: str) -> Reply:
            raise AssertionError

    with pytest.raises(RegistrationError, match=r"same name as the registered provider from "
                                                r"rewardkit.clients.providers.openai_compatible"):
        register(Impostor)


def test_the_default_provider_reads_logprobs_and_refuses_what_is_not_a_completion() -> None:
    openai = get("openai")
    body = json.loads(openai.request("http://h/v1", Chat("m", ({"role": "user", "content": "q"},),
                                                         {"logprobs": True, "top_logprobs": 2})).body)
    assert body == {"logprobs": True, "top_logprobs": 2, "model": "m", "messages": [{"role": "user", "content": "q"}]}
    top = [{"token": "4", "logprob": -0.1}, {"token": "5", "logprob": -2.4}]
    reply = openai.reply(json.dumps({"choices": [{"message": {"content": "4"}, "logprobs": {"content": [
        {"token": "4", "logprob": -0.1, "top_logprobs": top}]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 1}}))
    assert reply.text == "4" and reply.prompt_tokens == 7 and reply.logprobs is not None
    assert reply.logprobs[0].top == (("4", -0.1), ("5", -2.4))
    with pytest.raises(JudgeError, match="not a chat completion: <html>"):
        openai.reply("<html>")


def test_logprobs_survive_the_disk_cache_for_a_replay(judge_url: str, tmp_path: Path) -> None:
    import asyncio

    script(judge_url, default="Score: 4", default_probabilities={"4": 0.7, "5": 0.3})
    chat = [{"role": "user", "content": "Rate this one for the cache. Score: N"}]
    params = {"logprobs": True, "top_logprobs": 5}

    def ask() -> Any:
        client = AsyncJudge("m", base_url=f"{judge_url}/v1", api_key_env=None, cache_dir=tmp_path)
        return asyncio.run(client.complete(chat, params=params))

    first, replayed = ask(), ask()  # a new client: only the disk can answer the second
    assert replayed.cached and httpx.get(f"{judge_url}/stats").json()["requests"] == 1
    assert first.logprobs is not None and replayed.logprobs == first.logprobs
    assert dict(replayed.logprobs[-1].top).keys() == {"4", "5"}


def test_openai_base_url_points_only_the_openai_compatible_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    class Elsewhere(Provider):
        name, default_base_url = "elsewhere", "https://elsewhere.example/v1"

        def request(self, base_url: str, chat: Chat) -> HTTPRequest:
            raise AssertionError

        def reply(self, body: str) -> Reply:
            raise AssertionError

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("REWARDKIT_JUDGE_BASE_URL", raising=False)
    assert AsyncJudge("m", provider=Elsewhere()).base_url == "https://elsewhere.example/v1"
    assert AsyncJudge("m").base_url == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("REWARDKIT_JUDGE_BASE_URL", "http://127.0.0.1:8/api")
    assert AsyncJudge("m", provider=Elsewhere()).base_url == "http://127.0.0.1:8/api"
