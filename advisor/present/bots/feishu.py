"""Feishu/Lark event subscription (schema 2.0) webhook: POST /bots/feishu.

- url_verification: answers {"challenge": ...}, for plain and encrypted challenges (checking the
  verification token when one is configured).
- X-Lark-Signature = sha256_hex(X-Lark-Request-Timestamp + X-Lark-Request-Nonce + encrypt_key + raw body);
  required on every event when an encrypt key is configured (only the challenge may come unsigned). A
  signed request's timestamp must be within `webhook_max_skew` (5 minutes) and its nonce new.
- The body must be UTF-8 (400 otherwise), checked first.
- Encrypted bodies {"encrypt": base64}: AES-256-CBC, key = sha256(encrypt_key), IV = the first 16 bytes.
- header.token must equal the verification token (403 otherwise) when one is configured.
- im.message.receive_v1: text messages in direct chats, or in group chats that @-mention the bot, are
  answered in the background and replied to through POST /open-apis/im/v1/messages/{message_id}/reply.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from advisor.present.bots import Ask, Jobs, Rejected, Seen, answer_and_send, check_timestamp, read_body, utf8
from advisor.present.bots.client import PlatformClient, PlatformError
from advisor.settings import Settings

PLATFORM = "feishu"
SETTINGS = ("feishu_app_id", "feishu_app_secret", "feishu_verification_token", "feishu_encrypt_key")
MESSAGE_LIMIT = 30_000  # bytes of reply text; Feishu allows a 150 KB request body for a text message

log = logging.getLogger("advisor.bots")
_PLACEHOLDER = re.compile(r"@_user_\d+|@_all\b")


def missing_settings(settings: Settings) -> list[str]:
    missing = [f for f in ("feishu_app_id", "feishu_app_secret") if not _value(getattr(settings, f))]
    if not _value(settings.feishu_verification_token) and not _value(settings.feishu_encrypt_key):
        missing.append("feishu_verification_token or feishu_encrypt_key")
    return missing


def _value(setting: Any) -> str:
    if setting is None:
        return ""
    return setting.get_secret_value() if hasattr(setting, "get_secret_value") else str(setting)


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256(timestamp.encode() + nonce.encode() + encrypt_key.encode() + body).hexdigest()


def decrypt(encrypt_key: str, data: str) -> bytes:
    """The plaintext of an {"encrypt": data} body; ValueError when it cannot be decrypted."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(raw) < 32 or len(raw) % 16:
        raise ValueError("wrong length")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()  # ValueError on bad padding


def _json_object(raw: bytes | str, what: str) -> dict:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise Rejected(400, f"{what} is not a JSON object")
    return data


def _ok(**extra: Any) -> JSONResponse:
    return JSONResponse({"code": 0, **extra})


