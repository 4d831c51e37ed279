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
