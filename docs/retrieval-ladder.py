"""Plot docs/retrieval-ladder.png: hybrid recall@5 by language at each step of issue 14's retrieval work.

The numbers are measurements (`advisor eval --gold evals/gold/gold.jsonl`, k = 10), one store per step; see the
README's "Evaluation" section for what each step changed. Run: .venv/bin/python docs/retrieval-ladder.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# step, recall@5 English, recall@5 Chinese, MRR (all)
STEPS = [
    ("shipped before\n(use-m3; 215 items)", 0.663, 0.628, 0.561),
    ("e5-small, notes,\nroles, glossary", 0.812, 0.795, 0.778),
    ("+ lookup points\nfused by article", 0.842, 0.892, 0.873),
    ("+ questions' words\nin BM25 (shipped)", 0.850, 0.892, 0.890),
    ("same pipeline\nwith use-m3", 0.850, 0.875, 0.822),
]


def main() -> None:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    xs = range(len(STEPS))
    width = 0.27
    for offset, index, label in ((-width, 1, "recall@5 English"), (0, 2, "recall@5 Chinese"), (width, 3, "MRR")):
        bars = ax.bar([x + offset for x in xs], [s[index] for s in STEPS], width, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.axhline(0.90, color="grey", linestyle="--", linewidth=1)
    ax.text(len(STEPS) - 0.5, 0.905, "goal 0.90", ha="right", fontsize=8, color="grey")
    ax.set_xticks(list(xs), [s[0] for s in STEPS], fontsize=8)
    ax.set_ylim(0.4, 1.0)
    ax.set_title("Hybrid retrieval on the public gold set (251 items unless noted)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = Path(__file__).with_name("retrieval-ladder.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
