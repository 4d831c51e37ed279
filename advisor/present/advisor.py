"""The one object every shell (CLI, Python API, HTTP API, chat app) sits on."""

from __future__ import annotations

import atexit
import datetime as dt
import threading
import weakref
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console

from advisor.compose.answer import Answer
from advisor.compose.assess import (
    PROFILE_FIELDS,
    Assessment,
    ProfileInput,
    as_profile,
    assess,
)
from advisor.compose.backbone import engine_answer
from advisor.compose.chain import model_answer, stream_answer
from advisor.compose.offline import offline_answer
from advisor.compose.templates import Template, get_template, load_templates
from advisor.corpus import Corpus, load_corpus
from advisor.corpus.obligations import Rulebook, load_obligations
from advisor.errors import BadQuestion, TemplateError
from advisor.providers.embedders import Embedder, get_embedder
from advisor.providers.llms import ChatModel, allowed_providers, check_provider, get_chat_model, settings_for
from advisor.retrieve.hybrid import (
    Hit,
    Mode,
    Retriever,
    cross_references,
    merge_rankings,
)
from advisor.settings import Settings, load_settings
from advisor.store.qdrant import Store
from advisor.store.sync import SyncReport, sync

LANGS = ("en", "zh")
NO_PROFILE = ("no business profile was given, so this answer is a reading of retrieved articles, not the applicability "
              "engine's result; give a profile (--profile FILE, or the chat's Assess tab) for the deterministic checklist")


_OPEN: "weakref.WeakSet[Advisor]" = weakref.WeakSet()


@atexit.register
def _close_open_advisors() -> None:
    """Close every Advisor still open when the interpreter exits, while closing can still import what it needs
    (otherwise QdrantClient.__del__ prints "Exception ignored ... Python is likely shutting down")."""
    for advisor in list(_OPEN):
        advisor.close()


