"""qdrant-client backend: a Qdrant server or cluster by URL, or qdrant-client's local mode.

Local mode (``store = "local"``) was the embedded store before Qdrant Edge; it speaks the same API
as a server, evaluated in pure Python, so the tests use it as the stand-in for a server.
"""

from __future__ import annotations

from pathlib import Path

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from advisor.errors import StoreError
from advisor.store.base import (
    DENSE_EN,
    DENSE_ZH,
    HIT_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    MARKER_ID,
    SPARSE,
    Marker,
    Match,
    Point,
    Scope,
    VectorStore,
)
from advisor.store.lock import check_folder, in_use_error, write_owner


class ClientStore(VectorStore):
    def __init__(self, collection: str, *, url: str | None = None, api_key: str | None = None, timeout: float = 10.0,
                 path: Path | None = None):
        self.collection = collection
        if url:
            self.backend, self.location = "server", url
            self.client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout))
        elif path is not None:
            self.backend, self.location = "local", str(path)
            self.client = self._open_local(path)
        else:
            raise StoreError("a qdrant-client store needs a server URL or a folder")

    @staticmethod
    def _open_local(path: Path) -> QdrantClient:
        check_folder(path)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise in_use_error(path) from None
            raise StoreError(f"cannot open the store at {path}: {exc}; delete it and run `advisor ingest`") from None
        except Exception as exc:  # noqa: BLE001 - a corrupt store raises many kinds of errors
            raise StoreError(
                f"the store at {path} cannot be read ({type(exc).__name__}); it may be corrupt: "
                f"delete that folder and run `advisor ingest`"
            ) from None
        write_owner(path)
        return client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - network and server errors become one message
            where = f"the Qdrant server at {self.location}" if self.backend == "server" else f"the store at {self.location}"
            raise StoreError(f"{where} failed to {what}: {type(exc).__name__}: {str(exc)[:300]}") from None

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass

    # ---- schema -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self._call("list collections", self.client.collection_exists, self.collection))

    def ensure(self, dim: int) -> None:
        if self.exists():
            info = self._call("read the collection", self.client.get_collection, self.collection)
            vectors = info.config.params.vectors
            if isinstance(vectors, dict) and DENSE_ZH in vectors and vectors[DENSE_ZH].size == dim and SPARSE in (info.config.params.sparse_vectors or {}):
                return
            self._call("drop the stale collection", self.client.delete_collection, self.collection)
        dense = qm.VectorParams(size=dim, distance=qm.Distance.COSINE)
        self._call(
            "create the collection", self.client.create_collection, self.collection,
            vectors_config={DENSE_ZH: dense, DENSE_EN: dense},
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )
        if self.backend == "server":  # local mode has no payload indexes (it scans every point)
            for name in KEYWORD_FIELDS:
                self._call("index a field", self.client.create_payload_index, self.collection, name, qm.PayloadSchemaType.KEYWORD)
            for name in INTEGER_FIELDS:
                self._call("index a field", self.client.create_payload_index, self.collection, name, qm.PayloadSchemaType.INTEGER)

    # ---- writes -------------------------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        out: dict[str, str] = {}
        offset = None
        while True:
            points, offset = self._call(
                "list points", self.client.scroll, self.collection, limit=1000, offset=offset,
                with_payload=["payload_hash"], with_vectors=False,
            )
            for p in points:
                if str(p.id) != MARKER_ID:
                    out[str(p.id)] = (p.payload or {}).get("payload_hash", "")
            if offset is None:
                return out

    def upsert(self, points: list[Point]) -> None:
        structs = [
            qm.PointStruct(
                id=p.id,
                vector={DENSE_ZH: p.dense_zh, DENSE_EN: p.dense_en}
                | ({SPARSE: qm.SparseVector(indices=p.sparse[0], values=p.sparse[1])} if p.sparse[0] else {}),
                payload=p.payload,
            )
            for p in points
        ]
        if structs:
            self._call("write points", self.client.upsert, self.collection, points=structs, wait=True)

    def set_payload(self, point_id: str, payload: dict) -> None:
        self._call("update a payload", self.client.overwrite_payload, self.collection, payload=payload, points=[point_id], wait=True)

    def delete(self, ids: list[str]) -> None:
        if ids and self.exists():
            self._call("delete points", self.client.delete, self.collection, points_selector=qm.PointIdsList(points=list(ids)), wait=True)

    def flush(self) -> None:
        """Writes are made with wait=True: nothing to do."""

    # ---- marker -------------------------------------------------------------------------------
    def read_marker(self) -> Marker | None:
        if not self.exists():
            return None
        records = self._call("read the completion marker", self.client.retrieve, self.collection, [MARKER_ID], with_payload=True, with_vectors=False)
        return Marker.from_payload(records[0].payload) if records else None

    def write_marker(self, marker: Marker) -> None:
        self._call("write the completion marker", self.client.upsert, self.collection,
                   points=[qm.PointStruct(id=MARKER_ID, vector={}, payload=marker.to_payload())], wait=True)

    # ---- reads --------------------------------------------------------------------------------
    def count(self) -> int:
        if not self.exists():
            return 0
        total = int(self._call("count points", self.client.count, self.collection, exact=True).count)
        marker = self._call("count points", self.client.retrieve, self.collection, [MARKER_ID], with_payload=False, with_vectors=False)
        return total - len(marker)

    @staticmethod
    def _filter(scope: Scope) -> qm.Filter:
        must: list = []
        if scope.instruments:
            must.append(qm.FieldCondition(key="instrument_id", match=qm.MatchAny(any=list(scope.instruments))))
        if scope.statuses:
            must.append(qm.FieldCondition(key="status", match=qm.MatchAny(any=list(scope.statuses))))
        not_draft = qm.FieldCondition(key="is_draft", match=qm.MatchValue(value=0))
        if scope.day is not None:
            in_force = qm.Filter(must=[
                qm.FieldCondition(key="valid_from", range=qm.Range(lte=scope.day)),
                qm.FieldCondition(key="valid_to", range=qm.Range(gt=scope.day)),
                not_draft,
            ])
            if scope.include_drafts:
                must.append(qm.Filter(should=[in_force, qm.FieldCondition(key="is_draft", match=qm.MatchValue(value=1))]))
            else:
                must.append(in_force)
        elif not scope.include_drafts:
            must.append(not_draft)
        lookup = qm.FieldCondition(key="is_lookup", match=qm.MatchValue(value=1))
        if scope.lookups is True:
            must.append(lookup)
        return qm.Filter(must=must, must_not=[lookup] if scope.lookups is False else None)

    def search(self, dense_zh, dense_en, sparse, scope: Scope, limit: int, prefetch: int, sparse_weight: int = 1) -> list[Match]:
        flt = self._filter(scope)
        branches = []
        if dense_zh is not None:
            branches.append(qm.Prefetch(query=list(dense_zh), using=DENSE_ZH, limit=prefetch, filter=flt))
        if dense_en is not None:
            branches.append(qm.Prefetch(query=list(dense_en), using=DENSE_EN, limit=prefetch, filter=flt))
        if sparse is not None and sparse[0]:
            branch = qm.Prefetch(query=qm.SparseVector(indices=list(sparse[0]), values=list(sparse[1])), using=SPARSE, limit=prefetch, filter=flt)
            branches += [branch] * (max(1, sparse_weight) if branches else 1)
        if not branches:
            return []
        if len(branches) == 1:
            b = branches[0]
            res = self._call("search", self.client.query_points, self.collection, query=b.query, using=b.using, query_filter=flt,
                             limit=limit, with_payload=HIT_FIELDS)
        else:  # Qdrant's RRF ranking constant is RRF_K (2) by default, as in the Edge backend
            res = self._call("search", self.client.query_points, self.collection, prefetch=branches,
                             query=qm.FusionQuery(fusion=qm.Fusion.RRF), limit=limit, with_payload=HIT_FIELDS)
        return [Match(str(p.id), float(p.score), p.payload or {}) for p in res.points]
