"""The Gradio chat: its handlers directly, then the real app (API + chat on one uvicorn) in Chromium.

The browser test drives Debian's Chromium (`apt-get install chromium fonts-wqy-microhei`) through
Playwright's Python API; it never downloads a browser. Without Chromium it is skipped, except on CI
(CI=true), where it fails. The screenshots go to tests/artifacts/chat.png and interview.png.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from advisor.present.chat_ui import FREE, MAX_VARIABLES, build_ui, variable_updates  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CITATION = re.compile(r"《[^》]+》\s*第[0-9一二三四五六七八九十百零]+条")
DISCLOSURE = {"platform": "小红书", "industry": "cosmetics", "content_type": "product images", "function": "generating images"}
TIMEOUT_MS = 120_000
TOKEN = "browser-test-token"


def _handler(demo, name: str):
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return next(f.fn for f in fns if getattr(f.fn, "__name__", "") == name)


@pytest.fixture(scope="module")
def demo(advisor):
    return build_ui(advisor)


# ---- without a browser ---------------------------------------------------------------------------

def test_build_ui_returns_blocks(demo, advisor):
    assert isinstance(demo, gr.Blocks)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    expected = {"question", "submit", "template", "citations", "download", "chatbot", "lang", "provider"}
    assert expected | {f"var-{i}" for i in range(MAX_VARIABLES)} <= ids
    assert max(len(t.variables) for t in advisor.templates().values()) <= MAX_VARIABLES


def test_template_change_shows_its_variables(demo, advisor):
    on_template = _handler(demo, "on_template")
    templates = advisor.templates()
    assert set(templates) == {"architecture_review", "disclosure_text", "requirements", "risk_level", "roadmap"}
    for name, tpl in templates.items():
        question, helptext, *boxes = on_template(name)
        assert question["visible"] is False and helptext["visible"] is True
        assert tpl.title in helptext["value"]
        shown = [b for b in boxes if b["visible"]]
        assert len(shown) == len(tpl.variables), name
        assert [b["label"] for b in shown] == [v.replace("_", " ") for v in tpl.variables]
        assert [b["placeholder"] for b in shown] == list(tpl.variables.values())
        assert all(b["value"] == "" for b in boxes)
    question, helptext, *boxes = on_template(FREE)
    assert question["visible"] is True and helptext["visible"] is False
    assert not any(b["visible"] for b in boxes)
    assert variable_updates(templates, None) == variable_updates(templates, FREE)


def test_respond_streams_answer_citations_and_download(demo, advisor):
    respond = _handler(demo, "respond")
    values = [DISCLOSURE[v] for v in advisor.templates()["disclosure_text"].variables]
    updates = list(respond("", "disclosure_text", *values, "en", "offline", "", []))
    chat, history, panel, download, _ = updates[-1]
    assert chat[-1]["role"] == "assistant" and chat[-1]["content"].strip()
    assert "小红书" in chat[-2]["content"]
    assert CITATION.search(panel) and "not legal advice" in panel and "不构成法律意见" in panel
    path = Path(download["value"])
    assert path.suffix == ".md" and CITATION.search(path.read_text(encoding="utf-8"))
    # a free question without text asks for one instead of answering
    first = list(respond("  ", FREE, "", "", "", "", "en", "offline", "", []))
    assert first[-1][0] == []
    # a bad date is reported in the chat, not raised
    bad = list(respond("Do AI images need a label?", FREE, "", "", "", "", "en", "offline", "2025-13-45", []))
    assert "YYYY-MM-DD" in bad[-1][0][-1]["content"]


def test_respond_streams_model_lines_as_they_come(demo, advisor, monkeypatch):
    from advisor.providers.llms import OpenAICompatible
    from support.fake_openai import FakeOpenAI

    respond = _handler(demo, "respond")
    question = "Do AI-generated images need a label?"
    sources = advisor.sources(question)[2]
    assert ("gai-interim-measures-2023", 12) in [(h.instrument_id, h.article) for h in sources]
    text = "Yes.\nProviders must label generated images 「对图片、视频等生成内容进行标识」[gai-interim-measures-2023 art. 12].\nThat is the rule."
    with FakeOpenAI([("stream", text)]) as server:
        model = OpenAICompatible("vllm", server.url, "fake", None, timeout=5.0, max_retries=0)
        monkeypatch.setattr(advisor, "chat_model", lambda provider=None: model)
        updates = list(respond(question, FREE, "", "", "", "", "en", "vllm", "", []))
    partial = [u[0][-1]["content"] for u in updates[1:-1]]
    assert len(partial) >= 3 and all(a in b for a, b in zip(partial, partial[1:]))  # the answer grows line by line
    chat, _, panel, download, _ = updates[-1]
    assert "Providers must label" in chat[-1]["content"] and "vllm:fake" in chat[-1]["content"]
    assert "《生成式人工智能服务管理暂行办法》第十二条" in panel and download["value"].endswith(".md")



def test_roadmap_template_uses_the_profile_from_the_assess_tab(demo, advisor):
    respond = _handler(demo, "respond")
    profile = {"name": "Agency", "public_service": True, "features": {"generative_image": True, "publishes_ai_content": True}}
    steps = [s.obligation for s in advisor.assess(profile).roadmap]
    chat, _, panel, download, _ = list(respond("", "roadmap", "", "", "", "", "en", "offline", "", [], profile))[-1]
    assert re.findall(r"\[`([a-z0-9-]+)`\]", chat[-1]["content"]) == steps and "engine" in chat[-1]["content"]
    assert "Agency" in chat[-2]["content"] and CITATION.search(panel) and download["value"].endswith(".md")
    # without a profile the same template needs its variable, and says so in the chat
    chat, *_ = list(respond("", "roadmap", "", "", "", "", "en", "offline", "", [], None))[-1]
    assert "business_description" in chat[-1]["content"]

# ---- in the browser ------------------------------------------------------------------------------

def _chromium() -> str | None:
    path = os.environ.get("ADVISOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(advisor, token: str | None = None):
    import uvicorn
    from pydantic import SecretStr

    from advisor.present.http import create_app

    saved = advisor.settings
    advisor.settings = saved.model_copy(update={"api_token": SecretStr(token) if token else None})
    try:
        app = create_app(advisor, mount_ui=True)
    finally:
        advisor.settings = saved
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start within 60 s")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def server_url(advisor):
    server, thread, url = _serve(advisor)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def secured_url(advisor):
    server, thread, url = _serve(advisor, TOKEN)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: apt-get install chromium (needed by the browser test on CI)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server_url):
    """A fresh page on the app; nothing outside this machine (web fonts, CDNs) may hold it up."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page.goto(server_url, wait_until="domcontentloaded")
    yield page
    context.close()


