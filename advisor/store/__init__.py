"""Stage 3: the vector store. The interface is in base.py; `open_store` picks the backend."""

from __future__ import annotations

from advisor.settings import Settings
from advisor.store.base import Marker, Match, Point, Scope, VectorStore

__all__ = ["Marker", "Match", "Point", "Scope", "VectorStore", "open_store"]


def open_store(settings: Settings, embedder_name: str) -> VectorStore:
    """The collection for `embedder_name`: on the Qdrant server when `qdrant_url` is set, else embedded
    (Qdrant Edge by default; qdrant-client's local mode with ``store = "local"``)."""
    collection = f"{settings.collection}__{embedder_name}"
    if settings.qdrant_url:
        from advisor.store.client import ClientStore

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ClientStore(collection, url=settings.qdrant_url, api_key=key, timeout=settings.qdrant_timeout)
    if settings.store == "local":
        from advisor.store.client import ClientStore

        return ClientStore(collection, path=settings.store_path)
    from advisor.store.edge import EdgeStore

    return EdgeStore(settings.store_path, collection)
