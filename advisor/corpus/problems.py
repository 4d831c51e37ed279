"""A problem found in a corpus file, naming the file and, where there is one, the article."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    article: int | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f", article {self.article}" if self.article is not None else "")
        return f"{where}: {self.message}"
