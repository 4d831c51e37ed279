"""What every command shares: the consoles, one-line errors, dates and JSON output."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from advisor.errors import AdvisorError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def friendly(fn):
    """Turn AdvisorError into one clear line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AdvisorError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


def _date(value: Optional[str]) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise AdvisorError(f"--as-of must be a date like 2025-12-31, not '{value}'") from None


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


