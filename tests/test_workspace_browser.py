"""The Workspace tab: its handlers directly, then in Chromium (Debian's, through Playwright, as in
test_browser.py): the list with risk levels and progress, the dashboard chart, one system's checklist with
overdue items highlighted, an edit saved, and a stale edit refused. Screenshot: tests/artifacts/workspace.png."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from advisor.present.workspace_ui import checklist_html, dashboard_frame, systems_html  # noqa: E402
from test_browser import CHROMIUM_ARGS, TIMEOUT_MS, _chromium, _free_port  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"
CHATBOT = {"public_service": True, "features": {"generative_text": True}, "personal_information": True, "pi_subjects": 20000}
IMAGES = {"public_service": True, "features": {"generative_image": True, "publishes_ai_content": True}}
CODER = {"internal_only": True, "features": {"generative_text": True}}


@pytest.fixture(scope="module")
def workspace(advisor, tmp_path_factory):
    """The shared Advisor on a fresh workspace with three systems, one assessed long ago (overdue items)."""
    saved = (advisor.settings.workspace_url, advisor._workspace)
    advisor.settings.workspace_url = f"sqlite:///{tmp_path_factory.mktemp('wsui') / 'ws.db'}"
    advisor._workspace = None
    ws = advisor.workspace
    ws.add_system("Customer-service bot", CHATBOT, user="alice", owner="Li Wei")
    ws.add_system("Marketing image generator", IMAGES, user="alice")
    ws.add_system("Internal coding assistant", CODER, user="alice")
    ws.assess_system("customer-service-bot", advisor, user="alice", as_of=dt.date.today() - dt.timedelta(days=75))
    ws.assess_system("marketing-image-generator", advisor, user="alice")
    ws.assess_system("internal-coding-assistant", advisor, user="alice")
    items = ws.checklist("marketing-image-generator")
    for item in items[:3]:
        ws.update_item("marketing-image-generator", item["obligation"], expected_version=item["version"], user="bob", status="done")
    ws.update_item("marketing-image-generator", items[3]["obligation"], expected_version=items[3]["version"], user="bob",
                   status="in_progress", owner="Zhang <b>Min</b>")
    yield ws
    ws.close()
    advisor.settings.workspace_url, advisor._workspace = saved


def test_the_list_chart_and_checklist_helpers(workspace):
    rows = workspace.list_systems()
    listing = systems_html(rows)
    assert all(f'data-system="{r["key"]}"' in listing for r in rows) and "3/" in listing
    board = dashboard_frame(workspace.dashboard())
    assert board["obligations"].sum() == sum(r["obligations"] for r in rows)
    items = workspace.checklist("marketing-image-generator")
    page = checklist_html(items)
    assert "Zhang &lt;b&gt;Min&lt;/b&gt;" in page and "<b>Min</b>" not in page  # user text is escaped
    overdue = workspace.checklist("customer-service-bot")
    assert any(i["overdue"] for i in overdue) and checklist_html(overdue).count('class="overdue"') == sum(i["overdue"] for i in overdue)


@pytest.fixture(scope="module")
def app_url(advisor, workspace):
    import uvicorn

    from advisor.present.http import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(advisor, mount_ui=True), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start within 60 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium():
    path = _chromium()
    if path is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: apt-get install chromium (needed by the browser test on CI)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_workspace_tab_in_browser(chromium, app_url, workspace):
    context = chromium.new_context(viewport={"width": 1500, "height": 1100})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page.goto(app_url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Workspace · 合规工作台").click()

    systems = page.locator("#ws-systems")
    page.wait_for_function("() => document.querySelector('#ws-systems') && "
                           "document.querySelector('#ws-systems').innerText.includes('customer-service-bot')")
    listing = systems.inner_text()
    for row in workspace.list_systems():
        assert row["key"] in listing and row["risk_level"] in listing
    assert "3/" in listing  # three done for the image generator
    page.locator("#ws-dashboard").locator("canvas, svg").first.wait_for(state="visible")

    # the checklist of the bot assessed 75 days ago: months 1 and 2 are overdue, highlighted
    page.locator("#ws-system input").click()
    page.locator('[role="option"][aria-label="Customer-service bot (customer-service-bot)"]').click()
    page.wait_for_selector("#ws-checklist tr.overdue")
    items = workspace.checklist("customer-service-bot")
    assert page.locator("#ws-checklist tr.overdue").count() == sum(i["overdue"] for i in items) > 0

    # edit the first obligation: status, owner, due date
    target = items[0]
    page.wait_for_function("(v) => document.querySelector('#ws-item input').value.includes(v)", arg=target["obligation"])
    page.locator("#ws-status label", has_text="done · 已完成").click()
    page.locator("#ws-owner textarea, #ws-owner input").first.fill("Wang Fang")
    page.locator("#ws-due textarea, #ws-due input").first.fill("2030-01-31")
    page.locator("#ws-evidence textarea, #ws-evidence input").first.fill("notice-v3.pdf")
    page.locator("#ws-save").click()
    page.wait_for_function("() => document.querySelector('#ws-message').innerText.includes('Saved')")
    now = {i["obligation"]: i for i in workspace.checklist("customer-service-bot")}[target["obligation"]]
    assert (now["status"], now["owner"], now["due"], now["evidence"], now["updated_by"]) == (
        "done", "Wang Fang", "2030-01-31", ["notice-v3.pdf"], "web")
    row = page.locator(f'#ws-checklist tr[data-obligation="{target["obligation"]}"]')
    assert "Wang Fang" in row.inner_text() and "overdue" not in (row.get_attribute("class") or "")

    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    shot = ARTIFACTS / "workspace.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # someone else changes it meanwhile: the form's save is refused, nothing is overwritten
    workspace.update_item("customer-service-bot", target["obligation"], expected_version=now["version"], user="bob",
                          notes="checked by legal")
    page.locator("#ws-owner textarea, #ws-owner input").first.fill("Somebody Else")
    page.locator("#ws-save").click()
    page.wait_for_function("() => document.querySelector('#ws-message').innerText.includes('changed by someone else')")
    after = {i["obligation"]: i for i in workspace.checklist("customer-service-bot")}[target["obligation"]]
    assert after["owner"] == "Wang Fang" and after["notes"] == "checked by legal"
    page.wait_for_function("() => document.querySelector('#ws-owner textarea, #ws-owner input').value === 'Wang Fang'")
    assert page.locator("#ws-notes textarea").first.input_value() == "checked by legal"  # the form shows what is stored now
    context.close()
