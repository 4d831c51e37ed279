"""Test helpers for the chat bots: callbacks signed and encrypted the way each platform documents it
(written here independently of advisor.present.bots), and a real HTTP server on 127.0.0.1 standing in
for the platforms' APIs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _pkcs7(data: bytes, block: int) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


# ---- Feishu / Lark ---------------------------------------------------------------------------
def feishu_encrypt(encrypt_key: str, payload: dict) -> str:
    """{"encrypt": ...} value: base64(IV + AES-256-CBC(sha256(encrypt_key), IV, PKCS7(json)))."""
    key, iv = hashlib.sha256(encrypt_key.encode()).digest(), os.urandom(16)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    data = _pkcs7(json.dumps(payload, ensure_ascii=False).encode(), 16)
    return base64.b64encode(iv + enc.update(data) + enc.finalize()).decode()


def feishu_headers(encrypt_key: str, body: bytes, timestamp: str | None = None, nonce: str | None = None) -> dict:
    """X-Lark-Signature = sha256_hex(timestamp + nonce + encrypt_key + body); a fresh nonce unless one is given."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or os.urandom(8).hex()
    sig = hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()
    return {"X-Lark-Request-Timestamp": timestamp, "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": sig,
            "Content-Type": "application/json"}


def feishu_message_event(token: str, text: str, *, chat_type: str = "group", mentions: list | None = None,
                         message_id: str = "om_1", event_id: str | None = None, sender_type: str = "user") -> dict:
    """An im.message.receive_v1 event, schema 2.0."""
    return {
        "schema": "2.0",
        "header": {"event_id": event_id or f"ev_{message_id}", "token": token, "create_time": str(int(time.time() * 1000)),
                   "event_type": "im.message.receive_v1", "tenant_key": "tenant", "app_id": "cli_test"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_alice", "union_id": "on_alice", "user_id": "alice"},
                       "sender_type": sender_type, "tenant_key": "tenant"},
            "message": {"message_id": message_id, "root_id": "", "parent_id": "", "create_time": "1700000000000",
                        "chat_id": "oc_chat", "chat_type": chat_type, "message_type": "text",
                        "content": json.dumps({"text": text}, ensure_ascii=False), "mentions": mentions or []},
        },
    }


def feishu_mention(key: str, open_id: str, name: str) -> dict:
    return {"key": key, "id": {"open_id": open_id, "union_id": "on_x", "user_id": ""}, "name": name, "tenant_key": "tenant"}


# ---- DingTalk --------------------------------------------------------------------------------
def dingtalk_headers(app_secret: str, timestamp_ms: int | None = None, sign_with: str | None = None) -> dict:
    """timestamp (ms) and sign = base64(HMAC-SHA256(app_secret, f"{timestamp}\\n{app_secret}"))."""
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    key = sign_with or app_secret
    sign = base64.b64encode(hmac.new(key.encode(), f"{ts}\n{key}".encode(), hashlib.sha256).digest()).decode()
    return {"timestamp": ts, "sign": sign, "Content-Type": "application/json"}


def dingtalk_message(text: str, session_webhook: str, msg_id: str = "msg1", robot_code: str | None = "ding-robot-code") -> dict:
    return {"robotCode": robot_code,
        "msgtype": "text", "text": {"content": text}, "msgId": msg_id, "createAt": int(time.time() * 1000),
        "conversationType": "2", "conversationId": "cid1", "conversationTitle": "合规群", "senderId": "$:LWCP:alice",
        "senderNick": "Alice", "senderCorpId": "ding1", "senderStaffId": "alice", "chatbotUserId": "$:LWCP:bot",
        "isInAtList": True, "isAdmin": False, "atUsers": [{"dingtalkId": "$:LWCP:bot"}],
        "sessionWebhook": session_webhook, "sessionWebhookExpiredTime": int(time.time() * 1000) + 20 * 60 * 1000,
    }


# ---- WeCom -----------------------------------------------------------------------------------
def wecom_encrypt(encoding_aes_key: str, corp_id: str, msg: str) -> str:
    """base64(AES-256-CBC(key, IV=key[:16], PKCS7/32(random16 + len(msg) as 4-byte big-endian + msg + corp_id)))."""
    key = base64.b64decode(encoding_aes_key + "=")
    raw = msg.encode()
    plain = _pkcs7(os.urandom(16) + struct.pack(">I", len(raw)) + raw + corp_id.encode(), 32)
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def wecom_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def wecom_text_xml(corp_id: str, user: str, content: str, msg_id: str = "1001", agent_id: int = 1000002) -> str:
    return (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>")


def wecom_envelope(corp_id: str, encrypted: str, agent_id: int = 1000002) -> str:
    return (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><AgentID><![CDATA[{agent_id}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")


# ---- the platforms' APIs ---------------------------------------------------------------------
class FakePlatforms:
    """Feishu, DingTalk and WeCom APIs on one real HTTP server on 127.0.0.1, recording every request."""

    FEISHU_TOKEN, WECOM_TOKEN, BOT_OPEN_ID = "t-feishu-tenant-token", "wecom-access-token", "ou_bot"

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                entry = {"method": self.command, "path": url.path, "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                         "headers": dict(self.headers.items()), "json": json.loads(body) if body else None}
                with outer._lock:
                    outer.requests.append(entry)
                return entry

            def _send(self, payload: dict, code: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                entry = self._record()
                if entry["path"] == "/open-apis/bot/v3/info":
                    self._send({"code": 0, "msg": "ok", "bot": {"open_id": outer.BOT_OPEN_ID, "app_name": "advisor"}})
                elif entry["path"] == "/cgi-bin/gettoken":
                    self._send({"errcode": 0, "errmsg": "ok", "access_token": outer.WECOM_TOKEN, "expires_in": 7200})
                else:
                    self._send({"error": "unknown path"}, 404)

            def do_POST(self):
                entry = self._record()
                path = entry["path"]
                if path == "/open-apis/auth/v3/tenant_access_token/internal":
                    self._send({"code": 0, "msg": "ok", "tenant_access_token": outer.FEISHU_TOKEN, "expire": 7200})
                elif path.startswith("/open-apis/im/v1/messages/") and path.endswith("/reply"):
                    self._send({"code": 0, "msg": "success", "data": {"message_id": "om_reply"}})
                elif path == "/robot/sendBySession":
                    self._send({"errcode": 0, "errmsg": "ok"})
                elif path == "/cgi-bin/message/send":
                    self._send({"errcode": 0, "errmsg": "ok", "msgid": "m1"})
                else:
                    self._send({"error": "unknown path"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePlatforms:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def calls(self, path_part: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if path_part in r["path"]]

    def wait_for(self, path_part: str, timeout: float = 5.0) -> dict:
        """The first recorded request whose path contains `path_part`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(path_part)
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no request to {path_part} within {timeout}s; got {[r['path'] for r in self.requests]}")
