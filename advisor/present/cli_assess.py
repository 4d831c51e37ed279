"""`advisor assess --profile FILE [--json] [--lang en|zh] [--as-of DATE]`: the applicability engine.

Registered in cli.py with ``app.command("assess")(assess_command)``; import this module after
``friendly`` is defined there (it imports ``friendly`` and the helpers from cli.py). Deterministic
and offline: no store, no model, only the corpus and corpus/obligations.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from advisor.errors import AdvisorError
from advisor.present.cli_common import _date, _print_json, friendly
from advisor.settings import load_settings


@friendly
def assess_command(
    profile: Annotated[Path, typer.Option("--profile", help="Business profile, YAML or JSON (see tests/profiles/ for examples).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Report language: en or zh.")] = "en",
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date (YYYY-MM-DD) whose rules apply; default today.")] = None,
) -> None:
    """Cited checklist, risk level and six-month roadmap for a business profile (no model, deterministic)."""
    from advisor.compose.assess import assess_profile

    if lang not in ("en", "zh"):
        raise AdvisorError(f"--lang must be en or zh, not '{lang}'")
    assessment = assess_profile(profile, settings=load_settings(), as_of=_date(as_of))
    if as_json:
        _print_json(assessment.to_dict())
    else:
        sys.stdout.write(assessment.to_markdown(lang))
