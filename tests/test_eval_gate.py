"""The quality gate: hybrid retrieval on the public gold set must not regress.

Measured on 2026-11-25 with the shipped defaults (use-m3, RRF over dense zh + dense en + sparse x2):
recall@5 = 0.679 on 215 items. The gate allows a margin of 0.03 for small corpus or tokeniser changes.
"""

from __future__ import annotations

from conftest import CORPUS
from evals.runner import run_eval

GOLD = CORPUS.parent / "evals" / "gold" / "gold.jsonl"
RECALL_AT_5_FLOOR = 0.65


def test_hybrid_recall_at_5_on_the_gold_set_stays_above_the_floor(advisor, tmp_path):
    result = run_eval(advisor=advisor, gold_path=GOLD, retrievers="hybrid", provider="offline", out_dir=tmp_path, progress=False)
    totals = result.report["totals"]["hybrid"]
    assert totals["n"] >= 150
    assert totals["recall@5"] >= RECALL_AT_5_FLOOR, f"hybrid recall@5 fell to {totals['recall@5']:.3f}"
    answers = result.report["answers"]["totals"] if "answers" in result.report else None
    assert answers is None or answers["citation_validity"] == 1.0  # offline quotes are always verbatim
