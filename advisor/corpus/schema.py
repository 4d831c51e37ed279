"""Typed model of one instrument file (see corpus/FORMAT.md)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class Status(str, Enum):
    in_force = "in_force"
    amended = "amended"
    superseded = "superseded"
    draft = "draft"
    repealed = "repealed"


class Kind(str, Enum):
    law = "law"
    administrative_regulation = "administrative_regulation"
    departmental_rule = "departmental_rule"
    normative_document = "normative_document"
    standard = "standard"
    draft = "draft"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ref(Strict):
    """A cross-reference: an article of an instrument, or a whole instrument."""

    instrument: str | None = None
    article: int | None = Field(None, ge=1)


class Verification(Strict):
    status: str = Field(pattern=r"^(verified|partial|summary)$")
    method: str = Field(min_length=1)
    unverified_articles: list[int] = []

    @model_validator(mode="after")
    def _consistent(self) -> "Verification":
        if self.status == "verified" and self.unverified_articles:
            raise ValueError("verification 'verified' cannot list unverified_articles")
        if self.status == "partial" and not self.unverified_articles:
            raise ValueError("verification 'partial' must list unverified_articles")
        return self


class Article(Strict):
    number: int = Field(ge=1)
    chapter: str | None = None
    chapter_en: str | None = None
    section: str | None = None
    section_en: str | None = None
    zh: str
    en: str
    refs: list[Ref] = []

    @field_validator("zh", "en")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        if "TODO" in value:
            raise ValueError("text still holds a TODO placeholder")
        return value

    @property
    def heading_zh(self) -> str:
        return f"第{to_chinese_numeral(self.number)}条"


class Instrument(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title_zh: str = Field(min_length=2)
    title_en: str = Field(min_length=2)
    short_en: str = Field(min_length=2)
    kind: Kind
    issuers: list[str] = Field(min_length=1)
    document_number: str | None = None
    promulgated: dt.date | None = None
    published: dt.date | None = None
    effective: dt.date | None = None
    status: Status
    supersedes: list[str] = []
    superseded_by: str | None = None
    repealed: dt.date | None = None
    source_url: str | None = Field(None, pattern=r"^https?://")
    verification: Verification
    translation: str = Field(min_length=1)
    summary_en: str | None = None
    articles: list[Article] = []

    @model_validator(mode="after")
    def _consistent(self) -> "Instrument":
        if self.status is not Status.draft and self.effective is None:
            raise ValueError("an instrument that is not a draft needs an effective date")
        if not self.articles and not self.summary_en:
            raise ValueError("an instrument without articles needs a summary_en")
        if (self.verification.status == "summary") != (not self.articles):
            raise ValueError("verification 'summary' is for entries without article text, and only for them")
        if self.kind not in (Kind.standard, Kind.draft):
            if self.promulgated is None:
                raise ValueError("promulgated: a date is required (only standards and drafts may omit it)")
            if self.source_url is None:
                raise ValueError("source_url: the official publication is required (only standards and drafts may omit it)")
        return self

    def article(self, number: int) -> Article | None:
        if 1 <= number <= len(self.articles) and self.articles[number - 1].number == number:
            return self.articles[number - 1]
        return next((a for a in self.articles if a.number == number), None)


_DIGITS = "零一二三四五六七八九"


def to_chinese_numeral(n: int) -> str:
    """1 -> 一, 12 -> 十二, 40 -> 四十, 105 -> 一百零五 (article headings up to 999)."""
    if n <= 0 or n >= 1000:
        raise ValueError(f"article number out of range: {n}")
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _DIGITS[hundreds] + "百"
        if tens == 0 and ones:
            return out + "零" + _DIGITS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if ones:
        out += _DIGITS[ones]
    return out
