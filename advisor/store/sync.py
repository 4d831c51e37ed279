"""Bring the store in line with the corpus: embed only new or changed chunks, delete removed ones."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from advisor.corpus import Corpus
from advisor.providers.embedders import Embedder
from advisor.settings import Settings
from advisor.store.qdrant import Point, Store
from ingest.chunk import Chunk, chunk_corpus
from ingest.sparse import VERSION as SPARSE_VERSION
from ingest.sparse import document_vector

NAMESPACE = uuid.UUID("6f1c8f0e-3b7a-4d0c-9a55-1d2f64c0a7e1")


@dataclass
class SyncReport:
    instruments: int
    articles: int
    chunks: int
    embedded: int
    payload_updated: int
    deleted: int
    seconds: float
    collection: str
    location: str

    def summary(self) -> str:
        return (
            f"{self.instruments} instruments, {self.articles} articles, {self.chunks} chunks "
            f"({self.embedded} embedded, {self.payload_updated} metadata updates, {self.deleted} deleted) "
            f"in {self.seconds:.1f} s -> {self.collection} at {self.location}"
        )


def point_id(embedder: Embedder, chunk: Chunk) -> str:
    """Deterministic id: same embedder, tokeniser, article part and text = same point."""
    return str(uuid.uuid5(NAMESPACE, f"{embedder.name}|{SPARSE_VERSION}|{chunk.key}|{chunk.content_hash()}"))


def sync(corpus: Corpus, settings: Settings, embedder: Embedder, store: Store, console: Console | None = None) -> SyncReport:
    """Make the collection hold exactly the corpus's chunks; returns what was done."""
    started = time.perf_counter()
    console = console or Console(stderr=True)
    chunks = chunk_corpus(corpus, min(settings.max_chunk_chars, embedder.max_chars))
    wanted = {point_id(embedder, c): c for c in chunks}
    store.ensure(embedder.dim)
    existing = store.fingerprints()

    to_embed = [(pid, c) for pid, c in wanted.items() if pid not in existing]
    to_update = [(pid, c) for pid, c in wanted.items() if pid in existing and existing[pid] != c.payload_hash()]
    to_delete = [pid for pid in existing if pid not in wanted]

    progress = Progress(
        TextColumn("[bold]embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal or not to_embed, transient=False,
    )
    with progress:
        task = progress.add_task("embed", total=len(to_embed))
        batch = max(1, settings.embed_batch)
        for start in range(0, len(to_embed), batch):
            part = to_embed[start:start + batch]
            texts = [c.dense_texts() for _, c in part]
            zh = embedder.embed([t[0] for t in texts])
            en = embedder.embed([t[1] for t in texts])
            points = []
            for (pid, c), vz, ve in zip(part, zh, en):
                payload = dict(c.payload, payload_hash=c.payload_hash(), embedder=embedder.name)
                points.append(Point(pid, vz.tolist(), ve.tolist(), document_vector(_sparse_text(c)), payload))
            store.upsert(points)
            progress.advance(task, len(part))
    for pid, c in to_update:
        store.set_payload(pid, dict(c.payload, payload_hash=c.payload_hash(), embedder=embedder.name))
    store.delete(to_delete)

    return SyncReport(
        instruments=len(corpus),
        articles=sum(len(i.articles) for i in corpus),
        chunks=len(chunks),
        embedded=len(to_embed),
        payload_updated=len(to_update),
        deleted=len(to_delete),
        seconds=time.perf_counter() - started,
        collection=store.collection,
        location=store.location,
    )


def _sparse_text(chunk: Chunk) -> str:
    p = chunk.payload
    return f"{p['title_zh']} {p['heading_zh']} {chunk.text_zh}\n{p['short_en']} article {chunk.article} {chunk.text_en}"
