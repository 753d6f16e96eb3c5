"""A local AWS Lambda Runtime API, for running a handler under the real runtime client (awslambdaric).

The Lambda Python base image starts `awslambdaric` with the function's handler; it asks the Runtime
API for the next event (`GET /2018-06-01/runtime/invocation/next`, the event as body, the request id
and deadline as headers) and posts the handler's result (`POST .../invocation/{id}/response`) or its
error (`POST .../invocation/{id}/error`, `{errorMessage, errorType, stackTrace}`). This server speaks
those endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), so a test can run
`python -m awslambdaric rewardkit.aws.lambda_handler` as Lambda does and invoke it with events.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class _Server(ThreadingHTTPServer):
    # A runtime killed while it waits for its next event leaves that request's thread blocked: never join it.
    daemon_threads = True
    block_on_close = False


@dataclass
class Result:
    ok: bool
    body: Any  # the handler's return value, or the runtime's error object


class RuntimeAPI:
    """One function's Runtime API: `invoke(event)` hands the event to the runtime and waits for its answer."""

    def __init__(self, function_timeout: float = 60.0) -> None:
        self.function_timeout = function_timeout
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._results: dict[str, queue.Queue[Result]] = {}
        self.init_error: Any = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                request_id, event = api._events.get()
                deadline = int((time.time() + api.function_timeout) * 1000)
                self._reply(200, event, {"Lambda-Runtime-Aws-Request-Id": request_id,
                                         "Lambda-Runtime-Deadline-Ms": str(deadline),
                                         "Lambda-Runtime-Invoked-Function-Arn":
                                             "arn:aws:lambda:us-east-1:123456789012:function:SageMaker-reward",
                                         "Content-Type": "application/json"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = json.loads(body or b"null")
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    api._results[parts[1]].put(Result(parts[2] == "response", json.loads(body or b"null")))
                else:
                    return self._reply(404)
                self._reply(202, b"{}")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def invoke(self, event: Any, timeout: float = 60.0) -> Result:
        request_id = str(uuid.uuid4())
        self._results[request_id] = queue.Queue()
        self._events.put((request_id, json.dumps(event).encode()))
        try:
            return self._results[request_id].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the runtime answered no invocation within {timeout:g} s "
                                 f"(init error: {self.init_error})") from None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
