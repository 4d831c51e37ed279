"""The corrections a review by PRC counsel asked for (issue 11), each written from the article text first.

Every test quotes the words of the article that decides it, then checks the engine follows them.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from advisor.compose.assess import Assessment, ProfileError, assess, parse_profile
from advisor.corpus import load_corpus
from advisor.corpus.obligations import load_obligations
from conftest import CORPUS

AS_OF = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def book(corpus):
    return load_obligations(CORPUS / "obligations", corpus)


def run(corpus, book, **profile) -> Assessment:
    return assess(parse_profile(profile), corpus, book, AS_OF)


def status(result: Assessment, oid: str) -> str:
    return next(f.status for f in (*result.applicable, *result.to_confirm, *result.not_applicable) if f.id == oid)


def finding(result: Assessment, oid: str):
    return next(f for f in (*result.applicable, *result.to_confirm, *result.not_applicable) if f.id == oid)


def text(corpus, instrument: str, article: int) -> str:
    return corpus.article(instrument, article).zh.replace("\n", "")


PUBLIC_CHATBOT = {"public_service": True, "features": {"generative_text": True}, "personal_information": True}
FILING = ("gai-security-assessment", "gai-algorithm-filing", "arp-security-assessment", "arp-filing",
          "ds-security-assessment", "ds-filing")


# ---- 1. public-opinion attributes are derived, and "to confirm" when not settled ---------------------------------

def test_filing_and_assessment_hang_on_public_opinion_attributes(corpus):
    assert "提供具有舆论属性或者社会动员能力的生成式人工智能服务的，应当按照国家有关规定开展安全评估" in text(corpus, "gai-interim-measures-2023", 17)
    assert text(corpus, "algorithm-recommendation-provisions-2021", 27).startswith("具有舆论属性或者社会动员能力的算法推荐服务提供者")


def test_a_public_chatbot_that_declares_nothing_gets_filing_to_confirm_never_not_applicable(corpus, book):
    result = run(corpus, book, **PUBLIC_CHATBOT)
    for oid in FILING:
        assert status(result, oid) == "confirm", oid
    asked = {q["field"]: q for q in result.questions}
    assert "public_opinion_or_mobilisation" in asked
    assert "gai-algorithm-filing" in asked["public_opinion_or_mobilisation"]["obligations"]
    assert "舆论属性" in asked["public_opinion_or_mobilisation"]["zh"]


def test_users_publishing_give_public_opinion_attributes_under_the_2018_provisions(corpus, book):
    # 2018 Provisions Art. 2(1): 开办论坛、博客、微博客、聊天室、通讯群组、公众账号、短视频、网络直播、信息分享、小程序等信息服务或者附设相应功能
    result = run(corpus, book, **{**PUBLIC_CHATBOT, "features": {"generative_text": True, "user_publishing": True}})
    for oid in FILING:
        assert status(result, oid) == "applies", oid
    assert any("taken as true" in w for w in result.warnings)


def test_a_declared_answer_is_used_as_given(corpus, book):
    declared_yes = run(corpus, book, **PUBLIC_CHATBOT, public_opinion_or_mobilisation=True)
    assert all(status(declared_yes, oid) == "applies" for oid in FILING)
    declared_no = run(corpus, book, **PUBLIC_CHATBOT, public_opinion_or_mobilisation=False)
    assert all(status(declared_no, oid) == "not_applicable" for oid in FILING)
    internal = run(corpus, book, internal_only=True, features={"generative_text": True})
    assert all(status(internal, oid) == "not_applicable" for oid in FILING)


def test_any_unsettled_fact_makes_its_rules_to_confirm(corpus, book):
    result = run(corpus, book, **PUBLIC_CHATBOT, unknown=["minors_among_users"])
    assert status(result, "gai-audience-and-minors") == "applies"  # GAI Art. 10 binds every provider in scope
    assert status(result, "minors-anti-addiction") == "confirm"
    assert any(q["field"] == "minors_among_users" for q in result.questions)


def test_unknown_must_name_profile_fields():
    with pytest.raises(ProfileError, match="unknown: no_such_field"):
        parse_profile({"unknown": ["no_such_field"]})


# ---- 2. a live service: what was due before launch is overdue, first ---------------------------------------------

LIVE = {**PUBLIC_CHATBOT, "launched": True, "public_opinion_or_mobilisation": True, "pi_subjects": 300_000,
        "cross_border": {"subjects": 150_000}}


def test_filing_is_due_within_ten_working_days_of_providing_the_service(corpus):
    assert "应当在提供服务之日起十个工作日内" in text(corpus, "algorithm-recommendation-provisions-2021", 24)


def test_a_live_chatbot_gets_filing_as_an_overdue_month_one_step_not_month_four(corpus, book):
    result = run(corpus, book, **LIVE)
    steps = {s.obligation: s for s in result.roadmap}
    for oid in ("gai-algorithm-filing", "arp-filing", "gai-security-assessment"):
        assert steps[oid].month == 1 and steps[oid].kind == "overdue", oid
    assert "Now:" in steps["gai-algorithm-filing"].action_en


def test_transfers_already_flowing_get_the_mechanism_as_overdue_with_the_immediate_step(corpus, book):
    # PIPL Art. 38: 确需向中华人民共和国境外提供个人信息的，应当具备下列条件之一 - before the data leaves
    assert "确需向中华人民共和国境外提供个人信息的，应当具备下列条件之一" in text(corpus, "pipl-2021", 38)
    result = run(corpus, book, **LIVE)
    step = next(s for s in result.roadmap if s.obligation == "xb-standard-contract-or-certification")
    assert step.kind == "overdue" and step.month == 1
    assert "stop" in step.action_en.lower() or "suspend" in step.action_en.lower()


def test_notice_and_consent_before_processing_are_overdue_for_a_live_service(corpus, book):
    assert "个人信息处理者在处理个人信息前" in text(corpus, "pipl-2021", 17)
    result = run(corpus, book, **LIVE)
    kinds = {s.obligation: s.kind for s in result.roadmap}
    assert kinds["pipl-notice"] == "overdue" and kinds["pipl-legal-basis"] == "overdue"


def test_overdue_steps_and_what_they_need_come_before_everything_else(corpus, book):
    result = run(corpus, book, **LIVE)
    needs = {f.id: set(f.depends_on) for f in (*result.applicable, *result.to_confirm)}
    urgent = {s.obligation for s in result.roadmap if s.kind == "overdue"}
    while True:
        more = urgent | {d for o in urgent for d in needs[o] if d in needs}
        if more == urgent:
            break
        urgent = more
    order = [s.obligation for s in result.roadmap]
    assert order[:len(urgent)] and set(order[:len(urgent)]) == urgent
    assert all(s.month == 1 for s in result.roadmap if s.obligation in urgent)


def test_a_service_not_yet_live_has_nothing_overdue(corpus, book):
    result = run(corpus, book, **{**LIVE, "launched": False})
    assert not any(s.kind == "overdue" for s in result.roadmap)
    steps = {s.obligation: s for s in result.roadmap}
    assert steps["gai-algorithm-filing"].month > 1


# ---- 3. GAI Art. 23 para. 1 binds every provider; Art. 20 services from abroad ----------------------------------

def test_licences_required_by_law_bind_every_provider(corpus, book):
    assert text(corpus, "gai-interim-measures-2023", 23).startswith("法律、行政法规规定提供生成式人工智能服务应当取得相关行政许可的，提供者应当依法取得许可")
    domestic = run(corpus, book, **PUBLIC_CHATBOT)
    assert status(domestic, "gai-licences") == "applies"
    assert status(domestic, "gai-foreign-investment") == "not_applicable"


def test_a_service_provided_from_abroad_gets_an_obligation_and_a_roadmap_step(corpus, book):
    assert "对来源于中华人民共和国境外向境内提供生成式人工智能服务不符合法律、行政法规和本办法规定的" in text(corpus, "gai-interim-measures-2023", 20)
    foreign = run(corpus, book, **PUBLIC_CHATBOT, entity_location="abroad", data_storage="abroad")
    assert status(foreign, "gai-service-from-abroad") == "applies"
    assert "gai-service-from-abroad" in {s.obligation for s in foreign.roadmap}
    assert status(run(corpus, book, **PUBLIC_CHATBOT), "gai-service-from-abroad") == "not_applicable"


# ---- 4. foreign authorities' requests concern data stored in mainland China --------------------------------------

def test_foreign_authority_rules_concern_data_stored_in_china(corpus, book):
    assert "不得向外国司法或者执法机构提供存储于中华人民共和国境内的数据" in text(corpus, "dsl-2021", 36)
    assert "不得向外国司法或者执法机构提供存储于中华人民共和国境内的个人信息" in text(corpus, "pipl-2021", 41)
    nothing_in_china = run(corpus, book, **PUBLIC_CHATBOT, entity_location="abroad", data_storage="abroad")
    assert status(nothing_in_china, "dsl-foreign-authority-requests") == "not_applicable"
    stored_here = run(corpus, book, **PUBLIC_CHATBOT, foreign_investment=True, data_storage="mainland")
    assert status(stored_here, "dsl-foreign-authority-requests") == "applies"


# ---- 5. organisations are users: a business service anyone can sign up for is "to confirm" -----------------------

def test_organisations_count_as_users(corpus):
    assert "生成式人工智能服务使用者，是指使用生成式人工智能服务生成内容的组织、个人" in text(corpus, "gai-interim-measures-2023", 22)


def test_a_customer_facing_business_service_is_to_confirm_for_gai_ds_and_arp(corpus, book):
    saas = run(corpus, book, customer_facing=True, features={"generative_image": True, "algorithmic_recommendation": True})
    scopes = {s.id: s.applies for s in saas.scopes}
    assert scopes["gai-service"] is None and scopes["ds-service"] is None and scopes["arp-service"] is None
    for oid in ("lm-explicit-label-image", "gai-service-agreement", "ds-real-identity", "arp-transparency"):
        assert status(saas, oid) == "confirm", oid
    assert any(q["field"] == "public_service" for q in saas.questions)


def test_a_closed_customer_base_can_be_declared(corpus, book):
    closed = run(corpus, book, customer_facing=True, public_service=False, features={"generative_image": True})
    assert {s.id: s.applies for s in closed.scopes}["gai-service"] is False
    assert status(closed, "lm-explicit-label-image") == "not_applicable"


# ---- 6. an entrusted processor has its own duties, not the handler's ---------------------------------------------

def test_processor_duties_come_from_pipl_21_and_59(corpus):
    assert "受托人应当按照约定处理个人信息，不得超出约定的处理目的、处理方式等处理个人信息" in text(corpus, "pipl-2021", 21)
    assert "接受委托处理个人信息的受托人，应当依照本法和有关法律、行政法规的规定，采取必要措施保障所处理的个人信息的安全" in text(corpus, "pipl-2021", 59)


def test_a_processor_gets_processor_duties_and_no_handler_duties(corpus, book):
    processor = run(corpus, book, customer_facing=True, public_service=False, personal_information=True,
                    pi_role="processor", pi_subjects=200_000)
    assert status(processor, "pipl-processor-duties") == "applies"
    for oid in ("pipl-legal-basis", "pipl-notice", "pipl-rights-requests"):
        assert status(processor, oid) == "not_applicable", oid
    both = run(corpus, book, customer_facing=True, public_service=False, personal_information=True, pi_role="both")
    assert status(both, "pipl-processor-duties") == "applies" and status(both, "pipl-notice") == "applies"
    handler = run(corpus, book, **PUBLIC_CHATBOT)
    assert status(handler, "pipl-processor-duties") == "not_applicable"


# ---- 7. 赴国外上市 is listing in a foreign country; Hong Kong falls under Art. 2 ------------------------------------

def test_article_7_says_foreign_country_and_is_translated_so(corpus):
    art = corpus.article("cybersecurity-review-measures-2021", 7)
    assert "赴国外上市" in art.zh
    assert "foreign country" in art.en


def test_a_hong_kong_listing_is_not_article_7_but_may_be_article_2(corpus, book):
    base = {"public_service": True, "personal_information": True, "pi_subjects": 2_000_000}
    hong_kong = run(corpus, book, **base, listing_hong_kong=True)
    assert status(hong_kong, "csr-listing-abroad") == "not_applicable"
    assert status(hong_kong, "csr-data-processing-review") == "confirm"
    foreign = run(corpus, book, **base, listing_foreign_country=True)
    assert status(foreign, "csr-listing-abroad") == "applies"
    assert "foreign country" in finding(foreign, "csr-listing-abroad").title_en


def test_the_old_listing_field_is_a_clear_error():
    with pytest.raises(ProfileError, match="listing_abroad"):
        parse_profile({"listing_abroad": True})


# ---- 8. penalty articles exactly where the penalty article names the duty ---------------------------------------

_NUM = "零一二三四五六七八九十百"


def _cn(n: str) -> int:
    """Chinese numeral (up to 999) -> int."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")}
    total, current = 0, 0
    for ch in n:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = digits[ch]
    return total + current


