"""Hybrid retrieval: dense (zh and en vectors) + BM25 sparse, fused with RRF, filtered by date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from advisor.corpus import Article, Corpus, Instrument
from advisor.corpus.schema import label_en
from advisor.errors import BadQuestion, UnknownInstrument, text_problem
from advisor.providers.embedders import Embedder, embed_queries
from advisor.retrieve.glossary import expansion, load_glossary, named_instruments
from advisor.settings import Settings
from advisor.store.base import RRF_K, Match, Scope, VectorStore
from ingest.chunk import date_int
from ingest.sparse import query_vector

Mode = Literal["hybrid", "dense", "sparse"]
COMPANY_DOCUMENT = "company_document"  # the payload kind of a company's own documents (ingest/documents.py)
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
    heading_en: str | None = None  # English heading of a part not numbered 第N条 (annex parts); None for articles
    coverage: str = "complete"  # the instrument's coverage: complete | partial | fragments | metadata
    missing: str | None = None  # what of the instrument is not in the corpus (None when complete)
    # later articles that control where this one differs: instrument, article, label, label_en, note_en, note_zh
    displaced_by: list[dict] = field(default_factory=list)
    kind: str = "law"  # "company_document": a part of the company's own documents, never law
    source_path: str | None = None  # the file of a company document

    @property
    def is_law(self) -> bool:
        return self.kind != COMPANY_DOCUMENT

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        return f"《{self.regulation}》{self.heading_zh}"

    @property
    def article_en(self) -> str:
        """'Art. 12', or an annex part's heading ('Part 1: ...')."""
        return label_en(self.article, self.heading_en)


def displacements(corpus: Corpus, art: Article) -> list[dict]:
    """The articles that displace `art` in part, with their citation labels and what they change."""
    out = []
    for moved in art.displaced_by:
        target = corpus.instruments[moved.instrument]
        part = target.article(moved.article)
        out.append({
            "instrument": target.id, "article": moved.article,
            "label": f"《{target.title_zh}》{part.heading_zh}", "label_en": f"{target.short_en} {part.label_en}",
            "note_en": moved.note_en, "note_zh": moved.note_zh,
        })
    return out


