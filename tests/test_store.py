"""The store interface, one suite for both backends: Qdrant Edge (the embedded default) and
qdrant-client (local mode standing in for a Qdrant server: same protocol and code path)."""

from __future__ import annotations

import math

import pytest

from advisor.errors import StoreError
from advisor.store import Marker, Point, Scope, open_store
from advisor.store.base import MARKER_ID
from conftest import make_settings

DIM = 8


def _vec(i: int) -> list[float]:
    v = [math.sin(i * (j + 1)) for j in range(DIM)]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _point(i: int, **payload) -> Point:
    base = {"instrument_id": "law-a", "article": i, "status": "in_force", "kind": "law", "valid_from": 20200101,
            "valid_to": 99991231, "is_draft": 0, "text_zh": f"第{i}条", "payload_hash": f"h{i}"}
    return Point(f"00000000-0000-0000-0000-{i:012d}", _vec(i), _vec(i + 100), ([i, 1000], [1.0, 0.5]), {**base, **payload})


@pytest.fixture(params=["edge", "local"])
def store(request, tmp_path):
    s = open_store(make_settings(tmp_path / "data", store=request.param), "test")
    s.ensure(DIM)
    s.upsert([_point(i) for i in range(1, 6)])
    yield s
    s.close()


def _ids(matches):
    return [int(m.id[-12:]) for m in matches]


def test_backends_are_chosen_by_settings(tmp_path):
    with open_store(make_settings(tmp_path / "a"), "x") as edge, open_store(make_settings(tmp_path / "b", store="local"), "x") as local:
        assert (edge.backend, local.backend) == ("edge", "local")
        assert edge.collection == local.collection == "regulations__x"


def test_written_points_are_counted_and_fingerprinted(store):
    assert store.exists() and store.count() == 5
    assert store.fingerprints() == {f"00000000-0000-0000-0000-{i:012d}": f"h{i}" for i in range(1, 6)}


def test_payload_is_replaced_and_points_deleted(store):
    pid = _point(2).id
    store.set_payload(pid, {**_point(2).payload, "payload_hash": "new"})
    store.delete([_point(3).id])
    assert store.fingerprints()[pid] == "new" and store.count() == 4


def test_dense_search_ranks_the_nearest_point_first(store):
    matches = store.search(_vec(4), None, None, Scope(), limit=3, prefetch=10)
    assert _ids(matches)[0] == 4 and matches[0].payload["text_zh"] == "第4条"


def test_fusion_of_three_searches_returns_each_point_once(store):
    matches = store.search(_vec(2), _vec(102), ([2], [1.0]), Scope(), limit=5, prefetch=10, sparse_weight=2)
    assert _ids(matches)[0] == 2 and len(set(_ids(matches))) == len(matches) == 5


def test_sparse_search_uses_idf(store):
    store.upsert([_point(9)])
    matches = store.search(None, None, ([9, 1000], [1.0, 1.0]), Scope(), limit=2, prefetch=10)
    assert _ids(matches)[0] == 9  # token 9 is rare, token 1000 is in every point


def test_the_date_filter_keeps_versions_in_force_that_day(store):
    store.upsert([_point(6, valid_from=20260101), _point(7, valid_to=20250101)])
    in_2025 = set(_ids(store.search(_vec(6), None, None, Scope(day=20250601), limit=10, prefetch=10)))
    in_2026 = set(_ids(store.search(_vec(6), None, None, Scope(day=20260601), limit=10, prefetch=10)))
    assert in_2025 == {1, 2, 3, 4, 5} and in_2026 == {1, 2, 3, 4, 5, 6}


def test_drafts_are_left_out_unless_asked_for(store):
    # is_draft is stored as 0/1: Qdrant Edge 0.9.0 never matches a boolean, which would drop every point here
    store.upsert([_point(8, is_draft=1, valid_from=99991231)])
    default = set(_ids(store.search(_vec(8), None, None, Scope(day=20260601), limit=10, prefetch=10)))
    drafts = set(_ids(store.search(_vec(8), None, None, Scope(day=20260601, include_drafts=True), limit=10, prefetch=10)))
    undated = set(_ids(store.search(_vec(8), None, None, Scope(), limit=10, prefetch=10)))
    assert default == undated == {1, 2, 3, 4, 5}
    assert drafts == {1, 2, 3, 4, 5, 8}