def test_chat_in_browser(page, advisor):
    tpl = advisor.templates()["disclosure_text"]
    page.locator("#template input").click()
    page.locator(f'[role="option"][aria-label="{tpl.title}"]').click()
    boxes = [page.locator(f"#var-{i}") for i in range(len(tpl.variables))]
    for box, (name, _help) in zip(boxes, tpl.variables.items()):
        box.wait_for(state="visible")
        assert name.replace("_", " ") in box.inner_text()
        box.locator("textarea, input").first.fill(DISCLOSURE[name])
    assert not page.locator("#question").is_visible()  # a template replaces the free question
    page.locator("#submit").click()

    # the final answer enables the download button and fills the citations panel
    page.wait_for_function(
        """() => { const b = document.querySelector('#download button') || document.querySelector('button#download');
                   return b && !b.disabled; }""",
        timeout=TIMEOUT_MS,
    )
    panel = page.locator("#citations").inner_text()
    assert CITATION.search(panel), panel[:500]
    assert "不构成法律意见" in panel and "not legal advice" in panel
    chat = page.locator("#chatbot").inner_text()
    assert "小红书" in chat
    bot = page.locator('#chatbot [data-testid="bot"], #chatbot .message.bot')
    answer_text = bot.last.inner_text().strip() if bot.count() else chat.split("generating images", 1)[-1].strip()
    assert answer_text and "Searching the regulations" not in answer_text

    with page.expect_download() as info:
        page.locator("#download").click()
    downloaded = Path(info.value.path()).read_text(encoding="utf-8")
    assert CITATION.search(downloaded), downloaded[:500]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interview_in_browser(page, advisor):
    profile = {"public_service": True, "features": {"generative_text": True}, "personal_information": True}
    expected = advisor.assess(profile)
    page.get_by_role("tab", name="Assess my business · 合规评估").click()
    yes = page.locator("#field-public-service input[type=radio][value=yes]")  # a fact that may be "not sure"
    yes.check()
    assert yes.is_checked()
    for field in ("features-generative-text", "personal-information"):
        box = page.locator(f"#field-{field} input[type=checkbox]")
        box.check()
        assert box.is_checked()
    page.locator("#assess").click()

    page.wait_for_function(
        """() => { const b = document.querySelector('#assessment-download button') ||
                             document.querySelector('button#assessment-download');
                   return b && !b.disabled; }""",
        timeout=TIMEOUT_MS,
    )
    risk = page.locator("#assessment-risk").inner_text()
    assert f"{expected.risk_level.upper()}" in risk, risk
    report = page.locator("#assessment").inner_text()
    assert CITATION.search(report), report[:500]
    assert all(oid in report for oid in expected.ids("applies")), report[:500]

    with page.expect_download() as info:
        page.locator("#assessment-download").click()
    downloaded = Path(info.value.path()).read_text(encoding="utf-8")
    assert CITATION.search(downloaded) and "Six-month roadmap" in downloaded
    assert "public_service: true" in downloaded and "generative_text: true" in downloaded

    # a broken profile file is explained and leaves the form as it was
    page.locator("#profile-upload").locator("xpath=..").locator("input[type=file]").set_input_files(
        files=[{"name": "broken.yaml", "mimeType": "application/yaml", "buffer": b"public_service: [oops\n"}])
    page.wait_for_function("() => document.querySelector('#profile-status').innerText.includes('YAML')")
    assert "Not loaded" in page.locator("#profile-status").inner_text()
    assert page.locator("#field-public-service input[type=radio][value=yes]").is_checked()

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "interview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chat_in_browser_behind_a_token(browser, secured_url):
    """With a token set, the chat page sends the browser to the login page; after it the chat works."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    try:
        page.goto(secured_url, wait_until="domcontentloaded")
        assert "/login" in page.url
        page.locator("#token").fill("wrong")
        page.locator("#login").click()
        page.wait_for_selector("#login-error")
        page.locator("#token").fill(TOKEN)
        page.locator("#login").click()
        page.wait_for_url(secured_url)
        page.locator("#question textarea").fill("Do AI-generated images need a label?")
        page.locator("#submit").click()
        page.wait_for_function(
            """() => { const b = document.querySelector('#download button') || document.querySelector('button#download');
                       return b && !b.disabled; }""", timeout=TIMEOUT_MS)
        assert CITATION.search(page.locator("#citations").inner_text())
    finally:
        context.close()