def named_provisions(penalty_text: str) -> dict[int, set[int] | None]:
    """Article -> the paragraphs (款) a penalty article names in its 违反本条例第…规定的 clause (None: the whole
    article), with ranges of articles (至)."""
    clause = penalty_text.split("规定的", 1)[0]
    found: dict[int, set[int] | None] = {}
    pattern = rf"第([{_NUM}]+)条((?:(?:和|、)?第[{_NUM}]+款(?:第[{_NUM}]+项)?)*)(?:至第([{_NUM}]+)条)?"
    for a, paras, b in re.findall(pattern, clause):
        start = _cn(a)
        for n in range(start, (_cn(b) if b else start) + 1):
            found[n] = {_cn(p) for p in re.findall(rf"第([{_NUM}]+)款", paras)} or None
    return found


def test_the_penalty_parser_reads_ranges_and_paragraphs():
    named = named_provisions("违反本条例第十二条、第十六条至第十八条、第四十条第一款和第二款、第四十一条规定的，处罚")
    assert named == {12: None, 16: None, 17: None, 18: None, 40: {1, 2}, 41: None}


def _names(named: dict[int, set[int] | None], ref) -> bool:
    """Whether a rule's reference to an article is among the provisions a penalty article names. A rule
    resting on an article the penalty names only in part must say which paragraphs it rests on."""
    if ref.article not in named:
        return False
    paras = named[ref.article]
    if paras is None:
        return True
    assert ref.paragraphs, f"Art. {ref.article}: the penalty names paragraphs {sorted(paras)}; declare the rule's paragraphs"
    return bool(paras & set(ref.paragraphs))