def make_hit(corpus: Corpus, inst: Instrument, art: Article, score: float, matched_zh: str | None = None) -> Hit:
    """A Hit for one article of the corpus (the one place its fields are read from the corpus)."""
    return Hit(
        regulation=inst.title_zh, regulation_en=inst.title_en, short_en=inst.short_en, instrument_id=inst.id,
        article=art.number, heading_zh=art.heading_zh, score=score, text_zh=art.zh, text_en=art.en,
        matched_zh=art.zh if matched_zh is None else matched_zh, chapter=art.chapter, status=inst.status.value,
        effective=inst.effective.isoformat() if inst.effective else None, source_url=inst.source_url,
        verified=art.number not in inst.verification.unverified_articles, heading_en=art.heading_en,
        coverage=inst.coverage.value, missing=inst.missing_summary(), displaced_by=displacements(corpus, art),
    )


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
    def __init__(self, settings: Settings, corpus: Corpus, embedder: Embedder, store: VectorStore):
        self.settings = settings
        self.corpus = corpus
        self.embedder = embedder
        self.store = store

    def scope(
        self,
        as_of: dt.date | None,
        instruments: list[str] | None,
        status: list[str] | None,
        include_drafts: bool,
    ) -> Scope:
        """The store's filter for these options; a clear error for an unknown instrument or status."""
        if instruments:
            unknown = [i for i in instruments if i not in self.corpus.instruments]
            if unknown:
                known = ", ".join(sorted(self.corpus.instruments))
                raise UnknownInstrument(f"unknown instrument id(s): {', '.join(unknown)}; known ids: {known}")
        if status:
            bad = [s for s in status if s not in STATUSES]
            if bad:
                raise BadQuestion(f"unknown status {', '.join(bad)}; use one of {', '.join(sorted(STATUSES))}")
        return Scope(day=date_int(as_of, 0) if as_of is not None else None, instruments=tuple(instruments or ()),
                     statuses=tuple(status or ()), include_drafts=include_drafts)

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
        day = None if all_versions else (as_of or dt.date.today())
        scope = self.scope(day, instruments, status, include_drafts)
        dense_zh = dense_en = sparse = None
        if mode in ("hybrid", "dense"):
            vector = embed_queries(self.embedder, [text])[0].tolist()
            lang = question_language(text)
            # "rrf-lang": only the vector of the question's language; "rrf": both languages' vectors
            dense_zh = vector if self.settings.fusion == "rrf" or lang == "zh" or mode == "dense" else None
            dense_en = vector if self.settings.fusion == "rrf" or lang == "en" or mode == "dense" else None
        glossary = load_glossary(Path(self.settings.corpus_dir) / "glossary.yaml")
        if mode in ("hybrid", "sparse"):
            sparse = query_vector(text, " ".join(expansion(text, glossary)))
        depth = max(self.settings.prefetch, k * 3)
        points = self.store.search(dense_zh, dense_en, sparse, replace(scope, lookups=False), limit=depth, prefetch=depth,
                                   sparse_weight=self.settings.sparse_weight)
        hits = self._collapse(points, depth)
        if mode in ("hybrid", "dense") and self.settings.lookups and self.settings.lookup_weight > 0:
            # the questions each article answers and our notes on it: a ranking of their own, fused by article
            many = depth * LOOKUPS_PER_ARTICLE
            looked = self.store.search(vector, vector, None, replace(scope, lookups=True), limit=many, prefetch=many)
            hits = fuse_rankings([hits, self._collapse(looked, depth)], [1.0, self.settings.lookup_weight])
        hits = rank_by_role(self.corpus, hits, text, named_instruments(text, glossary))[:k]
        return place_controlling(self.corpus, hits, day or dt.date.today())

    def _collapse(self, points: list[Match], k: int) -> list[Hit]:
        """One hit per article, ranked by its best part; whole article texts from the corpus."""
        hits: dict[tuple[str, int], Hit] = {}
        for p in points:
            pl = p.payload
            key = (pl["instrument_id"], int(pl["article"]))
            if key in hits:
                continue
            if pl.get("kind") == COMPANY_DOCUMENT:
                hits[key] = _document_hit(pl, p.score)
                if len(hits) == k:
                    break
                continue
            inst = self.corpus.instruments.get(key[0])
            art = inst.article(key[1]) if inst else None
            if art is None:  # store is older than the corpus; skip what no longer exists
                continue
            hits[key] = make_hit(self.corpus, inst, art, round(float(p.score), 6), pl.get("text_zh", art.zh))
            if len(hits) == k:
                break
        return list(hits.values())


# Articles whose role a question rarely asks about rank lower unless the question asks for that role:
# a penalty article repeats the duty's words but is not the answer to "must we ...?".
ROLE_WEIGHT = {"penalty": 0.5, "definition": 0.6, "final": 0.4, "purpose": 0.5, "authority": 0.7}
ASKED_BOOST = 1.5  # an article of the role the question asks for (a penalty question: the penalty articles)
NAMED_BOOST = 1.3  # an article of an instrument the question names
_ASKS_FOR = {
    "penalty": re.compile(r"(?i)fine|penalt|punish|sanction|liab|consequence|violat|breach of|罚|处罚|法律责任|后果|吊销|没收|违反|追究"),
    "definition": re.compile(r"(?i)what (is|are|counts|does .* mean)|defin|meaning|count as|considered|是指|定义|什么是|算不算|属于.*吗|含义|指的是"),
    "final": re.compile(r"(?i)when|effective|take effect|in force|start date|apply from|生效|施行|什么时候|何时|起实施"),
    "purpose": re.compile(r"(?i)purpose|why|legal basis of the|目的|为什么|立法依据"),
    "authority": re.compile(r"(?i)regulator|authorit|who (supervises|enforces|is responsible)|which (agency|department)|监管|主管部门|谁负责|哪个部门|职责"),
}


