"""Offline answers: no model, only the retrieved articles' own sentences, quoted verbatim."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from advisor.compose.answer import DISCLAIMER_EN, DISCLAIMER_ZH, Answer, Citation
from advisor.providers.embedders import Embedder, embed_queries
from advisor.retrieve.hybrid import Hit
from ingest.sparse import tokens

_ZH_SENTENCE = re.compile(r"[^。；！？\n]+[。；！？]?")
_EN_SENTENCE = re.compile(r"[^\n]+?(?:[.;!?](?=\s|$)|$)")
MAX_ARTICLES = 5


def zh_sentences(text: str) -> list[str]:
    """Sentences and clauses of a Chinese text, each a verbatim substring of it."""
    return [s.strip() for s in _ZH_SENTENCE.findall(text) if len(s.strip()) > 1]


_ABBREVIATION = re.compile(r"(?:\betc|\be\.g|\bi\.e|\bNo|\bArt|\bPara)\.$")


def en_sentences(text: str) -> list[str]:
    """Sentences of an English text (not split after etc., e.g., No. ...), each a verbatim substring."""
    out: list[str] = []
    for line in text.split("\n"):
        start = 0
        for m in _EN_SENTENCE.finditer(line):
            piece = line[start:m.end()]
            if _ABBREVIATION.search(piece.rstrip()) and m.end() < len(line):
                continue
            if piece.strip():
                out.append(piece.strip())
            start = m.end()
    return [s for s in out if len(s) > 1]


def _best(question: str, q_vec: np.ndarray, sentences: list[str], embedder: Embedder) -> int:
    """Index of the sentence closest to the question (meaning, plus shared terms)."""
    vecs = embedder.embed(sentences)
    dense = vecs @ q_vec
    q_tokens = set(tokens(question))
    overlap = np.array([len(q_tokens & set(tokens(s))) / (len(q_tokens) or 1) for s in sentences])
    return int(np.argmax(dense + 0.5 * overlap))


def select_quotes(question: str, hits: list[Hit], embedder: Embedder, limit: int | None = MAX_ARTICLES) -> list[Citation]:
    """For each of the top articles (all of them if limit is None), the sentence that best answers."""
    if not hits:
        return []
    q_vec = embed_queries(embedder, [question])[0]
    if limit is None:
        chosen = hits
    else:
        top = hits[0].score
        chosen = [h for h in hits[:limit] if h.score >= 0.3 * top] or hits[:1]
    citations = []
    for hit in chosen:
        zh = zh_sentences(hit.text_zh) or [hit.text_zh]
        quote = zh[_best(question, q_vec, zh, embedder)]
        citations.append(Citation.from_hit(hit, quote, _english_counterpart(question, q_vec, hit, quote, embedder)))
    return citations


def english_line(hit: Hit, quote: str) -> str | None:
    """The translation's line that holds the quoted Chinese words (the translation keeps the Chinese
    line layout); None when the layouts differ or no line holds them."""
    zh_lines, en_lines = hit.text_zh.split("\n"), hit.text_en.split("\n")
    if len(zh_lines) == len(en_lines):
        for zh_line, en_line in zip(zh_lines, en_lines):
            if quote in zh_line and en_line.strip():
                return en_line.strip()
    return None


def _english_counterpart(question: str, q_vec: np.ndarray, hit: Hit, quote: str, embedder: Embedder) -> str:
    """The translation's line that holds the quoted Chinese sentence; if the layouts differ, the English
    sentence closest to the question."""
    line = english_line(hit, quote)
    if line:
        return line
    en = en_sentences(hit.text_en) or [hit.text_en]
    return en[_best(question, q_vec, en, embedder)]


def render(citations: list[Citation], hits: list[Hit], as_of: dt.date, lang: str) -> str:
    by_key = {(h.instrument_id, h.article): h for h in hits}
    if lang == "zh":
        lines = [f"以下为截至 {as_of.isoformat()} 有效法规中与问题最相关的条文原文摘录（离线模式，未经模型分析）：", ""]
    else:
        lines = [f"Extracted text (offline mode, no model): the most relevant articles in force on {as_of.isoformat()}, quoted verbatim.", ""]
    if not citations:
        lines.append("没有检索到相关条文。" if lang == "zh" else "No relevant article was found in the corpus.")
    for n, c in enumerate(citations, start=1):
        hit = by_key[(c.instrument_id, c.article)]
        lines.append(f"{n}. {hit.label} ({hit.short_en}, {hit.article_en})")
        lines.append(f"   「{c.quote}」")
        if lang != "zh":
            lines.append(f"   \"{c.quote_en}\" (unofficial translation)")
        if c.displaced_by:
            lines.append(f"   ({c.displaced_note(lang)})" if lang != "zh" else f"   （{c.displaced_note(lang)}）")
    lines += ["", DISCLAIMER_ZH if lang == "zh" else DISCLAIMER_EN]
    return "\n".join(lines)


def offline_answer(question: str, hits: list[Hit], embedder: Embedder, as_of: dt.date, lang: str = "en", provider: str = "offline") -> Answer:
    """Verbatim extracts of the retrieved articles (cross-references, scored 0, only if nothing else)."""
    hits = [h for h in hits if h.score > 0] or hits
    citations = select_quotes(question, hits, embedder)
    answer = Answer(render(citations, hits, as_of, lang), citations, as_of, provider, lang, hits=hits)
    answer.warnings += source_warnings(citations, hits)
    return answer


def source_warnings(citations: list[Citation], hits: list[Hit]) -> list[str]:
    """Warnings an answer owes its reader about the articles it cites: unverified text, displaced
    provisions, and instruments that are only partly in the corpus."""
    return unverified_warnings(citations, hits) + displaced_warnings(citations) + incomplete_warnings(citations)


def displaced_warnings(citations: list[Citation]) -> list[str]:
    """A warning for each cited article that a later article displaces in part."""
    return [
        f"{c.label} ({c.regulation_en or c.instrument_id}, {c.article_en}) is {c.displaced_note('en')}; "
        "where they differ, the later article applies"
        for c in citations if c.displaced_by
    ]


def incomplete_warnings(citations: list[Citation]) -> list[str]:
    """One warning per cited instrument that the corpus holds only in part, saying what is missing."""
    seen: dict[str, str] = {}
    for c in citations:
        if c.coverage != "complete" and c.missing and c.instrument_id not in seen:
            where = f" ({c.source_url})" if c.source_url else ""
            seen[c.instrument_id] = (f"{c.regulation}: {c.missing}; the instrument is incomplete in the corpus, check the "
                                     f"official text{where} for the rest")
    return list(seen.values())


def unverified_warnings(citations: list[Citation], hits: list[Hit]) -> list[str]:
    """One warning per instrument naming its cited articles whose text is not yet verified against a second copy."""
    unverified = {(h.instrument_id, h.article) for h in hits if not h.verified}
    by_instrument: dict[str, list[Citation]] = {}
    for c in citations:
        if (c.instrument_id, c.article) in unverified:
            by_instrument.setdefault(c.instrument_id, []).append(c)
    return [
        f"《{cs[0].regulation}》 {', '.join(c.article_en for c in sorted(cs, key=lambda c: c.article))}: text assembled "
        "from public copies, not yet verified against a second copy"
        for cs in by_instrument.values()
    ]
