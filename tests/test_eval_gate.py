"""The quality gate: hybrid retrieval on the public gold set must not regress, in either language.

Measured on 2026-12-02 with the shipped defaults (e5-small; RRF over dense zh + dense en + sparse x2, fused by
article with the lookup points' ranking at weight 1; roles, glossary and named instruments in the ranking) on the
251 items: recall@5 = 0.870 (English 0.850, Chinese 0.892). The floors allow a margin of 0.03 for small corpus,
annotation or tokeniser changes.
"""

from __future__ import annotations

from conftest import CORPUS
from evals.runner import run_eval

GOLD = CORPUS.parent / "evals" / "gold" / "gold.jsonl"
RECALL_AT_5_FLOOR = 0.84
RECALL_AT_5_FLOOR_BY_LANG = {"en": 0.82, "zh": 0.86}


def test_hybrid_recall_at_5_on_the_gold_set_stays_above_the_floor(advisor, tmp_path):
    result = run_eval(advisor=advisor, gold_path=GOLD, retrievers="hybrid", provider="offline", out_dir=tmp_path, progress=False)
    totals = result.report["totals"]["hybrid"]
    assert totals["n"] >= 250
    assert totals["recall@5"] >= RECALL_AT_5_FLOOR, f"hybrid recall@5 fell to {totals['recall@5']:.3f}"
    for lang, floor in RECALL_AT_5_FLOOR_BY_LANG.items():
        got = result.report["by_lang"]["hybrid"][lang]["recall@5"]
        assert got >= floor, f"hybrid recall@5 in {lang} fell to {got:.3f}"
    answers = result.report["answers"]["totals"] if "answers" in result.report else None
    assert answers is None or answers["citation_validity"] == 1.0  # offline quotes are always verbatim
