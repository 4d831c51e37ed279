"""Errors a user can act on. Their messages are one clear line (CorpusError lists several)."""

from __future__ import annotations

import unicodedata
from pathlib import Path


class AdvisorError(Exception):
    """Base: the message is meant for the user, never a traceback."""


class CorpusError(AdvisorError):
    """Problems in the corpus files, each naming its file (and article or rule)."""

    what = "the corpus"

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = f"{self.what} has {len(problems)} problem(s)"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in problems))


class BadQuestion(AdvisorError):
    """Empty, too long, or otherwise unusable question."""


class UnknownInstrument(AdvisorError):
    pass


class StoreError(AdvisorError):
    """The vector store is missing, locked, corrupt or unreachable."""


class EmbedderError(AdvisorError):
    pass


class TemplateError(AdvisorError):
    pass


class UnknownProvider(AdvisorError):
    """A provider that does not exist, or that requests may not pick (see settings.allowed_providers)."""


class ProviderError(AdvisorError):
    """The language model failed (after retries); the message never holds a key."""


def read_user_file(path: Path, what: str, error: type[AdvisorError] = AdvisorError) -> str:
    """The text of a file the user named; `error` with a one-line message if it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read the {what} file {path}: {exc}") from None


def text_problem(text: str) -> str | None:
    """Why `text` is not usable text: a lone surrogate (not Unicode), or nothing but blank and invisible characters."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "is malformed text (it holds a lone surrogate such as \\ud800)"
    if not any(unicodedata.category(ch)[0] not in "CZ" for ch in text):
        return "is empty (only blank or invisible characters)"
    return None
