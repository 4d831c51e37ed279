"""Every instrument assembled from ../shared/public-copies equals its copy, and is flagged as the copy says.

The copies (see their README) give, per instrument, the articles found, those confirmed by only one
source (unverified), those not found (missing) and, for the incident-reporting measures, the annex.
Our files may not hold more, less or other text than the copy, and may not call verified what the
copy does not.
"""

from __future__ import annotations

import json

import pytest

from advisor.corpus import load_corpus
from conftest import CORPUS, SHARED
from test_reference_texts import normalise

COPIES_DIR = SHARED / "public-copies"


def copy_files():
    assert COPIES_DIR.is_dir(), f"public copies not found at {COPIES_DIR}"
    return sorted(COPIES_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def _match(corpus, copy: dict):
    """Our entry with the copy's title and effective date (never an annex)."""
    found = [i for i in corpus if i.title_zh == copy["title"] and not i.annex_of
             and i.effective is not None and i.effective.isoformat() == copy["effective_date"]]
    assert len(found) == 1, f"expected one corpus entry for {copy['title']} (effective {copy['effective_date']}), found {[i.id for i in found]}"
    return found[0]


def _copy(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", copy_files(), ids=lambda p: p.stem)
def test_every_article_held_equals_the_public_copy(corpus, path):
    copy = _copy(path)
    inst = _match(corpus, copy)
    assert [a.number for a in inst.articles] == [a["article"] for a in copy["articles"]], f"{inst.id}: articles held differ from the copy's"
    differences = [a["article"] for a in copy["articles"] if normalise(inst.article(a["article"]).zh) != normalise(a["text"])]
    assert differences == [], f"{inst.id}: articles differing from the public copy: {differences}"


@pytest.mark.parametrize("path", copy_files(), ids=lambda p: p.stem)
def test_unverified_articles_are_exactly_the_copys(corpus, path):
    copy = _copy(path)
    inst = _match(corpus, copy)
    assert sorted(inst.verification.unverified_articles) == sorted(copy["unverified_articles"])
    assert (inst.verification.status == "verified") == (not copy["unverified_articles"])


@pytest.mark.parametrize("path", copy_files(), ids=lambda p: p.stem)
def test_missing_articles_and_total_are_the_copys(corpus, path):
    copy = _copy(path)
    inst = _match(corpus, copy)
    total = copy["total_articles_in_instrument"]
    assert inst.total_articles == total
    if "missing_articles" in copy:
        expected = copy["missing_articles"]
    else:  # the copy describes the missing articles in words (total unknown): the gaps in what it found
        held = [a["article"] for a in copy["articles"]]
        expected = sorted(set(range(1, max(held) + 1)) - set(held))
    assert sorted(inst.missing_articles) == sorted(expected)
    complete = total is not None and len(copy["articles"]) == total
    assert inst.complete == complete
    if not complete:
        assert inst.missing_note and inst.missing_summary()


@pytest.mark.parametrize("path", [p for p in copy_files() if "annex" in _copy(p)], ids=lambda p: p.stem)
def test_an_annex_equals_the_copys_annex(corpus, path):
    copy = _copy(path)
    inst = _match(corpus, copy)
    annexes = [i for i in corpus if i.annex_of == inst.id]
    assert len(annexes) == 1, f"{inst.id}: expected one annex entry, found {[i.id for i in annexes]}"
    annex = annexes[0]
    assert annex.title_zh == copy["annex"]["title"]
    # a heading printed on its own line (一、…) precedes the part's text; one that opens the line (注：) is in it
    ours = "".join(a.zh if a.zh.startswith(a.heading or "") and a.heading else f"{a.heading or ''}{a.zh}" for a in annex.articles)
    assert normalise(ours) == normalise(copy["annex"]["text"])
    assert all(a.heading and a.heading_zh == a.heading for a in annex.articles)  # never cited as 第N条
    if not copy["annex"].get("verified"):
        assert sorted(annex.verification.unverified_articles) == [a.number for a in annex.articles]


def test_the_comparison_notices_a_changed_article(corpus):
    """The check above would catch an edited character in an article held."""
    copy = _copy(COPIES_DIR / "人工智能生成合成内容标识办法.json")
    inst = _match(corpus, copy)
    text = copy["articles"][8]["text"]
    assert normalise(inst.article(9).zh) == normalise(text)
    assert normalise(inst.article(9).zh) != normalise(text.replace("六个月", "三个月"))
