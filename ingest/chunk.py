"""Chunk the corpus by structure: one chunk per article; a long article is split by paragraph/item."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from advisor.corpus import Article, Corpus, Instrument


def date_int(value: dt.date | None, default: int) -> int:
    """Dates as YYYYMMDD integers, so the store can filter them with plain ranges."""
    return int(value.strftime("%Y%m%d")) if value else default


@dataclass(frozen=True)
class Chunk:
    instrument_id: str
    article: int
    part: int  # 1-based position among the article's chunks
    parts: int
    text_zh: str
    text_en: str
    payload: dict = field(hash=False, compare=False)
    gist_zh: str = ""                     # our note on the article (corpus/annotations), never quoted as law
    gist_en: str = ""
    keywords_zh: tuple[str, ...] = ()
    keywords_en: tuple[str, ...] = ()
    lookup: str = ""  # a lookup point ("note", "q1" ...): its own vectors lead to the article; it holds no text
    questions: tuple[str, ...] = ()  # questions the article answers (corpus/annotations): words for its BM25 vector

    @property
    def key(self) -> str:
        return f"{self.instrument_id}#{self.article}.{self.lookup or self.part}"

    def dense_texts(self) -> tuple[str, str]:
        """What the embedder sees, per language: title and article heading, our note on the article (its gist
        and the words users type: corpus/annotations), then the text. A lookup point: its own words only."""
        if self.lookup:
            return self.text_zh, self.text_en
        p = self.payload
        note_zh = f"{self.gist_zh} {' '.join(self.keywords_zh)}".strip()
        note_en = f"{self.gist_en} {', '.join(self.keywords_en)}".strip()
        zh = f"{p['title_zh']} {p['heading_zh']}\n" + (f"{note_zh}\n" if note_zh else "") + self.text_zh
        en = f"{p['short_en']}, {p.get('heading_en') or f'Article {self.article}'}\n" + (f"{note_en}\n" if note_en else "") + self.text_en
        return zh, en

    def sparse_text(self) -> str:
        """What the BM25 vector is computed from: titles, heading, both texts, the note's words and the questions the
        article answers (nothing for a lookup point: its words are in its article's own vector)."""
        if self.lookup:
            return ""
        p = self.payload
        note = f"{self.gist_zh} {' '.join(self.keywords_zh)} {self.gist_en} {' '.join(self.keywords_en)} {' '.join(self.questions)}".strip()
        return f"{p['title_zh']} {p['heading_zh']} {self.text_zh}\n{p['short_en']} article {self.article} {self.text_en}" + (
            f"\n{note}" if note else "")

    def content_hash(self) -> str:
        """Hash of what the vectors depend on (changes only when the text or the note does)."""
        zh, en = self.dense_texts()
        return hashlib.sha256(f"{zh}\x00{en}\x00{self.sparse_text()}".encode("utf-8")).hexdigest()

    def payload_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def split_lines(zh: str, en: str, max_chars: int) -> list[tuple[str, str]]:
    """Group consecutive paragraphs/items into parts of at most `max_chars` Chinese characters.

    The English translation keeps the Chinese line layout, so it is split at the same lines; if the
    line counts differ, the English text stays whole in every part rather than being misaligned.
    """
    if len(zh) <= max_chars:
        return [(zh, en)]
    zh_lines = [line for line in zh.split("\n") if line.strip()]
    en_lines = [line for line in en.split("\n") if line.strip()]
    aligned = len(zh_lines) == len(en_lines)
    groups: list[list[int]] = [[]]
    size = 0
    for i, line in enumerate(zh_lines):
        if groups[-1] and size + len(line) > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += len(line)
    if len(groups) == 1:
        return [(zh, en)]
    parts = []
    for group in groups:
        part_zh = "\n".join(zh_lines[i] for i in group)
        part_en = "\n".join(en_lines[i] for i in group) if aligned else en
        parts.append((part_zh, part_en))
    return parts


def _payload(corpus: Corpus, inst: Instrument, art: Article, part: int, parts: int) -> dict:
    return {
        "instrument_id": inst.id,
        "title_zh": inst.title_zh,
        "title_en": inst.title_en,
        "short_en": inst.short_en,
        "kind": inst.kind.value,
        "status": inst.status.value,
        "article": art.number,
        "heading_zh": art.heading_zh,
        "chapter": art.chapter,
        "chapter_en": art.chapter_en,
        "section": art.section,
        "part": part,
        "parts": parts,
        "effective": inst.effective.isoformat() if inst.effective else None,
        "valid_from": date_int(inst.effective, 99991231),
        "valid_to": date_int(corpus.valid_to(inst), 99991231),
        "is_draft": int(inst.status.value == "draft"),  # 0/1: Qdrant Edge 0.9.0 cannot match booleans
        "source_url": inst.source_url,
    } | ({"heading_en": art.heading_en} if art.heading_en else {})


def chunk_corpus(corpus: Corpus, max_chars: int, notes: bool = True, lookups: tuple[str, ...] = ()) -> list[Chunk]:
    """Every chunk of every instrument version (drafts included; retrieval filters them). With `notes`, each
    chunk carries our note on its article (role in the payload; gist and keywords in its vectors), and each
    annotated article gets the `lookups` points named (see lookup_chunks)."""
    chunks = []
    for inst in corpus:
        for art in inst.articles:
            parts = split_lines(art.zh, art.en, max_chars)
            note = corpus.annotations.get(inst.id, art.number) if notes else None
            for index, (zh, en) in enumerate(parts, start=1):
                payload = _payload(corpus, inst, art, index, len(parts))
                payload["text_zh"] = zh
                payload["text_en"] = en
                if note is None:
                    chunks.append(Chunk(inst.id, art.number, index, len(parts), zh, en, payload))
                    continue
                payload["role"] = note.role
                qs = tuple(note.questions_zh + note.questions_en)
                chunks.append(Chunk(inst.id, art.number, index, len(parts), zh, en, payload, note.gist_zh, note.gist_en,
                                    tuple(note.keywords_zh), tuple(note.keywords_en), questions=qs))
            if note is not None and lookups:
                chunks += lookup_chunks(corpus, inst, art, note, lookups)
    return chunks


LOOKUPS = ("questions", "notes")  # the kinds of lookup point an article may get


def lookup_chunks(corpus: Corpus, inst: Instrument, art: Article, note, kinds: tuple[str, ...]) -> list[Chunk]:
    """Lookup points for one article: each is embedded from a short text that leads to the article (a question it
    answers, in Chinese and English; our gist and keywords), so a question phrased as users phrase it finds the
    article even when the article's own words differ. Retrieval keeps one hit per article, whichever point matched."""
    texts: list[tuple[str, str, str]] = []
    if "questions" in kinds:
        zh, en = list(note.questions_zh), list(note.questions_en)
        for n in range(max(len(zh), len(en))):  # the n-th question in each language share a point
            texts.append((f"q{n + 1}", zh[n] if n < len(zh) else zh[-1] if zh else en[n],
                          en[n] if n < len(en) else en[-1] if en else zh[n]))
    if "notes" in kinds:
        texts.append(("note", f"{note.gist_zh} {' '.join(note.keywords_zh)}".strip(),
                      f"{note.gist_en} {', '.join(note.keywords_en)}".strip()))
    out = []
    for name, zh, en in texts:
        payload = _payload(corpus, inst, art, 1, 1) | {"lookup": name, "is_lookup": 1, "role": note.role}
        out.append(Chunk(inst.id, art.number, 1, 1, zh, en, payload, lookup=name))
    return out

