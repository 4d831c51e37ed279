"""`advisor watch` against a local HTTP server serving saved pages and feeds (written for these tests): items
that look like rules are recorded and notified at most once, a broken feed and a timeout are reported without
stopping the other sources, unchanged pages cost a 304, and due reviews are reminded once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from support.server import ServerThread

from advisor.present.notifiers import DingTalkNotifier, FeishuNotifier
from advisor.present.bots.client import PlatformClient
from advisor.settings import load_settings
from advisor.workspace import Workspace
from advisor.workspace.watcher import Watcher, WebhookNotifier, feed_items, html_items

FIXTURES = Path(__file__).parent / "fixtures" / "watch"
KEYWORDS = load_settings().watch_keywords


def _site(state: dict) -> FastAPI:
    app = FastAPI()

    @app.get("/cac/list.html")
    def page(request: Request):
        state["hits"]["page"] = state["hits"].get("page", 0) + 1
        body = state["page"].encode("utf-8")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="text/html; charset=utf-8", headers={"ETag": etag})

    @app.get("/feed.xml")
    def feed(request: Request):
        modified = "Mon, 16 Nov 2026 00:00:00 GMT"
        if request.headers.get("if-modified-since") == modified:
            return Response(status_code=304)
        return Response((FIXTURES / "feed.xml").read_bytes(), media_type="application/rss+xml",
                        headers={"Last-Modified": modified})

    @app.get("/broken.xml")
    def broken():
        return Response((FIXTURES / "broken.xml").read_bytes(), media_type="application/rss+xml")

    @app.get("/slow")
    def slow():
        time.sleep(3)
        return Response("<a href='/x'>示例办法</a>", media_type="text/html")

    @app.post("/hook")
    async def hook(request: Request):
        if state.get("fail_hook"):
            return Response(status_code=500)
        state["hook"].append(await request.json())
        return {"ok": True}

    @app.post("/robot/send")
    async def dingtalk(request: Request):
        state["dingtalk"].append(await request.json())
        return {"errcode": 0, "errmsg": "ok"}

    @app.post("/feishu/hook")
    async def feishu(request: Request):
        state["feishu"].append(await request.json())
        return {"code": 0}

    return app


@pytest.fixture
def site():
    state = {"page": (FIXTURES / "cac-policy.html").read_text(encoding="utf-8"), "hits": {}, "hook": [], "dingtalk": [],
             "feishu": []}
    with ServerThread(_site(state)) as server:
        yield server.url, state


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(url=f"sqlite:///{tmp_path / 'ws.db'}")
    yield w
    w.close()


def _watcher(ws, url, notifiers, sources=("/cac/list.html", "/feed.xml")) -> Watcher:
    return Watcher(ws, [url + s for s in sources], KEYWORDS, notifiers, timeout=1.0)


def test_titles_are_recognised_by_their_keywords():
    items = html_items((FIXTURES / "cac-policy.html").read_text(encoding="utf-8"), "https://www.cac.gov.cn/list.htm")
    titles = [i.title for i in items]
    assert titles == ["示例人工智能服务管理办法（征求意见稿）", "关于开展示例专项行动的通知", "示例数据标注安全规定",
                      "示例网络安全国家标准发布", "示例工作会议在京召开"]  # navigation and the repeated link dropped
    assert items[0].link == "https://www.cac.gov.cn/2026-11/20/c_0001.htm"
    feed = feed_items((FIXTURES / "feed.xml").read_bytes(), "http://127.0.0.1/")
    assert [(i.key, i.title) for i in feed] == [("feed-item-1", "示例个人信息出境条例（修订）"), ("feed-item-2", "示例新闻：年度工作总结")]


def test_new_rules_are_recorded_and_notified_once_then_only_what_is_new(ws, site):
    url, state = site
    watcher = _watcher(ws, url, [WebhookNotifier(url + "/hook", timeout=5)])
    first = watcher.run(today=dt.date(2026, 11, 21))
    assert [c["status"] for c in first.checked] == ["fetched", "fetched"]
    assert sorted(n["title"] for n in state["hook"]) == sorted([
        "示例人工智能服务管理办法（征求意见稿）", "示例数据标注安全规定", "示例网络安全国家标准发布", "示例个人信息出境条例（修订）"])
    assert all(n["kind"] == "rule" and n["text"] for n in state["hook"])
    assert {tuple(n["keywords"]) for n in state["hook"]} >= {("办法", "征求意见稿"), ("规定",), ("标准",), ("条例",)}

    # unchanged sources: a 304 each, nothing recorded or sent again
    second = watcher.run(today=dt.date(2026, 11, 21))
    assert [c["status"] for c in second.checked] == ["not_modified", "not_modified"] and len(state["hook"]) == 4

    # the page changes: one new rule, the old ones repeated; only the new one is notified
    state["page"] = state["page"].replace("<ul class=\"list\">", "<ul class=\"list\"><li><a href='/2026-11/25/c_0009.htm'>"
                                          "示例算法备案实施细则</a></li>")
    third = watcher.run(today=dt.date(2026, 11, 26))
    assert [n["title"] for n in third.new_items] == ["示例算法备案实施细则"]
    assert [n["title"] for n in state["hook"][4:]] == ["示例算法备案实施细则"]
    assert len(watcher.items()) == 5
    watcher.close()


def test_a_broken_feed_and_a_timeout_do_not_stop_the_other_sources(ws, site):
    url, state = site
    watcher = _watcher(ws, url, [WebhookNotifier(url + "/hook", timeout=5)], ("/broken.xml", "/slow", "/missing", "/feed.xml"))
    report = watcher.run(reminders=False)
    by_url = {c["url"].removeprefix(url): c for c in report.checked}
    assert by_url["/broken.xml"]["status"] == "error" and "not a readable RSS/Atom feed" in by_url["/broken.xml"]["error"]
    assert by_url["/slow"]["error"] == "timed out"
    assert by_url["/missing"]["error"] == "HTTP 404"
    assert by_url["/feed.xml"]["status"] == "fetched" and [n["title"] for n in state["hook"]] == ["示例个人信息出境条例（修订）"]
    watcher.close()


def test_a_failed_notification_is_retried_and_never_duplicated(ws, site):
    url, state = site
    hook = WebhookNotifier(url + "/hook", timeout=5)
    dingtalk = DingTalkNotifier(PlatformClient(load_settings(), dingtalk_webhook_origins=[url]), url + "/robot/send?access_token=x")
    feishu = FeishuNotifier(url + "/feishu/hook", timeout=5)
    watcher = _watcher(ws, url, [hook, dingtalk, feishu], ("/feed.xml",))
    state["fail_hook"] = True
    first = watcher.run(reminders=False)
    assert {f["channel"] for f in first.failed} == {"webhook"} and first.failed[0]["error"] == "HTTP 500"
    assert len(state["dingtalk"]) == len(state["feishu"]) == 1
    assert state["dingtalk"][0]["msgtype"] == "text" and "示例个人信息出境条例" in state["dingtalk"][0]["text"]["content"]
    assert state["feishu"][0]["msg_type"] == "text" and "示例个人信息出境条例" in state["feishu"][0]["content"]["text"]

    state["fail_hook"] = False
    with ws.engine.begin() as conn:  # the source is unchanged, so make it fetch again
        conn.exec_driver_sql("UPDATE watch_sources SET etag = NULL, last_modified = NULL")
    second = watcher.run(reminders=False)
    assert [s["channel"] for s in second.sent] == ["webhook"] and len(state["hook"]) == 1
    assert len(state["dingtalk"]) == len(state["feishu"]) == 1  # not sent again
    watcher.close()


def test_due_reviews_are_reminded_once_per_due_date(ws, site, rules):
    url, state = site
    ws.add_system("Bot", {"public_service": True, "features": {"generative_text": True}}, user="a", review_months=3)
    watcher = _watcher(ws, url, [WebhookNotifier(url + "/hook", timeout=5)], ())
    today = dt.date.today()
    assert watcher.run(today=today).reminders == []
    later = today + dt.timedelta(days=100)
    report = watcher.run(today=later)
    assert report.reminders == [{"system": "bot", "due": ws.list_systems()[0]["next_review"]}]
    assert [n["kind"] for n in state["hook"]] == ["review"] and "advisor systems reassess bot" in state["hook"][0]["text"]
    watcher.run(today=later)
    assert len(state["hook"]) == 1  # once per due date
    system = ws.get_system("bot")
    ws.update_system("bot", expected_version=system["version"], user="a", last_reviewed=later)
    assert watcher.run(today=later).reminders == []
    watcher.close()


def test_advisor_watch_on_the_command_line(site, tmp_path):
    import subprocess

    from conftest import ADVISOR, cli_env

    url, state = site
    env = cli_env(tmp_path / "data", ADVISOR_WATCH_WEBHOOK_URL=url + "/hook", ADVISOR_WATCH_TIMEOUT="1")
    args = [ADVISOR, "watch", "--source", url + "/cac/list.html", "--source", url + "/broken.xml", "--no-reminders"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "3 new" in result.stdout and "not a readable RSS/Atom feed" in result.stdout and "notifications sent: 3" in result.stdout
    again = subprocess.run(args + ["--json"], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(again.stdout)
    assert report["checked"][0]["status"] == "not_modified" and report["sent"] == [] and len(state["hook"]) == 3
    items = subprocess.run([ADVISOR, "watch", "items", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert len(json.loads(items.stdout)) == 3