@pytest.mark.parametrize("instrument, penalties", [
    ("network-data-security-regulations-2024", (55, 56, 57)),
    ("minors-online-protection-regulations-2023", (53, 54, 55, 56)),
])
def test_a_penalty_article_is_cited_exactly_for_the_duties_it_names(corpus, book, instrument, penalties):
    named = {p: named_provisions(text(corpus, instrument, p)) for p in penalties}
    assert all(named.values())  # the parser found every list
    for ob in book.obligations.values():
        own = [r for r in ob.spec.rests_on if r.instrument == instrument]
        cited = {r.article for r in ob.spec.penalty if r.instrument == instrument}
        for p in penalties:
            if any(_names(named[p], r) for r in own):
                assert p in cited, f"{ob.id} rests on provisions of {instrument} that Art. {p} names"
            else:
                assert p not in cited, f"{ob.id} cites Art. {p}, which names none of {[r.article for r in own]}"


def test_app_store_verification_cites_the_deep_synthesis_penalty(book):
    ob = book.obligations["app-store-verification"]
    assert ("deep-synthesis-provisions-2022", 22) in {(r.instrument, r.article) for r in ob.spec.penalty}


# ---- 9. thresholds set outside the corpus: say what is missing -------------------------------------------------

def test_pipl_52_defers_the_officer_threshold_to_the_cac(corpus):
    assert "处理个人信息达到国家网信部门规定数量的个人信息处理者应当指定个人信息保护负责人" in text(corpus, "pipl-2021", 52)


def test_the_officer_rule_stays_to_confirm_and_names_the_missing_measures(corpus, book):
    f = finding(run(corpus, book, **PUBLIC_CHATBOT, pi_subjects=50_000), "pipl-dpo")
    assert f.status == "confirm"
    assert "个人信息保护合规审计管理办法" in f.confirm["en"] and "not in the corpus" in f.confirm["en"]
    assert "个人信息保护合规审计管理办法" in f.confirm["zh"]


def test_the_audit_duty_applies_and_its_frequency_is_to_check_in_the_missing_measures(corpus, book):
    assert text(corpus, "pipl-2021", 54) == "个人信息处理者应当定期对其处理个人信息遵守法律、行政法规的情况进行合规审计。"
    f = finding(run(corpus, book, **PUBLIC_CHATBOT, pi_subjects=50_000), "pipl-compliance-audit")
    assert f.status == "applies"
    assert "个人信息保护合规审计管理办法" in f.timing["en"] and "not in the corpus" in f.timing["en"]
