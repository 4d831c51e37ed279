"""Every instrument with an official reference text in ../shared equals it, article by article."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from advisor.corpus import load_corpus
from conftest import CORPUS, SHARED

REFERENCE_DIR = SHARED / "reference-texts"


def normalise(text: str) -> str:
    """Ignore whitespace and full/half-width differences (NFKC folds ，（） to ,() etc.)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def reference_files():
    assert REFERENCE_DIR.is_dir(), f"reference texts not found at {REFERENCE_DIR}"
    return sorted(REFERENCE_DIR.glob("*.json"))


def _match(corpus, ref: dict):
    """The corpus version with the reference's title and effective date."""
    for inst in corpus:
        if inst.title_zh == ref["title"] and inst.effective and inst.effective.isoformat() == ref["effective_date"]:
            return inst
    return None


@pytest.mark.parametrize("path", reference_files(), ids=lambda p: p.stem)
def test_corpus_equals_the_official_reference_text(path):
    ref = json.loads(path.read_text(encoding="utf-8"))
    inst = _match(load_corpus(CORPUS), ref)
    assert inst is not None, f"no corpus file for {ref['version']} (effective {ref['effective_date']})"
    assert len(inst.articles) == len(ref["articles"]), f"{inst.id}: {len(inst.articles)} articles, reference has {len(ref['articles'])}"
    differences = [
        a["article"] for a in ref["articles"]
        if normalise(inst.article(a["article"]).zh) != normalise(a["text"])
    ]
    assert differences == [], f"{inst.id}: articles differing from the official text: {differences}"


def test_the_comparison_catches_a_changed_character():
    assert normalise("个人信息处理者，应当") == normalise("个人信息处理者,应当")
    assert normalise("个人信息处理者应当") != normalise("个人信息处理者可以")
