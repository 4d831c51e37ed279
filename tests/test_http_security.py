"""The app as an attacker probes it and a busy company uses it, over real HTTP against the running app (API +
Gradio chat on one uvicorn): auth everywhere (issue 12 item 1), no server file read (2), body limits while
the body arrives (6), clear 400s for malformed text (7), no markup from user input (8), /healthz under load
and a bounded queue (10), and an Advisor that closes its store (13)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import SecretStr
from support.server import ServerThread

from advisor.present.http import create_app
from conftest import cli_env

TOKEN = "s3cret-team-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PROFILES = Path(__file__).parent / "profiles"
EVIL = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "js": "[click me](javascript:alert(1))",
    "pixel": "![t](http://evil.example/pixel.png)",
}


@contextlib.contextmanager
def app_server(advisor, ui: bool = False, **changes):
    saved = advisor.settings
    advisor.settings = saved.model_copy(update={"api_token": None, **changes})
    try:
        with ServerThread(create_app(advisor, mount_ui=ui)) as server:
            yield server.url
    finally:
        advisor.settings = saved


@pytest.fixture(scope="module")
def secured(advisor):
    """The whole app (API + chat) with a token."""
    with app_server(advisor, ui=True, api_token=SecretStr(TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def open_app(advisor):
    with app_server(advisor, ui=True) as url:
        yield url


# ---- item 1: auth on every route ---------------------------------------------------------------------

GUARDED = [
    ("GET", "/", None), ("GET", "/config", None), ("GET", "/gradio_api/info", None),
    ("GET", "/gradio_api/queue/status", None), ("POST", "/gradio_api/call/respond", {"data": []}),
    ("POST", "/gradio_api/queue/join", {"data": [], "fn_index": 0, "session_hash": "x"}),
    ("POST", "/gradio_api/upload", None), ("GET", "/docs", None), ("GET", "/openapi.json", None),
    ("GET", "/v1/models", None), ("GET", "/v1/regulations", None), ("POST", "/v1/ask", {"question": "labels"}),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "labels"}]}),
]


@pytest.mark.parametrize("method, path, body", GUARDED)
def test_every_route_needs_the_token(secured, method, path, body):
    response = httpx.request(method, secured + path, json=body, timeout=30)
    assert response.status_code == 401, (path, response.status_code, response.text[:200])
    assert response.json()["error"]["type"] == "unauthorized"
    with_token = httpx.request(method, secured + path, json=body, headers=BEARER, timeout=60)
    assert with_token.status_code != 401, path


@pytest.mark.parametrize("body", [b"{not json", b'{"question": 42}', b"[" * 5000])
def test_auth_comes_before_body_validation(secured, body):
    for path in ("/v1/ask", "/v1/chat/completions", "/v1/assess"):
        response = httpx.post(secured + path, content=body, headers={"content-type": "application/json"}, timeout=30)
        assert response.status_code == 401, (path, response.status_code)


def test_health_and_bot_webhooks_stay_open(secured):
    assert httpx.get(secured + "/healthz").status_code == 200
    assert httpx.post(secured + "/bots/feishu", content=b"{}").status_code == 404  # not configured, but not 401


def test_a_browser_is_sent_to_the_login_page_and_gets_in_with_the_token(secured):
    page = httpx.get(secured + "/", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    with httpx.Client(base_url=secured, timeout=60) as browser:
        form = browser.get("/login?next=/")
        assert form.status_code == 200 and 'name="token"' in form.text
        wrong = browser.post("/login", data={"token": "guess", "next": "/"})
        assert wrong.status_code == 401 and "advisor_session" not in browser.cookies
        ok = browser.post("/login", data={"token": TOKEN, "next": "/"})
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and TOKEN not in cookie
        assert browser.get("/").status_code == 200  # the chat page, with the cookie
        assert browser.get("/gradio_api/info").status_code == 200
        assert browser.get("/logout").status_code == 303
        assert "advisor_session" not in browser.cookies


def test_login_never_redirects_to_another_site(secured):
    response = httpx.post(secured + "/login", data={"token": TOKEN, "next": "//evil.example/x"}, timeout=30)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_forged_or_stale_cookie_is_refused(secured):
    from advisor.present.gate import session_cookie

    for value in ("1.abc", session_cookie("another-token"), session_cookie(TOKEN, now=time.time() - 13 * 3600)):
        response = httpx.get(secured + "/gradio_api/info", cookies={"advisor_session": value}, timeout=30)
        assert response.status_code == 401


def test_gradio_client_needs_the_token(secured):
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(secured + "/", verbose=False, download_files=False)
    client = Client(secured + "/", headers=BEARER, verbose=False, download_files=False)
    question, helptext, *_ = client.predict("roadmap", api_name="/on_template")
    assert "roadmap" in json.dumps(helptext).lower() or "Roadmap" in json.dumps(helptext)


# ---- item 2: no server file read ------------------------------------------------------------------

def _load_profile_file(url: str, path: str) -> str:
    """POST /gradio_api/call/load_profile_file with a FileData `path`, then read the result event."""
    file = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(path).name}
    with httpx.Client(base_url=url, headers=BEARER, timeout=60) as http:
        started = http.post("/gradio_api/call/load_profile_file", json={"data": [file, None]})
        assert started.status_code == 200, started.text
        return http.get(f"/gradio_api/call/load_profile_file/{started.json()['event_id']}").text


@pytest.fixture
def server_secret(tmp_path):
    secret = tmp_path / "app-secrets.yaml"
    secret.write_text("db_password: hunter2-SERVER-SECRET\n", encoding="utf-8")
    return secret


def test_a_profile_path_on_the_server_disk_is_never_read(secured, server_secret):
    relative = os.path.relpath("/etc/passwd", Path.cwd())
    for path in (str(server_secret), "/etc/passwd", "/etc/hostname", "/root/.bashrc", relative,
                 "../../../../../../etc/passwd", str(PROFILES / "public-chatbot.yaml")):
        events = _load_profile_file(secured, path)
        assert "hunter2" not in events and "root:" not in events and "db_password" not in events, path
        assert "only a file uploaded here" in events or "not uploaded by a user" in events, (path, events[-300:])
        assert "Public chatbot" not in events  # a valid profile outside the upload folder is not read either


def test_a_symlink_in_the_upload_folder_pointing_out_is_refused(secured, server_secret):
    from gradio import utils

    folder = Path(utils.get_upload_folder()) / "advisor-test-link"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "profile.yaml"
    link.unlink(missing_ok=True)
    link.symlink_to(server_secret)
    try:
        events = _load_profile_file(secured, str(link))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "hunter2" not in events
    assert "only a file uploaded here" in events or "not uploaded by a user" in events


def test_an_uploaded_profile_is_loaded(secured):
    from gradio_client import Client, handle_file

    client = Client(secured + "/", headers=BEARER, verbose=False, download_files=False)
    result = client.predict(handle_file(str(PROFILES / "public-chatbot.yaml")), None, api_name="/load_profile_file")
    assert "Loaded" in json.dumps(result, ensure_ascii=False)


# ---- item 6: body limit for chunked requests, every route -----------------------------------------

def _chunked(total: int, multipart: bool = False, piece: bytes = b" " * 8192):
    head, tail = b'{"question": "', b'"}'
    if multipart:
        head = (b'--advisor\r\nContent-Disposition: form-data; name="files"; filename="p.yaml"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n")
        tail = b"\r\n--advisor--\r\n"

    def gen():
        yield head
        sent = 0
        while sent < total:
            yield piece
            sent += len(piece)
        yield tail
    return gen()


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/retrieve", "/v1/chat/completions", "/v1/assess", "/login",
                                  "/gradio_api/call/respond", "/gradio_api/upload", "/bots/feishu"])
def test_a_chunked_body_over_the_limit_is_refused(open_app, path):
    started = time.monotonic()
    upload = path.endswith("/upload")
    kind = "multipart/form-data; boundary=advisor" if upload else "application/json"
    response = httpx.post(open_app + path, content=_chunked(10_000_000, upload), headers={"content-type": kind}, timeout=60)
    assert response.status_code in (413, 404), (path, response.status_code, response.text[:200])
    if path != "/bots/feishu":  # an unconfigured bot answers 404 without reading
        assert response.status_code == 413
    assert time.monotonic() - started < 30


def test_a_chunked_body_under_the_limit_is_accepted(open_app):
    body = json.dumps({"question": "Do AI-generated images need a label?", "k": 2}).encode()
    response = httpx.post(open_app + "/v1/retrieve", content=iter([body[:10], body[10:]]),
                          headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 200 and len(response.json()["hits"]) == 2


# ---- item 7: malformed text is a 400 and the connection survives ----------------------------------

LONE = '"\\ud800 labels?"'
BAD_BODIES = [
    ("/v1/ask", '{"question": %s}' % LONE),
    ("/v1/retrieve", '{"question": %s}' % LONE),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": %s}]}' % LONE),
    ("/v1/chat/completions", '{"stream": true, "messages": [{"role": "user", "content": %s}]}' % LONE),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": [7, "x"]}]}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}'),
    ("/v1/ask", '{"question": "\\u200b\\u200b \\u2060\\ufeff "}'),
    ("/v1/retrieve", '{"question": "\\u200b\\u3000\\u200d"}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "\\u200b\\u200c"}]}'),
    ("/v1/ask", '{"template": "roadmap", "variables": {"business_description": %s}}' % LONE),
    ("/v1/assess", '{"profile": {"name": %s}, "format": "markdown"}' % LONE),
]


@pytest.mark.parametrize("path, body", BAD_BODIES)
def test_malformed_text_is_a_400_and_keeps_the_connection(open_app, path, body):
    with httpx.Client(base_url=open_app, timeout=60) as http:
        response = http.post(path, content=body.encode(), headers={"content-type": "application/json"})
        assert response.status_code == 400, (response.status_code, response.text[:300])
        error = response.json()["error"]
        assert error["message"] and "internal" not in error["message"]
        assert response.headers.get("connection", "").lower() != "close"
        assert http.get("/healthz").status_code == 200  # the same keep-alive connection still works


# ---- item 8: no markup from user input in any Markdown we produce --------------------------------------

def _inert(markdown: str) -> None:
    """No HTML tag, image or javascript: link survives in `markdown` (backslash-escaped characters are literal)."""
    active = re.sub(r"\\.", "", markdown)
    for bad in ("<script", "<img", "](javascript:", "!["):
        assert bad not in active, (bad, markdown[:500])


def test_profile_fields_are_shown_as_typed_in_the_markdown_report(open_app):
    profile = {**yaml.safe_load((PROFILES / "content-agency.yaml").read_text(encoding="utf-8")),
               "name": EVIL["script"] + EVIL["pixel"], "platforms": [EVIL["js"], EVIL["img"]]}
    profile["cross_border"] = {"destinations": [EVIL["pixel"]]}
    for lang in ("en", "zh"):
        body = httpx.post(open_app + "/v1/assess", json={"profile": profile, "format": "markdown", "lang": lang}, timeout=60).json()
        _inert(body["markdown"])
        assert "&lt;script&gt;" in body["markdown"]  # shown, not dropped


def test_an_engine_answer_shows_the_profile_name_as_typed(open_app):
    profile = {**yaml.safe_load((PROFILES / "content-agency.yaml").read_text(encoding="utf-8")), "name": EVIL["pixel"] + EVIL["img"]}
    for template in ("roadmap", "risk_level"):
        body = httpx.post(open_app + "/v1/ask", json={"template": template, "profile": profile}, timeout=60).json()
        _inert(body["answer"])


def test_a_models_markup_is_neutralised(advisor):
    from support.fake_openai import FakeOpenAI

    text = (f"Providers must label images 「对图片、视频等生成内容进行标识」[gai-interim-measures-2023 art. 12] "
            f"{EVIL['pixel']} {EVIL['js']} {EVIL['img']}\nSee <https://ok.example> too.")
    with FakeOpenAI([("ok", text)]) as model:
        saved = advisor.settings
        advisor.settings = saved.model_copy(update={"provider": "vllm", "base_url": model.url, "model": "fake"})
        advisor._models.clear()
        try:
            with ServerThread(create_app(advisor)) as server:
                chat = httpx.post(server.url + "/v1/chat/completions", timeout=60,
                                  json={"messages": [{"role": "user", "content": "Do AI-generated images need a label?"}]}).json()
        finally:
            advisor.settings = saved
            advisor._models.clear()
    content = chat["choices"][0]["message"]["content"]
    assert "Providers must label images" in content and "vllm:fake" in content
    _inert(content)
    assert "<https://" not in content


def test_the_chat_shows_the_users_question_as_typed(advisor):
    from advisor.present.chat_ui import FREE, build_ui

    demo = build_ui(advisor)
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    respond = next(f.fn for f in fns if getattr(f.fn, "__name__", "") == "respond")
    question = f"Do AI images need a label? {EVIL['pixel']} {EVIL['script']}"
    chat, _, panel, download, _ = list(respond(question, FREE, "", "", "", "", "en", "offline", "", []))[-1]
    _inert(chat[-2]["content"])
    _inert(Path(download["value"]).read_text(encoding="utf-8"))
    assert "evil.example" in chat[-2]["content"]  # shown as text


# ---- item 10: /healthz at once under load, a bounded queue ----------------------------------------------

def test_healthz_answers_at_once_while_workers_are_busy(advisor):
    gate = threading.Event()
    original = advisor.retrieve

    def slow_retrieve(*args, **kwargs):
        gate.wait(30)
        return original(*args, **kwargs)

    advisor.retrieve = slow_retrieve
    try:
        with app_server(advisor, concurrency=2, max_queue=40, retry_after=7) as url:
            results: list[int] = []

            def client():
                results.append(httpx.post(url + "/v1/retrieve", json={"question": "labels", "k": 1}, timeout=60).status_code)

            threads = [threading.Thread(target=client) for _ in range(30)]
            for t in threads:
                t.start()
            deadline, slowest, waiting = time.monotonic() + 20, 0.0, 0
            while waiting < 30 and time.monotonic() < deadline:  # until every client is in (or waits for) a worker
                started = time.monotonic()
                health = httpx.get(url + "/healthz", timeout=10)
                slowest = max(slowest, time.monotonic() - started)
                assert health.status_code == 200
                waiting = health.json()["work"]["in_progress_or_queued"]
                time.sleep(0.1)
            assert waiting == 30 and slowest < 5.0, (waiting, slowest)  # before: it waited for the workers (19-25 s)
            gate.set()
            for t in threads:
                t.join(60)
    finally:
        advisor.retrieve = original
        gate.set()
    assert results.count(200) == 30


def test_requests_beyond_the_queue_get_503_with_retry_after(advisor):
    gate = threading.Event()
    original = advisor.retrieve

    def slow_retrieve(*args, **kwargs):
        gate.wait(30)
        return original(*args, **kwargs)

    advisor.retrieve = slow_retrieve
    try:
        with app_server(advisor, concurrency=1, max_queue=2, retry_after=7) as url:
            codes: list[httpx.Response] = []

            def client():
                codes.append(httpx.post(url + "/v1/retrieve", json={"question": "labels", "k": 1}, timeout=60))

            threads = [threading.Thread(target=client) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            refused = httpx.post(url + "/v1/retrieve", json={"question": "labels", "k": 1}, timeout=10)
            chat = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "labels"}]}, timeout=10)
            gate.set()
            for t in threads:
                t.join(60)
    finally:
        advisor.retrieve = original
        gate.set()
    assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
    assert refused.json()["error"]["type"] == "busy"
    assert chat.status_code == 503 and chat.headers["retry-after"] == "7" and chat.json()["error"]["code"] == "busy"
    assert [r.status_code for r in codes] == [200, 200, 200]


# ---- item 13: Advisor closes its store ---------------------------------------------------------------

def test_a_script_using_advisor_exits_without_a_traceback(store_copy):
    script = ("from advisor import Advisor\n"
              "def main():\n"
              "    global advisor\n"
              "    advisor = Advisor()\n"
              "    print(len(advisor.retrieve('Do AI-generated images need a label?', 3)))\n"
              "main()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=cli_env(store_copy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_advisor_close_and_context_manager(store_copy):
    from advisor import Advisor
    from conftest import make_settings

    with Advisor(make_settings(store_copy)) as advisor:
        assert advisor.retrieve("labels", 1)
    assert advisor._store is None
    advisor.close()  # twice is fine
