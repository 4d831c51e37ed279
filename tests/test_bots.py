"""The chat-platform bots, end to end over real HTTP on 127.0.0.1.

A uvicorn server hosts build_router(fake_ask, settings, client); a second server stands in for the
Feishu, DingTalk and WeCom APIs. Callbacks are signed and encrypted in the test with each platform's
documented algorithm (tests/support/bot_payloads.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from advisor.compose.answer import Answer, Citation
from advisor.present.bots import build_router, format_reply
from advisor.present.bots.client import PlatformClient, PlatformError
from advisor.settings import Settings
from tests.support.bot_payloads import (
    FakePlatforms,
    dingtalk_headers,
    dingtalk_message,
    feishu_encrypt,
    feishu_headers,
    feishu_mention,
    feishu_message_event,
    wecom_encrypt,
    wecom_envelope,
    wecom_signature,
    wecom_text_xml,
)

FEISHU_SECRET, FEISHU_TOKEN, FEISHU_KEY = "feishu-app-secret-S3", "feishu-verify-token-T1", "feishu-encrypt-key-K9"
DING_SECRET, DING_ROBOT = "dingtalk-app-secret-D7", "ding-robot-code"
WECOM_TOKEN, WECOM_CORP, WECOM_SECRET, WECOM_AGENT = "wecom-token-W2", "ww0123456789abcdef", "wecom-corp-secret-C5", 1000002
WECOM_AES = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # a 43-character EncodingAESKey
SECRETS = [FEISHU_SECRET, FEISHU_TOKEN, FEISHU_KEY, DING_SECRET, WECOM_TOKEN, WECOM_SECRET, WECOM_AES]
BOT_FIELDS = ["feishu_app_id", "feishu_app_secret", "feishu_verification_token", "feishu_encrypt_key", "dingtalk_app_secret",
              "dingtalk_robot_code",
              "wecom_token", "wecom_encoding_aes_key", "wecom_corp_id", "wecom_corp_secret", "wecom_agent_id"]

ANSWER_TEXT = "Providers must label generated content and keep logs."
HEADING = "第十二条"  # ARTICLE in the Chinese numerals of article headings
REGULATION, ARTICLE, QUOTE = "生成式人工智能服务管理暂行办法", 12, "提供者应当按照《互联网信息服务深度合成管理规定》对图片、视频等生成内容进行标识。"
WARNING = "The translation is unofficial."


class FakeAsk:
    """A plain ask(question) -> Answer that records its questions; `gate` can hold it to simulate a slow model."""

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, question: str) -> Answer:
        self.questions.append(question)
        self.gate.wait(10)
        return Answer(text=ANSWER_TEXT, citations=[Citation(regulation=REGULATION, article=ARTICLE, quote=QUOTE)],
                      as_of=dt.date(2025, 1, 1), provider="fake", warnings=[WARNING])


def _serve(app: FastAPI):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def platforms():
    with FakePlatforms() as fake:
        yield fake


@pytest.fixture(scope="module")
def bots(platforms):
    settings = Settings(
        feishu_app_id="cli_test", feishu_app_secret=FEISHU_SECRET, feishu_verification_token=FEISHU_TOKEN,
        feishu_encrypt_key=FEISHU_KEY, feishu_api_base=platforms.url, dingtalk_app_secret=DING_SECRET,
        dingtalk_robot_code=DING_ROBOT,
        wecom_token=WECOM_TOKEN, wecom_encoding_aes_key=WECOM_AES, wecom_corp_id=WECOM_CORP, wecom_corp_secret=WECOM_SECRET,
        wecom_agent_id=WECOM_AGENT, wecom_api_base=platforms.url,
    )
    unconfigured = Settings(**{f: None for f in BOT_FIELDS})
    ask = FakeAsk()
    client = PlatformClient(settings, timeout=5, dingtalk_webhook_origins=(platforms.url,))
    app = FastAPI()
    app.include_router(build_router(ask, settings, client))
    app.include_router(build_router(ask, unconfigured), prefix="/off")
    server, thread, url = _serve(app)
    with httpx.Client(base_url=url, timeout=5) as http:
        yield SimpleNamespace(http=http, ask=ask, platforms=platforms, settings=settings)
    server.should_exit = True
    thread.join(5)
    client.close()


@pytest.fixture(autouse=True)
def fresh(request):
    if "bots" in request.fixturenames:
        env = request.getfixturevalue("bots")
        env.ask.questions.clear()
        env.ask.gate.set()
        env.platforms.clear()


def post_feishu(bots, payload: dict, *, sign: bool = True, encrypt: bool = True, headers: dict | None = None) -> httpx.Response:
    body = json.dumps({"encrypt": feishu_encrypt(FEISHU_KEY, payload)} if encrypt else payload).encode()
    signed = feishu_headers(FEISHU_KEY, body) if sign else {"Content-Type": "application/json"}
    return bots.http.post("/bots/feishu", content=body, headers={**signed, **(headers or {})})


def post_dingtalk(bots, message: dict | bytes, headers: dict) -> httpx.Response:
    body = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode()
    return bots.http.post("/bots/dingtalk", content=body, headers=headers)


def wecom_query(encrypted: str, token: str = WECOM_TOKEN, timestamp: str | None = None, nonce: str | None = None) -> dict:
    ts, nonce = timestamp or str(int(time.time())), nonce or str(int.from_bytes(os.urandom(4), "big"))
    return {"msg_signature": wecom_signature(token, ts, nonce, encrypted), "timestamp": ts, "nonce": nonce}


def reply_text(request: dict) -> str:
    return json.loads(request["json"]["content"])["text"]


# ---- Feishu / Lark ---------------------------------------------------------------------------
def test_feishu_plain_url_verification_echoes_the_challenge(bots):
    payload = {"challenge": "ajls384kdjx98XX", "token": FEISHU_TOKEN, "type": "url_verification"}
    r = post_feishu(bots, payload, sign=False, encrypt=False)
    assert r.status_code == 200
    assert r.json() == {"challenge": "ajls384kdjx98XX"}


def test_feishu_encrypted_url_verification_is_decrypted_and_echoed(bots):
    payload = {"challenge": "c-4f2a", "token": FEISHU_TOKEN, "type": "url_verification"}
    r = post_feishu(bots, payload, sign=False, encrypt=True)
    assert r.status_code == 200
    assert r.json() == {"challenge": "c-4f2a"}


def test_feishu_challenge_with_a_wrong_token_is_403(bots):
    r = post_feishu(bots, {"challenge": "x", "token": "not-the-token", "type": "url_verification"}, sign=False, encrypt=False)
    assert r.status_code == 403
    assert "token" in r.json()["error"]["message"]


def test_feishu_bad_signature_is_401_never_asked_and_logged_without_content(bots, caplog):
    caplog.set_level(logging.DEBUG)
    event = feishu_message_event(FEISHU_TOKEN, "@_user_1 TOP-SECRET-QUESTION", chat_type="p2p")
    r = post_feishu(bots, event, headers={"X-Lark-Signature": "0" * 64})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "unauthorized"
    assert bots.ask.questions == []
    assert "feishu" in caplog.text and "bad signature" in caplog.text and "127.0.0.1" in caplog.text
    assert "TOP-SECRET-QUESTION" not in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text and secret not in r.text


def test_feishu_event_without_signature_is_401(bots):
    event = feishu_message_event(FEISHU_TOKEN, "hello", chat_type="p2p")
    r = post_feishu(bots, event, sign=False)
    assert r.status_code == 401
    assert bots.ask.questions == []


def test_feishu_event_with_a_wrong_verification_token_is_403(bots):
    r = post_feishu(bots, feishu_message_event("wrong-token", "hello", chat_type="p2p"))
    assert r.status_code == 403
    assert bots.ask.questions == []


def test_feishu_mention_in_a_group_is_answered_through_the_reply_api(bots):
    mentions = [feishu_mention("@_user_1", FakePlatforms.BOT_OPEN_ID, "Advisor")]
    event = feishu_message_event(FEISHU_TOKEN, "@_user_1 What must providers label?", mentions=mentions, message_id="om_42")
    r = post_feishu(bots, event)
    assert r.status_code == 200

    reply = bots.platforms.wait_for("/open-apis/im/v1/messages/om_42/reply")
    assert bots.ask.questions == ["What must providers label?"]
    assert reply["headers"]["Authorization"] == f"Bearer {FakePlatforms.FEISHU_TOKEN}"
    assert reply["json"]["msg_type"] == "text"
    text = reply_text(reply)
    assert ANSWER_TEXT in text
    assert f"《{REGULATION}》{HEADING}: 「{QUOTE}」" in text
    assert WARNING in text
    token_call = bots.platforms.calls("/open-apis/auth/v3/tenant_access_token/internal")[0]
    assert token_call["json"] == {"app_id": "cli_test", "app_secret": FEISHU_SECRET}


def test_feishu_direct_message_is_answered_without_a_mention(bots):
    r = post_feishu(bots, feishu_message_event(FEISHU_TOKEN, "数据出境需要评估吗？", chat_type="p2p", message_id="om_dm"))
    assert r.status_code == 200
    bots.platforms.wait_for("/open-apis/im/v1/messages/om_dm/reply")
    assert bots.ask.questions == ["数据出境需要评估吗？"]


def test_feishu_group_message_without_the_bot_mentioned_is_ignored(bots):
    only_bob = [feishu_mention("@_user_1", "ou_bob", "Bob")]
    for i, mentions in enumerate([[], only_bob]):
        event = feishu_message_event(FEISHU_TOKEN, "@_user_1 lunch?" if mentions else "lunch?", mentions=mentions, message_id=f"om_x{i}")
        r = post_feishu(bots, event)
        assert r.status_code == 200
        assert r.json()["handled"] is False
    assert bots.ask.questions == []
    assert bots.platforms.calls("/reply") == []


def test_feishu_retried_event_is_answered_once(bots):
    event = feishu_message_event(FEISHU_TOKEN, "once please", chat_type="p2p", message_id="om_retry")
    assert post_feishu(bots, event).json()["handled"] is True
    assert post_feishu(bots, event).json()["handled"] is False
    bots.platforms.wait_for("/open-apis/im/v1/messages/om_retry/reply")
    assert bots.ask.questions == ["once please"]


def test_feishu_malformed_bodies_are_400(bots):
    for body in [b"{not json", b"[1, 2]", json.dumps({"encrypt": "bm90IGFlcw=="}).encode()]:
        r = bots.http.post("/bots/feishu", content=body, headers=feishu_headers(FEISHU_KEY, body))
        assert r.status_code == 400, body
        assert r.json()["error"]["type"] == "bad_request"
    content_not_json = feishu_message_event(FEISHU_TOKEN, "x", chat_type="p2p", message_id="om_bad")
    content_not_json["event"]["message"]["content"] = "{oops"
    assert post_feishu(bots, content_not_json).status_code == 400
    assert bots.ask.questions == []


# ---- DingTalk --------------------------------------------------------------------------------
def test_dingtalk_signed_message_is_answered_on_the_session_webhook(bots):
    webhook = f"{bots.platforms.url}/robot/sendBySession?session=abc123"
    r = post_dingtalk(bots, dingtalk_message(" 生成内容需要标识吗？", webhook), dingtalk_headers(DING_SECRET))
    assert r.status_code == 200

    reply = bots.platforms.wait_for("/robot/sendBySession")
    assert reply["query"] == {"session": "abc123"}
    assert bots.ask.questions == ["生成内容需要标识吗？"]
    assert reply["json"]["msgtype"] == "text"
    text = reply["json"]["text"]["content"]
    assert ANSWER_TEXT in text and f"《{REGULATION}》{HEADING}: 「{QUOTE}」" in text


@pytest.mark.parametrize("case", ["wrong secret", "missing sign", "missing timestamp", "expired", "from the future"])
def test_dingtalk_bad_missing_or_expired_sign_is_401(bots, case):
    now = int(time.time() * 1000)
    headers = {
        "wrong secret": dingtalk_headers(DING_SECRET, sign_with="another-secret"),
        "missing sign": {k: v for k, v in dingtalk_headers(DING_SECRET).items() if k != "sign"},
        "missing timestamp": {k: v for k, v in dingtalk_headers(DING_SECRET).items() if k != "timestamp"},
        "expired": dingtalk_headers(DING_SECRET, timestamp_ms=now - 2 * 3600 * 1000),
        "from the future": dingtalk_headers(DING_SECRET, timestamp_ms=now + 2 * 3600 * 1000),
    }[case]
    r = post_dingtalk(bots, dingtalk_message("question", f"{bots.platforms.url}/robot/sendBySession?session=s"), headers)
    assert r.status_code == 401
    assert bots.ask.questions == []


def test_dingtalk_malformed_json_is_400(bots):
    for body in [b"{oops", b'"just a string"', json.dumps({"msgtype": "text", "text": {"content": "hi"}}).encode()]:
        r = post_dingtalk(bots, body, dingtalk_headers(DING_SECRET))
        assert r.status_code == 400, body
    assert bots.ask.questions == []


@pytest.mark.parametrize("webhook", [
    "http://localhost:9/robot/sendBySession?session=s",  # another host
    "https://oapi.dingtalk.com:8443/robot/sendBySession?session=s",  # not the default port
    "http://oapi.dingtalk.com/robot/sendBySession?session=s",  # not https
    "https://user:pw@oapi.dingtalk.com/robot/sendBySession?session=s",  # credentials
    "https://oapi.dingtalk.com.evil.example/robot/sendBySession?session=s",
    "javascript:alert(1)",
])
def test_dingtalk_session_webhook_is_checked_before_answering(bots, webhook):
    r = post_dingtalk(bots, dingtalk_message("q", webhook, msg_id=f"m-{abs(hash(webhook))}"), dingtalk_headers(DING_SECRET))
    assert r.status_code == 400 and "sessionWebhook" in r.json()["error"]["message"]
    time.sleep(0.2)
    assert bots.ask.questions == []  # refused before any work, and no reply is posted anywhere
    assert bots.platforms.calls("/robot/sendBySession") == []


def test_dingtalk_default_webhook_origins_are_dingtalks_https_hosts():
    client = PlatformClient(Settings(dingtalk_app_secret="x"))
    client.check_dingtalk_webhook("https://oapi.dingtalk.com/robot/sendBySession?session=s")
    client.check_dingtalk_webhook("https://api.dingtalk.com:443/v1.0/robot/x")
    for bad in ("https://oapi.dingtalk.com:444/x", "http://oapi.dingtalk.com/x", "https://evil.example/x"):
        with pytest.raises(PlatformError):
            client.check_dingtalk_webhook(bad)
    client.close()


# ---- WeCom -----------------------------------------------------------------------------------
def test_wecom_url_verification_returns_the_decrypted_echostr(bots):
    echostr = wecom_encrypt(WECOM_AES, WECOM_CORP, "1616140317555161061")
    r = bots.http.get("/bots/wecom", params={**wecom_query(echostr), "echostr": echostr})
    assert r.status_code == 200
    assert r.text == "1616140317555161061"


def test_wecom_bad_msg_signature_is_401(bots):
    echostr = wecom_encrypt(WECOM_AES, WECOM_CORP, "1616140317555161061")
    r = bots.http.get("/bots/wecom", params={**wecom_query(echostr, token="wrong"), "echostr": echostr})
    assert r.status_code == 401

    encrypted = wecom_encrypt(WECOM_AES, WECOM_CORP, wecom_text_xml(WECOM_CORP, "zhangsan", "question"))
    r = bots.http.post("/bots/wecom", params=wecom_query(encrypted, token="wrong"), content=wecom_envelope(WECOM_CORP, encrypted))
    assert r.status_code == 401
    r = bots.http.post("/bots/wecom", content=wecom_envelope(WECOM_CORP, encrypted))
    assert r.status_code == 401
    assert bots.ask.questions == []


def test_wecom_message_for_another_corp_is_403(bots):
    encrypted = wecom_encrypt(WECOM_AES, "ww-other-corp", wecom_text_xml("ww-other-corp", "zhangsan", "question"))
    r = bots.http.post("/bots/wecom", params=wecom_query(encrypted), content=wecom_envelope("ww-other-corp", encrypted))
    assert r.status_code == 403
    assert bots.ask.questions == []


def test_wecom_text_message_gets_an_empty_200_at_once_and_the_answer_by_message_send(bots):
    bots.ask.gate.clear()  # the model is slow: the callback must not wait for it
    encrypted = wecom_encrypt(WECOM_AES, WECOM_CORP, wecom_text_xml(WECOM_CORP, "zhangsan", "算法备案是什么？"))
    started = time.monotonic()
    r = bots.http.post("/bots/wecom", params=wecom_query(encrypted), content=wecom_envelope(WECOM_CORP, encrypted))
    assert r.status_code == 200 and r.text == ""
    assert time.monotonic() - started < 2
    assert bots.platforms.calls("/cgi-bin/message/send") == []

    bots.ask.gate.set()
    sent = bots.platforms.wait_for("/cgi-bin/message/send")
    assert bots.ask.questions == ["算法备案是什么？"]
    assert sent["query"] == {"access_token": FakePlatforms.WECOM_TOKEN}
    assert sent["json"]["touser"] == "zhangsan" and sent["json"]["agentid"] == WECOM_AGENT and sent["json"]["msgtype"] == "text"
    content = sent["json"]["text"]["content"]
    assert ANSWER_TEXT in content and f"《{REGULATION}》{HEADING}" in content
    assert len(content.encode()) <= 2048
    gettoken = bots.platforms.calls("/cgi-bin/gettoken")[0]
    assert gettoken["query"] == {"corpid": WECOM_CORP, "corpsecret": WECOM_SECRET}


def test_secrets_and_tokens_never_reach_the_logs(bots, caplog):
    caplog.set_level(logging.DEBUG)
    encrypted = wecom_encrypt(WECOM_AES, WECOM_CORP, wecom_text_xml(WECOM_CORP, "lisi", "q", msg_id="2002"))
    bots.http.post("/bots/wecom", params=wecom_query(encrypted), content=wecom_envelope(WECOM_CORP, encrypted))
    bots.platforms.wait_for("/cgi-bin/message/send")
    with PlatformClient(bots.settings, timeout=5) as fresh_client:  # no cached tokens: gettoken is called and logged
        fresh_client.wecom_send_text("lisi", "hi")
        fresh_client.feishu_reply("om_log", "hi")
    assert "corpsecret=***" in caplog.text and "access_token=***" in caplog.text  # httpx's request log, masked
    for secret in [*SECRETS, FakePlatforms.WECOM_TOKEN, FakePlatforms.FEISHU_TOKEN]:
        assert secret not in caplog.text


def test_wecom_malformed_xml_is_400(bots):
    bodies = [
        "<xml><Encrypt>unclosed",
        "<xml><NoEncrypt/></xml>",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
    ]
    for body in bodies:
        r = bots.http.post("/bots/wecom", params=wecom_query("x"), content=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["type"] == "bad_request"
    not_xml_inside = wecom_encrypt(WECOM_AES, WECOM_CORP, "not <xml")
    r = bots.http.post("/bots/wecom", params=wecom_query(not_xml_inside), content=wecom_envelope(WECOM_CORP, not_xml_inside))
    assert r.status_code == 400
    assert bots.ask.questions == []


# ---- all platforms ---------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [("POST", "/off/bots/feishu"), ("POST", "/off/bots/dingtalk"),
                                         ("GET", "/off/bots/wecom"), ("POST", "/off/bots/wecom")])
def test_unconfigured_platforms_answer_404(bots, method, path):
    r = bots.http.request(method, path, content=b"{}")
    assert r.status_code == 404
    assert "not configured" in r.json()["error"]["message"]


def test_replies_are_trimmed_to_the_platform_limit_keeping_the_citations():
    long = Answer(text="很长的回答。" * 2000, citations=[Citation(regulation=REGULATION, article=ARTICLE, quote=QUOTE * 5)],
                  as_of=dt.date(2025, 1, 1), provider="fake", warnings=[WARNING])
    text = format_reply(long, 2048)
    assert len(text.encode()) <= 2048
    assert text.startswith("很长的回答。") and "…" in text
    assert f"《{REGULATION}》{HEADING}: 「" in text and WARNING in text
    short = Answer(text="短", citations=[], as_of=dt.date(2025, 1, 1), provider="fake")
    assert format_reply(short, 2048) == "短"


# ---- replay, stale timestamps, robot codes and non-UTF-8 bodies -----------------------------------------
@pytest.mark.parametrize("timestamp", ["978307200", "abc", "-600", "+600"])
def test_feishu_refuses_a_signed_request_with_a_bad_or_stale_timestamp(bots, timestamp):
    if timestamp[0] in "+-":  # ten minutes off the clock when the request is sent, not when the tests were collected
        timestamp = str(int(time.time()) + int(timestamp))
    body = json.dumps({"encrypt": feishu_encrypt(FEISHU_KEY, feishu_message_event(FEISHU_TOKEN, "q", chat_type="p2p",
                                                                                  message_id=f"om_ts{timestamp}"))}).encode()
    r = bots.http.post("/bots/feishu", content=body, headers=feishu_headers(FEISHU_KEY, body, timestamp=timestamp))
    assert r.status_code == 401 and "timestamp" in r.json()["error"]["message"]
    assert bots.ask.questions == []


def test_feishu_refuses_a_reused_nonce(bots):
    first = json.dumps({"encrypt": feishu_encrypt(FEISHU_KEY, feishu_message_event(FEISHU_TOKEN, "one", chat_type="p2p", message_id="om_n1"))}).encode()
    again = json.dumps({"encrypt": feishu_encrypt(FEISHU_KEY, feishu_message_event(FEISHU_TOKEN, "two", chat_type="p2p", message_id="om_n2"))}).encode()
    assert bots.http.post("/bots/feishu", content=first, headers=feishu_headers(FEISHU_KEY, first, nonce="nonce-once")).status_code == 200
    replay = bots.http.post("/bots/feishu", content=again, headers=feishu_headers(FEISHU_KEY, again, nonce="nonce-once"))
    assert replay.status_code == 401 and "nonce" in replay.json()["error"]["message"]
    bots.platforms.wait_for("/open-apis/im/v1/messages/om_n1/reply")
    assert bots.ask.questions == ["one"]


@pytest.mark.parametrize("timestamp", ["978307200", "abc", str(int(time.time()) - 600)])
def test_wecom_refuses_a_bad_or_stale_timestamp(bots, timestamp):
    encrypted = wecom_encrypt(WECOM_AES, WECOM_CORP, wecom_text_xml(WECOM_CORP, "zhangsan", "q", msg_id=f"ts{timestamp}"))
    r = bots.http.post("/bots/wecom", params=wecom_query(encrypted, timestamp=timestamp), content=wecom_envelope(WECOM_CORP, encrypted))
    assert r.status_code == 401 and "timestamp" in r.json()["error"]["message"]
    echostr = wecom_encrypt(WECOM_AES, WECOM_CORP, "1616140317555161061")
    r = bots.http.get("/bots/wecom", params={**wecom_query(echostr, timestamp=timestamp), "echostr": echostr})
    assert r.status_code == 401
    assert bots.ask.questions == []


def test_wecom_refuses_a_reused_nonce(bots):
    one = wecom_encrypt(WECOM_AES, WECOM_CORP, wecom_text_xml(WECOM_CORP, "zhangsan", "one", msg_id="n-1"))
    two = wecom_encrypt(WECOM_AES, WECOM_CORP, wecom_text_xml(WECOM_CORP, "zhangsan", "two", msg_id="n-2"))
    ts = str(int(time.time()))
    assert bots.http.post("/bots/wecom", params=wecom_query(one, timestamp=ts, nonce="424242"), content=wecom_envelope(WECOM_CORP, one)).status_code == 200
    replay = bots.http.post("/bots/wecom", params=wecom_query(two, timestamp=ts, nonce="424242"), content=wecom_envelope(WECOM_CORP, two))
    assert replay.status_code == 401 and "nonce" in replay.json()["error"]["message"]
    bots.platforms.wait_for("/cgi-bin/message/send")
    assert bots.ask.questions == ["one"]


@pytest.mark.parametrize("body", [
    '<?xml version="1.0" encoding="GBK"?><xml><Encrypt>x</Encrypt></xml>'.encode(),
    "<xml><Encrypt>x</Encrypt></xml>".encode("utf-16"),
    b"<xml><Encrypt>\xff\xfe</Encrypt></xml>",
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Encrypt>&lol;</Encrypt></xml>',
])
def test_wecom_refuses_non_utf8_or_doctype_xml_first(bots, body):
    r = bots.http.post("/bots/wecom", params=wecom_query("x", token="wrong"), content=body)
    assert r.status_code == 400  # refused before the signature is even looked at
    assert bots.ask.questions == []


def test_dingtalk_a_captured_sign_cannot_carry_another_body(bots):
    headers = dingtalk_headers(DING_SECRET)
    webhook = f"{bots.platforms.url}/robot/sendBySession?session=s1"
    assert post_dingtalk(bots, dingtalk_message("first", webhook, msg_id="d-1"), headers).status_code == 200
    replay = post_dingtalk(bots, dingtalk_message("forged question", webhook, msg_id="d-2"), headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]["message"]
    bots.platforms.wait_for("/robot/sendBySession")
    assert bots.ask.questions == ["first"]


def test_dingtalk_timestamps_older_than_five_minutes_are_refused(bots):
    stale = dingtalk_headers(DING_SECRET, timestamp_ms=int(time.time() * 1000) - 6 * 60 * 1000)
    r = post_dingtalk(bots, dingtalk_message("q", f"{bots.platforms.url}/robot/sendBySession?session=s"), stale)
    assert r.status_code == 401 and bots.ask.questions == []


@pytest.mark.parametrize("robot_code", ["another-robot", None])
def test_dingtalk_messages_for_another_robot_are_refused(bots, robot_code):
    message = dingtalk_message("q", f"{bots.platforms.url}/robot/sendBySession?session=s", msg_id=f"rc-{robot_code}",
                               robot_code=robot_code)
    r = post_dingtalk(bots, message, dingtalk_headers(DING_SECRET))
    assert r.status_code == 403 and "robot" in r.json()["error"]["message"]
    assert bots.ask.questions == []


@pytest.mark.parametrize("platform", ["feishu", "dingtalk"])
def test_non_utf8_json_is_refused(bots, platform):
    if platform == "feishu":
        body = json.dumps({"encrypt": feishu_encrypt(FEISHU_KEY, feishu_message_event(FEISHU_TOKEN, "q", chat_type="p2p"))}).encode("utf-16")
        r = bots.http.post("/bots/feishu", content=body, headers=feishu_headers(FEISHU_KEY, body))
    else:
        body = json.dumps(dingtalk_message("问题", f"{bots.platforms.url}/robot/sendBySession?session=s", msg_id="u16")).encode("utf-16")
        r = post_dingtalk(bots, body, dingtalk_headers(DING_SECRET))
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]["message"]
    assert bots.ask.questions == []


def test_dingtalk_needs_its_robot_code_to_be_enabled(caplog):
    caplog.set_level(logging.WARNING)
    router = build_router(FakeAsk(), Settings(dingtalk_app_secret="s", dingtalk_robot_code=None))
    assert router.bots["dingtalk"] is None and "dingtalk_robot_code" in caplog.text
