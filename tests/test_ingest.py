"""Ingest is structural, deterministic and incremental."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from advisor import Advisor
from advisor.corpus import load_corpus
from conftest import CORPUS, make_settings
from ingest.chunk import chunk_corpus, split_lines
from ingest.sparse import document_vector, query_vector, token_id, tokens

MINI = Path(__file__).parent / "fixtures" / "mini"


def _mini(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(MINI, target)
    return target


def test_every_article_becomes_at_least_one_chunk_with_its_number():
    corpus = load_corpus(CORPUS)
    chunks = chunk_corpus(corpus, 600)
    keys = {(c.instrument_id, c.article) for c in chunks}
    assert keys == {(i.id, a.number) for i in corpus for a in i.articles}
    headings = {(i.id, a.number): a.heading for i in corpus for a in i.articles}
    assert all(c.payload["title_zh"] and c.payload["heading_zh"] == (headings[(c.instrument_id, c.article)] or c.payload["heading_zh"])
               for c in chunks)
    assert all(c.payload["heading_zh"].startswith("第") for c in chunks if not headings[(c.instrument_id, c.article)])


def test_annex_parts_are_chunked_under_their_headings_and_articles_are_unchanged():
    corpus = load_corpus(CORPUS)
    chunks = chunk_corpus(corpus, 600)
    part = next(c for c in chunks if c.instrument_id == "cybersecurity-incident-grading-guide-2025" and c.article == 3)
    zh, en = part.dense_texts()
    assert zh.startswith("网络安全事件分级指南 三、较大网络安全事件\n")
    assert en.startswith("Incident Grading Guide, Part 3: relatively major incidents\n")
    article = next(c for c in chunks if c.instrument_id == "pipl-2021" and c.article == 13)
    assert "heading_en" not in article.payload  # payloads (and their hashes) of numbered articles are as before
    assert article.dense_texts()[1].startswith("PIPL, Article 13\n")


def test_entries_without_text_have_no_chunks():
    corpus = load_corpus(CORPUS)
    ids = {c.instrument_id for c in chunk_corpus(corpus, 600)}
    metadata_only = {i.id for i in corpus if i.coverage.value == "metadata"}
    assert metadata_only and not (ids & metadata_only)


def test_a_long_article_is_split_at_paragraphs_and_keeps_its_title_and_number():
    corpus = load_corpus(CORPUS)
    chunks = [c for c in chunk_corpus(corpus, 150) if c.instrument_id == "pipl-2021" and c.article == 13]
    assert len(chunks) > 1
    article = corpus.instruments["pipl-2021"].article(13)
    assert all(c.text_zh in article.zh for c in chunks)
    assert "".join(c.text_zh for c in chunks).replace("\n", "") == article.zh.replace("\n", "")
    assert {c.payload["heading_zh"] for c in chunks} == {"第十三条"}


def test_split_keeps_english_aligned_with_chinese_lines():
    zh = "甲" * 100 + "\n" + "乙" * 100
    en = "first paragraph\nsecond paragraph"
    assert split_lines(zh, en, 120) == [("甲" * 100, "first paragraph"), ("乙" * 100, "second paragraph")]


def test_sparse_tokens_cover_chinese_and_english():
    toks = tokens("个人信息处理者 must obtain separate consent")
    assert "个人信息处理者" in toks and "consent" in toks and "obtain" in toks


def test_token_ids_are_stable_across_runs():
    assert token_id("安全评估") == token_id("安全评估")
    assert token_id("安全评估") != token_id("标识")
    assert 0 <= token_id("安全评估") < 2**31


def test_sparse_document_and_query_vectors_share_indices():
    doc_idx, doc_val = document_vector("提供者应当对生成内容进行标识")
    q_idx, q_val = query_vector("生成内容 标识")
    assert set(q_idx) <= set(doc_idx)
    assert all(v > 0 for v in doc_val) and q_val == [1.0] * len(q_idx)


def test_unchanged_corpus_reingests_without_embedding(tmp_path):
    settings = make_settings(tmp_path / "data", _mini(tmp_path))
    with Advisor(settings) as advisor:
        first = advisor.ingest()
        second = advisor.ingest()
    assert first.embedded == first.chunks == 7
    assert (second.embedded, second.deleted, second.payload_updated) == (0, 0, 0)
    assert second.chunks == 7


def test_changed_article_is_replaced_and_removed_instrument_deleted(tmp_path):
    corpus_dir = _mini(tmp_path)
    settings = make_settings(tmp_path / "data", corpus_dir)
    with Advisor(settings) as advisor:
        advisor.ingest()
    path = corpus_dir / "instruments" / "mini-gai.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["articles"][0]["en"] = data["articles"][0]["en"] + " (revised translation)"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (corpus_dir / "instruments" / "mini-pipl.yaml").unlink()
    with Advisor(settings) as advisor:
        report = advisor.ingest()
        assert advisor.store.count() == 4
    assert (report.embedded, report.deleted) == (1, 4)


def test_metadata_change_updates_payload_without_embedding(tmp_path):
    corpus_dir = _mini(tmp_path)
    settings = make_settings(tmp_path / "data", corpus_dir)
    with Advisor(settings) as advisor:
        advisor.ingest()
    path = corpus_dir / "instruments" / "mini-pipl.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["source_url"] = "https://example.gov.cn/pipl"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with Advisor(settings) as advisor:
        report = advisor.ingest()
        hits = advisor.retrieve("个人信息", k=3, instruments=["mini-pipl"])
    assert (report.embedded, report.payload_updated) == (0, 3)
    assert hits[0].source_url == "https://example.gov.cn/pipl"


def test_a_draft_is_never_returned_as_law_unless_asked_for(tmp_path):
    corpus_dir = _mini(tmp_path)
    data = yaml.safe_load((corpus_dir / "instruments" / "mini-gai.yaml").read_text(encoding="utf-8"))
    data.update(id="mini-draft", status="draft", kind="draft", effective=None, title_zh="生成式人工智能服务管理办法（征求意见稿）")
    (corpus_dir / "instruments" / "mini-draft.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with Advisor(make_settings(tmp_path / "data", corpus_dir)) as advisor:
        advisor.ingest()
        default = {h.instrument_id for h in advisor.retrieve("生成式人工智能", k=10)}
        every_version = {h.instrument_id for h in advisor.retrieve("生成式人工智能", k=10, all_versions=True)}
        with_drafts = {h.instrument_id for h in advisor.retrieve("生成式人工智能", k=10, include_drafts=True)}
    assert "mini-draft" not in default and "mini-draft" not in every_version
    assert "mini-draft" in with_drafts


def test_versions_apply_on_their_own_side_of_an_effective_date():
    import datetime as dt

    corpus = load_corpus(CORPUS)
    old, new = corpus.instruments["csl-2016"], corpus.instruments["csl-2025"]
    assert corpus.applies(old, dt.date(2025, 12, 31)) and not corpus.applies(new, dt.date(2025, 12, 31))
    assert corpus.applies(new, dt.date(2026, 1, 1)) and not corpus.applies(old, dt.date(2026, 1, 1))


# ---- lookup points: questions an article answers and our gist lead to the article -----------------------------

def test_each_annotated_article_gets_a_point_per_question_pair_and_one_for_the_note():
    corpus = load_corpus(CORPUS)
    chunks = chunk_corpus(corpus, 600, lookups=("questions", "notes"))
    looks = [c for c in chunks if c.lookup]
    note = corpus.annotations.get("pipl-2021", 13)
    own = {c.lookup: c for c in looks if (c.instrument_id, c.article) == ("pipl-2021", 13)}
    pairs = max(len(note.questions_zh), len(note.questions_en))
    assert set(own) == {"note", *(f"q{n}" for n in range(1, pairs + 1))}
    assert own["note"].dense_texts()[0].startswith(note.gist_zh) and own["note"].dense_texts()[1].startswith(note.gist_en)
    if pairs:
        assert own["q1"].dense_texts() == (note.questions_zh[0], note.questions_en[0])
    assert len({c.key for c in chunks}) == len(chunks)  # every point has its own key


def test_a_lookup_point_has_no_words_for_bm25_and_no_article_text():
    corpus = load_corpus(CORPUS)
    looks = [c for c in chunk_corpus(corpus, 600, lookups=("notes",)) if c.lookup]
    assert looks and all(c.sparse_text() == "" for c in looks)
    assert all("text_zh" not in c.payload and c.payload["lookup"] == "note" for c in looks)


def test_without_lookups_only_the_articles_are_chunked():
    corpus = load_corpus(CORPUS)
    assert not any(c.lookup for c in chunk_corpus(corpus, 600))


def _with_question(corpus_dir: Path, article: int, question_zh: str, question_en: str) -> None:
    notes = corpus_dir / "annotations"
    notes.mkdir(exist_ok=True)
    (notes / "mini-gai.yaml").write_text(yaml.safe_dump({"instrument": "mini-gai", "articles": [{
        "number": article, "role": "scope", "gist_en": "Which services the measures cover.", "gist_zh": "本办法适用的服务范围。",
        "questions_zh": [question_zh], "questions_en": [question_en]}]}, allow_unicode=True), encoding="utf-8")


def test_a_question_point_leads_to_its_article_once(tmp_path):
    corpus_dir = _mini(tmp_path)
    asked = "Does a ghost-writing bot for strangers fall under these rules?"
    _with_question(corpus_dir, 2, "给陌生人代写文章的机器人归这个管吗？", asked)
    with Advisor(make_settings(tmp_path / "data", corpus_dir)) as adv:
        report = adv.ingest()
        hits = adv.retrieve(asked, 3, mode="dense")
    assert report.lookups == 2  # the question pair and the note
    assert (hits[0].instrument_id, hits[0].article) == ("mini-gai", 2)
    assert [(h.instrument_id, h.article) for h in hits].count(("mini-gai", 2)) == 1
    assert hits[0].text_zh.startswith("利用生成式人工智能技术")  # the article's text, never the question's
