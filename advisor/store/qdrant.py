"""The vector store: embedded Qdrant on disk by default, a Qdrant server or cluster by URL.

One code path serves both (qdrant-client's local mode implements the same API). Each embedder gets
its own collection (`<collection>__<embedder>`), so switching embedders never mixes vector spaces.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from advisor.errors import StoreError
from advisor.redact import redact_url, redact_urls
from advisor.settings import Settings

DENSE_ZH = "dense_zh"
DENSE_EN = "dense_en"
SPARSE = "sparse"
OWNER_FILE = "advisor-owner.json"


@dataclass
class Point:
    id: str
    dense_zh: list[float]
    dense_en: list[float]
    sparse: tuple[list[int], list[float]]
    payload: dict


def _describe_owner(path: Path) -> str:
    try:
        owner = json.loads((path / OWNER_FILE).read_text())
        return f"process {owner['pid']} ({owner['command']})"
    except (OSError, ValueError, KeyError):
        return "another process"


class Store:
    """A handle on one collection. Use as a context manager or call close()."""

    def __init__(self, settings: Settings, embedder_name: str):
        self.settings = settings
        self.collection = f"{settings.collection}__{embedder_name}"
        self.location = redact_url(settings.qdrant_url) if settings.qdrant_url else str(settings.store_path)
        self.client = self._connect(settings)

    # ---- connection -------------------------------------------------------------------------
    def _connect(self, settings: Settings) -> QdrantClient:
        if settings.qdrant_url:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            return QdrantClient(url=settings.qdrant_url, api_key=key, timeout=int(settings.qdrant_timeout))
        path = settings.store_path
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise StoreError(
                    f"the store at {path} is in use by {_describe_owner(path)}; embedded Qdrant allows one "
                    "process at a time: stop that process (or use the running app/HTTP API instead), "
                    "or set ADVISOR_QDRANT_URL to a Qdrant server"
                ) from None
            raise StoreError(f"cannot open the store at {path}: {exc}; delete it and run `advisor ingest`") from None
        except Exception as exc:  # noqa: BLE001 - a corrupt store raises many kinds of errors
            raise StoreError(
                f"the store at {path} cannot be read ({type(exc).__name__}); it may be corrupt: "
                f"delete that folder and run `advisor ingest`"
            ) from None
        try:
            (path / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:3]))}))
        except OSError:
            pass
        return client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - network and server errors become one message
            if self.settings.qdrant_url:
                raise StoreError(f"the Qdrant server at {self.location} failed to {what}: {type(exc).__name__}: {redact_urls(str(exc))}") from None
            raise StoreError(f"the store at {self.location} failed to {what}: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- schema -----------------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self._call("list collections", self.client.collection_exists, self.collection))

    def ensure(self, dim: int) -> None:
        """Create the collection, or recreate it if its vectors do not fit `dim`."""
        if self.exists():
            info = self._call("read the collection", self.client.get_collection, self.collection)
            vectors = info.config.params.vectors
            if isinstance(vectors, dict) and DENSE_ZH in vectors and vectors[DENSE_ZH].size == dim and SPARSE in (info.config.params.sparse_vectors or {}):
                return
            self._call("drop the stale collection", self.client.delete_collection, self.collection)
        dense = qm.VectorParams(size=dim, distance=qm.Distance.COSINE)
        self._call(
            "create the collection",
            self.client.create_collection,
            self.collection,
            vectors_config={DENSE_ZH: dense, DENSE_EN: dense},
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )

    def require(self) -> None:
        if not self.exists():
            raise StoreError(f"no index '{self.collection}' in the store at {self.location}: run `advisor ingest` first")

    # ---- writes -----------------------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        """Point id -> payload hash, for every point in the collection."""
        out: dict[str, str] = {}
        offset = None
        while True:
            points, offset = self._call(
                "list points", self.client.scroll, self.collection, limit=1000, offset=offset,
                with_payload=["payload_hash"], with_vectors=False,
            )
            for p in points:
                out[str(p.id)] = (p.payload or {}).get("payload_hash", "")
            if offset is None:
                return out

    def upsert(self, points: Iterable[Point]) -> None:
        structs = [
            qm.PointStruct(
                id=p.id,
                vector={DENSE_ZH: p.dense_zh, DENSE_EN: p.dense_en, SPARSE: qm.SparseVector(indices=p.sparse[0], values=p.sparse[1])},
                payload=p.payload,
            )
            for p in points
        ]
        if structs:
            self._call("write points", self.client.upsert, self.collection, points=structs, wait=True)

    def set_payload(self, point_id: str, payload: dict) -> None:
        self._call("update a payload", self.client.overwrite_payload, self.collection, payload=payload, points=[point_id], wait=True)

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._call("delete points", self.client.delete, self.collection, points_selector=qm.PointIdsList(points=ids), wait=True)

    def count(self) -> int:
        return int(self._call("count points", self.client.count, self.collection, exact=True).count)

    # ---- reads ------------------------------------------------------------------------------
    def hybrid(
        self,
        dense_zh: list[float] | None,
        dense_en: list[float] | None,
        sparse: tuple[list[int], list[float]] | None,
        flt: qm.Filter | None,
        limit: int,
        prefetch: int,
        sparse_weight: int = 1,
    ) -> list[qm.ScoredPoint]:
        """Fuse whichever of the three searches are given with reciprocal rank fusion.

        `sparse_weight` > 1 counts the sparse ranking that many times in the fusion.
        """
        branches = []
        if dense_zh is not None:
            branches.append(qm.Prefetch(query=dense_zh, using=DENSE_ZH, limit=prefetch, filter=flt))
        if dense_en is not None:
            branches.append(qm.Prefetch(query=dense_en, using=DENSE_EN, limit=prefetch, filter=flt))
        if sparse is not None and sparse[0]:
            branch = qm.Prefetch(query=qm.SparseVector(indices=sparse[0], values=sparse[1]), using=SPARSE, limit=prefetch, filter=flt)
            branches += [branch] * (max(1, sparse_weight) if len(branches) else 1)
        if not branches:
            return []
        if len(branches) == 1:
            b = branches[0]
            res = self._call("search", self.client.query_points, self.collection, query=b.query, using=b.using, query_filter=flt, limit=limit, with_payload=True)
        else:
            res = self._call(
                "search", self.client.query_points, self.collection, prefetch=branches,
                query=qm.FusionQuery(fusion=qm.Fusion.RRF), limit=limit, with_payload=True,
            )
        return list(res.points)
