"""Our own notes on each article, kept beside the verbatim texts: its role and a plain-language gist.

``corpus/annotations/<instrument-id>.yaml`` (format in corpus/FORMAT.md, "Annotations"). They help
retrieval find the article a business person is asking about (the words users use are rarely the
words the articles use) and let ranking tell a duty from a definition or a penalty. They are never
quoted as law: answers quote the article's own text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from advisor.corpus.problems import Problem
from advisor.corpus.schema import Instrument, Strict

Role = Literal[
    "purpose",     # why the instrument exists, its legal basis
    "scope",       # who or what it applies to, exclusions
    "definition",  # what a term means
    "principle",   # general principles, encouragement, State policy without a concrete duty on businesses
    "duty",        # what a business (provider, handler, operator, platform ...) must or must not do
    "right",       # what an individual may demand
    "exemption",   # when a duty does not apply
    "procedure",   # how a filing, assessment, review or certification runs (including authorities' deadlines)
    "authority",   # which authority supervises, inspects, or may act
    "penalty",     # legal liability for a breach
    "final",       # entry into force, transition, repeal
]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]


class ArticleNote(Strict):
    number: int = Field(ge=1)
    role: Role
    gist_en: str = Field(min_length=10, max_length=400)
    gist_zh: str = Field(min_length=6, max_length=200)
    keywords_en: list[str] = []
    keywords_zh: list[str] = []
    # questions a business person might ask that this article answers (written from the article alone)
    questions_en: list[str] = []
    questions_zh: list[str] = []

    @field_validator("keywords_en", "keywords_zh", "questions_en", "questions_zh")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("empty entry")
        return values


class AnnotationsFile(Strict):
    instrument: str
    articles: list[ArticleNote]


@dataclass
class Annotations:
    """Notes by (instrument id, article number)."""

    notes: dict[tuple[str, int], ArticleNote] = field(default_factory=dict)

    def get(self, instrument: str, article: int) -> ArticleNote | None:
        return self.notes.get((instrument, article))

    def role(self, instrument: str, article: int) -> str | None:
        note = self.get(instrument, article)
        return note.role if note else None


def check_annotations(corpus_dir: Path, instruments: dict[str, Instrument]) -> tuple[Annotations, list[Problem]]:
    """Load every annotations file; problems name file and article (unknown instrument or article,
    duplicate article, schema errors)."""
    found = Annotations()
    problems: list[Problem] = []
    for path in sorted(Path(corpus_dir, "annotations").glob("*.yaml")):
        name = f"annotations/{path.name}"
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            data = AnnotationsFile.model_validate(raw)
        except yaml.YAMLError as exc:
            problems.append(Problem(name, None, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
            continue
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                article = None
                if len(loc) >= 2 and loc[0] == "articles" and isinstance(loc[1], int):
                    items = (raw or {}).get("articles") or []
                    item = items[loc[1]] if loc[1] < len(items) else None
                    article = item.get("number") if isinstance(item, dict) else None
                    loc = loc[2:]
                problems.append(Problem(name, article, f"{'.'.join(map(str, loc)) or 'file'}: {err['msg']}"))
            continue
        if data.instrument != path.stem:
            problems.append(Problem(name, None, f"instrument '{data.instrument}' does not match the file name"))
        inst = instruments.get(data.instrument)
        if inst is None:
            problems.append(Problem(name, None, f"unknown instrument '{data.instrument}'"))
            continue
        for note in data.articles:
            if inst.article(note.number) is None:
                problems.append(Problem(name, note.number, f"{inst.id} has no article {note.number}"))
            elif (inst.id, note.number) in found.notes:
                problems.append(Problem(name, note.number, "annotated twice"))
            else:
                found.notes[(inst.id, note.number)] = note
    return found, problems