class Bot:
    name = PLATFORM

    def __init__(self, ask: Ask, settings: Settings, client: PlatformClient, jobs: Jobs):
        self.ask, self.client, self.jobs = ask, client, jobs
        self.encrypt_key = _value(settings.feishu_encrypt_key)
        self.token = _value(settings.feishu_verification_token)
        self.max_body = settings.max_body_bytes
        self.max_skew = settings.webhook_max_skew
        self.seen = Seen()
        self.nonces = Seen(size=65536, ttl=2 * self.max_skew)
        self._warned_bot_id = False

    # ---- authentication --------------------------------------------------------------------
    def _check_signature(self, request: Request, raw: bytes) -> bool:
        """True when signed correctly; False when unsigned; Rejected(401) when signed wrongly."""
        headers = request.headers
        given = headers.get("x-lark-signature")
        ts, nonce = headers.get("x-lark-request-timestamp"), headers.get("x-lark-request-nonce")
        if given is None and ts is None and nonce is None:
            return False
        if not (given and ts and nonce):
            raise Rejected(401, "incomplete signature headers")
        expected = signature(ts, nonce, self.encrypt_key, raw)
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
            raise Rejected(401, "bad signature")
        check_timestamp(ts, self.max_skew)
        if not self.nonces.first_time(nonce):
            raise Rejected(401, "replayed request: this nonce was used already")
        return True

    def _check_token(self, given: Any) -> None:
        if self.token and not (isinstance(given, str) and hmac.compare_digest(given.encode(), self.token.encode())):
            raise Rejected(403, "wrong verification token")

    def _open(self, outer: dict, signed: bool) -> dict:
        """The event inside the body, decrypted if it is encrypted."""
        if "encrypt" not in outer:
            return outer
        if not self.encrypt_key:
            raise Rejected(400, "encrypted event but no encrypt key is configured")
        if not isinstance(outer["encrypt"], str):
            raise Rejected(400 if signed else 401, "malformed encrypted event" if signed else "missing signature")
        try:
            plain = decrypt(self.encrypt_key, outer["encrypt"])
        except ValueError:
            raise Rejected(400 if signed else 401, "cannot decrypt the event" if signed else "missing signature") from None
        return _json_object(plain, "the decrypted event")

    # ---- the webhook -----------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        raw = await read_body(request, self.max_body)
        text = utf8(raw)
        signed = self._check_signature(request, raw) if self.encrypt_key else False
        payload = self._open(_json_object(text, "the body"), signed)

        if payload.get("type") == "url_verification":
            self._check_token(payload.get("token"))
            challenge = payload.get("challenge")
            if not isinstance(challenge, str):
                raise Rejected(400, "url_verification without a challenge")
            return JSONResponse({"challenge": challenge})

        if self.encrypt_key and not signed:
            raise Rejected(401, "missing signature")
        header = payload.get("header")
        if not isinstance(header, dict):
            if "event" in payload and "uuid" in payload:  # a schema 1.0 event: not subscribed by this bot
                self._check_token(payload.get("token"))
                return _ok(handled=False, reason="schema 1.0 events are not handled")
            raise Rejected(400, "the event has no header")
        self._check_token(header.get("token"))

        if header.get("event_type") != "im.message.receive_v1":
            return _ok(handled=False, reason="event type not handled")
        event = payload.get("event")
        message = event.get("message") if isinstance(event, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("message_id"), str):
            raise Rejected(400, "im.message.receive_v1 without a message")
        sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
        if sender.get("sender_type", "user") != "user":
            return _ok(handled=False, reason="sent by a bot")
        if message.get("message_type") != "text":
            return _ok(handled=False, reason="not a text message")
        content = _json_object(message.get("content") or "", "the message content")
        text = content.get("text")
        if not isinstance(text, str):
            raise Rejected(400, "text message without text")
        mentions = [m for m in (message.get("mentions") or []) if isinstance(m, dict)]

        bot_id: str | None = None
        if message.get("chat_type") != "p2p":
            bot_id = await run_in_threadpool(self._bot_open_id)
            if not _mentions_bot(mentions, bot_id):
                return _ok(handled=False, reason="the bot is not mentioned")
        if not self.seen.first_time(header.get("event_id") or message["message_id"]):
            return _ok(handled=False, reason="duplicate event")

        question = strip_mentions(text, mentions, bot_id)
        message_id = message["message_id"]
        if not self.jobs.submit(answer_and_send, PLATFORM, self.ask, question, MESSAGE_LIMIT,
                                lambda reply: self.client.feishu_reply(message_id, reply)):
            raise Rejected(503, "too many questions in progress; try again later")
        return _ok(handled=True)

    def _bot_open_id(self) -> str | None:
        try:
            return self.client.feishu_bot_open_id()
        except PlatformError as exc:
            if not self._warned_bot_id:
                log.warning("feishu: cannot learn the bot's open_id (%s); any @-mention counts as one of the bot", exc)
                self._warned_bot_id = True
            return None


def _mentions_bot(mentions: list[dict], bot_id: str | None) -> bool:
    if bot_id is None:  # unknown: Feishu only delivers group messages that @-mention the bot (without extra scopes)
        return any(m.get("key") != "@_all" for m in mentions)
    return any(isinstance(m.get("id"), dict) and m["id"].get("open_id") == bot_id for m in mentions)


def strip_mentions(text: str, mentions: list[dict], bot_id: str | None) -> str:
    """The question without the bot's @ placeholder; other people's placeholders become @name."""
    for m in mentions:
        key = m.get("key")
        if not isinstance(key, str) or not key:
            continue
        is_bot = bot_id is None or (isinstance(m.get("id"), dict) and m["id"].get("open_id") == bot_id)
        name = m.get("name") if isinstance(m.get("name"), str) else ""
        replacement = "" if is_bot or not name else f"@{name}"
        text = re.sub(re.escape(key) + r"(?!\d)", lambda _, r=replacement: r, text)
    text = _PLACEHOLDER.sub("", text)
    return " ".join(text.split())
