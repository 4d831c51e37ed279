"""The one outbound HTTP client for every call the bots make to the chat platforms.

Feishu/Lark: tenant_access_token, bot info (to know the bot's own open_id) and the message reply API.
DingTalk: POST to the sessionWebhook URL that came with the message.
WeCom: gettoken and message/send.

Base URLs come from settings (``feishu_api_base``, ``wecom_api_base``). Tokens are cached until shortly
before they expire and refreshed once when the platform says they are invalid. Errors are raised as
`PlatformError`, whose message names the platform and the failed call but never a secret or a token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from advisor.errors import AdvisorError
from advisor.redact import install_log_redaction
from advisor.settings import Settings

log = logging.getLogger("advisor.bots")

DINGTALK_WEBHOOK_ORIGINS = ("https://oapi.dingtalk.com", "https://api.dingtalk.com")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_TOKEN_MARGIN = 300.0  # refresh cached tokens this many seconds before they expire
_FEISHU_BAD_TOKEN = {99991661, 99991663, 99991664, 99991668}
_WECOM_BAD_TOKEN = {40001, 40014, 42001}


class PlatformError(AdvisorError):
    """A call to a chat platform failed; the message never holds a secret or a token."""


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, with the scheme's default port made explicit; None if it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme.lower(), parts.hostname.lower().rstrip("."), port


def _secret(value: Any) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


class _CachedToken:
    def __init__(self) -> None:
        self.value: str | None = None
        self.expires_at = 0.0
        self.lock = threading.Lock()

    def valid(self) -> str | None:
        return self.value if self.value and time.monotonic() < self.expires_at else None

    def store(self, value: str, expires_in: float) -> str:
        self.value, self.expires_at = value, time.monotonic() + max(60.0, float(expires_in) - _TOKEN_MARGIN)
        return value

    def clear(self) -> None:
        self.value, self.expires_at = None, 0.0


class PlatformClient:
    """Small synchronous httpx client (thread-safe) for Feishu, DingTalk and WeCom calls, with timeouts.

    ``dingtalk_webhook_origins``: where a DingTalk sessionWebhook may point (scheme, host and port; by default
    DingTalk's own HTTPS hosts on the default port). A reply is never posted anywhere else, even when the
    callback was correctly signed, and a callback naming another place is refused before it is answered.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,
        dingtalk_webhook_origins: Iterable[str] = DINGTALK_WEBHOOK_ORIGINS,
        transport: httpx.BaseTransport | None = None,
    ):
        install_log_redaction()  # WeCom puts corpsecret and access_token in query strings, DingTalk a session token
        self.settings = settings
        self.dingtalk_webhook_origins = frozenset(filter(None, (_origin(o) for o in dingtalk_webhook_origins)))
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "china-ai-advisor-bot"},
        )
        self._feishu_token = _CachedToken()
        self._wecom_token = _CachedToken()
        self._bot_lock = threading.Lock()
        self._feishu_bot_open_id: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- plumbing ----------------------------------------------------------------------------
    def _call(self, platform: str, what: str, method: str, url: str, **kwargs: Any) -> dict:
        """One HTTP call; the JSON object it returns, or PlatformError (naming no secret, URL or token)."""
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise PlatformError(f"{platform} {what}: timed out") from None
        except httpx.HTTPError as exc:
            raise PlatformError(f"{platform} {what}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise PlatformError(f"{platform} {what}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise PlatformError(f"{platform} {what}: the response is not JSON") from None
        if not isinstance(data, dict):
            raise PlatformError(f"{platform} {what}: unexpected response")
        return data

    # ---- Feishu / Lark -----------------------------------------------------------------------
    def _feishu_url(self, path: str) -> str:
        return self.settings.feishu_api_base.rstrip("/") + path

    def feishu_tenant_token(self, refresh: bool = False) -> str:
        cache = self._feishu_token
        with cache.lock:
            if refresh:
                cache.clear()
            if token := cache.valid():
                return token
            data = self._call(
                "feishu", "tenant_access_token", "POST", self._feishu_url("/open-apis/auth/v3/tenant_access_token/internal"),
                json={"app_id": self.settings.feishu_app_id or "", "app_secret": _secret(self.settings.feishu_app_secret)},
            )
            token = data.get("tenant_access_token")
            if data.get("code") != 0 or not isinstance(token, str) or not token:
                raise PlatformError(f"feishu tenant_access_token: code {data.get('code')}")
            return cache.store(token, data.get("expire", 7200))

    def _feishu_authed(self, what: str, method: str, path: str, **kwargs: Any) -> dict:
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self.feishu_tenant_token(refresh=attempt == 1)}"}
            data = self._call("feishu", what, method, self._feishu_url(path), headers=headers, **kwargs)
            if data.get("code") in _FEISHU_BAD_TOKEN and attempt == 0:
                continue
            if data.get("code") != 0:
                raise PlatformError(f"feishu {what}: code {data.get('code')}")
            return data
        raise PlatformError(f"feishu {what}: token rejected")  # pragma: no cover - loop always returns or raises

    def feishu_bot_open_id(self) -> str:
        """The bot's own open_id (GET /open-apis/bot/v3/info), fetched once and cached."""
        with self._bot_lock:
            if self._feishu_bot_open_id is None:
                data = self._feishu_authed("bot info", "GET", "/open-apis/bot/v3/info")
                bot = data.get("bot") if isinstance(data.get("bot"), dict) else (data.get("data") or {}).get("bot", {})
                open_id = bot.get("open_id") if isinstance(bot, dict) else None
                if not isinstance(open_id, str) or not open_id:
                    raise PlatformError("feishu bot info: no open_id in the response")
                self._feishu_bot_open_id = open_id
            return self._feishu_bot_open_id

    def feishu_reply(self, message_id: str, text: str) -> dict:
        """Reply to a message (POST /open-apis/im/v1/messages/{message_id}/reply) with a text message."""
        path = f"/open-apis/im/v1/messages/{quote(message_id, safe='')}/reply"
        body = {"msg_type": "text", "content": json.dumps({"text": text}, ensure_ascii=False)}
        return self._feishu_authed("reply", "POST", path, json=body)

    # ---- DingTalk ----------------------------------------------------------------------------
    def check_dingtalk_webhook(self, session_webhook: str) -> None:
        """PlatformError unless `session_webhook` is on an allowed origin (scheme, host, port) without credentials."""
        parts = urlsplit(session_webhook) if isinstance(session_webhook, str) else None
        if parts is None or parts.username is not None or parts.password is not None or _origin(session_webhook) not in self.dingtalk_webhook_origins:
            raise PlatformError("dingtalk reply: the sessionWebhook is not a DingTalk HTTPS URL")

    def dingtalk_reply(self, session_webhook: str, text: str, at_user_ids: list[str] | None = None) -> dict:
        """POST a text message to the sessionWebhook URL given with the incoming message."""
        self.check_dingtalk_webhook(session_webhook)
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": text}}
        if at_user_ids:
            body["at"] = {"atUserIds": at_user_ids, "isAtAll": False}
        data = self._call("dingtalk", "reply", "POST", session_webhook, json=body)
        if data.get("errcode", 0) != 0:
            raise PlatformError(f"dingtalk reply: errcode {data.get('errcode')}")
        return data

    # ---- WeCom -------------------------------------------------------------------------------
    def _wecom_url(self, path: str) -> str:
        return self.settings.wecom_api_base.rstrip("/") + path

    def wecom_token(self, refresh: bool = False) -> str:
        cache = self._wecom_token
        with cache.lock:
            if refresh:
                cache.clear()
            if token := cache.valid():
                return token
            params = {"corpid": self.settings.wecom_corp_id or "", "corpsecret": _secret(self.settings.wecom_corp_secret)}
            data = self._call("wecom", "gettoken", "GET", self._wecom_url("/cgi-bin/gettoken"), params=params)
            token = data.get("access_token")
            if data.get("errcode", 0) != 0 or not isinstance(token, str) or not token:
                raise PlatformError(f"wecom gettoken: errcode {data.get('errcode')}")
            return cache.store(token, data.get("expires_in", 7200))

    def wecom_send_text(self, touser: str, text: str) -> dict:
        """Send an application text message (POST /cgi-bin/message/send) to one user."""
        body = {"touser": touser, "msgtype": "text", "agentid": self.settings.wecom_agent_id, "text": {"content": text}, "safe": 0}
        for attempt in (0, 1):
            params = {"access_token": self.wecom_token(refresh=attempt == 1)}
            data = self._call("wecom", "message/send", "POST", self._wecom_url("/cgi-bin/message/send"), params=params, json=body)
            if data.get("errcode") in _WECOM_BAD_TOKEN and attempt == 0:
                continue
            if data.get("errcode", 0) != 0:
                raise PlatformError(f"wecom message/send: errcode {data.get('errcode')}")
            return data
        raise PlatformError("wecom message/send: token rejected")  # pragma: no cover