def rank_by_role(corpus: Corpus, hits: list[Hit], question: str, named: set[str] = frozenset()) -> list[Hit]:
    """Hits re-ranked so that penalty, definition, entry-into-force, purpose and authority articles (by our
    note on each article, corpus/annotations) come after the duties, unless the question asks for them; and
    the articles of an instrument the question names ("under the PIPL") come first among equals."""
    asked = {role for role, pattern in _ASKS_FOR.items() if pattern.search(question)}

    def weight(hit: Hit) -> float:
        role = corpus.annotations.role(hit.instrument_id, hit.article) if hit.is_law else None
        factor = ASKED_BOOST if role in asked else ROLE_WEIGHT.get(role or "", 1.0)
        return factor * (NAMED_BOOST if hit.instrument_id in named else 1.0)

    scored = [(hit.score * weight(hit), n, hit) for n, hit in enumerate(hits)]
    return [replace(hit, score=round(score, 6)) for score, _, hit in sorted(scored, key=lambda t: (-t[0], t[1]))]


def _document_hit(payload: dict, score: float) -> Hit:
    """A part of a company document, as stored (it is not in the corpus)."""
    text = payload.get("text_zh", "")
    title = payload.get("title_zh", "")
    return Hit(
        regulation=title, regulation_en=payload.get("title_en", title), short_en=payload.get("title_en", title),
        instrument_id=payload["instrument_id"], article=int(payload["article"]), heading_zh=payload.get("heading_zh", ""),
        score=round(float(score), 6), text_zh=text, text_en=payload.get("text_en", ""), matched_zh=text, chapter=None,
        status="company", effective=None, source_url=None, verified=False, kind=COMPANY_DOCUMENT,
        source_path=payload.get("source_path"),
    )


LOOKUPS_PER_ARTICLE = 5  # an article has up to three question points and a note: search deep enough for `depth` articles


def fuse_rankings(rankings: list[list[Hit]], weights: list[float], rrf_k: int = RRF_K - 1) -> list[Hit]:
    """Rankings of articles fused by weighted reciprocal rank, with the store's own constant (so that these scores
    compare with a single search's); each article keeps the hit of the first ranking that has it (the one that
    says which part of the article matched)."""
    scores: dict[tuple[str, int], float] = {}
    first: dict[tuple[str, int], Hit] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, hit in enumerate(ranking):
            key = (hit.instrument_id, hit.article)
            scores[key] = scores.get(key, 0.0) + weight / (rrf_k + rank + 1)
            first.setdefault(key, hit)
    return [replace(first[key], score=round(scores[key], 6)) for key in sorted(scores, key=lambda key: -scores[key])]


def merge_rankings(rankings: list[list[Hit]], k: int, rrf_k: int = 60) -> list[Hit]:
    """Fuse several ranked hit lists (one per query) by reciprocal rank, equally weighted; one hit per article."""
    return fuse_rankings(rankings, [1.0] * len(rankings), rrf_k)[:k]


def article_hit(corpus: Corpus, instrument_id: str, article: int, score: float = 0.0) -> Hit | None:
    """A corpus article as a Hit (for articles reached by reference or by a rule, not by search)."""
    inst = corpus.instruments.get(instrument_id)
    target = inst.article(article) if inst else None
    if inst is None or target is None:
        return None
    return make_hit(corpus, inst, target, score)


def place_controlling(corpus: Corpus, hits: list[Hit], as_of: dt.date) -> list[Hit]:
    """A displaced article never comes without the article that controls it: each controlling article
    in force on `as_of` is placed right before the first article it displaces (moved up, or added if
    it was not retrieved), ranked at least as high. The list may grow beyond k by those additions."""
    present = {(h.instrument_id, h.article): h for h in hits}
    out: list[Hit] = []
    placed: set[tuple[str, int]] = set()
    for hit in hits:
        key = (hit.instrument_id, hit.article)
        if key in placed:  # already moved up before an article it controls
            continue
        for moved in hit.displaced_by:
            target = (moved["instrument"], moved["article"])
            inst = corpus.instruments.get(target[0])
            if target in placed or inst is None or not corpus.applies(inst, as_of):
                continue
            controller = present.get(target) or article_hit(corpus, *target, score=hit.score)
            if controller is None:
                continue
            out.append(replace(controller, score=max(controller.score, hit.score)))
            placed.add(target)
        out.append(hit)
        placed.add(key)
    return out


def cross_references(corpus: Corpus, hits: list[Hit], limit: int = 4) -> list[Hit]:
    """Articles that the hits refer to (article-level references only), as extra hits with score 0."""
    have = {(h.instrument_id, h.article) for h in hits}
    extra: list[Hit] = []
    for hit in hits:
        if not hit.is_law:
            continue
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
