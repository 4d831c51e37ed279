"""The workspace over real HTTP: several users (named API tokens) editing the same system without lost
updates, clear 4xx errors, the audit trail naming the token (never storing it). Runs on SQLite and, when a
server can be started, on PostgreSQL."""

from __future__ import annotations

import threading

import httpx
import pytest
from pydantic import SecretStr
from support.server import ServerThread

from advisor.present.http import create_app

CHATBOT = {"public_service": True, "features": {"generative_text": True}, "personal_information": True, "pi_subjects": 20000}
TOKENS = {"alice": "alice-token-7f3a", "bob": "bob-token-91c2"}


@pytest.fixture
def server(advisor, workspace_url):
    saved = (advisor.settings.workspace_url, advisor.settings.api_tokens, advisor._workspace)
    advisor.settings.workspace_url = workspace_url
    advisor.settings.api_tokens = {k: SecretStr(v) for k, v in TOKENS.items()}
    advisor._workspace = None
    try:
        with ServerThread(create_app(advisor)) as srv:
            yield srv
    finally:
        if advisor._workspace is not None:
            advisor._workspace.close()
        advisor.settings.workspace_url, advisor.settings.api_tokens, advisor._workspace = saved


def client(server, who: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {TOKENS[who]}"})


@pytest.fixture
def bot(server):
    with client(server, "alice") as alice:
        made = alice.post("/v1/systems", json={"name": "Customer-service bot", "profile": CHATBOT, "owner": "Li"})
        assert made.status_code == 201, made.text
        assessed = alice.post("/v1/systems/customer-service-bot/assess", json={"as_of": "2026-03-02"})
        assert assessed.status_code == 200, assessed.text
    return made.json()


def test_every_workspace_route_needs_a_token(server):
    with httpx.Client(base_url=server.url, timeout=30) as anon:
        for method, path in [("GET", "/v1/systems"), ("POST", "/v1/systems"), ("GET", "/v1/dashboard"), ("GET", "/v1/audit"),
                             ("PATCH", "/v1/systems/x/obligations/y")]:
            assert anon.request(method, path, json={}).status_code == 401, path
        assert anon.get("/v1/systems", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_add_list_and_show_a_system(server, bot):
    with client(server, "bob") as bob:
        rows = bob.get("/v1/systems").json()["systems"]
        assert [r["key"] for r in rows] == ["customer-service-bot"] and rows[0]["risk_level"] in ("medium", "high", "critical")
        shown = bob.get("/v1/systems/customer-service-bot").json()
        assert shown["created_by"] == "api:alice" and shown["profile"]["pi_subjects"] == 20000
        items = bob.get("/v1/systems/customer-service-bot/obligations").json()["obligations"]
        assert len(items) == rows[0]["obligations"] > 0
        assert bob.get("/v1/systems/nope").status_code == 404
        paths = bob.get("/openapi.json").json()["paths"]
        assert {"/v1/systems", "/v1/systems/{key}/obligations/{obligation}", "/v1/dashboard", "/v1/audit"} <= set(paths)


def test_two_clients_editing_the_same_obligation_never_lose_an_update(server, bot):
    with client(server, "alice") as alice, client(server, "bob") as bob:
        path = "/v1/systems/customer-service-bot/obligations"
        item = alice.get(path).json()["obligations"][0]
        seen_by_bob = bob.get(path).json()["obligations"][0]
        assert seen_by_bob["version"] == item["version"]
        first = alice.patch(f"{path}/{item['obligation']}", json={"version": item["version"], "owner": "Alice"})
        assert first.status_code == 200 and first.json()["version"] == item["version"] + 1
        stale = bob.patch(f"{path}/{item['obligation']}", json={"version": seen_by_bob["version"], "status": "done"})
        assert stale.status_code == 409
        body = stale.json()
        assert "changed by someone else" in body["error"]["message"] and body["current"]["owner"] == "Alice"
        retry = bob.patch(f"{path}/{item['obligation']}", json={"version": body["current"]["version"], "status": "done"})
        assert retry.status_code == 200
        final = retry.json()
        assert (final["owner"], final["status"], final["updated_by"]) == ("Alice", "done", "api:bob")


def test_many_concurrent_writers_each_land_exactly_once(server, bot):
    path = "/v1/systems/customer-service-bot/obligations"
    with client(server, "alice") as c:
        target = c.get(path).json()["obligations"][1]["obligation"]
    conflicts, errors = [], []

    def writer(n: int) -> None:
        with client(server, "alice" if n % 2 else "bob") as c:
            for _ in range(50):
                item = next(i for i in c.get(path).json()["obligations"] if i["obligation"] == target)
                notes = (item["notes"] + f" w{n}").strip()
                r = c.patch(f"{path}/{target}", json={"version": item["version"], "notes": notes})
                if r.status_code == 200:
                    return
                if r.status_code != 409:
                    errors.append(r.text)
                    return
                conflicts.append(n)
            errors.append(f"writer {n} gave up")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with client(server, "alice") as c:
        final = next(i for i in c.get(path).json()["obligations"] if i["obligation"] == target)
    assert sorted(final["notes"].split()) == sorted(f"w{n}" for n in range(8))  # every write landed once
    assert final["version"] == 1 + 8


def test_bad_edits_get_clear_4xx_errors(server, bot):
    with client(server, "alice") as alice:
        path = "/v1/systems/customer-service-bot/obligations"
        item = alice.get(path).json()["obligations"][0]
        url = f"{path}/{item['obligation']}"
        r = alice.patch(url, json={"version": item["version"], "status": "not_applicable"})
        assert r.status_code == 400 and "needs a reason" in r.json()["error"]["message"]
        r = alice.patch(url, json={"version": item["version"], "status": "finished"})
        assert r.status_code == 422 and "status" in r.json()["error"]["message"]
        r = alice.patch(url, json={"status": "done"})
        assert r.status_code == 422 and "version" in r.json()["error"]["message"]
        r = alice.patch(f"{path}/no-such-obligation", json={"version": 1})
        assert r.status_code == 404
        r = alice.post("/v1/systems", json={"name": "Robot", "profile": {"robots": True}})
        assert r.status_code == 422 and "unknown field 'robots'" in r.json()["error"]["message"]
        r = alice.post("/v1/systems", json={"name": "Customer-service bot"})
        assert r.status_code == 400 and "already exists" in r.json()["error"]["message"]
        system = alice.get("/v1/systems/customer-service-bot").json()
        r = alice.put("/v1/systems/customer-service-bot/profile", json={"version": system["version"] - 1, "profile": CHATBOT})
        assert r.status_code == 409 and r.json()["current"]["version"] == system["version"]


def test_profile_versions_records_and_dashboard(server, bot):
    with client(server, "bob") as bob:
        system = bob.get("/v1/systems/customer-service-bot").json()
        r = bob.put("/v1/systems/customer-service-bot/profile",
                    json={"version": system["version"], "profile": {**CHATBOT, "minors_among_users": True}, "note": "kids"})
        assert r.status_code == 200 and r.json()["profile_version"] == 2
        versions = bob.get("/v1/systems/customer-service-bot/profiles").json()["profiles"]
        assert [(v["number"], v["created_by"]) for v in versions] == [(1, "api:alice"), (2, "api:bob")]
        csv_body = "date,content_ref,decision,reviewer\n2026-02-01,msg-1,removed,王芳\n"
        r = bob.post("/v1/systems/customer-service-bot/records/moderation", content=csv_body.encode(),
                     headers={"Content-Type": "text/csv"})
        assert r.status_code == 201 and r.json()["records"][0]["reviewer"] == "王芳"
        r = bob.post("/v1/systems/customer-service-bot/records/model_versions", json={"name": "Qwen", "provider": "Alibaba"})
        assert r.status_code == 201
        r = bob.post("/v1/systems/customer-service-bot/records/model_versions", json=[{"name": "Qwen"}])
        assert r.status_code == 400 and "provider" in r.json()["error"]["message"]
        records = bob.get("/v1/systems/customer-service-bot/records").json()["records"]
        assert len(records["moderation"]) == 1 and len(records["model_versions"]) == 1
        board = bob.get("/v1/dashboard").json()
        assert board["systems"] == 1 and board["by_status"]["not_started"] == sum(board["by_risk"].values())


def test_the_audit_trail_names_the_token_and_never_stores_it(server, bot, workspace_url):
    with client(server, "bob") as bob:
        item = bob.get("/v1/systems/customer-service-bot/obligations").json()["obligations"][0]
        bob.patch(f"/v1/systems/customer-service-bot/obligations/{item['obligation']}",
                  json={"version": item["version"], "status": "in_progress"})
        entries = bob.get("/v1/audit", params={"since": "2000-01-01"}).json()["entries"]
        csv_text = bob.get("/v1/audit", params={"format": "csv"}).text
    by_action = {e["action"]: e for e in entries}
    assert by_action["system.add"]["user"] == "api:alice" and by_action["obligation.update"]["user"] == "api:bob"
    assert by_action["assessment.record"]["user"] == "api:alice"
    assert "obligation.update" in csv_text
    if workspace_url.startswith("sqlite"):
        from pathlib import Path

        db = Path(workspace_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # the database and its WAL
        assert all(token.encode() not in raw for token in TOKENS.values())


def test_exports_download_as_files(server, bot):
    import io

    from docx import Document
    from openpyxl import load_workbook

    with client(server, "alice") as alice:
        r = alice.get("/v1/systems/customer-service-bot/export", params={"format": "xlsx", "lang": "zh"})
        assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
        assert 'filename="customer-service-bot-' in r.headers["content-disposition"]
        assert load_workbook(io.BytesIO(r.content)).sheetnames == ["汇总", "Customer-service bot"]
        r = alice.get("/v1/export", params={"format": "docx"})
        assert r.status_code == 200 and Document(io.BytesIO(r.content)).paragraphs[0].text == "AI compliance workspace"
        r = alice.get("/v1/export", params={"format": "md", "lang": "zh"})
        assert r.text.startswith("# 人工智能合规工作台")
        assert alice.get("/v1/export", params={"format": "pdf"}).status_code == 422


def test_reassess_over_http_reports_the_new_law_taking_effect(server):
    with client(server, "alice") as alice:
        alice.post("/v1/systems", json={"name": "Grid", "profile": {"cii_operator": True, "personal_information": True,
                                                                     "pi_subjects": 1000}})
        alice.post("/v1/systems/grid/assess", json={"as_of": "2025-06-01"})
        r = alice.post("/v1/systems/grid/reassess", json={"as_of": "2026-02-01", "save": False})
        assert r.status_code == 200
        report = r.json()
        assert "saved" not in report
        assert any(c["change"] == "new_version" and c["replaces"] == "csl-2016" for c in report["instruments"])
        assert len(alice.get("/v1/systems/grid/assessments").json()["assessments"]) == 1


def test_answers_over_http_are_audited_under_the_token_name(server):
    with client(server, "alice") as alice:
        assert alice.post("/v1/ask", json={"question": "Do AI-generated images need a label?"}).status_code == 200
        stream = alice.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "生成图片需要标识吗？"}],
                                                          "stream": True})
        assert stream.status_code == 200 and "[DONE]" in stream.text
        entries = alice.get("/v1/audit").json()["entries"]
    asked = [e for e in entries if e["action"] in ("ask", "ask_stream")]
    assert [(e["action"], e["user"]) for e in asked] == [("ask", "api:alice"), ("ask_stream", "api:alice")]
    assert asked[0]["subject"] == "Do AI-generated images need a label?" and asked[0]["detail"]["citations"]
