"""`advisor eval`: grade retrieval (and offline answers) against a gold set.

Registered in cli.py with ``app.command("eval")(eval_command)``; import this module after
``friendly`` is defined there (it imports ``friendly`` and the consoles from cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from advisor.errors import AdvisorError
from advisor.present.cli_common import err, friendly, out
from advisor.settings import load_settings


@friendly
def eval_command(
    gold: Annotated[Path, typer.Option("--gold", help="Gold set, one JSON object a line (e.g. evals/gold/gold.jsonl).")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many articles each retriever returns.")] = 10,
    retriever: Annotated[str, typer.Option(
        "--retriever", help="hybrid | dense | sparse | bm25s | hybrid-minilm | all (several: comma-separated).",
    )] = "hybrid",
    provider: Annotated[Optional[str], typer.Option(
        "--provider", help="Also grade answers with this provider (only 'offline' for now).",
    )] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md and retrievers.png.")] = Path("eval-out"),
) -> None:
    """Grade retrieval against a gold set: recall@1/3/5/10, MRR, nDCG@10, by language and instrument."""
    try:
        from evals.runner import ANSWER_METRICS, METRICS, run_eval
    except ImportError:
        raise AdvisorError("the eval lives in the source checkout (evals/): run it from the repository with the 'eval' extra installed") from None

    result = run_eval(load_settings(), gold, k=k, retrievers=retriever, provider=provider, out_dir=out_dir)
    report = result.report
    table = Table("retriever", "n", *METRICS, title=f"{report['items_count']} gold questions, k = {report['k']}")
    for name in report["retrievers"]:
        row = report["totals"][name]
        table.add_row(name, str(row["n"]), *(_cell(row[m]) for m in METRICS))
    out.print(table)
    if "answers" in report:
        ans = report["answers"]["totals"]
        table = Table("answers", "n", *ANSWER_METRICS)
        table.add_row(report["answers"]["provider"], str(ans["n"]), *(_cell(ans[m]) for m in ANSWER_METRICS))
        out.print(table)
        err.print("[dim]key_point_coverage is a crude lowercase substring match (see report.md)[/dim]")
    failed = report["failed"].get("hybrid")
    if failed is not None:
        out.print(f"hybrid: {len(failed)} question(s) with no gold article in the top {min(report['k'], 10)}", highlight=False)
    out.print(f"wrote {result.report_json}, {result.report_md}, {result.chart} in {result.seconds:.1f} s", highlight=False)


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
