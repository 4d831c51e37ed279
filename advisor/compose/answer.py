"""The answer a user gets back, whichever way it was composed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from advisor.corpus.schema import heading_zh, label_en
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
    heading_zh: str = ""  # 第N条, or an annex part's heading; empty: computed from the number
    heading_en: str | None = None  # English heading of an annex part (None for articles)
    coverage: str = "complete"  # the instrument's coverage in the corpus
    missing: str | None = None  # what of the instrument is not in the corpus
    displaced_by: list[dict] = field(default_factory=list)  # controlling articles (see Hit.displaced_by)

    @property
    def label(self) -> str:
        """《official title》第N条 (or the part's heading), as cited in Chinese."""
        return f"《{self.regulation}》{self.heading_zh or heading_zh(self.article)}"

    @property
    def article_en(self) -> str:
        """'Art. 12', or an annex part's heading."""
        return label_en(self.article, self.heading_en)

    def displaced_note(self, lang: str = "en") -> str | None:
        """'displaced in part by 《…》第九条: what' (None when nothing displaces this article)."""
        if not self.displaced_by:
            return None
        if lang == "zh":
            return "；".join(f"本条部分内容已被{d['label']}取代：{d['note_zh']}" for d in self.displaced_by)
        return "; ".join(f"displaced in part by {d['label']} ({d['label_en']}): {d['note_en']}" for d in self.displaced_by)

    @classmethod
    def from_hit(cls, hit: Hit, quote: str, quote_en: str = "") -> "Citation":
        return cls(
            regulation=hit.regulation, article=hit.article, quote=quote, regulation_en=hit.regulation_en,
            instrument_id=hit.instrument_id, quote_en=quote_en, status=hit.status, effective=hit.effective,
            source_url=hit.source_url, heading_zh=hit.heading_zh, heading_en=hit.heading_en,
            coverage=hit.coverage, missing=hit.missing, displaced_by=[dict(d) for d in hit.displaced_by],
        )

    def to_dict(self) -> dict:
        return {
            "regulation": self.regulation, "article": self.article, "quote": self.quote,
            "regulation_en": self.regulation_en, "instrument_id": self.instrument_id, "quote_en": self.quote_en,
            "status": self.status, "effective": self.effective, "source_url": self.source_url,
            "label": self.label, "label_en": self.article_en,
            "coverage": self.coverage, "missing": self.missing, "displaced_by": [dict(d) for d in self.displaced_by],
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
    profile: dict | None = None          # the business profile the engine assessed (given, or read from the text)
    assumptions: list[dict] = field(default_factory=list)  # facts read from the user's text, with the words behind them
    questions: list[dict] = field(default_factory=list)    # facts the answer depends on that the text does not settle
    documents: list[Hit] = field(default_factory=list)  # the company's own documents found: shown apart, never cited as law

    def to_dict(self) -> dict:
        out = {
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "provider": self.provider,
            "as_of": self.as_of.isoformat(),
            "lang": self.lang,
            "warnings": list(self.warnings),
            "documents": [{"title": d.regulation, "part": d.heading_zh, "path": d.source_path, "text": d.text_zh,
                           "score": d.score} for d in self.documents],
        }
        if self.profile is not None:
            out.update(profile=self.profile, assumptions=list(self.assumptions), questions=list(self.questions))
        return out
