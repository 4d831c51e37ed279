"""Channels for `advisor watch` notices: the generic webhook (advisor.workspace.watcher) and the chat
platforms through the bots' `PlatformClient` (DingTalk custom-robot webhooks and WeCom application messages)
or Feishu/Lark custom-bot webhooks. Built from settings: ``watch_webhook_url``, ``watch_dingtalk_webhook``,
``watch_feishu_webhook``, ``watch_wecom_users`` (with the ``wecom_corp_*`` settings)."""

from __future__ import annotations

from typing import Iterable

import httpx

from advisor.errors import AdvisorError
from advisor.present.bots.client import DINGTALK_WEBHOOK_ORIGINS, PlatformClient
from advisor.settings import Settings
from advisor.workspace.watcher import USER_AGENT, Notice, Notifier, WebhookNotifier


class DingTalkNotifier:
    """A DingTalk group's custom robot (its webhook URL must be on a DingTalk host)."""

    channel = "dingtalk"

    def __init__(self, client: PlatformClient, webhook: str):
        self.client, self.webhook = client, webhook

    def send(self, notice: Notice) -> None:
        self.client.dingtalk_reply(self.webhook, notice.text())


class WeComNotifier:
    """WeCom application messages to the configured users."""

    channel = "wecom"

    def __init__(self, client: PlatformClient, users: list[str]):
        self.client, self.users = client, users

    def send(self, notice: Notice) -> None:
        self.client.wecom_send_text("|".join(self.users), notice.text())


class FeishuNotifier:
    """A Feishu/Lark group's custom bot webhook (msg_type text)."""

    channel = "feishu"

    def __init__(self, webhook: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.webhook = webhook
        self._http = httpx.Client(timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT})

    def send(self, notice: Notice) -> None:
        response = self._http.post(self.webhook, json={"msg_type": "text", "content": {"text": notice.text()}})
        response.raise_for_status()
        data = response.json() if response.content else {}
        code = data.get("code", data.get("StatusCode", 0)) if isinstance(data, dict) else 0
        if code not in (0, None):
            raise AdvisorError(f"feishu webhook: code {code}")


def build_notifiers(settings: Settings, *, dingtalk_origins: Iterable[str] = DINGTALK_WEBHOOK_ORIGINS,
                    transport: httpx.BaseTransport | None = None) -> list[Notifier]:
    """Every channel configured in settings (none: the watcher only records)."""
    found: list[Notifier] = []
    timeout = settings.watch_timeout
    if settings.watch_webhook_url:
        found.append(WebhookNotifier(settings.watch_webhook_url, timeout, transport))
    client = None
    if settings.watch_dingtalk_webhook or settings.watch_wecom_users:
        client = PlatformClient(settings, timeout=timeout, dingtalk_webhook_origins=dingtalk_origins, transport=transport)
    if settings.watch_dingtalk_webhook:
        found.append(DingTalkNotifier(client, settings.watch_dingtalk_webhook))
    if settings.watch_wecom_users:
        if not (settings.wecom_corp_id and settings.wecom_corp_secret and settings.wecom_agent_id):
            raise AdvisorError("watch_wecom_users needs wecom_corp_id, wecom_corp_secret and wecom_agent_id")
        found.append(WeComNotifier(client, settings.watch_wecom_users))
    if settings.watch_feishu_webhook:
        found.append(FeishuNotifier(settings.watch_feishu_webhook, timeout, transport))
    return found
