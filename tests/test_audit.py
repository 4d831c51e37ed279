"""The audit trail: who asked or changed what, with the citations, provider, model and corpus version;
append-only, purged only by the retention setting, personal data masked when the setting asks for it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from advisor.workspace import Workspace, WorkspaceError
from advisor.workspace.audit import acting_as, mask_pii
from advisor.workspace.db import open_engine
from advisor.workspace.models import AuditEntry

PROFILE = {"name": "Bot", "description": "contact 13812345678 or zhang.san@example.com", "public_service": True,
           "features": {"generative_text": True}, "personal_information": True, "pi_subjects": 5000}


def test_masking_replaces_phones_id_numbers_and_emails_only():
    text_in = ("张三，身份证11010519491231002X，手机+86 138-1234-5678，座机010-62345678，邮箱 a.b@c.cn；"
               "《个人信息保护法》第五十五条, 2026-01-01, 1000000 users, ID 110105194912310")
    masked = mask_pii(text_in)
    assert "11010519491231002X" not in masked and "138-1234-5678" not in masked and "62345678" not in masked
    assert "a.b@c.cn" not in masked and "110105194912310" not in masked
    assert masked.count("[ID number]") == 2 and masked.count("[phone]") == 2 and masked.count("[email]") == 1
    assert "第五十五条" in masked and "2026-01-01" in masked and "1000000 users" in masked


@pytest.fixture
def audited(advisor, tmp_path):
    """The shared Advisor with the audit trail on, in a fresh SQLite workspace, masking personal data."""
    saved = dict(advisor.settings)
    advisor.settings.workspace_url = f"sqlite:///{tmp_path / 'ws.db'}"
    advisor.settings.audit, advisor.settings.audit_mask_pii = True, True
    try:
        yield advisor
    finally:
        if advisor._workspace is not None:
            advisor._workspace.close()
            advisor._workspace = None
        for k in ("workspace_url", "audit", "audit_mask_pii"):
            setattr(advisor.settings, k, saved[k])


def test_answers_and_assessments_are_logged_with_user_citations_provider_and_corpus_version(audited):
    with acting_as("alice"):
        answer = audited.ask("Do AI-generated images need a label? Call me on 13812345678")
        assessment = audited.assess(PROFILE, dt.date(2026, 3, 2))
        streamed = list(audited.ask_stream("个人信息出境需要单独同意吗？", lang="zh"))[-1]
    entries = audited.workspace.audit.entries()
    assert [e["action"] for e in entries] == ["ask", "assess", "ask_stream"]
    ask, assess, stream = entries
    assert {e["user"] for e in entries} == {"alice"}
    assert ask["subject"] == "Do AI-generated images need a label? Call me on [phone]"  # masked
    assert [c["label"] for c in ask["detail"]["citations"]] == [c.label for c in answer.citations]
    assert ask["detail"]["provider"] == "offline" and len(ask["detail"]["corpus_version"]) == 12
    assert assess["detail"]["risk_level"] == assessment.risk_level
    assert assess["detail"]["obligations"] == assessment.ids("applies") + assessment.ids("confirm")
    assert "[phone]" in assess["detail"]["profile"]["description"] and "[email]" in assess["detail"]["profile"]["description"]
    assert "13812345678" not in json.dumps(entries, ensure_ascii=False)
    assert [c["label"] for c in stream["detail"]["citations"]] == [c.label for c in streamed.citations]


def test_without_a_workspace_nothing_is_logged_and_the_switch_turns_it_off(advisor, tmp_path):
    assert advisor.settings.audit is None and not advisor.audit_enabled  # no workspace database in this data folder
    advisor.settings.workspace_url, advisor.settings.audit = f"sqlite:///{tmp_path / 'ws.db'}", False
    try:
        assert not advisor.audit_enabled
        advisor.assess(PROFILE)
        assert advisor.workspace.audit.entries() == []
    finally:
        advisor.workspace.close()
        advisor._workspace = None
        advisor.settings.workspace_url, advisor.settings.audit = None, None


def test_status_changes_are_logged_in_the_same_transaction(rules, tmp_path):
    ws = Workspace.open(url=f"sqlite:///{tmp_path / 'ws.db'}")
    ws.add_system("Bot", PROFILE, user="alice")
    ws.assess_system("bot", rules, user="alice", as_of=dt.date(2026, 3, 2))
    item = ws.checklist("bot")[0]
    ws.update_item("bot", item["obligation"], expected_version=item["version"], user="bob", status="in_progress", owner="Bob")
    entries = ws.audit.entries(system="bot")
    assert [e["action"] for e in entries] == ["system.add", "assessment.record", "obligation.update"]
    change = entries[-1]
    assert change["user"] == "bob" and change["subject"] == f"{item['obligation']}: not_started -> in_progress"
    assert change["detail"]["after"]["owner"] == "Bob"
    ws.close()


def test_the_log_is_append_only_and_purged_only_by_retention(rules, tmp_path):
    url = f"sqlite:///{tmp_path / 'ws.db'}"
    ws = Workspace.open(url=url)
    ws.audit.log("ask", subject="recent question", user="alice")
    with ws.sessions.begin() as s:
        s.add(AuditEntry(at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), user="old", action="ask", subject="old",
                         detail={}))
    with pytest.raises(DBAPIError, match="append-only"):
        with ws.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET subject = 'rewritten'"))
    assert not hasattr(ws.audit, "delete") and not hasattr(ws.audit, "update")
    assert ws.audit.purge() == 0  # no retention setting: nothing leaves
    ws.close()

    kept = Workspace(open_engine(url), retention_days=365)  # opening purges
    assert [e["subject"] for e in kept.audit.entries()] == ["recent question"]
    kept.close()


def test_export_gives_a_period_as_jsonl_or_csv(tmp_path):
    ws = Workspace.open(url=f"sqlite:///{tmp_path / 'ws.db'}")
    with ws.sessions.begin() as s:
        for day in (1, 15, 28):
            s.add(AuditEntry(at=dt.datetime(2026, 2, day, 12, tzinfo=dt.timezone.utc), user="u", action="ask",
                             subject=f"q{day}", detail={"citations": []}))
    lines = ws.audit.export("jsonl", since=dt.date(2026, 2, 10), until=dt.date(2026, 2, 28))
    assert [json.loads(line)["subject"] for line in lines.splitlines()] == ["q15"]
    csv_text = ws.audit.export("csv", since=dt.date(2026, 2, 1))
    assert csv_text.splitlines()[0] == "id,at,user,action,system,subject,detail" and len(csv_text.splitlines()) == 4
    with pytest.raises(WorkspaceError, match="jsonl or csv"):
        ws.audit.export("xml")
    ws.close()
