"""Optional shared-secret bearer authentication, for deployments outside IAM (a public Function Compute trigger).

On Cloud Run, leave it off and let IAM check the caller: Vertex sends a Google
ID token in the same Authorization header, which would not match a secret.
"""

from __future__ import annotations

import hmac
from typing import Callable, Sequence

from starlette.responses import JSONResponse

from .http import ASGIApp, Receive, Scope, Send

# The platform's health check and Function Compute's lifecycle hooks come without the secret.
OPEN_PATHS = frozenset({"/health", "/initialize", "/pre-stop"})


def check_bearer(header: bytes | None, tokens: Sequence[bytes]) -> str | None:
    """None when the header carries one of `tokens`; else what is wrong, for the 401 body."""
    if header is None:
        return "missing Authorization header: send 'Authorization: Bearer <token>' with the service's token"
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return "the Authorization header must be 'Bearer <token>'"
    token = token.strip()
    matched = False
    for expected in tokens:  # compare with every token, in constant time, so timing reveals nothing
        matched |= hmac.compare_digest(token, expected)
    return None if matched else "invalid bearer token"


class BearerAuth:
    """ASGI middleware: every path but OPEN_PATHS needs `Authorization: Bearer <token>`.

    Several tokens (comma-separated in REWARDKIT_AUTH_TOKEN) are all accepted,
    so a secret can be rotated without downtime.
    """

    def __init__(self, app: ASGIApp, tokens: Sequence[str], on_reject: Callable[[], None] | None = None) -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens]
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        problem = check_bearer(header, self.tokens)
        if problem is None:
            return await self.app(scope, receive, send)
        if self.on_reject is not None:
            self.on_reject()
        response = JSONResponse({"message": problem, "detail": None}, 401,
                                headers={"WWW-Authenticate": 'Bearer realm="rewardkit"'})
        await response(scope, receive, send)
