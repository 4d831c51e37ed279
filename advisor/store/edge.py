"""The embedded default: Qdrant Edge (`qdrant-edge-py`), Qdrant's engine inside this process.

Layout: ``<store_path>/edge/<collection>/`` holds one Edge shard per collection (one collection per
embedder), beside ``advisor-edge.json`` (our layout version and vector size). The store folder is
locked for one process at a time (Edge itself does not guard against two).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import qdrant_edge as qe

from advisor.errors import StoreError
from advisor.store.base import (
    DENSE_EN,
    DENSE_ZH,
    HIT_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    MARKER_ID,
    RRF_K,
    SPARSE,
    Marker,
    Match,
    Point,
    Scope,
    VectorStore,
)
from advisor.store.lock import FolderLock, check_folder

LAYOUT_FILE = "advisor-edge.json"
LAYOUT_VERSION = 1
OLD_LOCAL_MODE_FILES = ("meta.json", "collection")  # qdrant-client local mode, the embedded store before Edge


class EdgeStore(VectorStore):
    backend = "edge"

    def __init__(self, root: Path, collection: str):
        check_folder(root)
        self.root = root
        self.collection = collection
        self.location = str(root)
        self.dir = root / "edge" / collection
        self._lock = FolderLock(root)
        self._shard: qe.EdgeShard | None = None
        self._dirty = False  # written since the last flush
        try:
            if self._layout() is not None:
                self._shard = self._call("open the index", qe.EdgeShard.load, str(self.dir))
        except StoreError:
            self._lock.release()
            raise

    # ---- helpers ------------------------------------------------------------------------------
    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine raises many kinds of errors on a damaged shard
            raise StoreError(
                f"the store at {self.location} failed to {what} ({type(exc).__name__}: {str(exc)[:200]}); it may be "
                "damaged: run `advisor ingest` to rebuild it"
            ) from None

    def _layout(self) -> dict | None:
        path = self.dir / LAYOUT_FILE
        if not path.exists():
            return None
        try:
            layout = json.loads(path.read_text())
            return layout if isinstance(layout, dict) and layout.get("version") == LAYOUT_VERSION else {}
        except (OSError, ValueError):
            return {}

    def _require_shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise StoreError(f"no index '{self.collection}' in the store at {self.location}: run `advisor ingest` first")
        return self._shard

    # ---- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            try:
                if self._dirty:
                    shard.flush()
                shard.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass
        self._lock.release()

    # ---- schema -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self._shard is not None

    def old_format(self) -> str | None:
        if any((self.root / name).exists() for name in OLD_LOCAL_MODE_FILES):
            return f"an index in the old format (qdrant-client local mode) at {self.root}"
        layout = self._layout()
        if layout == {}:
            return f"an index in an unknown layout at {self.dir}"
        return None

    def ensure(self, dim: int) -> None:
        layout = self._layout()
        if self._shard is not None and layout and layout.get("dim") == dim:
            return
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        for name in OLD_LOCAL_MODE_FILES:  # the old embedded store is rebuilt here, so its files go
            old = self.root / name
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            elif old.exists():
                old.unlink(missing_ok=True)
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        config = qe.EdgeConfig(
            vectors={DENSE_ZH: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
                     DENSE_EN: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        shard = self._call("create the index", qe.EdgeShard.create, str(self.dir), config)
        for name in KEYWORD_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
        for name in INTEGER_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Integer))
        shard.flush()
        (self.dir / LAYOUT_FILE).write_text(json.dumps({"version": LAYOUT_VERSION, "dim": dim}))
        self._shard = shard

    # ---- writes -------------------------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        shard = self._require_shard()
        out: dict[str, str] = {}
        offset = None
        while True:
            records, offset = self._call("list points", shard.scroll,
                                         qe.ScrollRequest(offset=offset, limit=1000, with_payload=["payload_hash"], with_vector=False))
            for r in records:
                pid = str(r.id)
                if pid != MARKER_ID:
                    out[pid] = (r.payload or {}).get("payload_hash", "")
            if offset is None:
                return out

    def upsert(self, points: list[Point]) -> None:
        if not points:
            return
        shard = self._require_shard()
        structs = [
            qe.Point(p.id, {DENSE_ZH: p.dense_zh, DENSE_EN: p.dense_en}
                     | ({SPARSE: qe.SparseVector(list(p.sparse[0]), list(p.sparse[1]))} if p.sparse[0] else {}), p.payload)
            for p in points  # a lookup point has no words for BM25: no sparse vector
        ]
        self._call("write points", shard.update, qe.UpdateOperation.upsert_points(structs))
        self._dirty = True

    def set_payload(self, point_id: str, payload: dict) -> None:
        self._call("update a payload", self._require_shard().update, qe.UpdateOperation.overwrite_payload([point_id], payload))
        self._dirty = True

    def delete(self, ids: list[str]) -> None:
        if ids and self._shard is not None:
            self._call("delete points", self._shard.update, qe.UpdateOperation.delete_points(list(ids)))
            self._dirty = True

    def flush(self) -> None:
        if self._shard is not None:
            self._call("write to disk", self._shard.flush)
            self._dirty = False

    # ---- marker -------------------------------------------------------------------------------
    def read_marker(self) -> Marker | None:
        if self._shard is None:
            return None
        records = self._call("read the completion marker", self._shard.retrieve, [MARKER_ID], with_payload=True, with_vector=False)
        return Marker.from_payload(records[0].payload) if records else None

    def write_marker(self, marker: Marker) -> None:
        shard = self._require_shard()
        self._call("write the completion marker", shard.update, qe.UpdateOperation.upsert_points([qe.Point(MARKER_ID, {}, marker.to_payload())]))
        self.flush()

    # ---- reads --------------------------------------------------------------------------------
    def count(self) -> int:
        if self._shard is None:
            return 0
        total = self._call("count points", self._shard.count, qe.CountRequest(exact=True))
        has_marker = bool(self._call("count points", self._shard.retrieve, [MARKER_ID], with_payload=False, with_vector=False))
        return int(total) - int(has_marker)

    @staticmethod
    def _filter(scope: Scope) -> qe.Filter | None:
        must: list = []
        if scope.instruments:
            must.append(qe.FieldCondition("instrument_id", match=qe.MatchAny(list(scope.instruments))))
        if scope.statuses:
            must.append(qe.FieldCondition("status", match=qe.MatchAny(list(scope.statuses))))
        not_draft = qe.FieldCondition("is_draft", match=qe.MatchValue(0))
        if scope.day is not None:
            in_force = qe.Filter(must=[
                qe.FieldCondition("valid_from", range=qe.RangeFloat(lte=scope.day)),
                qe.FieldCondition("valid_to", range=qe.RangeFloat(gt=scope.day)),
                not_draft,
            ])
            if scope.include_drafts:
                must.append(qe.Filter(should=[in_force, qe.FieldCondition("is_draft", match=qe.MatchValue(1))]))
            else:
                must.append(in_force)
        elif not scope.include_drafts:
            must.append(not_draft)
        lookup = qe.FieldCondition("is_lookup", match=qe.MatchValue(1))
        if scope.lookups is True:
            must.append(lookup)
        if scope.lookups is False:  # company documents and articles have no is_lookup field: must_not keeps them
            return qe.Filter(must=must, must_not=[lookup])
        return qe.Filter(must=must) if must else None

    def search(self, dense_zh, dense_en, sparse, scope: Scope, limit: int, prefetch: int, sparse_weight: int = 1) -> list[Match]:
        shard = self._require_shard()
        flt = self._filter(scope)
        queries = []
        if dense_zh is not None:
            queries.append(qe.Query.Nearest(list(dense_zh), using=DENSE_ZH))
        if dense_en is not None:
            queries.append(qe.Query.Nearest(list(dense_en), using=DENSE_EN))
        if sparse is not None and sparse[0]:
            query = qe.Query.Nearest(qe.SparseVector(list(sparse[0]), list(sparse[1])), using=SPARSE)
            queries += [query] * (max(1, sparse_weight) if queries else 1)
        if not queries:
            return []
        if len(queries) == 1:
            request = qe.QueryRequest(limit=limit, query=queries[0], filter=flt, with_payload=HIT_FIELDS, with_vector=False)
        else:
            request = qe.QueryRequest(
                limit=limit, prefetches=[qe.Prefetch(limit=prefetch, query=q, filter=flt) for q in queries],
                query=qe.Fusion.Rrf(k=RRF_K), with_payload=HIT_FIELDS, with_vector=False,
            )
        points = self._call("search", shard.query, request)
        return [Match(str(p.id), float(p.score), p.payload or {}) for p in points]
