"""Chat-platform bots: Feishu/Lark, DingTalk and WeCom webhooks that answer with the advisor.

    router = build_router(advisor.ask, settings)     # or any ask(question) -> Answer
    app.include_router(router)

Routes: POST /bots/feishu, POST /bots/dingtalk, GET|POST /bots/wecom. A platform is enabled only when its
secrets are configured (see README.md beside this file); otherwise its route answers 404.

Every callback is authenticated (signature, token, decryption) before anything else is done with it. A
rejected request is logged with the platform, the reason and the client address only, never its content,
and never reaches `ask`. Accepted questions are answered on a small worker pool and the reply is sent
through the platform's API (`PlatformClient`), so the webhook itself is acknowledged at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from advisor.compose.answer import Answer
from advisor.errors import AdvisorError
from advisor.present.bots.client import PlatformClient, PlatformError
from advisor.settings import Settings

__all__ = ["PlatformClient", "PlatformError", "build_router", "format_reply", "trim_utf8"]

log = logging.getLogger("advisor.bots")

Ask = Callable[[str], Answer]

EMPTY_QUESTION = "请在消息中提出问题。Please ask a question about China's AI and data regulations."
ANSWER_FAILED = "抱歉，暂时无法回答，请稍后再试。Sorry, the advisor could not answer just now; please try again later."
ELLIPSIS = "…"
_QUOTE_CHARS = 60  # quotes are shortened to this many characters when a reply is too long
_MIN_BODY_BYTES = 200

_ERROR_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "payload_too_large", 503: "busy"}


# ---- reply formatting ------------------------------------------------------------------------
def trim_utf8(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (never inside a character), ending in … when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    budget = limit - len(ELLIPSIS.encode("utf-8"))
    if budget <= 0:
        return ""
    return data[:budget].decode("utf-8", errors="ignore").rstrip() + ELLIPSIS


def format_reply(answer: Answer, limit: int) -> str:
    """The answer text, its citations (《regulation》第N条: 「quote」) and warnings, in at most `limit` bytes.

    When too long: quotes are shortened first, then the answer text is cut (keeping the citations), and as
    a last resort the whole reply is cut.
    """
    heading = "引用条文:" if answer.lang == "zh" else "Citations:"

    def compose(body: str, quote_chars: int | None = None) -> str:
        parts = [body] if body else []
        if answer.citations:
            lines = []
            for c in answer.citations:
                quote = " ".join(c.quote.split())
                if quote_chars and len(quote) > quote_chars:
                    quote = quote[:quote_chars].rstrip() + ELLIPSIS
                lines.append(f"{c.label}: 「{quote}」")
            parts.append(heading + "\n" + "\n".join(lines))
        if answer.warnings:
            parts.append("\n".join(f"⚠ {w}" for w in answer.warnings))
        return "\n\n".join(parts)

    def size(text: str) -> int:
        return len(text.encode("utf-8"))

    body = (answer.text or "").strip()
    for candidate in (compose(body), compose(body, _QUOTE_CHARS)):
        if size(candidate) <= limit:
            return candidate
    tail = compose("", _QUOTE_CHARS)
    room = limit - size(tail) - 2
    if body and room >= min(_MIN_BODY_BYTES, size(body)):
        return trim_utf8(body, room) + "\n\n" + tail
    return trim_utf8(compose(body, _QUOTE_CHARS), limit)


# ---- shared request plumbing -----------------------------------------------------------------
class Rejected(Exception):
    """A callback that is refused: `reason` is safe to log and return (it never holds request content)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": _ERROR_TYPES.get(status, "error")}}, status_code=status)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) past `limit` bytes, by Content-Length and while reading."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise Rejected(413, f"request body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_timestamp(value: str | None, max_skew: float, per_second: int = 1) -> None:
    """Rejected(401) unless `value` is a number of seconds (or of 1/per_second seconds) within max_skew of now."""
    if not value or not value.isdigit() or len(value) > 16:
        raise Rejected(401, "missing or non-numeric timestamp")
    if abs(time.time() - int(value) / per_second) > max_skew:
        raise Rejected(401, f"timestamp more than {max_skew:g} s off the server's clock")


def utf8(raw: bytes, what: str = "the body") -> str:
    """The body as text; Rejected(400) if it is not UTF-8 (as every platform sends)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, f"{what} is not UTF-8") from None


class Seen:
    """Remembers recent message/event ids, so that a platform's retries are answered only once (and recent
    nonces and signatures, so that a captured request cannot be replayed)."""

    def __init__(self, size: int = 4096, ttl: float = 6 * 3600):
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._size, self._ttl = size, ttl
        self._lock = threading.Lock()

    def first_time(self, key: str | None) -> bool:
        if not key:
            return True
        now = time.monotonic()
        with self._lock:
            while self._ids and (len(self._ids) >= self._size or next(iter(self._ids.values())) < now - self._ttl):
                self._ids.popitem(last=False)
            if key in self._ids:
                return False
            self._ids[key] = now
            return True


class Jobs:
    """A bounded worker pool for answering (ask may take tens of seconds with a local model)."""

    def __init__(self, workers: int, max_pending: int):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="advisor-bot")
        self._slots = threading.BoundedSemaphore(max_pending)

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Queue fn(*args); False when the queue is full."""
        if not self._slots.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                fn(*args)
            except Exception:  # never lose a worker to a bug; the reply path logs its own failures
                log.exception("bot job failed")
            finally:
                self._slots.release()

        self._pool.submit(run)
        return True

    def shutdown(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def answer_and_send(platform: str, ask: Ask, question: str, limit: int, send: Callable[[str], Any]) -> None:
    """Answer `question` and hand the formatted reply to `send`; failures become a short apology."""
    if not question.strip():
        text = EMPTY_QUESTION
    else:
        try:
            text = format_reply(ask(question), limit)
        except AdvisorError as exc:
            log.warning("%s: the advisor could not answer (%s)", platform, type(exc).__name__)
            text = trim_utf8(f"抱歉，无法回答。Sorry, I could not answer: {exc}", limit)
        except Exception:
            log.exception("%s: answering failed", platform)
            text = ANSWER_FAILED
    try:
        send(text)
    except PlatformError as exc:
        log.warning("%s: sending the reply failed: %s", platform, exc)


class Bot(Protocol):
    name: str

    async def handle(self, request: Request) -> Response: ...


# ---- the router ------------------------------------------------------------------------------
def build_router(ask: Ask, settings: Settings, client: PlatformClient | None = None) -> APIRouter:
    """Routes POST /bots/feishu, POST /bots/dingtalk and GET|POST /bots/wecom for the configured platforms.

    `ask` answers one question (it may be slow; it runs on a worker pool of `settings.concurrency` threads).
    `client` makes the outbound calls; by default one is made from `settings`.
    """
    from advisor.present.bots import dingtalk, feishu, wecom

    client = client or PlatformClient(settings)
    jobs = Jobs(workers=max(1, settings.concurrency), max_pending=max(16, settings.concurrency * 16))
    bots: dict[str, Bot | None] = {}
    for module in (feishu, dingtalk, wecom):
        name = module.PLATFORM
        missing = module.missing_settings(settings)
        if missing:
            if any(getattr(settings, f) is not None for f in module.SETTINGS):
                log.warning("%s bot disabled: set %s", name, ", ".join(missing))
            bots[name] = None
            continue
        try:
            bots[name] = module.Bot(ask, settings, client, jobs)
        except ValueError as exc:  # e.g. a malformed key; the message names the setting, never its value
            log.error("%s bot disabled: %s", name, exc)
            bots[name] = None

    router = APIRouter(tags=["bots"])

    async def dispatch(name: str, request: Request) -> Response:
        bot = bots.get(name)
        if bot is None:
            return error_response(404, f"the {name} bot is not configured")
        try:
            return await bot.handle(request)
        except Rejected as exc:
            log.warning("%s: rejected a request from %s: %s (HTTP %d)", name, client_address(request), exc.reason, exc.status)
            return error_response(exc.status, exc.reason)
        except HTTPException as exc:  # e.g. the body limit, raised while the body arrives
            log.warning("%s: rejected a request from %s: %s (HTTP %d)", name, client_address(request), exc.detail, exc.status_code)
            return error_response(exc.status_code, str(exc.detail))
        except Exception as exc:  # a bug: no traceback or content goes back to the caller
            log.exception("%s: internal error handling a request from %s (%s)", name, client_address(request), type(exc).__name__)
            return error_response(500, "internal error")

    @router.post("/bots/feishu", include_in_schema=bots["feishu"] is not None)
    async def feishu_callback(request: Request) -> Response:
        return await dispatch("feishu", request)

    @router.post("/bots/dingtalk", include_in_schema=bots["dingtalk"] is not None)
    async def dingtalk_callback(request: Request) -> Response:
        return await dispatch("dingtalk", request)

    @router.api_route("/bots/wecom", methods=["GET", "POST"], include_in_schema=bots["wecom"] is not None)
    async def wecom_callback(request: Request) -> Response:
        return await dispatch("wecom", request)

    router.bots = bots  # type: ignore[attr-defined]  # which platforms are enabled (None = disabled)
    router.platform_client = client  # type: ignore[attr-defined]
    router.bot_jobs = jobs  # type: ignore[attr-defined]
    return router
