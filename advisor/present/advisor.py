"""The one object every shell (CLI, Python API, HTTP API, chat app) sits on."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
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
from advisor.compose.advice import advise, is_applicability_question
from advisor.compose.chain import model_answer, stream_answer
from advisor.compose.offline import offline_answer
from advisor.compose.templates import Template, get_template, load_templates
from advisor.corpus import Corpus, load_corpus
from advisor.corpus.obligations import Rulebook, load_obligations
from advisor.errors import AdvisorError, BadQuestion, StoreError, TemplateError
from advisor.providers.embedders import Embedder, get_embedder
from advisor.providers.llms import ChatModel, allowed_providers, check_provider, get_chat_model, settings_for
from advisor.retrieve.hybrid import (
    Hit,
    Mode,
    Retriever,
    check_question,
    cross_references,
    merge_rankings,
    place_controlling,
)
from advisor.present.rwlock import ReadWriteLock
from advisor.settings import Settings, load_settings
from advisor.store import VectorStore, open_store
from advisor.store.base import Marker
from advisor.store.sync import IndexState, SyncReport, expected_marker, index_state, sync, wanted_points
from ingest.documents import chunk_documents, documents_hash

LANGS = ("en", "zh")
log = logging.getLogger("advisor")
DOCUMENT_SLOTS = 3  # parts of the company's own documents shown beside the articles of an answer
EXCERPT_CHARS = 240
NO_PROFILE = ("no business could be read from the template's variables, so this answer is a reading of retrieved articles, "
              "not the applicability engine's result; describe the service (what it does, who uses it, where data is "
              "stored) or give a profile (--profile FILE, or the chat's Assess tab)")


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
        self._lock = threading.RLock()  # builds the lazy parts once
        self._rw = ReadWriteLock()  # searches read concurrently; ingest and close write alone
        self._corpus: Corpus | None = None
        self._embedder: Embedder | None = None
        self._store: VectorStore | None = None
        self._corpus_marker: Marker | None = None  # the corpus part of the expected marker
        self._ready = False  # the index was found complete (checked once, then after each ingest)
        self._retriever: Retriever | None = None
        self._models: dict[str, ChatModel | None] = {}
        self._rulebook: Rulebook | None = None
        self._workspace = None
        _OPEN.add(self)

    # ---- lazily built parts ------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        with self._lock:
            if self._corpus is None:
                self._corpus = load_corpus(self.settings.corpus_dir, self.settings.cache_dir)
            return self._corpus

    @property
    def rulebook(self) -> Rulebook:
        """The obligations (corpus/obligations), validated against the corpus and the profile fields."""
        with self._lock:
            if self._rulebook is None:
                self._rulebook = load_obligations(Path(self.settings.corpus_dir) / "obligations", self.corpus, PROFILE_FIELDS)
            return self._rulebook

    def _has_rulebook(self) -> bool:
        return any((Path(self.settings.corpus_dir) / "obligations").glob("*.yaml"))

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(self.settings.embedder, self.settings.embed_threads, self.settings.cache_dir)
            return self._embedder

    @property
    def store(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings, self.embedder.name)
            return self._store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.settings, self.corpus, self.embedder, self.store)
            return self._retriever

    @property
    def workspace(self):
        """The compliance workspace (advisor.workspace.Workspace), opened and migrated on first use."""
        from advisor.workspace import Workspace

        with self._lock:
            if self._workspace is None:
                self._workspace = Workspace.open(self.settings)
            return self._workspace

    @property
    def audit_enabled(self) -> bool:
        """settings.audit, or by default: on when the workspace database is in use (a URL set, or its file exists)."""
        if self.settings.audit is not None:
            return self.settings.audit
        from advisor.workspace.db import in_use

        return in_use(self.settings)

    def _audit(self, action: str, subject: str, detail: dict) -> None:
        """Append to the audit trail when it is enabled (a failure is logged, never shown to the user as an error)."""
        if not self.audit_enabled:
            return
        try:
            from advisor.workspace.corpus_version import corpus_version, short

            as_of = dt.date.fromisoformat(detail["as_of"]) if detail.get("as_of") else dt.date.today()
            detail = {**detail, "corpus_version": short(corpus_version(self.corpus, self.rulebook, as_of))}
            self.workspace.audit.log(action, subject=subject, detail=detail)
        except Exception:  # the answer stands; the operator sees the failure in the server log
            log.exception("could not write the audit trail")

    def _audit_answer(self, action: str, question: str | None, options: dict, answer: Answer) -> None:
        model = None
        if not answer.provider.startswith(("offline", "engine")):
            chat = self._models.get(options.get("provider") or self.settings.provider)
            model = getattr(chat, "model", None)
        subject = question or f"template {options.get('template')}"
        detail = {
            "template": options.get("template"), "variables": options.get("variables") or None,
            "lang": answer.lang, "as_of": answer.as_of.isoformat(), "provider": answer.provider, "model": model,
            "citations": [{"label": c.label, "instrument": c.instrument_id, "article": c.article} for c in answer.citations],
            "warnings": len(answer.warnings),
        }
        if options.get("profile") is not None:
            detail["profile"] = as_profile(options["profile"]).model_dump(mode="json", exclude_defaults=True)
        self._audit(action, subject, detail)

    # ---- the features ------------------------------------------------------------------------
    def ingest(self, console: Console | None = None, extra: list[Path] | tuple = (), forget_extra: bool = False) -> SyncReport:
        """Bring the store in line with the corpus and the company documents (incremental,
        idempotent); searches wait meanwhile.

        Company documents come from `settings.documents_dirs`, the folder ``data_dir/documents``, the
        folders of earlier ingests (unless `forget_extra`) and `extra`.
        """
        extra_dirs = [Path(d).expanduser().resolve() for d in extra]
        for folder in extra_dirs:
            if not folder.is_dir():
                raise AdvisorError(f"the documents folder {folder} does not exist or is not a folder")
        with self._rw.write():
            self._ready = False
            self._corpus_marker = None
            recorded = [] if forget_extra or not self.store.exists() else list((self.store.read_marker() or Marker("", 0, "")).documents)
            folders = self._document_dirs(recorded, extra_dirs, console)
            documents = chunk_documents(folders, min(self.settings.max_chunk_chars, self.embedder.max_chars))
            report = sync(self.corpus, self.settings, self.embedder, self.store, console, extra=documents,
                          documents=tuple(str(f) for f in folders), documents_hash=documents_hash(folders))
            self._retriever = None
            return report

    def _document_dirs(self, recorded: list[str], extra: list[Path], console: Console | None = None) -> list[Path]:
        """The company document folders, without repeats; a recorded folder that is gone is dropped with a note."""
        default = self.settings.data_dir / "documents"
        candidates = [Path(d).expanduser().resolve() for d in self.settings.documents_dirs]
        candidates += [default.resolve()] if default.is_dir() else []
        kept = []
        for folder in [Path(d) for d in recorded]:
            if folder.is_dir():
                kept.append(folder)
            elif console is not None:
                console.print(f"note: the documents folder {folder} is gone; its documents are removed from the index", highlight=False)
        return sorted(set(candidates + kept + extra))

    def expected_marker(self, stored: Marker | None = None) -> Marker:
        """The completion marker an ingest of today's corpus (and of the document folders of the
        `stored` marker, rehashed now) would write: what the index is checked against."""
        with self._lock:
            if self._corpus_marker is None:
                self._corpus_marker = expected_marker(wanted_points(self.corpus, self.settings, self.embedder), self.embedder)
            base = self._corpus_marker
        if stored is not None and any(not Path(d).is_dir() for d in stored.documents):
            # folders of another machine (a shared Qdrant server): they cannot be checked from here
            return Marker(base.corpus_hash, base.chunks, base.embedder, documents=stored.documents,
                          documents_hash=stored.documents_hash)
        folders = self._document_dirs(list(stored.documents) if stored else [], [])
        return Marker(base.corpus_hash, base.chunks, base.embedder, documents=tuple(str(f) for f in folders),
                      documents_hash=documents_hash(folders))

    def index_state(self) -> IndexState:
        """Whether the index is complete and of today's corpus (for /healthz); never raises for the store's state."""
        if self._rw.writing:
            return IndexState("ingesting", "an ingest is running; searches wait for it")
        with self._rw.read():
            return index_state(self.store, self.expected_marker)

    def _require_index(self) -> None:
        """A one-line error (run `advisor ingest`) unless the index is complete; checked once per ingest."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                state = index_state(self.store, self.expected_marker)
                if not state.complete:
                    raise StoreError(state.message)
                self._ready = True

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
        with self._rw.read():
            self._require_index()
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
        """(request for the model, one-line question, retrieved articles + their cross-references).

        Parts of the company's own documents are never among them (they are not law): see documents()."""
        return self._sources(question, template, variables, lang, as_of, instruments, k)[:3]

    def _sources(self, question, template, variables, lang, as_of, instruments, k) -> tuple[str, str, list[Hit], list[Hit]]:
        """sources(), plus the company document parts found (up to DOCUMENT_SLOTS, beside the k articles)."""
        if lang not in LANGS:
            raise BadQuestion(f"unknown answer language '{lang}'; use en or zh")
        day = as_of or dt.date.today()
        k = k or self.settings.answer_sources
        if template:
            tpl = get_template(self.settings.prompts_dir, template)
            values = tpl.check(variables or {}, self.settings.max_question_chars)
            rankings = [self.retrieve(q, 5, as_of=day, instruments=instruments) for q in tpl.render_queries(values)]
            hits = merge_rankings(rankings, k + DOCUMENT_SLOTS)
            request, summary = tpl.render_task(values, lang), tpl.summary(values)
        else:
            if variables:
                raise TemplateError("variables are only used with a template (--template NAME)")
            hits = self.retrieve(question or "", k + DOCUMENT_SLOTS, as_of=day, instruments=instruments)
            request = summary = (question or "").strip()
        documents = [h for h in hits if not h.is_law][:DOCUMENT_SLOTS]
        hits = [h for h in hits if h.is_law][:k]
        with self._lock:
            hits = place_controlling(self.corpus, hits, day)
            hits = hits + cross_references(self.corpus, hits, limit=3)
        return request, summary, hits, documents

    def _plan(self, question, k, template, variables, lang, as_of, instruments, provider):
        day = as_of or dt.date.today()
        model = self.chat_model(provider)
        request, summary, hits, documents = self._sources(question, template, variables, lang, day, instruments, k)
        return model, request, summary, hits, day, documents

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
        answer = self._ask(question, k, template, variables, lang, as_of, instruments, provider, profile, temperature)
        self._audit_answer("ask", question, dict(template=template, variables=variables, provider=provider, profile=profile), answer)
        return answer

    def _ask(self, question, k, template, variables, lang, as_of, instruments, provider, profile, temperature=None) -> Answer:
        engine = self._engine_answer(question, template, variables, profile, lang, as_of, provider)
        if engine is not None:
            return engine
        model, request, summary, hits, day, documents = self._plan(question, k, template, variables, lang, as_of, instruments, provider)
        if model is None:
            answer = offline_answer(summary, hits, self.embedder, day, lang)
        else:
            answer = model_answer(model, request, summary, hits, self.embedder, day, lang, self.settings.max_answer_tokens,
                                  temperature)
        return _with_documents(self._note_missing_profile(template, answer), documents)

    def _note_missing_profile(self, template: str | None, answer: Answer) -> Answer:
        if template and get_template(self.settings.prompts_dir, template).backbone:
            answer.warnings.insert(0, NO_PROFILE)
        return answer

    def _engine_answer(self, question, template, variables, profile, lang, as_of, provider) -> Answer | None:
        """The applicability engine's answer for a template built on it, or for a free question about what applies;
        None when the retrieved articles should answer instead (another kind of question, or no business could be
        read from the text)."""
        if lang not in LANGS:
            raise BadQuestion(f"unknown answer language '{lang}'; use en or zh")
        tpl = get_template(self.settings.prompts_dir, template) if template else None
        if profile is not None and (tpl is None or tpl.backbone is None):
            usable = ", ".join(sorted(n for n, t in self.templates().items() if t.backbone))
            raise TemplateError(f"a profile is used only by the templates built on the applicability engine: {usable}")
        if tpl is not None and tpl.backbone is None:
            return None
        day = as_of or dt.date.today()
        if tpl is not None:
            if profile is not None:
                described = as_profile(profile).description or as_profile(profile).name or "the business"
                values = tpl.check({**{v: described for v in tpl.variables}, **(variables or {})}, self.settings.max_question_chars)
            else:
                values = tpl.check(variables or {}, self.settings.max_question_chars)
            text, backbone = "; ".join(values.values()), tpl.backbone
        else:
            if variables:
                raise TemplateError("variables are only used with a template (--template NAME)")
            text = check_question(question or "", self.settings)
            if not is_applicability_question(text) or not self._has_rulebook():
                return None  # a corpus without a rulebook (e.g. a user's own) answers free questions by retrieval
            backbone, values = "applicability", {}
        model = self.chat_model(provider)
        return advise(backbone, self.corpus, self.rulebook, self.embedder, lang, day, text=text, variables=values,
                      profile=profile, model=model, max_tokens=self.settings.max_answer_tokens)

    def ask_stream(self, question: str | None = None, k: int | None = None, **options: Any) -> Iterator[str | Answer]:
        """Like ask(), but yields checked lines of the answer as they are written, then the final Answer."""
        unknown = set(options) - {"template", "variables", "lang", "as_of", "instruments", "provider", "profile", "temperature"}
        if unknown:
            raise TypeError(f"ask_stream() got unexpected option(s): {', '.join(sorted(unknown))}")
        for piece in self._ask_stream(question, k, **options):
            if isinstance(piece, Answer):
                self._audit_answer("ask_stream", question, options, piece)
            yield piece

    def _ask_stream(self, question: str | None, k: int | None, **options: Any) -> Iterator[str | Answer]:
        engine = self._engine_answer(question, options.get("template"), options.get("variables"), options.get("profile"),
                                     options.get("lang", "en"), options.get("as_of"), options.get("provider"))
        if engine is not None:  # the engine's answer is checked as a whole, then shown
            yield engine.text
            yield engine
            return
        model, request, summary, hits, day, documents = self._plan(
            question, k, options.get("template"), options.get("variables"), options.get("lang", "en"),
            options.get("as_of"), options.get("instruments"), options.get("provider"),
        )
        if model is None:
            answer = self._note_missing_profile(options.get("template"), offline_answer(summary, hits, self.embedder, day, options.get("lang", "en")))
            answer = _with_documents(answer, documents)
            yield answer.text
            yield answer
            return
        for piece in stream_answer(model, request, summary, hits, self.embedder, day, options.get("lang", "en"),
                                   self.settings.max_answer_tokens, options.get("temperature")):
            if isinstance(piece, Answer):
                section = documents_section(documents, piece.lang)
                if section:
                    yield section
                piece = _with_documents(self._note_missing_profile(options.get("template"), piece), documents)
            yield piece

    def assess(self, profile: ProfileInput, as_of: dt.date | None = None) -> Assessment:
        """Deterministic cited checklist, risk level and 6-month roadmap for a business profile
        (a Profile, a mapping, or a YAML/JSON path)."""
        profile = as_profile(profile)
        result = assess(profile, self.corpus, self.rulebook, as_of)
        self._audit("assess", profile.name or profile.description[:200] or "profile", {
            "as_of": result.as_of.isoformat(), "profile": profile.model_dump(mode="json", exclude_defaults=True),
            "provider": "engine", "risk_level": result.risk_level,
            "obligations": result.ids("applies") + result.ids("confirm"),
            "citations": sorted({c.label_en for f in (*result.applicable, *result.to_confirm) for c in f.citations}),
        })
        return result

    def close(self) -> None:
        with self._rw.write(), self._lock:
            if self._workspace is not None:
                self._workspace.close()
                self._workspace = None
            if self._store is not None:
                self._store.close()
                self._store = None
                self._retriever = None

    def __enter__(self) -> "Advisor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def documents_section(documents: list[Hit], lang: str) -> str:
    """The company's own documents found for a question, listed apart from the law and never as law."""
    if not documents:
        return ""
    head = "贵司内部文件（非法规）：" if lang == "zh" else "Your documents (not law):"
    lines = ["", "", head]
    for hit in documents:
        excerpt = hit.text_zh if len(hit.text_zh) <= EXCERPT_CHARS else hit.text_zh[:EXCERPT_CHARS].rstrip() + "…"
        lines.append(f"- {hit.regulation} ({hit.heading_zh}): \"{excerpt}\"")
    return "\n".join(lines)


def _with_documents(answer: Answer, documents: list[Hit]) -> Answer:
    """The answer with the company document parts found: after the law in its text, and in `documents`."""
    if documents:
        section = documents_section(documents, answer.lang)
        if not answer.text.endswith(section):
            answer.text = answer.text.rstrip("\n") + section
        answer.documents = list(documents)
    return answer
