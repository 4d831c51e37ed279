"""Offline answers quote the retrieved articles verbatim, under correct citations."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.errors import BadQuestion


@pytest.fixture(scope="module")
def answer(advisor):
    return advisor.ask("Do AI-generated pictures need a label when we publish them?")


def test_every_quote_is_a_verbatim_substring_of_its_article(advisor, answer):
    assert answer.citations
    for c in answer.citations:
        article = advisor.corpus.instruments[c.instrument_id].article(c.article)
        assert c.quote in article.zh
        assert c.quote_en in article.en


def test_citations_name_the_official_chinese_title(advisor, answer):
    for c in answer.citations:
        assert c.regulation == advisor.corpus.instruments[c.instrument_id].title_zh


def test_answer_is_labelled_as_extracted_text_not_advice(answer):
    assert "offline mode" in answer.text and "not legal advice" in answer.text
    assert answer.provider == "offline"
    assert answer.as_of == dt.date.today()


def test_answer_json_has_the_documented_shape(answer):
    data = answer.to_dict()
    assert set(data) >= {"answer", "citations", "provider", "as_of"}
    assert set(data["citations"][0]) >= {"regulation", "article", "quote"}


def test_chinese_answers_are_in_chinese(advisor):
    answer = advisor.ask("个人信息出境需要满足什么条件？", lang="zh")
    assert "离线模式" in answer.text and answer.citations


def test_unknown_language_is_rejected(advisor):
    with pytest.raises(BadQuestion, match="language"):
        advisor.ask("labels", lang="fr")


def test_the_english_quote_is_the_translation_of_the_chinese_quote(advisor):
    answer = advisor.ask("未满十四周岁的用户，处理他们的个人信息要谁同意？", lang="en")
    checked = 0
    for c in answer.citations:
        article = advisor.corpus.instruments[c.instrument_id].article(c.article)
        zh_lines, en_lines = article.zh.split("\n"), article.en.split("\n")
        if len(zh_lines) == len(en_lines):
            line = next(i for i, text in enumerate(zh_lines) if c.quote in text)
            assert c.quote_en == en_lines[line].strip()
            checked += 1
    assert checked >= 1  # the question must reach at least one article whose layouts line up


# ---- one label source: an annex part is never called 第N条 / Art. N ------------------------------

ANNEX = "cybersecurity-incident-grading-guide-2025"


@pytest.fixture(scope="module")
def annex_hit():
    from advisor.corpus import load_corpus
    from advisor.retrieve.hybrid import article_hit
    from conftest import CORPUS

    return article_hit(load_corpus(CORPUS), ANNEX, 1, score=1.0)


def _no_article_number(text: str) -> None:
    assert "第一条" not in text and "Art. 1" not in text and "Article 1" not in text, text


def test_an_annex_part_is_labelled_by_its_heading_in_hits_and_citations(annex_hit):
    from advisor.compose.answer import Citation
    from advisor.compose.citations import article_label

    assert annex_hit.label == "《网络安全事件分级指南》一、特别重大网络安全事件"
    citation = Citation.from_hit(annex_hit, "泄露1亿人以上公民个人信息。")
    assert citation.label == annex_hit.label and citation.to_dict()["label_en"] == "Part 1: particularly major incidents"
    for lang in ("en", "zh"):
        label = article_label(annex_hit, lang)
        assert "一、特别重大网络安全事件" in label
        _no_article_number(label)
    assert "Incident Grading Guide Part 1" in article_label(annex_hit, "en")


def test_offline_text_and_markdown_cite_the_annex_part_by_its_heading(annex_hit):
    from advisor.compose.answer import Answer, Citation
    from advisor.compose.offline import render
    from advisor.present.http import answer_markdown

    citation = Citation.from_hit(annex_hit, "泄露1亿人以上公民个人信息。", "5. The personal information of 100 million citizens or more is leaked.")
    text = render([citation], [annex_hit], dt.date(2026, 1, 1), "en")
    assert "《网络安全事件分级指南》一、特别重大网络安全事件 (Incident Grading Guide, Part 1: particularly major incidents)" in text
    _no_article_number(text)
    markdown = answer_markdown(Answer(text, [citation], dt.date(2026, 1, 1), "offline", "en"))
    assert "- 《网络安全事件分级指南》一、特别重大网络安全事件" in markdown
    _no_article_number(markdown)


def test_the_checklist_labels_an_annex_part_by_its_heading():
    from advisor.compose.assess import _citation
    from advisor.corpus import load_corpus
    from conftest import CORPUS

    citation = _citation(load_corpus(CORPUS), ANNEX, 3)
    assert citation.label_zh == "《网络安全事件分级指南》三、较大网络安全事件"
    assert citation.label_en == "Incident Grading Guide Part 3: relatively major incidents"


# ---- displaced provisions and incomplete instruments in answers ----------------------------------

def test_an_offline_answer_cites_the_controlling_article_first_and_marks_the_displaced_one(advisor):
    answer = advisor.ask("数据出境安全评估结果的有效期是多久？", instruments=["data-export-security-assessment-measures-2022"],
                         as_of=dt.date(2026, 6, 1))
    keys = [(c.instrument_id, c.article) for c in answer.citations]
    assert ("data-export-security-assessment-measures-2022", 14) in keys
    assert keys.index(("cross-border-data-flow-provisions-2024", 9)) < keys.index(("data-export-security-assessment-measures-2022", 14))
    assert "displaced in part by 《促进和规范数据跨境流动规定》第九条" in answer.text
    assert any("《数据出境安全评估办法》第十四条" in w and "displaced in part by" in w for w in answer.warnings)


def _citation(instrument: str, article: int):
    from advisor.compose.answer import Citation
    from advisor.corpus import load_corpus
    from advisor.retrieve.hybrid import article_hit
    from conftest import CORPUS

    hit = article_hit(load_corpus(CORPUS), instrument, article, 1.0)
    return hit, Citation.from_hit(hit, hit.text_zh.split("\n")[0])


def test_markdown_marks_a_displaced_article():
    from advisor.compose.answer import Answer
    from advisor.present.http import answer_markdown

    _, citation = _citation("data-export-security-assessment-measures-2022", 14)
    markdown = answer_markdown(Answer("text", [citation], dt.date(2026, 6, 1), "offline", "en"))
    line = next(l for l in markdown.splitlines() if l.startswith("- 《数据出境安全评估办法》第十四条"))
    assert "displaced in part by 《促进和规范数据跨境流动规定》第九条" in line and "3 years instead of 2" in line
    _, current = _citation("cross-border-data-flow-provisions-2024", 9)
    assert "displaced" not in answer_markdown(Answer("text", [current], dt.date(2026, 6, 1), "offline", "en"))


def test_citing_an_incomplete_instrument_warns_what_is_missing():
    from advisor.compose.offline import source_warnings

    hit, citation = _citation("pi-export-standard-contract-measures-2023", 4)
    warnings = source_warnings([citation], [hit])
    assert any(w.startswith("个人信息出境标准合同办法: Arts. 9-12 are not in the corpus") for w in warnings)
    assert citation.to_dict()["coverage"] == "partial"
    complete_hit, complete = _citation("pipl-2021", 38)
    assert source_warnings([complete], [complete_hit]) == []


def test_an_answer_from_fragments_says_so(advisor):
    answer = advisor.ask("拟人化互动服务提供者要提醒用户使用时长吗？", instruments=["anthropomorphic-interaction-measures-2026"],
                         as_of=dt.date(2026, 8, 1))
    assert answer.citations and all(c.coverage == "fragments" for c in answer.citations)
    assert any(w.startswith("人工智能拟人化互动服务管理暂行办法: only Arts. 2, 18, 32 of 32 are in the corpus") for w in answer.warnings)
    assert any("not yet verified" in w for w in answer.warnings)


def test_the_chat_shows_an_annex_part_under_its_heading(advisor, annex_hit):
    from advisor.compose.answer import Citation
    from advisor.present.chat_ui import citation_markdown

    shown = citation_markdown(advisor, Citation.from_hit(annex_hit, "泄露1亿人以上公民个人信息。"), 1, [annex_hit])
    assert "#### 1. 《网络安全事件分级指南》一、特别重大网络安全事件" in shown
    assert "Part 1: particularly major incidents" in shown
    _no_article_number(shown)
