"""WeCom (企业微信) application callback: GET|POST /bots/wecom.

- GET ?msg_signature&timestamp&nonce&echostr: msg_signature = sha1("".join(sorted([token, timestamp,
  nonce, echostr]))); the decrypted echostr is returned as plain text (URL verification).
- POST ?msg_signature&timestamp&nonce with an XML body holding <Encrypt>; the signature covers
  [token, timestamp, nonce, encrypt].
- Decryption: AESKey = base64decode(EncodingAESKey + "="), AES-256-CBC, IV = AESKey[:16], PKCS#7 padding
  to 32-byte blocks; plaintext = 16 random bytes + 4-byte network-order length + msg + receiveid, and the
  receiveid must be our corp id.
- The timestamp must be within `webhook_max_skew` (5 minutes) and the nonce new (a captured callback cannot
  be replayed); a body that is not UTF-8, declares another encoding, or holds a DTD is refused before anything
  else (parsed with defusedxml).
- WeCom wants an answer within 5 seconds, so a text message gets an empty 200 at once and the reply is
  sent later through message/send to the sender (touser = FromUserName, agentid = wecom_agent_id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import xml.etree.ElementTree as ET
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

from advisor.present.bots import Ask, Jobs, Rejected, Seen, answer_and_send, check_timestamp, read_body, utf8
from advisor.present.bots.client import PlatformClient
from advisor.settings import Settings

PLATFORM = "wecom"
SETTINGS = ("wecom_token", "wecom_encoding_aes_key", "wecom_corp_id", "wecom_corp_secret", "wecom_agent_id")
MESSAGE_LIMIT = 2048  # bytes: WeCom text messages longer than this are cut by WeCom itself

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def missing_settings(settings: Settings) -> list[str]:
    missing = []
    for field in SETTINGS:
        value = getattr(settings, field)
        if value is None or (hasattr(value, "get_secret_value") and not value.get_secret_value()) or value == "":
            missing.append(field)
    return missing


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey (ValueError naming no value when malformed)."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("wecom_encoding_aes_key must be the 43-character EncodingAESKey from the WeCom console")
    return key


def decrypt(key: bytes, encrypted: str) -> tuple[bytes, str]:
    """(msg, receiveid) of a WeCom ciphertext; ValueError when it cannot be decrypted."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if not raw or len(raw) % 32:
        raise ValueError("wrong length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(256).unpadder()  # WeCom pads to 32-byte blocks
    plain = unpadder.update(padded) + unpadder.finalize()
    if len(plain) < 20:
        raise ValueError("too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise ValueError("bad length")
    return plain[20:20 + length], plain[20 + length:].decode("utf-8", errors="replace")


def refuse_unsafe_xml(data: bytes, what: str) -> None:
    """Rejected(400) for XML that is not UTF-8, declares another encoding, or holds a DTD or entities."""
    utf8(data, what)
    declared = _DECLARED.match(data)
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise Rejected(400, f"{what} is not UTF-8 XML")
    if _DTD.search(data):  # no DTDs, no entities
        raise Rejected(400, f"{what} is not acceptable XML")


def parse_xml(data: bytes, what: str) -> ET.Element:
    refuse_unsafe_xml(data, what)
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, ValueError, DefusedXmlException):
        raise Rejected(400, f"{what} is not valid XML") from None


def _field(root: ET.Element, tag: str) -> str | None:
    node = root.find(tag)
    return node.text.strip() if node is not None and node.text else None


class Bot:
    name = PLATFORM

    def __init__(self, ask: Ask, settings: Settings, client: PlatformClient, jobs: Jobs):
        assert settings.wecom_token and settings.wecom_encoding_aes_key
        self.ask, self.client, self.jobs = ask, client, jobs
        self.token = settings.wecom_token.get_secret_value()
        self.key = aes_key(settings.wecom_encoding_aes_key.get_secret_value())
        self.corp_id = settings.wecom_corp_id or ""
        self.max_body = settings.max_body_bytes
        self.max_skew = settings.webhook_max_skew
        self.seen = Seen()
        self.nonces = Seen(size=65536, ttl=2 * self.max_skew)

    def _verified_plaintext(self, query: Any, encrypted: str) -> bytes:
        sig, ts, nonce = query.get("msg_signature"), query.get("timestamp"), query.get("nonce")
        if not sig or not ts or not nonce:
            raise Rejected(401, "missing msg_signature, timestamp or nonce")
        if not hmac.compare_digest(signature(self.token, ts, nonce, encrypted).encode(), sig.strip().lower().encode()):
            raise Rejected(401, "bad msg_signature")
        check_timestamp(ts, self.max_skew)
        if not self.nonces.first_time(f"{ts}:{nonce}"):
            raise Rejected(401, "replayed request: this nonce was used already")
        try:
            msg, receiver = decrypt(self.key, encrypted)
        except ValueError:
            raise Rejected(400, "cannot decrypt the message") from None
        if not hmac.compare_digest(receiver.encode(), self.corp_id.encode()):
            raise Rejected(403, "the message is for another corp id")
        return msg

    async def handle(self, request: Request) -> Response:
        query = request.query_params
        if request.method == "GET":
            echostr = query.get("echostr")
            if not query.get("msg_signature"):
                raise Rejected(401, "missing msg_signature")
            if not echostr:
                raise Rejected(400, "missing echostr")
            echostr = echostr.replace(" ", "+")  # a '+' that arrived unescaped in the query string
            return PlainTextResponse(self._verified_plaintext(query, echostr).decode("utf-8", errors="replace"))

        raw = await read_body(request, self.max_body)
        refuse_unsafe_xml(raw, "the body")  # before anything else is done with it
        if not query.get("msg_signature"):  # refuse unsigned requests before parsing anything
            raise Rejected(401, "missing msg_signature")
        encrypted = _field(parse_xml(raw, "the body"), "Encrypt")
        if not encrypted:
            raise Rejected(400, "the body has no Encrypt element")
        message = parse_xml(self._verified_plaintext(query, encrypted), "the decrypted message")

        if _field(message, "MsgType") != "text":
            return Response("", media_type="text/plain")
        user, content = _field(message, "FromUserName"), _field(message, "Content") or ""
        if not user:
            raise Rejected(400, "the message has no FromUserName")
        if self.seen.first_time(_field(message, "MsgId")):
            question = " ".join(content.split())
            if not self.jobs.submit(answer_and_send, PLATFORM, self.ask, question, MESSAGE_LIMIT,
                                    lambda reply: self.client.wecom_send_text(user, reply)):
                raise Rejected(503, "too many questions in progress; try again later")
        return Response("", media_type="text/plain")  # WeCom: an empty body means "no passive reply"
