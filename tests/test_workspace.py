"""The workspace as a compliance officer uses it: systems with versioned profiles, assessments that fill a
tracked checklist, edits that never overwrite someone else's, records, and the overview. Every test runs
on a real SQLite file and, when a server can be started, on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import create_engine, text

from advisor.compose.assess import ProfileError
from advisor.workspace import ConflictError, NotFound, Workspace, WorkspaceError
from advisor.workspace.db import current_revision, head_revision, make_engine, upgrade
from advisor.workspace.service import default_due

CHATBOT = {"name": "Customer-service bot", "public_service": True, "features": {"generative_text": True},
           "personal_information": True, "pi_subjects": 20000}
INTERNAL = {"name": "Internal coding assistant", "internal_only": True, "features": {"generative_text": True}}
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def ws(workspace_url):
    w = Workspace.open(url=workspace_url)
    yield w
    w.close()


def test_a_new_database_is_created_at_the_latest_schema(ws):
    assert current_revision(ws.engine) == head_revision()
    assert ws.list_systems() == []


def test_a_system_keeps_every_profile_version_with_who_and_when(ws):
    made = ws.add_system("Customer-service bot", CHATBOT, user="alice")
    assert made["key"] == "customer-service-bot" and made["profile_version"] == 1
    assert made["profile"] == {"name": "Customer-service bot", "public_service": True, "features": {"generative_text": True},
                               "personal_information": True, "pi_subjects": 20000}  # defaults are not stored
    changed = ws.set_profile("customer-service-bot", {**CHATBOT, "minors_among_users": True},
                             expected_version=made["version"], user="bob", note="minors use it")
    assert changed["profile_version"] == 2 and changed["version"] > made["version"]
    history = ws.profile_history("Customer-service bot")  # by name as well as by key
    assert [(h["number"], h["created_by"], h["note"]) for h in history] == [(1, "alice", "created"), (2, "bob", "minors use it")]
    assert "minors_among_users" not in history[0]["data"] and history[1]["data"]["minors_among_users"] is True
    assert ws.current_profile("customer-service-bot").minors_among_users is True


def test_bad_profiles_and_names_are_clear_errors(ws):
    with pytest.raises(ProfileError, match="unknown field 'robots'"):
        ws.add_system("X", {"robots": True}, user="a")
    ws.add_system("Bot", CHATBOT, user="a")
    with pytest.raises(WorkspaceError, match="already exists"):
        ws.add_system("Bot", CHATBOT, user="a")
    with pytest.raises(NotFound, match="no system 'nope'.*bot"):
        ws.get_system("nope")


def test_assessing_stores_the_corpus_version_and_fills_the_checklist(ws, rules):
    ws.add_system("Customer-service bot", CHATBOT, user="alice")
    expected = rules.assess(CHATBOT, DAY)
    stored = ws.assess_system("customer-service-bot", rules, user="alice", as_of=DAY)
    assert stored["risk_level"] == expected.risk_level and stored["applicable"] == len(expected.applicable)
    latest = ws.latest_assessment("customer-service-bot")
    version = latest["corpus_version_full"]
    assert version["as_of"] == "2026-03-02"
    assert set(version["instruments"]) == set(rules.corpus.instruments)
    assert all(len(v["hash"]) == 64 for v in version["instruments"].values())
    assert version["instruments"]["csl-2025"]["in_force"] is True and version["instruments"]["csl-2016"]["in_force"] is False
    assert set(version["obligations"]) == set(rules.rulebook.obligations)
    assert latest["result"] == json.loads(expected.to_json())

    items = {i["obligation"]: i for i in ws.checklist("customer-service-bot", today=DAY)}
    assert set(items) == set(expected.ids("applies") + expected.ids("confirm"))
    months = {s.obligation: s.month for s in expected.roadmap}
    for finding in (*expected.applicable, *expected.to_confirm):
        item = items[finding.id]
        assert item["status"] == "not_started" and item["version"] == 1
        assert item["finding"] == ("confirm" if finding.status == "confirm" else "applies")
        assert item["month"] == months[finding.id]
        assert item["due"] == default_due(DAY, months[finding.id]).isoformat()
        assert item["checklist"] == list(finding.evidence)  # the obligation's evidence list is the checklist
        assert [(c["instrument"], c["article"]) for c in item["citations"]] == [(c.instrument, c.article) for c in finding.citations]
        assert item["timing"] == finding.timing


def test_default_due_date_is_the_end_of_the_roadmap_month():
    assert default_due(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 27)
    assert default_due(dt.date(2026, 3, 2), 6) == dt.date(2026, 9, 1)


def test_an_edit_based_on_a_stale_version_is_refused(ws, rules):
    ws.add_system("Bot", CHATBOT, user="alice")
    ws.assess_system("bot", rules, user="alice", as_of=DAY)
    item = ws.checklist("bot")[0]
    first = ws.update_item("bot", item["obligation"], expected_version=item["version"], user="alice",
                           status="in_progress", owner="Alice", due="2026-04-30", notes="draft ready")
    assert first["version"] == item["version"] + 1 and first["due_is_default"] is False
    with pytest.raises(ConflictError, match="version 1, it is now at version 2"):
        ws.update_item("bot", item["obligation"], expected_version=item["version"], user="bob", status="done")
    now = {i["obligation"]: i for i in ws.checklist("bot")}[item["obligation"]]
    assert (now["status"], now["owner"], now["notes"], now["updated_by"]) == ("in_progress", "Alice", "draft ready", "alice")


def test_not_applicable_needs_a_reason_and_evidence_accumulates(ws, rules):
    ws.add_system("Bot", CHATBOT, user="a")
    ws.assess_system("bot", rules, user="a", as_of=DAY)
    item = ws.checklist("bot")[0]
    with pytest.raises(WorkspaceError, match="needs a reason"):
        ws.update_item("bot", item["obligation"], expected_version=item["version"], user="a", status="not_applicable")
    with pytest.raises(WorkspaceError, match="status must be one of"):
        ws.update_item("bot", item["obligation"], expected_version=item["version"], user="a", status="finished")
    done = ws.update_item("bot", item["obligation"], expected_version=item["version"], user="a", status="not_applicable",
                          na_reason="service closed to the public", add_evidence=["board-minutes.pdf"])
    done = ws.update_item("bot", item["obligation"], expected_version=done["version"], user="a",
                          add_evidence=["https://wiki.example/ai/closure", "board-minutes.pdf"])
    assert done["evidence"] == ["board-minutes.pdf", "https://wiki.example/ai/closure"]
    assert done["na_reason"] == "service closed to the public"


def test_reassessing_keeps_progress_and_marks_what_no_longer_applies(ws, rules):
    made = ws.add_system("Bot", CHATBOT, user="a")
    ws.assess_system("bot", rules, user="a", as_of=DAY)
    before = {i["obligation"]: i for i in ws.checklist("bot")}
    keep = next(o for o in before if o.startswith("pipl"))
    ws.update_item("bot", keep, expected_version=before[keep]["version"], user="a", status="done")
    ws.set_profile("bot", {**CHATBOT, "public_service": False, "customer_facing": True}, expected_version=made["version"], user="a")
    result = ws.assess_system("bot", rules, user="a", as_of=DAY)
    expected = rules.assess({**CHATBOT, "public_service": False, "customer_facing": True}, DAY)
    now_ids = set(expected.ids("applies") + expected.ids("confirm"))
    assert set(result["no_longer_found"]) == set(before) - now_ids and result["no_longer_found"]
    active = {i["obligation"]: i for i in ws.checklist("bot")}
    assert set(active) == now_ids and active[keep]["status"] == "done"
    gone = [i for i in ws.checklist("bot", include_inactive=True) if not i["active"]]
    assert {i["obligation"] for i in gone} == set(result["no_longer_found"])
    assert len(ws.assessments("bot")) == 2


def test_records_are_validated_and_imported_all_or_nothing(ws):
    ws.add_system("Bot", CHATBOT, user="a")
    ws.add_records("bot", "model_versions", [{"name": "Qwen2.5-72B", "provider": "Alibaba Cloud", "version": "2.5",
                                              "filing_number": "Beijing-QianWen-20230831S0001", "in_use_from": "2026-01-05"}], user="a")
    csv_text = ("date,content_ref,decision,reviewer,reason\n"
                "2026-02-01,msg-1001,removed,王芳,rumour\n"
                "2026-02-02,msg-1002,kept,李雷,\n")
    rows = ws.import_records("bot", "moderation", csv_text, "csv", user="b")
    assert [r["decision"] for r in rows] == ["removed", "kept"] and rows[1]["reason"] is None
    with pytest.raises(WorkspaceError, match=r"moderation #2: date"):
        ws.import_records("bot", "moderation", json.dumps([
            {"date": "2026-02-03", "content_ref": "a", "decision": "kept", "reviewer": "x"},
            {"date": "not a date", "content_ref": "b", "decision": "kept", "reviewer": "x"}]), "json", user="b")
    with pytest.raises(WorkspaceError, match="unknown record kind"):
        ws.add_records("bot", "diary", [{}], user="b")
    with pytest.raises(WorkspaceError, match="fields of training_data"):
        ws.add_records("bot", "training_data", [{"name": "crawl"}], user="b")
    got = ws.records("bot")
    assert len(got["model_versions"]) == 1 and len(got["moderation"]) == 2  # the bad import added nothing
    assert got["model_versions"][0]["filing_number"] == "Beijing-QianWen-20230831S0001"


def test_the_list_and_the_dashboard_count_risk_progress_and_overdue(ws, rules):
    ws.add_system("Bot", CHATBOT, user="a")
    ws.add_system("Coder", INTERNAL, user="a")
    ws.add_system("Unassessed", {}, user="a")
    ws.assess_system("bot", rules, user="a", as_of=DAY)
    ws.assess_system("coder", rules, user="a", as_of=DAY)
    items = ws.checklist("bot")
    ws.update_item("bot", items[0]["obligation"], expected_version=items[0]["version"], user="a", status="done")
    later = DAY + dt.timedelta(days=400)  # every default due date has passed
    rows = {r["key"]: r for r in ws.list_systems(today=later)}
    bot = rows["bot"]
    assert bot["risk_level"] == rules.assess(CHATBOT, DAY).risk_level
    assert bot["obligations"] == len(items) and bot["by_status"]["done"] == 1
    assert bot["progress"] == round(1 / len(items), 3) and bot["overdue"] == len(items) - 1
    assert rows["unassessed"]["risk_level"] is None and rows["unassessed"]["obligations"] == 0
    board = ws.dashboard(today=later)
    coder = len(ws.checklist("coder"))
    assert board["systems"] == 3 and board["systems_by_risk"]["unassessed"] == 1
    assert board["by_status"]["done"] == 1 and sum(board["by_status"].values()) == len(items) + coder
    assert board["by_risk_and_status"][bot["risk_level"]]["done"] == 1
    assert board["overdue"] == len(items) - 1 + coder


def test_data_written_under_the_first_schema_survives_the_upgrade(workspace_url, rules):
    engine = make_engine(workspace_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    now = dt.datetime(2026, 1, 5, 9, 30)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO systems (id, key, name, description, review_months, created_at, created_by, "
                          "updated_at, updated_by, version) VALUES (1, 'bot', 'Bot', 'old', 3, :t, 'alice', :t, 'alice', 1)"),
                     {"t": now})
        conn.execute(text("INSERT INTO profile_versions (id, system_id, number, data, note, created_at, created_by) "
                          "VALUES (1, 1, 1, :d, 'created', :t, 'alice')"), {"d": json.dumps(CHATBOT), "t": now})
        conn.execute(text("INSERT INTO tracked_obligations (system_id, obligation_id, finding, active, status, owner, due, "
                          "due_is_default, month, stage, title_en, title_zh, citations, checklist, evidence, notes, "
                          "created_at, updated_at, updated_by, version) VALUES (1, 'pipl-notice', 'applies', :y, "
                          "'in_progress', 'Alice', :due, :n, 1, 'prepare', 'Notice', '告知', '[]', '[]', '[\"notice.pdf\"]', "
                          "'half done', :t, :t, 'alice', 3)"),
                     {"t": now, "due": dt.date(2026, 2, 28), "y": True, "n": False})
    engine.dispose()

    ws = Workspace.open(url=workspace_url)  # upgrades to head on open
    try:
        assert current_revision(ws.engine) == head_revision()
        system = ws.get_system("bot")
        assert (system["name"], system["description"], system["created_by"], system["version"]) == ("Bot", "old", "alice", 1)
        assert system["profile"] == CHATBOT
        item = ws.checklist("bot", include_inactive=True)[0]
        assert (item["status"], item["owner"], item["due"], item["evidence"], item["notes"], item["version"]) == (
            "in_progress", "Alice", "2026-02-28", ["notice.pdf"], "half done", 3)
        ws.assess_system("bot", rules, user="alice", as_of=DAY)  # and the upgraded database keeps working
        kept = {i["obligation"]: i for i in ws.checklist("bot", include_inactive=True)}["pipl-notice"]
        assert kept["status"] == "in_progress" and kept["evidence"] == ["notice.pdf"]
    finally:
        ws.close()


def test_an_unreachable_database_is_one_clear_line():
    with pytest.raises(WorkspaceError, match="cannot open the workspace database") as info:
        Workspace.open(url="postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(WorkspaceError, match="not a valid SQLAlchemy URL"):
        Workspace.open(url="not a url")
