"""Rules built on the 2025-2026 instruments (issue 11): each test quotes the article it is written from."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.compose.assess import Assessment, ProfileError, assess, parse_profile
from advisor.corpus import load_corpus
from advisor.corpus.obligations import load_obligations
from conftest import CORPUS

AS_OF = dt.date(2026, 12, 1)
LM = "ai-content-labelling-measures-2025"
IR = "cybersecurity-incident-reporting-measures-2025"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def book(corpus):
    return load_obligations(CORPUS / "obligations", corpus)


def run(corpus, book, as_of=AS_OF, **profile) -> Assessment:
    return assess(parse_profile(profile), corpus, book, as_of)


def findings(result: Assessment) -> dict:
    return {f.id: f for f in (*result.applicable, *result.to_confirm, *result.not_applicable)}


def text(corpus, instrument: str, article: int) -> str:
    return corpus.article(instrument, article).zh.replace("\n", "")


IMAGE_GENERATOR = {"public_service": True, "features": {"generative_image": True}, "personal_information": True}


# ---- the Labelling Measures ----------------------------------------------------------------------------------

def test_explicit_label_placement_is_set_per_medium_in_article_4(corpus):
    art4 = text(corpus, LM, 4)
    for phrase in ("在文本的起始、末尾或者中间适当位置添加文字提示或者通用符号提示等标识", "在音频的起始、末尾或者中间适当位置添加语音提示",
                   "在图片的适当位置添加显著的提示标识", "在视频起始画面和视频播放周边的适当位置添加显著的提示标识",
                   "呈现虚拟场景时，在起始画面的适当位置添加显著的提示标识", "应当确保文件中含有满足要求的显式标识"):
        assert phrase in art4


def test_a_public_image_generator_gets_the_labelling_obligations_with_their_articles(corpus, book):
    found = findings(run(corpus, book, **IMAGE_GENERATOR))
    for oid in ("lm-explicit-label-image", "lm-implicit-labels-and-logs", "lm-labels-in-exported-files", "lm-user-agreement"):
        assert found[oid].status == "applies", oid
    for oid in ("lm-explicit-label-text", "lm-explicit-label-audio", "lm-explicit-label-video", "lm-explicit-label-virtual-scene"):
        assert found[oid].status == "not_applicable", oid
    assert (LM, 4) in {(c.instrument, c.article) for c in found["lm-explicit-label-image"].citations}
    assert (LM, 5) in {(c.instrument, c.article) for c in found["lm-implicit-labels-and-logs"].citations}
    assert found["lm-unlabelled-on-request"].status == "confirm"  # Art. 9: only if unlabelled output is offered


def test_the_metadata_label_names_the_elements_of_article_5(corpus, book):
    assert "隐式标识包含生成合成内容属性信息、服务提供者名称或者编码、内容编号等制作要素信息" in text(corpus, LM, 5)
    todo = findings(run(corpus, book, **IMAGE_GENERATOR))["lm-implicit-labels-and-logs"].what_to_do["zh"]
    assert all(e in todo for e in ("生成合成内容属性信息", "服务提供者名称或者编码", "内容编号"))


@pytest.mark.parametrize("feature, oid", [
    ("generative_text", "lm-explicit-label-text"), ("generative_audio", "lm-explicit-label-audio"),
    ("generative_video", "lm-explicit-label-video"), ("virtual_scenes", "lm-explicit-label-virtual-scene"),
])
def test_each_medium_gets_its_own_label(corpus, book, feature, oid):
    assert findings(run(corpus, book, public_service=True, features={feature: True}))[oid].status == "applies"


def test_unlabelled_output_on_request_keeps_logs_six_months(corpus, book):
    assert "依法留存提供对象信息等相关日志不少于六个月" in text(corpus, LM, 9)
    f = findings(run(corpus, book, **IMAGE_GENERATOR))["lm-unlabelled-on-request"]
    assert "at least six months" in f.what_to_do["en"] and "不少于六个月" in f.timing["zh"]


def test_platforms_check_metadata_and_label_ai_possibly_ai_suspected_ai(corpus, book):
    art6 = text(corpus, LM, 6)
    assert "明确提醒公众该内容属于生成合成内容" in art6 and "提醒公众该内容可能为生成合成内容" in art6
    assert "提醒公众该内容疑似生成合成内容" in art6 and "提供必要的标识功能，并提醒用户主动声明" in art6
    platform = run(corpus, book, public_service=True, features={"algorithmic_recommendation": True, "user_publishing": True})
    assert findings(platform)["lm-dissemination-platform"].status == "applies"


def test_app_stores_ask_at_listing_and_publishers_declare(corpus, book):
    assert text(corpus, LM, 7).startswith("互联网应用程序分发平台在应用程序上架或者上线审核时")
    assert "应当主动声明并使用服务提供者提供的标识功能进行标识" in text(corpus, LM, 10)
    store = run(corpus, book, features={"app_distribution": True})
    assert findings(store)["lm-app-store-check"].status == "applies"
    agency = run(corpus, book, features={"publishes_ai_content": True})
    assert findings(agency)["lm-publisher-declares"].status == "applies"
    assert findings(agency)["ds-keep-labels"].status == "applies"


def test_filing_includes_the_labelling_materials(corpus, book):
    assert "服务提供者在履行算法备案、安全评估等手续时，应当按照本办法提供生成合成内容标识相关材料" in text(corpus, LM, 12)
    declared = run(corpus, book, **IMAGE_GENERATOR, public_opinion_or_mobilisation=True)
    assert findings(declared)["lm-filing-materials"].status == "applies"


def test_before_the_labelling_measures_took_effect_labels_rest_on_the_earlier_rules(corpus, book):
    early = findings(run(corpus, book, as_of=dt.date(2025, 6, 1), **IMAGE_GENERATOR))
    cited = {c.instrument for c in early["lm-explicit-label-image"].citations}
    assert LM not in cited and {"deep-synthesis-provisions-2022", "gai-interim-measures-2023"} <= cited
    assert early["lm-dissemination-platform"].status == "not_applicable"  # Art. 6 alone: not yet in force


# ---- the Incident Reporting Measures ---------------------------------------------------------------------------

def test_reporting_deadlines_depend_on_who_the_operator_is(corpus):
    art4 = text(corpus, IR, 4)
    assert "涉及关键信息基础设施的，网络运营者应当第一时间向保护工作部门、公安机关报告，最迟不得超过1小时" in art4
    assert "网络运营者属于中央和国家机关各部门及其直属单位的，应当及时向本部门网信工作机构报告，最迟不得超过2小时" in art4
    assert "其他网络运营者应当及时向属地省级网信部门报告，最迟不得超过4小时" in art4


def test_a_cii_operator_reports_within_one_hour(corpus, book):
    found = findings(run(corpus, book, cii_operator=True, sector="energy"))
    assert found["ir-grade-and-report-cii"].status == "applies"
    assert "1 hour" in found["ir-grade-and-report-cii"].timing["en"]
    assert found["ir-grade-and-report-provincial"].status == "not_applicable"


def test_other_operators_report_to_the_provincial_cac_within_four_hours(corpus, book):
    found = findings(run(corpus, book, **IMAGE_GENERATOR))
    assert found["ir-grade-and-report-provincial"].status == "applies"
    assert "4 hours" in found["ir-grade-and-report-provincial"].timing["en"]
    assert found["ir-grade-and-report-cii"].status == "not_applicable"
    assert found["ir-grade-and-report-central-organs"].status == "not_applicable"


def test_a_public_body_is_asked_whether_it_is_a_central_or_state_organ(corpus, book):
    assert findings(run(corpus, book, sector="government"))["ir-grade-and-report-central-organs"].status == "confirm"


def test_the_grading_guide_sets_the_reportable_grade(corpus):
    guide = "cybersecurity-incident-grading-guide-2025"
    assert "泄露100万人以上公民个人信息" in text(corpus, guide, 3)
    assert corpus.article(guide, 3).heading_zh == "三、较大网络安全事件"


def test_a_closing_report_within_thirty_days(corpus, book):
    assert "网络安全事件处置工作结束后，网络运营者应当于30日内" in text(corpus, IR, 8)
    f = findings(run(corpus, book, **IMAGE_GENERATOR))["ir-closing-report"]
    assert f.status == "applies" and "30 days" in f.timing["en"]


# ---- the standard contract: only as far as the text we hold supports ------------------------------------------

def test_standard_contract_filing_is_to_confirm_and_says_the_text_is_incomplete(corpus, book):
    assert "个人信息处理者应当在标准合同生效之日起10个工作日内向所在地省级网信部门备案" in text(corpus, "pi-export-standard-contract-measures-2023", 7)
    result = run(corpus, book, **IMAGE_GENERATOR, pi_subjects=300_000, cross_border={"subjects": 150_000})
    f = findings(result)["xb-standard-contract-filing"]
    assert f.status == "confirm" and "10 working days" in f.timing["en"]
    assert [i["instrument"] for i in f.incomplete] == ["pi-export-standard-contract-measures-2023"]
    assert "Arts. 9-12" in f.incomplete[0]["missing"]
    assert any("个人信息出境标准合同办法" in w and "Arts. 9-12" in w for w in result.warnings)


# ---- instruments held in fragments: named, never silent --------------------------------------------------------

def test_an_ai_companion_app_falls_under_the_anthropomorphic_measures_and_is_told_the_text_is_missing(corpus, book):
    assert "提供模拟自然人人格特征、思维模式和沟通风格的持续性的情感互动服务" in text(corpus, "anthropomorphic-interaction-measures-2026", 2)
    companion = run(corpus, book, public_service=True, features={"generative_text": True, "emotional_companion": True})
    f = findings(companion)["aim-ai-disclosure-and-use-reminders"]
    assert f.status == "applies" and "2 hours" in f.what_to_do["en"]
    note = f.incomplete[0]
    assert note["instrument"] == "anthropomorphic-interaction-measures-2026" and note["source_url"].startswith("https://www.cac.gov.cn/")
    md = companion.to_markdown("en")
    assert "人工智能拟人化互动服务管理暂行办法" in md and "https://www.cac.gov.cn/2026-04/10/" in md


def test_a_customer_service_bot_is_outside_the_anthropomorphic_measures(corpus, book):
    assert "提供智能客服、知识问答、工作助手、学习教育、科学研究等服务，不涉及持续性的情感互动的，不适用本办法" in text(corpus, "anthropomorphic-interaction-measures-2026", 2)
    bot = run(corpus, book, public_service=True, features={"generative_text": True})
    assert findings(bot)["aim-ai-disclosure-and-use-reminders"].status == "not_applicable"


def test_facial_recognition_gets_the_measures_it_falls_under(corpus, book):
    assert "应用人脸识别技术处理人脸信息，应当具有特定的目的和充分的必要性" in text(corpus, "facial-recognition-measures-2025", 4)
    gate = run(corpus, book, public_service=True, personal_information=True, biometric=True, processing={"face_recognition": True})
    f = findings(gate)["frt-purpose-necessity-protection"]
    assert f.status == "applies" and f.incomplete and "人脸识别技术应用安全管理办法" == f.incomplete[0]["title_zh"]
    with pytest.raises(ProfileError, match="face_recognition needs biometric"):
        parse_profile({"personal_information": True, "processing": {"face_recognition": True}})


def test_services_with_public_opinion_attributes_self_assess_under_the_2018_provisions(corpus, book):
    forum = findings(run(corpus, book, public_service=True, features={"user_publishing": True}))
    assert forum["pos-security-self-assessment"].status == "applies"
    chatbot = findings(run(corpus, book, public_service=True, features={"generative_text": True}))
    assert chatbot["pos-security-self-assessment"].status == "confirm"


def test_ethics_review_is_a_question_for_research_organisations(corpus, book):
    lab = findings(run(corpus, book, sector="research"))
    assert lab["ethics-review"].status == "confirm" and lab["ethics-review"].incomplete
