"""DingTalk robot (outgoing / HTTP callback) webhook: POST /bots/dingtalk.

- Headers `timestamp` (milliseconds) and `sign`, with
  sign = base64(HMAC-SHA256(key=app_secret, msg=f"{timestamp}\\n{app_secret}"));
  a missing or wrong sign, or a timestamp more than one hour off, is refused with 401.
- The text of a text message (`text.content`) is answered in the background and the reply is POSTed
  to the message's `sessionWebhook` (which must be a DingTalk host, see PlatformClient).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from advisor.present.bots import Ask, Jobs, Rejected, Seen, answer_and_send, read_body
from advisor.present.bots.client import PlatformClient
from advisor.settings import Settings

PLATFORM = "dingtalk"
SETTINGS = ("dingtalk_app_secret",)
MESSAGE_LIMIT = 18_000  # bytes of reply text (DingTalk robot messages allow about 20,000 bytes)
MAX_SKEW_MS = 3600 * 1000


def missing_settings(settings: Settings) -> list[str]:
    secret = settings.dingtalk_app_secret
    return [] if secret is not None and secret.get_secret_value() else ["dingtalk_app_secret"]


def sign(timestamp: str, app_secret: str) -> str:
    digest = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _ok(**extra: Any) -> JSONResponse:
    return JSONResponse({"msgtype": "empty", **extra})


class Bot:
    name = PLATFORM

    def __init__(self, ask: Ask, settings: Settings, client: PlatformClient, jobs: Jobs):
        assert settings.dingtalk_app_secret is not None
        self.ask, self.client, self.jobs = ask, client, jobs
        self.secret = settings.dingtalk_app_secret.get_secret_value()
        self.max_body = settings.max_body_bytes
        self.seen = Seen()

    def _check_signature(self, request: Request) -> None:
        timestamp, given = request.headers.get("timestamp"), request.headers.get("sign")
        if not timestamp or not given:
            raise Rejected(401, "missing timestamp or sign header")
        if not timestamp.isdigit() or len(timestamp) > 16:
            raise Rejected(401, "bad timestamp")
        if abs(time.time() * 1000 - int(timestamp)) > MAX_SKEW_MS:
            raise Rejected(401, "timestamp more than one hour off")
        if not hmac.compare_digest(sign(timestamp, self.secret).encode(), given.strip().encode()):
            raise Rejected(401, "bad signature")

    async def handle(self, request: Request) -> Response:
        self._check_signature(request)  # headers only: checked before the body is even read
        raw = await read_body(request, self.max_body)
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Rejected(400, "the body is not valid JSON") from None
        if not isinstance(message, dict):
            raise Rejected(400, "the body is not a JSON object")
        webhook = message.get("sessionWebhook")
        if not isinstance(webhook, str) or not webhook:
            raise Rejected(400, "the message has no sessionWebhook")
        if message.get("msgtype") != "text":
            return _ok(handled=False, reason="not a text message")
        text = message.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str):
            raise Rejected(400, "text message without text.content")
        expires = message.get("sessionWebhookExpiredTime")
        if isinstance(expires, (int, float)) and expires < time.time() * 1000:
            return _ok(handled=False, reason="the sessionWebhook has expired")
        msg_id = message.get("msgId")
        if not self.seen.first_time(msg_id if isinstance(msg_id, str) else None):
            return _ok(handled=False, reason="duplicate message")

        question = " ".join(content.split())
        if not self.jobs.submit(answer_and_send, PLATFORM, self.ask, question, MESSAGE_LIMIT,
                                lambda reply: self.client.dingtalk_reply(webhook, reply)):
            raise Rejected(503, "too many questions in progress; try again later")
        return _ok(handled=True)
