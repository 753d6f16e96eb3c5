"""A local judge that speaks the OpenAI chat completions protocol, scripted over HTTP. For tests and bench/.

    python tests/judge_server.py --port 8931

`POST /v1/chat/completions` answers like a chat model (openai/openai-python
`src/openai/types/chat/chat_completion.py`): `{"id", "object": "chat.completion", "model",
"choices": [{"index", "message": {"role": "assistant", "content"}, "finish_reason"}], "usage"}`.
What it answers is scripted with `POST /control` (a JSON object, every key optional):

- `latency`: seconds before each answer; `default`: the reply when nothing else decides;
- `rules`: `[{"contains": TEXT, "reply": REPLY}]`, the first whose text is in the user message wins;
- `failures`: `[{"status": 429, "retry_after": "1", "body": "...", "times": 2}]`, served first, in order
  (`status: 200` with a `body` that is not JSON is a malformed reply);
- `obey`: a gullible judge: a line `JUDGE: reply TEXT` outside every fenced block of the user
  message makes it reply TEXT (what an answer that breaks out of its fence, or a template that
  does not fence it, gets);
- `probabilities` on a rule (or `default_probabilities`): `{TOKEN: p}`; a request asking for
  `logprobs` gets them (OpenAI `choices[0].logprobs.content`), the reply split into word,
  space and punctuation tokens, and at the reply's last token that is a key of the map, that
  distribution as `top_logprobs` (the others are certain). Without the map, no logprobs are sent;
- `checklist`: `{TEXT: VERDICT}`; for each line `- "ID": ...TEXT...` of the user message, the
  reply's JSON object says `"ID": VERDICT` (a text in no line's criterion is left out: a missing verdict);
- `models`: `{MODEL: {...}}`: keys that replace the script's for requests naming that model, and
  `fail: STATUS` to answer every request for it with that status (a panel member that is down);
- `identity_token`: what the metadata server path (`.../service-accounts/default/identity`) hands out;
- `key`: answer 401 unless `Authorization: Bearer KEY`;
- `ranking`: texts from best to worst; for "Answer A: ... Answer B: ..." it prefers the answer
  holding the better-ranked text; `bias: "A"` makes it always say A (position bias).

`POST /v1beta/models/MODEL:generateContent` answers the same verdicts in Gemini's shape
(`contents`/`systemInstruction`/`generationConfig` in; `candidates[0].content.parts`,
`logprobsResult`, `usageMetadata` out; google-gemini/generative-ai-python
`docs/api/google/generativeai/protos/LogprobsResult.md`), for the toy provider plug-in; its key
goes in `x-goog-api-key`.

`GET /stats` reports `requests`, `max_in_flight`, and with `?bodies=1` the request bodies.
`POST /control` resets the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_DIRECTIVE = re.compile(r"^\s*JUDGE:\s*reply\s+(.+?)\s*$")
_FENCE = re.compile(r"^(`{3,})")
_CRITERION = re.compile(r'^- "([\w.:#-]+)": (.*)$')
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def outside_fences(text: str) -> list[str]:
    """The lines of `text` not inside a backtick fence (CommonMark: a fence closes on a run at least as long)."""
    lines, opened = [], 0
    for line in text.splitlines():
        run = _FENCE.match(line)
        if opened == 0:
            if run:
                opened = len(run.group(1))
            else:
                lines.append(line)
        elif run and len(run.group(1)) >= opened and not line.strip("`").strip():
            opened = 0
    return lines


class Judge:
    def __init__(self) -> None:
        self.script: dict[str, Any] = {}
        self.reset({})

    def reset(self, script: dict[str, Any]) -> None:
        self.script = script
        self.failures = [dict(f) for f in script.get("failures", [])]
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list[Any] = []

    def _failure(self) -> dict[str, Any] | None:
        while self.failures:
            failure = self.failures[0]
            if failure.get("times", 1) <= 0:
                self.failures.pop(0)
                continue
            failure["times"] = failure.get("times", 1) - 1
            return failure
        return None

    def for_model(self, model: str) -> dict[str, Any]:
        """The script as a request naming `model` sees it."""
        return {**self.script, **self.script.get("models", {}).get(model, {})}

    def reply(self, user: str, model: str = "") -> tuple[str, dict[str, float] | None]:
        """The reply's text, and the distribution its scored token is drawn from (None: no logprobs)."""
        script = self.for_model(model)
        checklist = script.get("checklist")
        if checklist is not None:
            return checklist_verdicts(user, checklist), None
        return self.text(user, script)

    def text(self, user: str, script: dict[str, Any]) -> tuple[str, dict[str, float] | None]:
        if script.get("obey"):
            for line in outside_fences(user):
                directive = _DIRECTIVE.match(line)
                if directive:
                    return directive.group(1), None
        ranking = script.get("ranking")
        if ranking and "Answer A:" in user and "Answer B:" in user:
            if script.get("bias") == "A":
                return "Verdict: A", None
            a, b = user.split("Answer A:", 1)[1].split("Answer B:", 1)

            def rank(block: str) -> int:
                return next((i for i, text in enumerate(ranking) if text in block), len(ranking))

            ra, rb = rank(a), rank(b)
            return ("Verdict: tie" if ra == rb else f"Verdict: {'A' if ra < rb else 'B'}"), None
        for rule in script.get("rules", []):
            if rule["contains"] in user:
                return str(rule["reply"]), rule.get("probabilities")
        return str(script.get("default", "Score: 3")), script.get("default_probabilities")


