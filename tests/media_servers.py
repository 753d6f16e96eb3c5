"""Local media sources for the media tests: images drawn with Pillow, an HTTP server that serves them (and
misbehaves on purpose), and a Cloud Storage emulator the real google-cloud-storage client reaches through
STORAGE_EMULATOR_HOST. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import http.server
import io
import threading
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

from .served import free_port


def png(width: int = 64, height: int = 48, colour: str = "red") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class MediaServer:
    """`/img.png` (a 64x48 PNG; hits counted per path), `/redirect` (302 to `/img.png` on 127.0.0.1),
    `/stall` (headers, then nothing until the test ends), `/huge` (declares 10 GB), `/endless` (no length,
    3 MB of bytes), `/html` (an error page served as image/png)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.image = png()
        self.release = threading.Event()
        self.port = free_port()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits[self.path] += 1
                getattr(owner, "_" + self.path.strip("/").split(".")[0], owner._missing)(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True

    def url(self, path: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"

    def _send(self, handler: http.server.BaseHTTPRequestHandler, body: bytes, kind: str, status: int = 200) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _img(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        self._send(handler, self.image, "image/png")

    def _redirect(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", self.url("/img.png", host="127.0.0.1"))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _stall(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(self.image)))
        handler.end_headers()
        handler.wfile.flush()
        self.release.wait(30)

    def _huge(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(10 * 1024 ** 3))
        handler.end_headers()
        handler.wfile.write(self.image)

    def _endless(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.0"  # no length: the body ends when the connection closes
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        try:
            handler.wfile.write(self.image)
            for _ in range(48):
                handler.wfile.write(b"\0" * 65536)
        except OSError:  # the client stopped reading at its limit
            pass
        handler.close_connection = True

    def _html(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        self._send(handler, b"<!DOCTYPE html><html><body>AccessDenied</body></html>", "image/png")

    def _missing(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        self._send(handler, b"not found", "text/plain", 404)


@contextmanager
def media_server() -> Iterator[MediaServer]:
    server = MediaServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.server.shutdown()
        server.server.server_close()


@contextmanager
def storage_emulator(bucket: str, objects: dict[str, tuple[bytes, str]]) -> Iterator[str]:
    """A Cloud Storage emulator holding `objects` ({name: (bytes, content type)}) in `bucket`; yields the
    value of STORAGE_EMULATOR_HOST."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    host = f"http://127.0.0.1:{port}"
    try:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(project="test", credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": host})
        for name, (body, kind) in objects.items():
            client.bucket(bucket).blob(name).upload_from_string(body, content_type=kind)
        yield host
    finally:
        server.stop()
