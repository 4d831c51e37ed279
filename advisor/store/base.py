"""The store interface: what every vector store backend offers, and the types it speaks.

Two backends implement it (advisor/store/__init__.py chooses by settings):

- ``EdgeStore`` (advisor/store/edge.py): Qdrant Edge, Qdrant's in-process engine, the embedded default.
- ``ClientStore`` (advisor/store/client.py): qdrant-client, for a Qdrant server or cluster
  (``ADVISOR_QDRANT_URL``) and for qdrant-client's local mode (``store = "local"``, the old embedded
  store, kept for tests and benchmarks as a stand-in for the server protocol).

One collection design for both: per point two named dense vectors (``dense_zh``, ``dense_en``), one
sparse vector with Qdrant's IDF modifier (``sparse``), the chunk's payload, and payload indexes on
the fields retrieval filters by. A search runs the given branches as prefetches fused by reciprocal
rank (RRF, k = 2), each filtered by a ``Scope``. Besides the chunks, a collection holds one
vectorless point, the completion marker (``Marker``), written only when an ingest has finished.
"""

from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

DENSE_ZH = "dense_zh"
DENSE_EN = "dense_en"
SPARSE = "sparse"
RRF_K = 2  # Qdrant's default ranking constant: 1 / (k + rank - 1), rank from 1

# Payload fields retrieval filters by (and their index type).
KEYWORD_FIELDS = ("instrument_id", "status", "kind")
INTEGER_FIELDS = ("valid_from", "valid_to", "is_draft", "is_lookup")  # 0/1 flags: see Scope
# Payload fields a search returns: an article's hit is completed from the corpus; a company
# document's (which is not in the corpus) from its title, heading and path.
HIT_FIELDS = ["instrument_id", "article", "kind", "text_zh", "title_zh", "title_en", "heading_zh", "source_path"]

MARKER_ID = str(uuid.uuid5(uuid.UUID("6f1c8f0e-3b7a-4d0c-9a55-1d2f64c0a7e1"), "completion-marker"))
MARKER_KIND = "advisor-completion-marker"


@dataclass
class Point:
    """One chunk as stored: its id, three vectors and payload."""

    id: str
    dense_zh: list[float]
    dense_en: list[float]
    sparse: tuple[list[int], list[float]]
    payload: dict


@dataclass(frozen=True)
class Match:
    """One point found by a search."""

    id: str
    score: float
    payload: dict


@dataclass(frozen=True)
class Scope:
    """Which points a search may return.

    ``day`` (YYYYMMDD) keeps the versions in force that day (valid_from <= day < valid_to, not a
    draft); ``include_drafts`` adds drafts (with ``day``: drafts or in force; without: everything).
    Booleans are stored as 0/1 integers: Qdrant Edge 0.9.0's MatchValue never matches a boolean.
    """

    day: int | None = None
    instruments: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    include_drafts: bool = False
    lookups: bool | None = None  # None: every point; False: no lookup points (is_lookup = 1); True: only those


@dataclass(frozen=True)
class Marker:
    """Written as the last step of a finished ingest: what the collection was built from."""

    corpus_hash: str  # hash of every corpus chunk's point id and payload hash (see advisor/store/sync.py)
    chunks: int  # all chunks written: the corpus's and the company documents'
    embedder: str
    written: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    documents: tuple[str, ...] = ()  # company document folders ingested with the corpus
    documents_hash: str = ""  # hash of those folders' files (names and bytes); "" without documents

    def same_build(self, other: "Marker | None") -> bool:
        """Whether `other` records the same build (all but the time it was written)."""
        return other is not None and self.key() == other.key()

    def key(self) -> tuple:
        return self.corpus_hash, self.chunks, self.embedder, tuple(self.documents), self.documents_hash

    def to_payload(self) -> dict[str, Any]:
        return {"kind": MARKER_KIND, **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_payload(cls, payload: dict | None) -> "Marker | None":
        if not payload or payload.get("kind") != MARKER_KIND:
            return None
        try:
            return cls(corpus_hash=str(payload["corpus_hash"]), chunks=int(payload["chunks"]), embedder=str(payload["embedder"]),
                       written=str(payload.get("written", "")), documents=tuple(payload.get("documents") or ()),
                       documents_hash=str(payload.get("documents_hash", "")))
        except (KeyError, TypeError, ValueError):
            return None


class VectorStore(ABC):
    """A handle on one collection. Use as a context manager or call close().

    Reads (``search``, ``count``, ``read_marker``) may run concurrently from several threads; writes
    must not overlap each other or reads (the Advisor holds a readers-writer lock for that).
    """

    backend: str  # "edge", "server" or "local"
    collection: str
    location: str  # folder or URL, for messages

    # ---- lifecycle ----------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "VectorStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- schema -------------------------------------------------------------------------------
    @abstractmethod
    def exists(self) -> bool:
        """Whether the collection exists (it may still be empty or partial: see read_marker)."""

    @abstractmethod
    def ensure(self, dim: int) -> None:
        """Create the collection, or recreate it if its vectors do not fit `dim`."""

    def old_format(self) -> str | None:
        """A description of an index in an older format found where this store lives, else None."""
        return None

    # ---- writes -------------------------------------------------------------------------------
    @abstractmethod
    def fingerprints(self) -> dict[str, str]:
        """Point id -> payload hash, for every chunk in the collection (not the marker)."""

    @abstractmethod
    def upsert(self, points: list[Point]) -> None: ...

    @abstractmethod
    def set_payload(self, point_id: str, payload: dict) -> None:
        """Replace a point's whole payload."""

    @abstractmethod
    def delete(self, ids: list[str]) -> None: ...

    @abstractmethod
    def flush(self) -> None:
        """Make every write durable."""

    # ---- the completion marker ----------------------------------------------------------------
    @abstractmethod
    def read_marker(self) -> Marker | None: ...

    @abstractmethod
    def write_marker(self, marker: Marker) -> None: ...

    def clear_marker(self) -> None:
        self.delete([MARKER_ID])

    # ---- reads --------------------------------------------------------------------------------
    @abstractmethod
    def count(self) -> int:
        """How many chunks the collection holds (the marker not counted)."""

    @abstractmethod
    def search(
        self,
        dense_zh: list[float] | None,
        dense_en: list[float] | None,
        sparse: tuple[list[int], list[float]] | None,
        scope: Scope,
        limit: int,
        prefetch: int,
        sparse_weight: int = 1,
    ) -> list[Match]:
        """Fuse whichever of the three searches are given by reciprocal rank fusion (one search alone:
        its own ranking). `sparse_weight` > 1 counts the sparse ranking that many times."""
