"""The answer a user gets back, whichever way it was composed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from advisor.corpus import to_chinese_numeral
from advisor.retrieve.hybrid import Hit

DISCLAIMER_EN = "This is not legal advice; the Chinese text of each regulation is authoritative."
DISCLAIMER_ZH = "本回答不构成法律意见；以法规中文原文为准。"


@dataclass
class Citation:
    regulation: str  # official Chinese title
    article: int
    quote: str  # verbatim substring of the article's Chinese text
    regulation_en: str = ""
    instrument_id: str = ""
    quote_en: str = ""  # from our unofficial translation
    status: str = ""
    effective: str | None = None
    source_url: str | None = ""

    @property
    def label(self) -> str:
        """《official title》第N条, as cited in Chinese."""
        return f"《{self.regulation}》第{to_chinese_numeral(self.article)}条"

    @classmethod
    def from_hit(cls, hit: Hit, quote: str, quote_en: str = "") -> "Citation":
        return cls(
            regulation=hit.regulation, article=hit.article, quote=quote, regulation_en=hit.regulation_en,
            instrument_id=hit.instrument_id, quote_en=quote_en, status=hit.status, effective=hit.effective,
            source_url=hit.source_url,
        )

    def to_dict(self) -> dict:
        return {
            "regulation": self.regulation, "article": self.article, "quote": self.quote,
            "regulation_en": self.regulation_en, "instrument_id": self.instrument_id, "quote_en": self.quote_en,
            "status": self.status, "effective": self.effective, "source_url": self.source_url,
        }


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    as_of: dt.date
    provider: str
    lang: str = "en"
    warnings: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    documents: list[Hit] = field(default_factory=list)  # the company's own documents found: shown apart, never cited as law

    def to_dict(self) -> dict:
        return {
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "provider": self.provider,
            "as_of": self.as_of.isoformat(),
            "lang": self.lang,
            "warnings": list(self.warnings),
            "documents": [{"title": d.regulation, "part": d.heading_zh, "path": d.source_path, "text": d.text_zh,
                           "score": d.score} for d in self.documents],
        }
