"""What stands in front of every route of the HTTP app: the token, the body limit, and the work queue.

* `TokenGate` (ASGI): with ``api_token`` (or named ``api_tokens``) set, every request but ``/healthz``, the signed bot webhooks
  (``/bots/...``) and the login page needs ``Authorization: Bearer <token>`` or the cookie the login page
  sets; this covers the mounted Gradio app (its pages, ``/gradio_api/*``, queue and upload routes), the
  OpenAPI docs and every API route, and it runs before any body is read or validated. A browser asking for
  a page is sent to the login page; anything else gets a 401 JSON error.
* `BodyLimit` (ASGI): counts the body's bytes as they arrive (chunked requests included) and answers 413
  once they pass ``max_body_bytes``, for every route.
* `WorkQueue`: retrievals and answers run on at most ``concurrency`` worker threads with at most
  ``max_queue`` requests waiting; more get 503 with Retry-After. The event loop itself never waits on
  them, so ``/healthz`` answers at once under any load.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("advisor.http")

COOKIE = "advisor_session"
LOGIN_PATH = "/login"
OPEN_PATHS = ("/healthz", LOGIN_PATH, "/logout")
OPEN_PREFIXES = ("/bots/",)  # each webhook is authenticated by its platform's signature
T = TypeVar("T")


async def _json_error(send: Send, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"message": message, "type": kind}}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


# ---- the token and the login cookie ---------------------------------------------------------------

def session_cookie(token: str, now: float | None = None) -> str:
    """A login cookie value: issue time and an HMAC of it under the token (the token itself never leaves)."""
    issued = str(int(now if now is not None else time.time()))
    return f"{issued}.{_sign(token, issued)}"


def _sign(token: str, issued: str) -> str:
    return hmac.new(token.encode(), f"advisor-session:{issued}".encode(), hashlib.sha256).hexdigest()


def valid_cookie(token: str, value: str, max_age: float) -> bool:
    issued, _, mac = value.partition(".")
    if not issued.isdigit() or not mac:
        return False
    if not 0 <= time.time() - int(issued) <= max_age:
        return False
    return hmac.compare_digest(_sign(token, issued).encode(), mac.encode())


def matching_token(given: str, tokens: dict[str, str]) -> str | None:
    """The configured token equal to `given` (every one compared, in constant time), else None."""
    found = None
    for token in tokens.values():
        if hmac.compare_digest(given.encode(), token.encode()):
            found = token
    return found


def authorised(headers: dict[str, str], tokens: dict[str, str], max_age: float) -> bool:
    """True when the request carries one of the bearer tokens or a valid login cookie (signed with one)."""
    given = headers.get("authorization", "")
    if given[:7].lower() == "bearer " and matching_token(given[7:].strip(), tokens) is not None:
        return True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is simply not a login
        return False
    morsel = cookie.get(COOKIE)
    return morsel is not None and any(valid_cookie(token, morsel.value, max_age) for token in tokens.values())


def safe_next(target: str | None) -> str:
    """A local path to return to after logging in (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


class TokenGate:
    """Requires the API token on every route but the open ones (see the module docstring)."""

    def __init__(self, app: ASGIApp, tokens: dict[str, str], max_age: float):
        self.app, self.tokens, self.max_age = app, dict(tokens), max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.tokens:
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if authorised(headers, self.tokens, self.max_age):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?",))[0]
        log.warning("rejected %s %s from %s: missing or wrong token", scope.get("method", "WS"), path, client)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await _json_error(send, 401, "missing or wrong bearer token", "unauthorized", {"WWW-Authenticate": "Bearer"})


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · 登录 — China AI compliance advisor</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:12vh auto;padding:0 1rem;color:#222}}
input,button{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.4rem 0}}
.error{{color:#b00020}}</style></head>
<body><h1>China AI compliance advisor · 中国人工智能合规顾问</h1>
<form method="post" action="{action}">
<label for="token">Access token · 访问令牌</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button id="login" type="submit">Sign in · 登录</button>
{error}</form>
<p><small>Ask the operator of this server for the token (ADVISOR_API_TOKEN). · 请向服务器管理员索取令牌。</small></p>
</body></html>"""


def login_page(next_path: str, error: str = "") -> str:
    shown = f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else ""
    return LOGIN_PAGE.format(action=LOGIN_PATH, next=html.escape(safe_next(next_path)), error=shown)


def login_form(body: bytes) -> tuple[str, str]:
    """(token, next) from a urlencoded login form."""
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return "", "/"
    return (fields.get("token") or [""])[0], (fields.get("next") or ["/"])[0]


# ---- the body limit ---------------------------------------------------------------------------------

class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit; FastAPI re-raises HTTPExceptions from there."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit} bytes")


class BodyLimit:
    """Refuses bodies over `limit` bytes, by Content-Length and by counting what arrives (chunked too)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            return await _json_error(send, 413, f"request body over {self.limit} bytes", "payload_too_large")
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await _json_error(send, 413, f"request body over {self.limit} bytes", "payload_too_large")


# ---- the work queue ---------------------------------------------------------------------------------

class Busy(Exception):
    """More requests than workers plus queue: answered 503 with Retry-After."""

    def __init__(self, retry_after: int):
        super().__init__("the advisor is busy; try again shortly")
        self.retry_after = retry_after


class WorkQueue:
    """Blocking work (retrieval, answers) on at most `workers` threads, with at most `queue` requests waiting."""

    def __init__(self, workers: int, queue: int, retry_after: int):
        self.limiter = anyio.CapacityLimiter(max(1, workers))
        self.capacity = max(1, workers) + max(0, queue)
        self.retry_after = retry_after
        self.pending = 0  # only touched on the event loop thread

    def admit(self) -> None:
        if self.pending >= self.capacity:
            raise Busy(self.retry_after)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on a worker thread, or Busy at once when the queue is full."""
        self.admit()
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=self.limiter)
        finally:
            self.pending -= 1

    async def stream(self, pieces):
        """An async iterator over a blocking iterator, each step on a worker; holds one place while it lasts."""
        self.admit()
        self.pending += 1
        done = object()
        try:
            while True:
                item = await anyio.to_thread.run_sync(lambda: next(pieces, done), limiter=self.limiter)
                if item is done:
                    return
                yield item
        except asyncio.CancelledError:
            raise
        finally:
            self.pending -= 1
            close = getattr(pieces, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close, limiter=self.limiter)
