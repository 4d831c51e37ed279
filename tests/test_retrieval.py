"""Hybrid retrieval over the real corpus, real embedder and a real embedded Qdrant store."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.errors import BadQuestion, UnknownInstrument


def _keys(hits):
    return [(h.instrument_id, h.article) for h in hits]


def test_english_question_finds_the_cross_border_consent_article(advisor):
    hits = advisor.retrieve("Do individuals have to give separate consent before their personal information is provided outside China?", k=5)
    assert ("pipl-2021", 39) in _keys(hits)


def test_chinese_question_finds_the_generated_content_labeling_article(advisor):
    hits = advisor.retrieve("生成式人工智能服务提供者要不要给生成的图片视频加标识？", k=5)
    assert ("gai-interim-measures-2023", 12) in _keys(hits)


@pytest.mark.parametrize("question", [
    "我们在小红书发布AI生成的商品图片，需要加什么标识？",
    "We post AI-generated product images on Xiaohongshu. What labels do they need?",
])
def test_a_labelling_question_finds_the_labelling_measures(advisor, question):
    found = _keys(advisor.retrieve(question, k=5))
    assert {("ai-content-labelling-measures-2025", 4), ("ai-content-labelling-measures-2025", 10)} & set(found), found


def test_hits_carry_both_texts_and_the_official_title(advisor):
    hit = advisor.retrieve("algorithm filing", k=1)[0]
    inst = advisor.corpus.instruments[hit.instrument_id]
    assert hit.regulation == inst.title_zh
    assert hit.text_zh == inst.article(hit.article).zh and hit.text_en == inst.article(hit.article).en


def test_by_default_only_versions_in_force_today_are_returned(advisor):
    hits = advisor.retrieve("关键信息基础设施的运营者在境内收集的个人信息和重要数据应当在境内存储", k=10)
    assert "csl-2016" not in {h.instrument_id for h in hits}
    assert ("csl-2025", 39) in _keys(hits)


def test_an_as_of_date_before_the_amendment_uses_the_2016_numbering(advisor):
    question = "关键信息基础设施的运营者在境内收集的个人信息和重要数据应当在境内存储"
    hits = advisor.retrieve(question, k=10, as_of=dt.date(2025, 6, 1))
    assert ("csl-2016", 37) in _keys(hits)
    assert "csl-2025" not in {h.instrument_id for h in hits}


def test_instrument_filter_restricts_hits(advisor):
    hits = advisor.retrieve("personal information", k=5, instruments=["dsl-2021"])
    assert hits and {h.instrument_id for h in hits} == {"dsl-2021"}


def test_unknown_instrument_is_a_clear_error(advisor):
    with pytest.raises(UnknownInstrument, match="no-such-law"):
        advisor.retrieve("personal information", instruments=["no-such-law"])


@pytest.mark.parametrize("question", ["", "   \n"])
def test_empty_question_is_rejected(advisor, question):
    with pytest.raises(BadQuestion, match="empty"):
        advisor.retrieve(question)


def test_too_long_question_is_rejected_with_the_limit(advisor):
    with pytest.raises(BadQuestion, match="limit is 2000"):
        advisor.retrieve("数据" * 1001)


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_single_retrievers_work_alone(advisor, mode):
    hits = advisor.retrieve("深度合成服务提供者 标识", k=5, mode=mode)
    assert "deep-synthesis-provisions-2022" in {h.instrument_id for h in hits}


def test_cross_referenced_articles_are_followed(advisor):
    from advisor.retrieve.hybrid import cross_references

    hits = advisor.retrieve("任何组织和个人不得删除、篡改、隐匿深度合成标识", k=1, instruments=["deep-synthesis-provisions-2022"])
    assert (hits[0].instrument_id, hits[0].article) == ("deep-synthesis-provisions-2022", 18)
    extra = cross_references(advisor.corpus, hits)
    assert {(h.instrument_id, h.article) for h in extra} == {("deep-synthesis-provisions-2022", 16), ("deep-synthesis-provisions-2022", 17)}
    assert all(h.score == 0.0 for h in extra)


def test_every_recorded_cross_reference_resolves(advisor):
    for inst in advisor.corpus:
        for art in inst.articles:
            for ref in art.refs:
                target = advisor.corpus.instruments[ref.instrument or inst.id]
                assert ref.article is None or target.article(ref.article) is not None, (inst.id, art.number, ref)


# ---- displaced provisions: the controlling article comes first ------------------------------------

OLD, NEW = "data-export-security-assessment-measures-2022", "cross-border-data-flow-provisions-2024"


def test_a_displaced_article_is_preceded_by_the_articles_that_control_it(advisor):
    hits = advisor.retrieve("数据出境安全评估结果有效期为2年", k=3, instruments=[OLD], as_of=dt.date(2026, 6, 1))
    keys = _keys(hits)
    assert (OLD, 14) in keys
    at = keys.index((OLD, 14))
    assert keys[at - 2:at] == [(NEW, 9), (NEW, 13)]
    assert hits[at].displaced_by[0]["label"] == "《促进和规范数据跨境流动规定》第九条"
    assert "3 years" in hits[at].displaced_by[0]["note_en"]
    assert hits[at - 2].score >= hits[at].score  # ranked with the article it displaces


def test_before_the_later_rules_apply_nothing_is_placed_in_front(advisor):
    hits = advisor.retrieve("数据出境安全评估结果有效期为2年", k=3, instruments=[OLD], as_of=dt.date(2023, 6, 1))
    assert (OLD, 14) in _keys(hits)
    assert NEW not in {h.instrument_id for h in hits}


def test_a_controlling_article_already_ranked_lower_is_moved_up_not_repeated():
    from advisor.corpus import load_corpus
    from advisor.retrieve.hybrid import article_hit, place_controlling
    from conftest import CORPUS

    corpus = load_corpus(CORPUS)
    hits = [article_hit(corpus, "pipl-2021", 38, 0.9), article_hit(corpus, OLD, 14, 0.8), article_hit(corpus, NEW, 9, 0.1)]
    placed = place_controlling(corpus, hits, dt.date(2026, 6, 1))
    assert _keys(placed) == [("pipl-2021", 38), (NEW, 9), (NEW, 13), (OLD, 14)]
    assert placed[1].score == 0.8
    assert _keys(place_controlling(corpus, placed, dt.date(2026, 6, 1))) == _keys(placed)  # idempotent


def test_hits_expose_the_coverage_of_their_instrument():
    from advisor.corpus import load_corpus
    from advisor.retrieve.hybrid import article_hit
    from conftest import CORPUS

    corpus = load_corpus(CORPUS)
    partial = article_hit(corpus, "pi-export-standard-contract-measures-2023", 4).to_dict()
    assert partial["coverage"] == "partial" and partial["missing"] == "Arts. 9-12 are not in the corpus (9 of 13 articles held)"
    assert article_hit(corpus, "pipl-2021", 38).to_dict()["coverage"] == "complete"


# ---- understanding the question: glossary, named instruments, roles ---------------------------------

def _glossary():
    from advisor.retrieve.glossary import load_glossary
    from conftest import CORPUS

    return load_glossary(CORPUS / "glossary.yaml")


def test_the_glossary_adds_the_words_the_articles_use():
    from advisor.retrieve.glossary import expansion

    assert "标识" in expansion("Do our AI pictures need a watermark?", _glossary())
    assert "出境" in expansion("Can we keep the chat logs on an overseas server?", _glossary())
    assert expansion("What does Article 3 say?", _glossary()) == []


def test_expanded_words_weigh_half_a_word_of_the_question():
    from ingest.sparse import query_vector, token_id, tokens

    indices, values = query_vector("label images", "标识")
    weights = dict(zip(indices, values))
    assert weights[token_id(tokens("标识")[0])] == 0.5
    assert weights[token_id(tokens("label")[0])] == 1.0


def test_a_named_instrument_is_recognised_in_either_language():
    from advisor.retrieve.glossary import named_instruments

    assert named_instruments("What does the PIPL say about consent?", _glossary()) == {"pipl-2021"}
    assert named_instruments("按《数据安全法》要怎么做？", _glossary()) == {"dsl-2021"}
    assert named_instruments("Do we need consent?", _glossary()) == set()


def _hit(advisor, instrument, article, score):
    from advisor.retrieve.hybrid import article_hit

    return article_hit(advisor.corpus, instrument, article, score)


def test_a_penalty_article_ranks_after_a_duty_unless_the_question_asks_about_penalties(advisor):
    from advisor.retrieve.hybrid import rank_by_role

    hits = [_hit(advisor, "gai-interim-measures-2023", 21, 1.0), _hit(advisor, "gai-interim-measures-2023", 12, 0.9)]
    assert advisor.corpus.annotations.role("gai-interim-measures-2023", 21) == "penalty"
    duty_first = rank_by_role(advisor.corpus, hits, "Do generated images need a label?")
    assert [h.article for h in duty_first] == [12, 21]
    asked = rank_by_role(advisor.corpus, hits, "What fines apply if images are not labelled?")
    assert [h.article for h in asked] == [21, 12]


def test_articles_of_a_named_instrument_come_first_among_equals(advisor):
    from advisor.retrieve.hybrid import rank_by_role

    hits = [_hit(advisor, "dsl-2021", 27, 1.0), _hit(advisor, "pipl-2021", 51, 0.9)]
    ranked = rank_by_role(advisor.corpus, hits, "What security measures does the PIPL require?", {"pipl-2021"})
    assert ranked[0].instrument_id == "pipl-2021"


def test_fused_rankings_favour_an_article_both_rankings_find_and_keep_the_matched_part():
    from dataclasses import replace

    from advisor.corpus import load_corpus
    from advisor.retrieve.hybrid import article_hit, fuse_rankings
    from conftest import CORPUS

    corpus = load_corpus(CORPUS)
    a, b, c = (article_hit(corpus, "pipl-2021", n) for n in (13, 38, 39))
    part = replace(b, matched_zh="第二段")
    fused = fuse_rankings([[a, part, c], [b, c]], [1.0, 1.0])
    assert _keys(fused) == [("pipl-2021", 38), ("pipl-2021", 39), ("pipl-2021", 13)]  # found twice beats first once
    assert fused[0].matched_zh == "第二段"  # the article ranking's hit says which part matched
    assert _keys(fuse_rankings([[a, part, c], [b, c]], [1.0, 0.0]))[0] == ("pipl-2021", 13)  # weight 0: ignored


def test_a_question_the_article_answers_in_other_words_finds_it(advisor):
    # the Labelling Measures Art. 9 (unlabelled output on request) never says "watermark-free" or "clean copy"
    hits = advisor.retrieve("Can a paying customer get a clean copy of the generated picture without the AI notice?", 5)
    assert _keys(hits)[0] == ("ai-content-labelling-measures-2025", 9)  # second without the questions' lookup points
