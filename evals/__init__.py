"""Evaluation of the advisor against the hand-written gold set (evals/gold/gold.jsonl)."""
