"""Hybrid retrieval: dense (zh and en vectors) + BM25 sparse, fused with RRF, filtered by date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Literal

from qdrant_client import models as qm

from advisor.corpus import Corpus
from advisor.errors import BadQuestion, UnknownInstrument, text_problem
from advisor.providers.embedders import Embedder
from advisor.settings import Settings
from advisor.store.qdrant import Store
from ingest.chunk import date_int
from ingest.sparse import query_vector

Mode = Literal["hybrid", "dense", "sparse"]
STATUSES = {"in_force", "amended", "superseded", "draft", "repealed"}


@dataclass
class Hit:
    """One retrieved article (its best-matching part decides its rank)."""

    regulation: str  # official Chinese title
    regulation_en: str
    short_en: str
    instrument_id: str
    article: int
    heading_zh: str
    score: float
    text_zh: str  # the whole article
    text_en: str
    matched_zh: str  # the chunk that matched (equal to text_zh unless the article was split)
    chapter: str | None
    status: str
    effective: str | None
    source_url: str | None
    verified: bool = True  # False: the article's text is not yet checked against a second copy

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        return f"《{self.regulation}》{self.heading_zh}"


_CJK = re.compile(r"[\u4e00-\u9fff]")


def question_language(text: str) -> str:
    """'zh' when a fair share of the question is Chinese characters, else 'en'."""
    letters = [c for c in text if c.isalpha()]
    cjk = sum(1 for c in letters if _CJK.match(c))
    return "zh" if letters and cjk / len(letters) >= 0.2 else "en"


def check_question(question: str, settings: Settings) -> str:
    """The question, stripped; a clear error if it is empty, malformed or too long."""
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    text = question.strip()
    problem = text_problem(text) if text else None
    if problem and "malformed" in problem:
        raise BadQuestion(f"the question {problem}; send valid Unicode")
    if not text or problem:
        raise BadQuestion("the question is empty: ask something, e.g. \"Do I need to label AI-generated images?\"")
    if len(text) > settings.max_question_chars:
        raise BadQuestion(
            f"the question is {len(text)} characters long; the limit is {settings.max_question_chars} "
            "(set ADVISOR_MAX_QUESTION_CHARS to change it): shorten it to the facts that matter"
        )
    return text


class Retriever:
    def __init__(self, settings: Settings, corpus: Corpus, embedder: Embedder, store: Store):
        self.settings = settings
        self.corpus = corpus
        self.embedder = embedder
        self.store = store
        self._checked = False

    def _filter(
        self,
        as_of: dt.date | None,
        instruments: list[str] | None,
        status: list[str] | None,
        include_drafts: bool,
    ) -> qm.Filter:
        must: list = []
        if instruments:
            unknown = [i for i in instruments if i not in self.corpus.instruments]
            if unknown:
                known = ", ".join(sorted(self.corpus.instruments))
                raise UnknownInstrument(f"unknown instrument id(s): {', '.join(unknown)}; known ids: {known}")
            must.append(qm.FieldCondition(key="instrument_id", match=qm.MatchAny(any=list(instruments))))
        if status:
            bad = [s for s in status if s not in STATUSES]
            if bad:
                raise BadQuestion(f"unknown status {', '.join(bad)}; use one of {', '.join(sorted(STATUSES))}")
            must.append(qm.FieldCondition(key="status", match=qm.MatchAny(any=list(status))))
        if as_of is not None:
            day = date_int(as_of, 0)
            in_force = qm.Filter(must=[
                qm.FieldCondition(key="valid_from", range=qm.Range(lte=day)),
                qm.FieldCondition(key="valid_to", range=qm.Range(gt=day)),
                qm.FieldCondition(key="is_draft", match=qm.MatchValue(value=False)),
            ])
            if include_drafts:
                must.append(qm.Filter(should=[in_force, qm.FieldCondition(key="is_draft", match=qm.MatchValue(value=True))]))
            else:
                must.append(in_force)
        elif not include_drafts:
            must.append(qm.FieldCondition(key="is_draft", match=qm.MatchValue(value=False)))
        return qm.Filter(must=must)

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        as_of: dt.date | None = None,
        all_versions: bool = False,
        instruments: list[str] | None = None,
        status: list[str] | None = None,
        include_drafts: bool = False,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """The top-k articles for `question`, in force on `as_of` (default today) unless all_versions."""
        text = check_question(question, self.settings)
        k = k or self.settings.k
        if k < 1 or k > 100:
            raise BadQuestion(f"k must be between 1 and 100, not {k}")
        if not self._checked:
            self.store.require()
            self._checked = True
        day = None if all_versions else (as_of or dt.date.today())
        flt = self._filter(day, instruments, status, include_drafts)
        dense_zh = dense_en = sparse = None
        if mode in ("hybrid", "dense"):
            vector = self.embedder.embed([text])[0].tolist()
            lang = question_language(text)
            # "rrf-lang": only the vector of the question's language; "rrf": both languages' vectors
            dense_zh = vector if self.settings.fusion == "rrf" or lang == "zh" or mode == "dense" else None
            dense_en = vector if self.settings.fusion == "rrf" or lang == "en" or mode == "dense" else None
        if mode in ("hybrid", "sparse"):
            sparse = query_vector(text)
        depth = max(self.settings.prefetch, k * 3)
        points = self.store.hybrid(dense_zh, dense_en, sparse, flt, limit=depth, prefetch=depth, sparse_weight=self.settings.sparse_weight)
        return self._collapse(points, k)

    def _collapse(self, points: list[qm.ScoredPoint], k: int) -> list[Hit]:
        """One hit per article, ranked by its best part; whole article texts from the corpus."""
        hits: dict[tuple[str, int], Hit] = {}
        for p in points:
            pl = p.payload or {}
            key = (pl["instrument_id"], int(pl["article"]))
            if key in hits:
                continue
            inst = self.corpus.instruments.get(key[0])
            art = inst.article(key[1]) if inst else None
            if art is None:  # store is older than the corpus; skip what no longer exists
                continue
            hits[key] = Hit(
                regulation=inst.title_zh, regulation_en=inst.title_en, short_en=inst.short_en,
                instrument_id=inst.id, article=art.number, heading_zh=art.heading_zh, score=round(float(p.score), 6),
                text_zh=art.zh, text_en=art.en, matched_zh=pl.get("text_zh", art.zh), chapter=art.chapter,
                status=inst.status.value, effective=inst.effective.isoformat() if inst.effective else None,
                source_url=inst.source_url,
                verified=art.number not in inst.verification.unverified_articles,
            )
            if len(hits) == k:
                break
        return list(hits.values())


def merge_rankings(rankings: list[list[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    """Fuse several ranked hit lists (one per query) by reciprocal rank; one hit per article."""
    scores: dict[tuple[str, int], float] = {}
    first: dict[tuple[str, int], Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = (hit.instrument_id, hit.article)
            scores[key] = scores.get(key, 0.0) + 1.0 / (rrf_k + rank + 1)
            first.setdefault(key, hit)
    ordered = sorted(scores, key=lambda key: -scores[key])[:k]
    out = []
    for key in ordered:
        hit = first[key]
        hit = Hit(**{**hit.to_dict(), "score": round(scores[key], 6)})
        out.append(hit)
    return out


def article_hit(corpus: Corpus, instrument_id: str, article: int, score: float = 0.0) -> Hit | None:
    """A corpus article as a Hit (for articles reached by reference or by a rule, not by search)."""
    inst = corpus.instruments.get(instrument_id)
    target = inst.article(article) if inst else None
    if inst is None or target is None:
        return None
    return Hit(
        regulation=inst.title_zh, regulation_en=inst.title_en, short_en=inst.short_en, instrument_id=inst.id,
        article=target.number, heading_zh=target.heading_zh, score=score, text_zh=target.zh, text_en=target.en,
        matched_zh=target.zh, chapter=target.chapter, status=inst.status.value,
        effective=inst.effective.isoformat() if inst.effective else None, source_url=inst.source_url,
        verified=target.number not in inst.verification.unverified_articles,
    )


def cross_references(corpus: Corpus, hits: list[Hit], limit: int = 4) -> list[Hit]:
    """Articles that the hits refer to (article-level references only), as extra hits with score 0."""
    have = {(h.instrument_id, h.article) for h in hits}
    extra: list[Hit] = []
    for hit in hits:
        art = corpus.instruments[hit.instrument_id].article(hit.article)
        for ref in art.refs if art else []:
            if ref.article is None:
                continue
            key = (ref.instrument or hit.instrument_id, ref.article)  # refs name the exact version they mean
            target = article_hit(corpus, *key)
            if target is None or key in have:
                continue
            have.add(key)
            extra.append(target)
            if len(extra) >= limit:
                return extra
    return extra
