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


class Coverage(str, Enum):
    """How much of the instrument's text the corpus holds."""

    complete = "complete"    # every article
    partial = "partial"      # some articles missing; the total is known
    fragments = "fragments"  # a few articles found; the total is unknown or most are missing
    metadata = "metadata"    # no article text: metadata and our summary of what is reported


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


class Displacement(Strict):
    """A later article that controls where this one differs (e.g. a 3-year validity instead of 2)."""

    instrument: str
    article: int = Field(ge=1)
    note_en: str = Field(min_length=1)  # what is displaced, in a few words
    note_zh: str = Field(min_length=1)


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
    heading: str | None = None     # the Chinese heading when the part is not numbered 第N条 (annex parts)
    heading_en: str | None = None  # its English label, e.g. "Part 1"
    zh: str
    en: str
    refs: list[Ref] = []
    displaced_by: list[Displacement] = []

    @field_validator("zh", "en")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        if "TODO" in value:
            raise ValueError("text still holds a TODO placeholder")
        return value

    @model_validator(mode="after")
    def _heading_pair(self) -> "Article":
        if (self.heading is None) != (self.heading_en is None):
            raise ValueError("heading and heading_en go together: give both or neither")
        return self

    @property
    def heading_zh(self) -> str:
        return heading_zh(self.number, self.heading)

    @property
    def label_en(self) -> str:
        """'Art. 12', or the heading override ('Part 1')."""
        return label_en(self.number, self.heading_en)

    @property
    def name_en(self) -> str:
        """'Article 12', or the heading override ('Part 1')."""
        return label_en(self.number, self.heading_en, long=True)


class Instrument(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title_zh: str = Field(min_length=2)
    title_en: str = Field(min_length=2)
    short_en: str = Field(min_length=2)
    kind: Kind
    issuers: list[str] = []  # at least one, unless metadata_verified is false
    annex_of: str | None = None  # the instrument this one is an annex of (it applies with it)
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
    metadata_verified: bool = True  # false: dates, numbers or issuers come from reports, not the official page
    metadata_note: str | None = None  # what was reported where (required when metadata_verified is false)
    coverage: Coverage = Coverage.complete
    total_articles: int | None = Field(None, ge=1)  # articles in the instrument (null when unknown)
    missing_articles: list[int] = []  # article numbers known to exist but not held
    missing_note: str | None = None  # what is missing and why (required unless coverage is complete)
    summary_en: str | None = None
    articles: list[Article] = []

    @model_validator(mode="after")
    def _consistent(self) -> "Instrument":
        reported = not self.metadata_verified
        if reported and not (self.metadata_note or "").strip():
            raise ValueError("metadata_note: say where the reported metadata comes from (metadata_verified is false)")
        if not self.issuers and not reported:
            raise ValueError("issuers: at least one issuing body is required (only reported metadata may omit it)")
        if self.status in (Status.amended, Status.superseded) and not self.superseded_by:
            raise ValueError(f"superseded_by: an instrument with status '{self.status.value}' names the version that replaced it")
        if self.status is not Status.draft and self.effective is None and not reported:
            raise ValueError("an instrument that is not a draft needs an effective date")
        if not self.articles and not self.summary_en:
            raise ValueError("an instrument without articles needs a summary_en")
        if (self.verification.status == "summary") != (not self.articles):
            raise ValueError("verification 'summary' is for entries without article text, and only for them")
        if (self.coverage is Coverage.metadata) != (not self.articles):
            raise ValueError("coverage 'metadata' is for entries without article text, and only for them")
        if self.coverage is not Coverage.complete and not (self.missing_note or "").strip():
            raise ValueError(f"missing_note: say what is missing and why (coverage is '{self.coverage.value}')")
        if self.coverage is Coverage.complete and self.missing_articles:
            raise ValueError("missing_articles: a complete instrument has none (use coverage 'partial')")
        if self.coverage is Coverage.partial and (self.total_articles is None or not self.missing_articles):
            raise ValueError("coverage 'partial' needs total_articles and the missing_articles (else use 'fragments')")
        if self.kind not in (Kind.standard, Kind.draft) and not reported:
            if self.promulgated is None:
                raise ValueError("promulgated: a date is required (only standards, drafts and reported metadata may omit it)")
            if self.source_url is None:
                raise ValueError("source_url: the official publication is required (only standards, drafts and reported metadata may omit it)")
        return self

    @property
    def complete(self) -> bool:
        return self.coverage is Coverage.complete

    def missing_summary(self) -> str | None:
        """What an answer must say is not in the corpus (None for a complete instrument)."""
        if self.complete:
            return None
        if not self.articles:
            return "no article text is in the corpus (metadata and a summary only)"
        held = [a.number for a in self.articles]
        total = f" of {self.total_articles}" if self.total_articles else ""
        if self.coverage is Coverage.partial:
            return (f"{article_list(self.missing_articles)} {'is' if len(self.missing_articles) == 1 else 'are'} "
                    f"not in the corpus ({len(held)}{total} articles held)")
        text = f"only {article_list(held)}{total} {'is' if len(held) == 1 else 'are'} in the corpus"
        if self.total_articles is None:
            text += "; the total number of articles is unconfirmed"
        return text

    def article(self, number: int) -> Article | None:
        if 1 <= number <= len(self.articles) and self.articles[number - 1].number == number:
            return self.articles[number - 1]
        return next((a for a in self.articles if a.number == number), None)


def heading_zh(number: int, heading: str | None = None) -> str:
    """How an article is cited in Chinese: 第十二条, or the heading of a part that has no article number."""
    return heading or f"第{to_chinese_numeral(number)}条"


def label_en(number: int, heading_en: str | None = None, long: bool = False) -> str:
    """How an article is cited in English: 'Art. 12' ('Article 12' when long), or the part's heading."""
    return heading_en or (f"Article {number}" if long else f"Art. {number}")


def article_list(numbers: list[int]) -> str:
    """[9, 10, 11, 12] -> 'Arts. 9-12'; [2, 18, 32] -> 'Arts. 2, 18, 32'; [4] -> 'Art. 4'."""
    ordered = sorted(set(numbers))
    runs: list[list[int]] = []
    for n in ordered:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs]
    return ("Art. " if len(ordered) == 1 else "Arts. ") + ", ".join(parts)


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
