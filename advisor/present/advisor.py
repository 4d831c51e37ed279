"""The one object every shell (CLI, Python API, HTTP API, chat app) sits on."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from rich.console import Console

from advisor.compose.answer import Answer
from advisor.compose.offline import offline_answer
from advisor.corpus import Corpus, load_corpus
from advisor.errors import BadQuestion
from advisor.providers.embedders import Embedder, get_embedder
from advisor.retrieve.hybrid import Hit, Mode, Retriever
from advisor.settings import Settings, load_settings
from advisor.store.qdrant import Store
from advisor.store.sync import SyncReport, sync

LANGS = ("en", "zh")


class Advisor:
    """`Advisor()` works with no configuration: embedded store, default embedder, offline answers.

    Keyword arguments override settings (e.g. ``Advisor(qdrant_path="/tmp/store")``).
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any):
        self.settings = settings.model_copy(update=overrides) if settings else load_settings(**overrides)
        self._lock = threading.RLock()
        self._corpus: Corpus | None = None
        self._embedder: Embedder | None = None
        self._store: Store | None = None
        self._retriever: Retriever | None = None

    # ---- lazily built parts ------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        with self._lock:
            if self._corpus is None:
                self._corpus = load_corpus(self.settings.corpus_dir)
            return self._corpus

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(self.settings.embedder, self.settings.embed_threads)
            return self._embedder

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings, self.embedder.name)
            return self._store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.settings, self.corpus, self.embedder, self.store)
            return self._retriever

    # ---- the features ------------------------------------------------------------------------
    def ingest(self, console: Console | None = None) -> SyncReport:
        """Bring the store in line with the corpus (incremental, idempotent)."""
        with self._lock:
            report = sync(self.corpus, self.settings, self.embedder, self.store, console)
            self._retriever = None
            return report

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        as_of: dt.date | None = None,
        instruments: list[str] | None = None,
        status: list[str] | None = None,
        include_drafts: bool = False,
        all_versions: bool = False,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """The articles that best answer `question`, in force on `as_of` (default: today)."""
        with self._lock:
            return self.retriever.retrieve(
                question, k, as_of=as_of, instruments=instruments, status=status,
                include_drafts=include_drafts, all_versions=all_versions, mode=mode,
            )

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        lang: str = "en",
        as_of: dt.date | None = None,
        instruments: list[str] | None = None,
    ) -> Answer:
        """An answer with verbatim, cited quotes of the articles it rests on."""
        if lang not in LANGS:
            raise BadQuestion(f"unknown answer language '{lang}'; use en or zh")
        day = as_of or dt.date.today()
        hits = self.retrieve(question, k or min(self.settings.k, 8), as_of=day, instruments=instruments)
        with self._lock:
            return offline_answer(question.strip(), hits, self.embedder, day, lang)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
                self._retriever = None

    def __enter__(self) -> "Advisor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