def test_instrument_and_status_filters(store):
    store.upsert([_point(10, instrument_id="law-b", status="superseded")])
    only_b = _ids(store.search(_vec(1), None, None, Scope(instruments=("law-b",)), limit=10, prefetch=10))
    superseded = _ids(store.search(_vec(1), None, None, Scope(statuses=("superseded",)), limit=10, prefetch=10))
    assert only_b == superseded == [10]


def test_the_marker_round_trips_and_is_neither_counted_nor_found(store):
    assert store.read_marker() is None
    marker = Marker(corpus_hash="abc", chunks=5, embedder="test", documents=("/docs",), documents_hash="d")
    store.write_marker(marker)
    read = store.read_marker()
    assert read is not None and read.same_build(marker) and read.written == marker.written
    assert store.count() == 5 and MARKER_ID not in store.fingerprints()
    assert MARKER_ID not in {m.id for m in store.search(None, None, ([1, 1000], [1.0, 1.0]), Scope(), limit=10, prefetch=10)}
    store.clear_marker()
    assert store.read_marker() is None


def test_a_different_vector_size_recreates_the_collection(store):
    store.ensure(DIM * 2)
    assert store.exists() and store.count() == 0


def test_a_missing_collection_is_reported_not_created(tmp_path):
    with open_store(make_settings(tmp_path / "data"), "none") as s:
        assert not s.exists() and s.count() == 0 and s.read_marker() is None


def test_a_store_path_that_is_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "store"
    path.write_text("not a folder")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        open_store(make_settings(tmp_path / "data", qdrant_path=path), "x")


def test_a_second_handle_on_an_embedded_store_is_refused_with_its_holder(tmp_path):
    settings = make_settings(tmp_path / "data")
    with open_store(settings, "x"):
        with pytest.raises(StoreError, match="in use by process"):
            open_store(settings, "x")
    open_store(settings, "x").close()  # released on close


# ---- readers in parallel, writers alone (the Advisor's readers-writer lock) -------------------------

def _mini_advisor(tmp_path):
    from advisor import Advisor
    from test_ingest import _mini

    advisor = Advisor(make_settings(tmp_path / "data", _mini(tmp_path)))
    advisor.ingest()
    return advisor


def test_searches_run_at_the_same_time(tmp_path):
    import threading

    advisor = _mini_advisor(tmp_path)
    store, barrier = advisor.store, threading.Barrier(2, timeout=30)
    original = store.search

    def search(*args, **kwargs):
        barrier.wait()  # both searches must be inside the store at once, or this times out
        return original(*args, **kwargs)

    store.search = search
    results, errors = [], []

    def ask(question):
        try:
            results.append(advisor.retrieve(question, k=2))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("个人信息", "生成式人工智能")]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    advisor.close()
    assert not errors and len(results) == 2 and all(results)


def test_an_ingest_waits_for_running_searches_and_searches_wait_for_it(tmp_path):
    import threading
    import time

    advisor = _mini_advisor(tmp_path)
    store, inside, release = advisor.store, threading.Event(), threading.Event()
    original = store.search

    def search(*args, **kwargs):
        inside.set()
        release.wait(30)
        return original(*args, **kwargs)

    store.search = search
    reader = threading.Thread(target=lambda: advisor.retrieve("个人信息", k=2))
    reader.start()
    assert inside.wait(30)
    writer = threading.Thread(target=advisor.ingest)
    writer.start()
    time.sleep(1.0)
    assert writer.is_alive() and advisor.index_state().state == "ingesting"  # waiting for the search
    release.set()
    reader.join(30)
    writer.join(60)
    assert not writer.is_alive() and advisor.index_state().state == "complete"
    advisor.close()