def checklist_verdicts(user: str, checklist: dict[str, str]) -> str:
    """A checklist judge's reply: a verdict for each listed criterion whose text the script knows."""
    verdicts = {}
    for line in outside_fences(user):
        found = _CRITERION.match(line)
        if found:
            verdict = next((v for text, v in checklist.items() if text in found.group(2)), None)
            if verdict is not None:
                verdicts[found.group(1)] = verdict
    return f"Checked each criterion.\n{json.dumps(verdicts)}"


def token_logprobs(text: str, probabilities: dict[str, float], top: int) -> list[dict[str, Any]]:
    """OpenAI `logprobs.content` for `text`: certain tokens, except the last one the distribution names."""
    tokens = _TOKEN.findall(text)
    scored = max((i for i, t in enumerate(tokens) if t in probabilities), default=-1)
    content = []
    for i, token in enumerate(tokens):
        if i == scored:
            ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])[:max(top, 1)]
            content.append({"token": token, "logprob": math.log(probabilities[token]),
                            "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in ranked]})
        else:
            content.append({"token": token, "logprob": 0.0, "top_logprobs": [{"token": token, "logprob": 0.0}]})
    return content


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Any, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def make_app(judge: Judge) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        body = await _body(receive)
        if path == "/control" and method == "POST":
            judge.reset(json.loads(body or b"{}"))
            return await _send(send, 200, b"{}")
        if path == "/stats":
            stats: dict[str, Any] = {"requests": judge.requests, "max_in_flight": judge.max_in_flight}
            if b"bodies=1" in scope.get("query_string", b""):
                stats["bodies"] = judge.bodies
            return await _send(send, 200, json.dumps(stats).encode())
        if path.endswith("/service-accounts/default/identity"):  # the GCE / Cloud Run metadata server
            token = judge.script.get("identity_token")
            if not token or dict(scope["headers"]).get(b"metadata-flavor") != b"Google":
                return await _send(send, 403, b"forbidden")
            return await _send(send, 200, str(token).encode())
        if path == "/health":
            return await _send(send, 200, b"{}")
        gemini = path.startswith("/v1beta/models/") and path.endswith(":generateContent")
        if (path != "/v1/chat/completions" and not gemini) or method != "POST":
            return await _send(send, 404, b'{"error": {"message": "not found"}}')
        judge.requests += 1
        key = judge.script.get("key")
        given = dict(scope["headers"]).get(b"x-goog-api-key" if gemini else b"authorization", b"").decode()
        if key and given != (key if gemini else f"Bearer {key}"):
            return await _send(send, 401, b'{"error": {"message": "Incorrect API key provided"}}')
        judge.in_flight += 1
        judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
        try:
            chat = _from_gemini(path, json.loads(body)) if gemini else json.loads(body)
            await _completion(judge, chat, send, _to_gemini if gemini else _to_openai)
        finally:
            judge.in_flight -= 1

    return app


def text_of(content: Any) -> str:
    """A message's text: the string, or the text parts of a multimodal content list (its media parts are kept
    in the recorded bodies, for tests to check what the judge was shown)."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


async def _completion(judge: Judge, request: dict[str, Any], send: Any, shape: Any) -> None:
    if len(judge.bodies) < 2000:
        judge.bodies.append(request)
    model = str(request.get("model", ""))
    if judge.script.get("latency"):
        await asyncio.sleep(float(judge.script["latency"]))
    down = judge.for_model(model).get("fail")
    failure = {"status": down} if down else judge._failure()
    if failure is not None:
        headers = {"retry-after": str(failure["retry_after"])} if "retry_after" in failure else {}
        default = json.dumps({"error": {"message": f"scripted failure {failure['status']}"}})
        return await _send(send, int(failure["status"]), str(failure.get("body", default)).encode(), headers)
    user = "\n".join(text_of(m.get("content")) for m in request.get("messages", []) if m.get("role") == "user")
    text, probabilities = judge.reply(user, model)
    logprobs = token_logprobs(text, probabilities, int(request.get("top_logprobs") or 1)) \
        if request.get("logprobs") and probabilities else None
    prompt_tokens = sum(len(text_of(m.get("content"))) for m in request.get("messages", [])) // 4
    await _send(send, 200, json.dumps(shape(judge.requests, model, text, logprobs, prompt_tokens)).encode())


def _to_openai(number: int, model: str, text: str, logprobs: list[dict[str, Any]] | None,
               prompt_tokens: int) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    completion_tokens = max(len(text) // 4, 1)
    return {"id": f"chatcmpl-{number}", "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                           "total_tokens": prompt_tokens + completion_tokens}}


def _from_gemini(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A generateContent body as the chat the rest of this server reads."""
    model = path[len("/v1beta/models/"):-len(":generateContent")]
    system = " ".join(p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", []))
    messages = [{"role": "system", "content": system}] if system else []
    for content in body.get("contents", []):
        messages.append({"role": "assistant" if content.get("role") == "model" else "user",
                         "content": "".join(p.get("text", "") for p in content.get("parts", []))})
    config = body.get("generationConfig") or {}
    return {"model": model, "messages": messages, "logprobs": config.get("responseLogprobs", False),
            "top_logprobs": config.get("logprobs"), "temperature": config.get("temperature")}


def _to_gemini(number: int, model: str, text: str, logprobs: list[dict[str, Any]] | None,
               prompt_tokens: int) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
    if logprobs is not None:
        candidate["logprobsResult"] = {
            "chosenCandidates": [{"token": t["token"], "logProbability": t["logprob"]} for t in logprobs],
            "topCandidates": [{"candidates": [{"token": a["token"], "logProbability": a["logprob"]}
                                              for a in t["top_logprobs"]]} for t in logprobs]}
    return {"candidates": [candidate], "modelVersion": model,
            "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": max(len(text) // 4, 1)}}


@contextmanager
def running() -> Iterator[str]:
    """Start this server in its own process on a free loopback port; yield its URL; stop it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="judge-server-") as folder:
        log = Path(folder) / "judge.log"
        with open(log, "w") as out:
            process = subprocess.Popen([sys.executable, __file__, "--port", str(port)], stdout=out,
                                       stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the judge server exited:\n{log.read_text()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the judge server did not start:\n{log.read_text()}") from None
                    time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(make_app(Judge()), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                backlog=4096)


if __name__ == "__main__":
    main()
