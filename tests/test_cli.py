"""The `advisor` command as a user runs it: JSON output, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from advisor.store import open_store
from conftest import ADVISOR, cli_env, make_settings


def run(args, env, **kw):
    return subprocess.run([ADVISOR, *args], capture_output=True, text=True, env=env, timeout=300, **kw)


def test_retrieve_json_lists_hits_with_the_documented_fields(store_copy):
    result = run(["retrieve", "算法推荐服务提供者应当向用户提供不针对其个人特征的选项", "--k", "3", "--json"], cli_env(store_copy))
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    for hit in hits:
        assert {"regulation", "regulation_en", "instrument_id", "article", "score", "text_zh", "text_en"} <= set(hit)
        assert isinstance(hit["article"], int)
    assert ("algorithm-recommendation-provisions-2021", 17) in [(h["instrument_id"], h["article"]) for h in hits]


def test_ask_json_has_answer_citations_provider_and_date(store_copy):
    result = run(["ask", "Who must store personal information inside China?", "--json"], cli_env(store_copy))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "offline" and data["as_of"]
    assert data["citations"] and all({"regulation", "article", "quote"} <= set(c) for c in data["citations"])


@pytest.mark.parametrize("question, expected", [("", "empty"), ("x" * 2001, "limit is 2000")])
def test_bad_questions_get_one_line_and_exit_2(store_copy, question, expected):
    result = run(["ask", question], cli_env(store_copy))
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_instrument_filter_is_named(store_copy):
    result = run(["retrieve", "labels", "--instrument", "no-such-law"], cli_env(store_copy))
    assert result.returncode == 2 and "no-such-law" in result.stderr and "Traceback" not in result.stderr


def test_missing_store_tells_the_user_to_ingest(tmp_path):
    result = run(["ask", "labels"], cli_env(tmp_path / "empty"))
    assert result.returncode == 2
    assert "advisor ingest" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_store_tells_the_user_what_to_do(tmp_path):
    store = tmp_path / "qdrant"
    store.mkdir(parents=True)
    (store / "meta.json").write_text("{ not json")
    result = run(["ask", "labels"], cli_env(tmp_path))
    assert result.returncode == 2
    assert "advisor ingest" in result.stderr and "Traceback" not in result.stderr


def test_store_locked_by_another_process_is_explained(store_copy):
    holder = open_store(make_settings(store_copy), "use-m3")  # this test process holds the lock
    try:
        result = run(["ask", "labels"], cli_env(store_copy))
    finally:
        holder.close()
    assert result.returncode == 2
    assert "in use by process" in result.stderr and "ADVISOR_QDRANT_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_qdrant_server_is_a_clear_error(store_copy):
    result = run(["ask", "labels"], cli_env(store_copy, ADVISOR_QDRANT_URL="http://127.0.0.1:9"))
    assert result.returncode == 2
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_corpus_list_json_and_show(tmp_path):
    listed = run(["corpus", "list", "--json"], cli_env(tmp_path))
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows["pipl-2021"]["articles"] == 74 and rows["csl-2016"]["status"] == "superseded"
    shown = run(["corpus", "show", "gai-interim-measures-2023", "12"], cli_env(tmp_path))
    assert shown.returncode == 0 and "第十二条" in shown.stdout and "Article 12" in shown.stdout


def test_ask_with_a_profile_answers_from_the_engine_without_a_store(tmp_path):
    profile = str(Path(__file__).parent / "profiles" / "internal-rd-lab.yaml")
    result = run(["ask", "--template", "risk_level", "--profile", profile, "--as-of", "2026-11-25", "--json"], cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "engine" and data["answer"].startswith("Risk level: **LOW**")
    wrong = run(["ask", "Do images need a label?", "--profile", profile], cli_env(tmp_path))
    assert wrong.returncode == 2 and "risk_level, roadmap" in wrong.stderr
