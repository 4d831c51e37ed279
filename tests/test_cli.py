"""The `advisor` command as a user runs it: JSON output, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from advisor.store import open_store
from advisor.settings import DEFAULT_EMBEDDER
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
    holder = open_store(make_settings(store_copy), DEFAULT_EMBEDDER)  # this test process holds the lock
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
    assert rows["pipl-2021"]["articles"] == 74 and rows["csl-2016"]["status"] == "amended"
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


def test_corpus_list_json_shows_coverage_missing_and_unverified_articles(tmp_path):
    listed = run(["corpus", "list", "--json"], cli_env(tmp_path))
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    for measures in ("ai-content-labelling-measures-2025", "cybersecurity-incident-reporting-measures-2025"):
        assert (rows[measures]["articles"], rows[measures]["total_articles"], rows[measures]["coverage"]) == (14, 14, "complete")
    contract = rows["pi-export-standard-contract-measures-2023"]
    assert (contract["coverage"], contract["articles"], contract["total_articles"]) == ("partial", 9, 13)
    assert contract["missing_articles"] == [9, 10, 11, 12] and contract["unverified_articles"] == [5, 6, 7, 8, 13]
    face = rows["facial-recognition-measures-2025"]
    assert (face["coverage"], face["status"], face["effective"], face["total_articles"]) == ("fragments", "in_force", "2025-06-01", None)
    audit = rows["pi-compliance-audit-measures-2025"]
    assert (audit["coverage"], audit["articles"], audit["metadata_verified"], audit["effective"]) == ("metadata", 0, False, "2025-05-01")
    assert rows["cybersecurity-incident-grading-guide-2025"]["annex_of"] == "cybersecurity-incident-reporting-measures-2025"


def test_corpus_list_table_shows_held_total_and_missing(tmp_path):
    table = run(["corpus", "list"], cli_env(tmp_path, COLUMNS="250"))
    line = next(l for l in table.stdout.splitlines() if "pi-export-standard-contract-measures-2023" in l)
    assert "partial" in line and "9/13" in line and "Arts. 9-12" in line


def test_corpus_show_gives_the_missing_note_and_the_displaced_articles(tmp_path):
    shown = run(["corpus", "show", "pi-export-standard-contract-measures-2023"], cli_env(tmp_path, COLUMNS="400"))
    assert shown.returncode == 0, shown.stderr
    assert "missing_note: Arts. 9-12 were not found" in shown.stdout
    assert "Art. 4 is displaced in part by 《促进和规范数据跨境流动规定》第八条" in shown.stdout
    article = run(["corpus", "show", "data-export-security-assessment-measures-2022", "14"], cli_env(tmp_path, COLUMNS="400"))
    assert "displaced in part by 《促进和规范数据跨境流动规定》第九条" in article.stdout


def test_corpus_show_of_a_missing_article_says_it_is_not_in_the_corpus(tmp_path):
    shown = run(["corpus", "show", "pi-export-standard-contract-measures-2023", "10"], cli_env(tmp_path))
    assert shown.returncode != 0 and "article 10 is not in the corpus" in shown.stderr
    assert "Traceback" not in shown.stderr and len(shown.stderr.strip().splitlines()) == 1


def test_corpus_check_names_file_and_article_of_a_bad_displacement(tmp_path):
    import shutil

    import yaml

    corpus = tmp_path / "corpus"
    shutil.copytree(Path(__file__).parent / "fixtures" / "mini", corpus)
    path = corpus / "instruments" / "mini-gai.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["articles"][1]["displaced_by"] = [{"instrument": "mini-pipl", "article": 99, "note_en": "x", "note_zh": "x"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    checked = run(["corpus", "check"], cli_env(tmp_path, corpus))
    assert checked.returncode == 1 and "mini-gai.yaml, article 2: displaced_by: 'mini-pipl' has no article 99" in checked.stderr


def test_answer_text_in_square_brackets_is_printed_as_written(tmp_path):
    # the risk answer marks each driver "[level · rule; facts: ...]": a console must not read it as markup
    result = run(["ask", "--template", "risk_level", "--var", "business_model=an AI companion chatbot app for teenagers"],
                 cli_env(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert "facts:" in result.stdout and "[high · " in result.stdout
