"""Bring the store in line with the corpus: embed only new or changed chunks, delete removed ones;
record a completion marker when done, and tell whether an index is complete before it is served."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from advisor.corpus import Corpus
from advisor.errors import StoreError
from advisor.providers.embedders import Embedder
from advisor.settings import Settings
from advisor.store.base import Marker, Point, VectorStore
from ingest.chunk import Chunk, chunk_corpus
from ingest.documents import KIND
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
    documents: int = 0  # company document chunks among `chunks`
    lookups: int = 0  # lookup points among `chunks` (questions and notes that lead to an article)

    def summary(self) -> str:
        docs = f", {self.documents} from your documents" if self.documents else ""
        looks = f", {self.lookups} of them lookup points" if self.lookups else ""
        return (
            f"{self.instruments} instruments, {self.articles} articles, {self.chunks} chunks{docs}{looks} "
            f"({self.embedded} embedded, {self.payload_updated} metadata updates, {self.deleted} deleted) "
            f"in {self.seconds:.1f} s -> {self.collection} at {self.location}"
        )


State = Literal["complete", "missing", "old-format", "partial", "stale", "ingesting"]


@dataclass(frozen=True)
class IndexState:
    """Whether the index may be served: `state` is "complete" or says what is wrong in `message`."""

    state: State
    message: str
    chunks: int = 0  # chunks in the store
    expected: int = 0  # chunks the corpus makes
    ingested: str | None = None  # when the completion marker was written

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    def to_dict(self) -> dict:
        return {"state": self.state, "message": self.message, "chunks": self.chunks, "expected": self.expected, "ingested": self.ingested}


def point_id(embedder: Embedder, chunk: Chunk) -> str:
    """Deterministic id: same embedder, tokeniser, article part and text = same point."""
    return str(uuid.uuid5(NAMESPACE, f"{embedder.name}|{SPARSE_VERSION}|{chunk.key}|{chunk.content_hash()}"))


def wanted_points(corpus: Corpus, settings: Settings, embedder: Embedder, extra: list[Chunk] | tuple = ()) -> dict[str, Chunk]:
    """Point id -> chunk, for every chunk the index must hold."""
    chunks = chunk_corpus(corpus, min(settings.max_chunk_chars, embedder.max_chars), lookups=tuple(settings.lookups))
    chunks += list(extra)
    return {point_id(embedder, c): c for c in chunks}


def expected_marker(wanted: dict[str, Chunk], embedder: Embedder, documents: tuple[str, ...] = (), documents_hash: str = "",
                    document_chunks: int = 0) -> Marker:
    """The marker a finished ingest writes. Its corpus hash changes with any corpus chunk's text or
    payload; its documents hash with any company document file (see ingest/documents.py)."""
    digest = hashlib.sha256()
    corpus_chunks = 0
    for pid in sorted(wanted):
        if wanted[pid].payload.get("kind") == KIND:
            continue
        corpus_chunks += 1
        digest.update(f"{pid} {wanted[pid].payload_hash()}\n".encode())
    return Marker(corpus_hash=digest.hexdigest(), chunks=corpus_chunks + document_chunks, embedder=embedder.name,
                  documents=tuple(documents), documents_hash=documents_hash)


def index_state(store: VectorStore, expect: Callable[[Marker | None], Marker]) -> IndexState:
    """Complete only when the marker of a finished ingest of this very corpus (and these company
    documents) is there, and the store still holds as many chunks as that ingest wrote. `expect`
    makes the marker of today's corpus, given the stored one (whose document folders it rereads)."""
    fix = "run `advisor ingest`"
    where = f"the store at {store.location}"
    if not store.exists():
        old = store.old_format()
        if old:
            return IndexState("old-format", f"{where} holds {old}, from before Qdrant Edge: {fix} to rebuild it")
        return IndexState("missing", f"no index '{store.collection}' in {where}: {fix} first")
    count = store.count()
    marker = store.read_marker()
    expected = expect(marker)
    if marker is None:
        return IndexState("partial", f"the index in {where} is incomplete ({count} chunks, and no ingest finished "
                                     f"writing it): {fix}", count, expected.chunks)
    if marker.corpus_hash != expected.corpus_hash or marker.embedder != expected.embedder:
        return IndexState("stale", f"the index in {where} was built on {marker.written} from a different corpus (it has changed "
                                   f"since): {fix}", count, expected.chunks, marker.written)
    if (set(marker.documents), marker.documents_hash) != (set(expected.documents), expected.documents_hash):
        return IndexState("stale", f"the index in {where} was built on {marker.written} from other company documents (files "
                                   f"were added, changed or removed since): {fix}", count, marker.chunks, marker.written)
    if count != marker.chunks:
        return IndexState("partial", f"the index in {where} holds {count} chunks but its ingest wrote {marker.chunks} (points were "
                                     f"deleted): {fix}", count, marker.chunks, marker.written)
    return IndexState("complete", f"{count} chunks, ingested {marker.written}", count, marker.chunks, marker.written)


def sync(
    corpus: Corpus,
    settings: Settings,
    embedder: Embedder,
    store: VectorStore,
    console: Console | None = None,
    extra: list[Chunk] | tuple = (),
    documents: tuple[str, ...] = (),
    documents_hash: str = "",
) -> SyncReport:
    """Make the collection hold exactly the corpus's chunks (and `extra` ones); returns what was done.

    The completion marker is removed before the first change and written back after the last one,
    so an ingest killed part-way leaves an index that is never served as complete.
    """
    started = time.perf_counter()
    console = console or Console(stderr=True)
    wanted = wanted_points(corpus, settings, embedder, extra)
    marker = expected_marker(wanted, embedder, documents, documents_hash, len(wanted) - _corpus_count(wanted))
    store.ensure(embedder.dim)
    existing = store.fingerprints()

    to_embed = [(pid, c) for pid, c in wanted.items() if pid not in existing]
    to_update = [(pid, c) for pid, c in wanted.items() if pid in existing and existing[pid] != c.payload_hash()]
    to_delete = [pid for pid in existing if pid not in wanted]
    if to_embed or to_update or to_delete or not marker.same_build(store.read_marker()):
        _apply(store, embedder, settings, console, marker, to_embed, to_update, to_delete, len(wanted))

    return SyncReport(
        instruments=len(corpus),
        articles=sum(len(i.articles) for i in corpus),
        chunks=len(wanted),
        embedded=len(to_embed),
        payload_updated=len(to_update),
        deleted=len(to_delete),
        seconds=time.perf_counter() - started,
        collection=store.collection,
        location=store.location,
        documents=len(extra),
        lookups=sum(1 for c in wanted.values() if c.lookup),
    )


def _corpus_count(wanted: dict[str, Chunk]) -> int:
    return sum(1 for c in wanted.values() if c.payload.get("kind") != KIND)


def _apply(store, embedder, settings, console, marker, to_embed, to_update, to_delete, total) -> None:
    store.clear_marker()
    store.flush()
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
                points.append(Point(pid, vz.tolist(), ve.tolist(), document_vector(c.sparse_text()), payload))
            store.upsert(points)
            progress.advance(task, len(part))
            if not console.is_terminal:  # a log, not a bar: one line per batch
                console.print(f"embedded {start + len(part)}/{len(to_embed)}", highlight=False)
    for pid, c in to_update:
        store.set_payload(pid, dict(c.payload, payload_hash=c.payload_hash(), embedder=embedder.name))
    store.delete(to_delete)
    store.flush()
    count = store.count()
    if count != total:
        raise StoreError(f"the store at {store.location} holds {count} chunks after the ingest, not {total}: run `advisor ingest` again")
    store.write_marker(marker)
