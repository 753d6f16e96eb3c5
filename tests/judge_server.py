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
- `identity_token`: what the metadata server path (`.../service-accounts/default/identity`) hands out;
- `key`: answer 401 unless `Authorization: Bearer KEY`;
- `ranking`: texts from best to worst; for "Answer A: ... Answer B: ..." it prefers the answer
  holding the better-ranked text; `bias: "A"` makes it always say A (position bias).

`GET /stats` reports `requests`, `max_in_flight`, and with `?bodies=1` the request bodies.
`POST /control` resets the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

    def reply(self, user: str) -> str:
        if self.script.get("obey"):
            for line in outside_fences(user):
                directive = _DIRECTIVE.match(line)
                if directive:
                    return directive.group(1)
        ranking = self.script.get("ranking")
        if ranking and "Answer A:" in user and "Answer B:" in user:
            if self.script.get("bias") == "A":
                return "Verdict: A"
            a, b = user.split("Answer A:", 1)[1].split("Answer B:", 1)

            def rank(block: str) -> int:
                return next((i for i, text in enumerate(ranking) if text in block), len(ranking))

            ra, rb = rank(a), rank(b)
            return "Verdict: tie" if ra == rb else f"Verdict: {'A' if ra < rb else 'B'}"
        for rule in self.script.get("rules", []):
            if rule["contains"] in user:
                return str(rule["reply"])
        return str(self.script.get("default", "Score: 3"))


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
        if path != "/v1/chat/completions" or method != "POST":
            return await _send(send, 404, b'{"error": {"message": "not found"}}')
        judge.requests += 1
        key = judge.script.get("key")
        if key and dict(scope["headers"]).get(b"authorization", b"").decode() != f"Bearer {key}":
            return await _send(send, 401, b'{"error": {"message": "Incorrect API key provided"}}')
        judge.in_flight += 1
        judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
        try:
            await _completion(judge, body, send)
        finally:
            judge.in_flight -= 1

    return app


async def _completion(judge: Judge, body: bytes, send: Any) -> None:
    request = json.loads(body)
    if len(judge.bodies) < 2000:
        judge.bodies.append(request)
    if judge.script.get("latency"):
        await asyncio.sleep(float(judge.script["latency"]))
    failure = judge._failure()
    if failure is not None:
        headers = {"retry-after": str(failure["retry_after"])} if "retry_after" in failure else {}
        default = json.dumps({"error": {"message": f"scripted failure {failure['status']}"}})
        return await _send(send, int(failure["status"]), str(failure.get("body", default)).encode(), headers)
    user = "\n".join(m.get("content", "") for m in request.get("messages", []) if m.get("role") == "user")
    text = judge.reply(user)
    prompt_tokens = sum(len(m.get("content", "")) for m in request.get("messages", [])) // 4
    answer = {"id": f"chatcmpl-{judge.requests}", "object": "chat.completion", "created": 0,
              "model": request.get("model", ""),
              "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max(len(text) // 4, 1),
                        "total_tokens": prompt_tokens + max(len(text) // 4, 1)}}
    await _send(send, 200, json.dumps(answer).encode())


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
