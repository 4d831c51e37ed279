"""Advice, not extracts (issue 14): the guide's templates and applicability questions answered from the engine,
offline, with the assumptions read from the text, the questions it leaves open and the words that state each duty."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from advisor import Advisor
from advisor.compose.advice import is_applicability_question, topics_asked
from advisor.compose.disclosure import LABELS, Request, disclosure_layout, media_of
from conftest import make_settings
from test_ingest import _mini

DAY = dt.date(2026, 12, 1)
CHATBOT = {"use_case": "customer-service chatbot built on a large language model", "industry": "e-commerce"}


def _ids(answer) -> set[str]:
    return set(re.findall(r"`([a-z0-9-]+)`", answer.text))


def test_the_requirements_template_answers_from_the_engine_offline(advisor):
    answer = advisor.ask(template="requirements", variables=CHATBOT, as_of=DAY)
    assert answer.provider == "engine"
    assert answer.profile["features"]["generative_text"] is True
    for heading in ("Disclosure and labelling", "Filing, approval and security assessment",
                    "Data localisation and cross-border transfer", "Personal information"):
        assert f"**{heading}**" in answer.text
    assert {"lm-explicit-label-text", "gai-algorithm-filing", "pipl-notice"} <= _ids(answer)


def test_every_requirement_cites_and_quotes_the_article_that_states_the_duty(advisor):
    answer = advisor.ask(template="requirements", variables=CHATBOT, as_of=DAY)
    for c in answer.citations:
        article = advisor.corpus.article(c.instrument_id, c.article)
        assert c.quote and c.quote in article.zh
    label = next(c for c in answer.citations if (c.instrument_id, c.article) == ("ai-content-labelling-measures-2025", 4))
    assert "文本" in label.quote  # the text item of Art. 4, not its opening words


def test_an_unsettled_fact_is_asked_and_its_obligations_are_to_confirm_not_dropped(advisor):
    answer = advisor.ask(template="requirements", variables=CHATBOT, as_of=DAY)
    fields = [q["field"] for q in answer.questions]
    assert "public_service" in fields and "public_opinion_or_mobilisation" in fields
    assert "Is the service open to the public in mainland China" in answer.text
    filing = next(line for line in answer.text.splitlines() if "`gai-algorithm-filing`" in line)
    assert "to confirm" in filing


def test_assumptions_are_shown_with_the_words_behind_them(advisor):
    answer = advisor.ask(template="requirements", variables=CHATBOT, as_of=DAY)
    assert any(a["field"] == "features.generative_text" and a["evidence"] for a in answer.assumptions)
    assert "What we took from your description" in answer.text


def test_a_stated_public_service_settles_the_question(advisor):
    answer = advisor.ask(template="requirements", as_of=DAY,
                         variables={"use_case": "public chatbot app where users also post in a community forum", "industry": "media"})
    assert "public_service" not in [q["field"] for q in answer.questions]
    filing = next(line for line in answer.text.splitlines() if "`gai-algorithm-filing`" in line)
    assert "[applies" in filing


def test_the_same_variables_give_the_same_text(advisor):
    first = advisor.ask(template="requirements", variables=CHATBOT, as_of=DAY, lang="zh")
    second = advisor.ask(template="requirements", variables=CHATBOT, as_of=DAY, lang="zh")
    assert first.text == second.text and "披露与标识" in first.text


def test_the_architecture_review_names_the_problems_and_the_alternatives(advisor):
    answer = advisor.ask(template="architecture_review", as_of=DAY, variables={"system_description": (
        "Mobile AI assistant for users in China: prompts stored on a cloud region in Shanghai; conversation logs "
        "replicated nightly to a US analytics vendor; model fine-tuned monthly on user chat transcripts.")})
    text = answer.text
    assert "**Problems in the data flows**" in text and "**Compliant alternatives the rules allow**" in text
    assert "stored or replicated outside mainland China" in text and "Keep the data" in text
    assert "standard contract or certification" in text and "security assessment" in text
    cited = {(c.instrument_id, c.article) for c in answer.citations}
    assert {("pipl-2021", 38), ("pipl-2021", 39), ("cross-border-data-flow-provisions-2024", 8)} <= cited
    assert "cross_border.subjects" in [q["field"] for q in answer.questions]


def test_a_foreign_model_api_is_a_problem_with_a_domestic_alternative(advisor):
    answer = advisor.ask(template="architecture_review", as_of=DAY, variables={"system_description": (
        "Public writing assistant app built on the OpenAI API; user accounts stored in Hangzhou.")})
    assert "A foreign model API receives users' inputs" in answer.text
    assert "Use a domestic model" in answer.text


def test_risk_and_roadmap_read_the_business_from_their_variables(advisor):
    risk = advisor.ask(template="risk_level", as_of=DAY, variables={"business_model": (
        "AI companion chatbot app for teenagers, monetized through in-app purchases")})
    assert risk.provider == "engine" and "Risk level: **HIGH**" in risk.text and "What we took from your description" in risk.text
    road = advisor.ask(template="roadmap", as_of=DAY, variables={"business_description": (
        "医疗科技初创公司，使用合作医院的患者病历训练大模型，面向公众提供AI问诊助手App")}, lang="zh")
    assert road.provider == "engine" and "第1个月" in road.text and "launched" in [q["field"] for q in road.questions]


def test_variables_that_describe_no_business_fall_back_to_retrieved_articles(advisor):
    answer = advisor.ask(template="requirements", variables={"use_case": "xyz", "industry": "abc"}, as_of=DAY)
    assert answer.provider == "offline" and "no business could be read" in answer.warnings[0]


# ---- free questions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("question, expected", [
    ("Do we need to label AI-generated images in our app?", True),
    ("我们的AI客服需要备案吗？", True),
    ("Must our chatbot tell users it is an AI?", True),
    ("What does Article 24 of the algorithm provisions say?", False),
    ("Which regulator enforces the PIPL?", False),
    ("这些规定适用于我们的翻译App吗？", True),
    ("生成式人工智能服务的适用范围是什么？哪些情况不适用？", False),  # the scope of a law: its articles answer
])
def test_applicability_questions_are_recognised(question, expected):
    assert is_applicability_question(question) is expected


def test_topics_are_read_from_the_question():
    assert topics_asked("Do AI images need a label?") == ("disclosure_labelling",)
    assert topics_asked("我们的数据可以存储在境外服务器吗？需要备案吗？") == ("filing_assessment", "localisation_cross_border")


def test_an_applicability_question_is_answered_by_the_engine_on_its_topic(advisor):
    answer = advisor.ask("Do we need to label the AI-generated images our public app makes?", as_of=DAY)
    assert answer.provider == "engine"
    ids = _ids(answer)
    assert "lm-explicit-label-image" in ids and not any(i.startswith("pipl-") for i in ids)
    assert "**Disclosure and labelling**" in answer.text


def test_other_questions_keep_the_retrieval_answer(advisor):
    answer = advisor.ask("What does the PIPL say about automated decision-making?", as_of=DAY)
    assert answer.provider == "offline"


# ---- disclosure_text ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type, function, medium", [
    ("AI生成图片", "AI绘图", "image"), ("AI写作文章", "智能写作", "text"), ("AI配音", "语音合成", "audio"),
    ("AI短视频", "文生视频", "video"), ("数字人直播", "虚拟主播", "virtual_scene"),
])
def test_each_medium_gets_its_label_text_and_placement(advisor, content_type, function, medium):
    request = Request("微信小程序", "教育", content_type, function)
    assert medium in media_of(request)[0]
    answer = advisor.ask(template="disclosure_text", lang="zh", as_of=DAY, variables={
        "platform": "微信小程序", "industry": "教育", "content_type": content_type, "function": function})
    short, full, gloss = LABELS[medium]
    assert f"「{short}」" in answer.text and f"「{full}」" in answer.text and gloss in answer.text
    assert ("ai-content-labelling-measures-2025", 4) in {(c.instrument_id, c.article) for c in answer.citations}


def test_the_implicit_label_and_the_user_agreement_clause_are_ready_to_use(advisor):
    answer = advisor.ask(template="disclosure_text", as_of=DAY, variables={
        "platform": "Xiaohongshu", "industry": "cosmetics", "content_type": "AI-generated product images",
        "function": "image generation"})
    text = answer.text
    assert '"content_attribute"' in text and '"provider"' in text and '"content_id"' in text
    assert "【生成合成内容标识】" in text and "Publishing on Xiaohongshu" in text
    cited = {(c.instrument_id, c.article) for c in answer.citations}
    assert {("ai-content-labelling-measures-2025", 5), ("ai-content-labelling-measures-2025", 8),
            ("ai-content-labelling-measures-2025", 10), ("deep-synthesis-provisions-2022", 18)} <= cited


def test_a_recommendation_feed_gets_its_disclosure_and_switch_off(advisor):
    answer = advisor.ask(template="disclosure_text", as_of=DAY, variables={
        "platform": "short-video app", "industry": "media", "content_type": "personalized video feed",
        "function": "algorithmic recommendation"})
    cited = {(c.instrument_id, c.article) for c in answer.citations}
    assert {("algorithm-recommendation-provisions-2021", n) for n in (16, 17, 26)} <= cited
    assert "Recommendation disclosure" in answer.text


def test_disclosure_text_is_deterministic(advisor):
    request = Request("小红书", "化妆品", "产品图片", "生成图片")
    first = disclosure_layout(request, advisor.corpus, DAY, "zh")
    assert first == disclosure_layout(request, advisor.corpus, DAY, "zh")


def test_before_the_labelling_measures_the_text_cites_only_what_was_in_force(advisor):
    answer = advisor.ask(template="disclosure_text", lang="zh", as_of=dt.date(2025, 6, 1), variables={
        "platform": "微信小程序", "industry": "教育", "content_type": "AI生成图片", "function": "AI绘图"})
    assert "ai-content-labelling-measures-2025" not in {c.instrument_id for c in answer.citations}
    assert ("deep-synthesis-provisions-2022", 17) in {(c.instrument_id, c.article) for c in answer.citations}


def test_a_corpus_without_a_rulebook_answers_applicability_questions_from_its_articles(tmp_path):
    with Advisor(make_settings(tmp_path / "data", _mini(tmp_path))) as adv:
        adv.ingest()
        answer = adv.ask("Do we need to label AI-generated images in our app?")
    assert answer.provider == "offline" and answer.citations