class Advisor:
    """`Advisor()` works with no configuration: embedded store, default embedder, offline answers.

    Keyword arguments override settings (e.g. ``Advisor(qdrant_path="/tmp/store")``). Close it with
    ``close()`` or use it as a context manager; one still open at interpreter exit is closed then.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any):
        self.settings = settings.model_copy(update=overrides) if settings else load_settings(**overrides)
        self._lock = threading.RLock()
        self._corpus: Corpus | None = None
        self._embedder: Embedder | None = None
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._models: dict[str, ChatModel | None] = {}
        self._rulebook: Rulebook | None = None
        _OPEN.add(self)

    # ---- lazily built parts ------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        with self._lock:
            if self._corpus is None:
                self._corpus = load_corpus(self.settings.corpus_dir)
            return self._corpus

    @property
    def rulebook(self) -> Rulebook:
        """The obligations (corpus/obligations), validated against the corpus and the profile fields."""
        with self._lock:
            if self._rulebook is None:
                self._rulebook = load_obligations(Path(self.settings.corpus_dir) / "obligations", self.corpus, PROFILE_FIELDS)
            return self._rulebook

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

    def templates(self) -> dict[str, Template]:
        """The prompt templates (prompts/*.toml), by name."""
        return load_templates(self.settings.prompts_dir)

    def allowed_providers(self) -> list[str]:
        """The providers a request may pick (settings.allowed_providers; default: the configured one and offline)."""
        return allowed_providers(self.settings)

    def chat_model(self, provider: str | None = None) -> ChatModel | None:
        """The configured language model (None: offline). `provider` picks another allowed one, which then uses
        only its own preset (URL, model, key variable), never the configured provider's."""
        name = check_provider(self.settings, provider or self.settings.provider)
        with self._lock:
            if name not in self._models:
                self._models[name] = get_chat_model(settings_for(self.settings, name))
            return self._models[name]

    def sources(
        self,
        question: str | None = None,
        *,
        template: str | None = None,
        variables: dict[str, str] | None = None,
        lang: str = "en",
        as_of: dt.date | None = None,
        instruments: list[str] | None = None,
        k: int | None = None,
    ) -> tuple[str, str, list[Hit]]:
        """(request for the model, one-line question, retrieved articles + their cross-references)."""
        if lang not in LANGS:
            raise BadQuestion(f"unknown answer language '{lang}'; use en or zh")
        day = as_of or dt.date.today()
        k = k or self.settings.answer_sources
        if template:
            tpl = get_template(self.settings.prompts_dir, template)
            values = tpl.check(variables or {}, self.settings.max_question_chars)
            rankings = [self.retrieve(q, 5, as_of=day, instruments=instruments) for q in tpl.render_queries(values)]
            hits = merge_rankings(rankings, k)
            request, summary = tpl.render_task(values, lang), tpl.summary(values)
        else:
            if variables:
                raise TemplateError("variables are only used with a template (--template NAME)")
            hits = self.retrieve(question or "", k, as_of=day, instruments=instruments)
            request = summary = (question or "").strip()
        with self._lock:
            hits = hits + cross_references(self.corpus, hits, limit=3)
        return request, summary, hits

    def _plan(self, question, k, template, variables, lang, as_of, instruments, provider):
        day = as_of or dt.date.today()
        model = self.chat_model(provider)
        request, summary, hits = self.sources(question, template=template, variables=variables, lang=lang, as_of=day, instruments=instruments, k=k)
        return model, request, summary, hits, day

    def ask(
        self,
        question: str | None = None,
        k: int | None = None,
        *,
        template: str | None = None,
        variables: dict[str, str] | None = None,
        lang: str = "en",
        as_of: dt.date | None = None,
        instruments: list[str] | None = None,
        provider: str | None = None,
        profile: ProfileInput | None = None,
        temperature: float | None = None,
    ) -> Answer:
        """An answer whose every citation is checked against the articles it was built from.

        `profile` (a Profile, mapping or YAML/JSON path) answers the risk_level and roadmap templates
        from the applicability engine; a model, if configured, may only reword the engine's items.
        `temperature` is passed to the model (None: the provider's setting; offline extracts do not vary).
        """
        if profile is not None:
            return self._engine_answer(template, variables, profile, lang, as_of, provider)
        model, request, summary, hits, day = self._plan(question, k, template, variables, lang, as_of, instruments, provider)
        if model is None:
            answer = offline_answer(summary, hits, self.embedder, day, lang)
        else:
            answer = model_answer(model, request, summary, hits, self.embedder, day, lang, self.settings.max_answer_tokens,
                                  temperature)
        return self._note_missing_profile(template, answer)

    def _note_missing_profile(self, template: str | None, answer: Answer) -> Answer:
        if template and get_template(self.settings.prompts_dir, template).backbone:
            answer.warnings.insert(0, NO_PROFILE)
        return answer

    def _engine_answer(self, template, variables, profile, lang, as_of, provider) -> Answer:
        if lang not in LANGS:
            raise BadQuestion(f"unknown answer language '{lang}'; use en or zh")
        tpl = get_template(self.settings.prompts_dir, template) if template else None
        if tpl is None or tpl.backbone is None:
            usable = ", ".join(sorted(n for n, t in self.templates().items() if t.backbone))
            raise TemplateError(f"a profile is used only by the templates built on the applicability engine: {usable}")
        profile = as_profile(profile)
        assessment = self.assess(profile, as_of)
        described = profile.description or profile.name or "the business"
        tpl.check({**{v: described for v in tpl.variables}, **(variables or {})}, self.settings.max_question_chars)
        return engine_answer(assessment, tpl.backbone, self.corpus, self.embedder, lang, self.chat_model(provider),
                             described, self.settings.max_answer_tokens)

    def ask_stream(self, question: str | None = None, k: int | None = None, **options: Any) -> Iterator[str | Answer]:
        """Like ask(), but yields checked lines of the answer as they are written, then the final Answer."""
        unknown = set(options) - {"template", "variables", "lang", "as_of", "instruments", "provider", "profile", "temperature"}
        if unknown:
            raise TypeError(f"ask_stream() got unexpected option(s): {', '.join(sorted(unknown))}")
        if options.get("profile") is not None:  # the engine's answer is checked as a whole, then shown
            answer = self.ask(question, k, **options)
            yield answer.text
            yield answer
            return
        model, request, summary, hits, day = self._plan(
            question, k, options.get("template"), options.get("variables"), options.get("lang", "en"),
            options.get("as_of"), options.get("instruments"), options.get("provider"),
        )
        if model is None:
            answer = self._note_missing_profile(options.get("template"), offline_answer(summary, hits, self.embedder, day, options.get("lang", "en")))
            yield answer.text
            yield answer
            return
        for piece in stream_answer(model, request, summary, hits, self.embedder, day, options.get("lang", "en"),
                                   self.settings.max_answer_tokens, options.get("temperature")):
            yield self._note_missing_profile(options.get("template"), piece) if isinstance(piece, Answer) else piece

    def assess(self, profile: ProfileInput, as_of: dt.date | None = None) -> Assessment:
        """Deterministic cited checklist, risk level and 6-month roadmap for a business profile
        (a Profile, a mapping, or a YAML/JSON path)."""
        return assess(as_profile(profile), self.corpus, self.rulebook, as_of)

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
