"""`advisor systems`, `advisor track` and `advisor audit` as a compliance officer runs them, in subprocesses
on a real SQLite file in the data folder."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import ADVISOR, CORPUS, cli_env

PROFILES = CORPUS.parent / "tests" / "profiles"


def run(args, env):
    return subprocess.run([ADVISOR, *args], capture_output=True, text=True, env=env, timeout=300)


def ok(args, env) -> str:
    result = run(args, env)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def env(tmp_path):
    return cli_env(tmp_path / "data")


def test_add_assess_track_and_audit_from_the_command_line(env, tmp_path):
    assert "added customer-service-bot" in ok(["systems", "add", "Customer-service bot", "--profile",
                                                str(PROFILES / "public-chatbot.yaml"), "--user", "alice"], env)
    assert (tmp_path / "data" / "workspace.db").exists()  # the default database: a SQLite file in the data folder
    assessed = json.loads(ok(["systems", "assess", "customer-service-bot", "--as-of", "2026-03-02", "--json"], env))[0]
    items = json.loads(ok(["track", "list", "customer-service-bot", "--json"], env))
    assert len(items) == assessed["applicable"] + assessed["to_confirm"] == len(assessed["added"])
    first = items[0]["obligation"]
    changed = json.loads(ok(["track", "set", "customer-service-bot", first, "--status", "in_progress", "--owner", "Wang Fang",
                             "--due", "2026-04-30", "--evidence", "policy-v2.docx", "--user", "bob", "--json"], env))
    assert (changed["status"], changed["owner"], changed["due"], changed["evidence"], changed["version"]) == (
        "in_progress", "Wang Fang", "2026-04-30", ["policy-v2.docx"], 2)

    stale = run(["track", "set", "customer-service-bot", first, "--status", "done", "--expect-version", "1"], env)
    assert stale.returncode == 2 and "changed by someone else" in stale.stderr
    assert "Traceback" not in stale.stderr and len(stale.stderr.strip().splitlines()) == 1

    rows = {r["key"]: r for r in json.loads(ok(["systems", "list", "--json"], env))}
    assert rows["customer-service-bot"]["by_status"]["in_progress"] == 1
    assert rows["customer-service-bot"]["risk_level"] == assessed["risk_level"]
    table = ok(["systems", "list"], env)
    assert "customer-service-bot" in table and assessed["risk_level"] in table

    md = ok(["systems", "export", "customer-service-bot", "--lang", "zh"], env)
    assert md.startswith("# 人工智能合规工作台") and first in md
    assert "wrote" in ok(["systems", "export", "--format", "docx", "--out", str(tmp_path / "ws.docx")], env)
    assert (tmp_path / "ws.docx").read_bytes()[:2] == b"PK"

    audit = [json.loads(line) for line in ok(["audit", "export", "--since", "2000-01-01"], env).splitlines()]
    changes = [e for e in audit if e["action"] == "obligation.update"]
    assert changes and changes[0]["user"] == "bob" and changes[0]["system"] == "customer-service-bot"
    assert any(e["action"] == "system.add" and e["user"] == "alice" for e in audit)


def test_profile_versions_from_set_and_records_import(env, tmp_path):
    ok(["systems", "add", "Marketing images", "--set", "public_service=true", "--set", "features.generative_image=true",
        "--set", "platforms=小红书, 抖音"], env)
    ok(["systems", "profile", "marketing-images", "--set", "features.publishes_ai_content=true", "--note", "we publish"], env)
    history = json.loads(ok(["systems", "profile", "marketing-images", "--history", "--json"], env))
    assert [h["number"] for h in history] == [1, 2] and history[1]["note"] == "we publish"
    assert history[0]["data"]["platforms"] == ["小红书", "抖音"] and history[1]["data"]["features"]["publishes_ai_content"] is True
    bad = run(["systems", "profile", "marketing-images", "--set", "features.generative_image=maybe"], env)
    assert bad.returncode == 2 and "expected true or false" in bad.stderr
    unknown = run(["systems", "profile", "marketing-images", "--set", "robots=true"], env)
    assert unknown.returncode == 2 and "unknown profile field 'robots'" in unknown.stderr

    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("method,content_types,since\n显式水印,image,2026-01-01\n元数据隐式标识,image,2026-01-01\n", encoding="utf-8")
    assert "imported 2 labelling" in ok(["systems", "records", "import", "marketing-images", "labelling", str(csv_file)], env)
    ok(["systems", "records", "add", "marketing-images", "model_versions", "name=Wanx", "provider=Alibaba Cloud",
        "filing_number=Zhejiang-Wanx-2023", "in_use_from=2026-01-10"], env)
    records = json.loads(ok(["systems", "records", "list", "marketing-images", "--json"], env))
    assert [r["method"] for r in records["labelling"]] == ["显式水印", "元数据隐式标识"]
    assert records["model_versions"][0]["filing_number"] == "Zhejiang-Wanx-2023"
    broken = tmp_path / "broken.json"
    broken.write_text('[{"date": "2026-02-30", "content_ref": "x", "decision": "removed", "reviewer": "a"}]', encoding="utf-8")
    result = run(["systems", "records", "import", "marketing-images", "moderation", str(broken)], env)
    assert result.returncode == 2 and "moderation #1: date" in result.stderr


def test_unknown_systems_and_bad_dates_are_one_line_errors(env):
    result = run(["systems", "show", "nope"], env)
    assert result.returncode == 2 and "no system 'nope'" in result.stderr
    ok(["systems", "add", "Bot"], env)
    result = run(["systems", "assess", "bot", "--as-of", "2026-13-01"], env)
    assert result.returncode == 2 and "--as-of must be a date" in result.stderr
    result = run(["audit", "export", "--format", "xml"], env)
    assert result.returncode == 2 and "jsonl or csv" in result.stderr


def test_reassess_shows_what_changed(env):
    ok(["systems", "add", "Grid", "--set", "cii_operator=true", "--set", "personal_information=true",
        "--set", "pi_subjects=1000"], env)
    ok(["systems", "assess", "grid", "--as-of", "2025-06-01"], env)
    text = ok(["systems", "reassess", "grid", "--as-of", "2026-02-01", "--dry-run"], env)
    assert "~ cii-localisation" in text and "replaces csl-2016" in text and "(dry run: nothing stored)" in text
    assert len(json.loads(ok(["systems", "show", "grid", "--json"], env))["checklist"]) > 0


def test_a_name_that_looks_like_console_markup_is_printed_as_written(env):
    added = ok(["systems", "add", "[bold]Bot[/bold] [red]x", "--set", "public_service=true"], env)
    assert "([bold]Bot[/bold] [red]x)" in added
