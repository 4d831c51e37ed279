"""DingTalk robot (outgoing / HTTP callback) webhook: POST /bots/dingtalk.

- Headers `timestamp` (milliseconds) and `sign`, with
  sign = base64(HMAC-SHA256(key=app_secret, msg=f"{timestamp}\\n{app_secret}"));
  a missing or wrong sign, or a timestamp more than `webhook_max_skew` (5 minutes) off, is refused with 401.
  The sign does not cover the body, so each (timestamp, sign) is accepted once: a captured pair cannot
  carry another body.
- The body must be UTF-8 JSON whose `robotCode` is ours (`dingtalk_robot_code`, 403 otherwise) and whose
  `sessionWebhook` is a DingTalk HTTPS URL on the default port (400 otherwise), checked before answering.
- The text of a text message (`text.content`) is answered in the background and the reply is POSTed
  to the message's `sessionWebhook`.
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

from advisor.present.bots import Ask, Jobs, Rejected, Seen, answer_and_send, check_timestamp, read_body, utf8
from advisor.present.bots.client import PlatformClient, PlatformError
from advisor.settings import Settings

PLATFORM = "dingtalk"
SETTINGS = ("dingtalk_app_secret", "dingtalk_robot_code")
MESSAGE_LIMIT = 18_000  # bytes of reply text (DingTalk robot messages allow about 20,000 bytes)


def missing_settings(settings: Settings) -> list[str]:
    secret = settings.dingtalk_app_secret
    missing = [] if secret is not None and secret.get_secret_value() else ["dingtalk_app_secret"]
    return missing + ([] if settings.dingtalk_robot_code else ["dingtalk_robot_code"])


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
        self.robot_code = settings.dingtalk_robot_code or ""
        self.max_body = settings.max_body_bytes
        self.max_skew = settings.webhook_max_skew
        self.seen = Seen()
        self.signs = Seen(size=65536, ttl=2 * self.max_skew)

    def _check_signature(self, request: Request) -> None:
        timestamp, given = request.headers.get("timestamp"), request.headers.get("sign")
        if not timestamp or not given:
            raise Rejected(401, "missing timestamp or sign header")
        check_timestamp(timestamp, self.max_skew, per_second=1000)
        if not hmac.compare_digest(sign(timestamp, self.secret).encode(), given.strip().encode()):
            raise Rejected(401, "bad signature")
        if not self.signs.first_time(f"{timestamp}:{given.strip()}"):
            raise Rejected(401, "replayed request: this timestamp and sign were used already")

    async def handle(self, request: Request) -> Response:
        self._check_signature(request)  # headers only: checked before the body is even read
        raw = await read_body(request, self.max_body)
        try:
            message = json.loads(utf8(raw))
        except ValueError:
            raise Rejected(400, "the body is not valid JSON") from None
        if not isinstance(message, dict):
            raise Rejected(400, "the body is not a JSON object")
        webhook = message.get("sessionWebhook")
        if not isinstance(webhook, str) or not webhook:
            raise Rejected(400, "the message has no sessionWebhook")
        code = message.get("robotCode")
        if not isinstance(code, str) or not hmac.compare_digest(code.encode(), self.robot_code.encode()):
            raise Rejected(403, "the message is for another robot (robotCode)")
        try:
            self.client.check_dingtalk_webhook(webhook)  # before answering: a reply never goes anywhere else
        except PlatformError:
            raise Rejected(400, "the sessionWebhook is not a DingTalk HTTPS URL") from None
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
