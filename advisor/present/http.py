"""HTTP API for wiki and chat bots (FastAPI), in the same process as the chat app.

    POST /v1/ask               question or template + variables -> the CLI's answer JSON
    POST /v1/retrieve          question -> ranked articles
    GET  /v1/regulations       the instruments in the corpus
    GET  /v1/templates         the prompt templates and their variables
    POST /v1/assess            business profile -> the applicability assessment (JSON or Markdown)
    GET  /v1/profile/schema    the JSON Schema of a business profile
    POST /v1/chat/completions  OpenAI chat-completions shape (streaming or not), citations in an extra field
    GET  /v1/models            the advisor as an OpenAI "model"
    GET  /healthz              liveness and what is loaded (open, answers at once under any load)
    GET|POST /login            the chat page's login (sets a cookie) when a token is set
    /docs                      OpenAPI documentation

Security (advisor.present.gate): with `api_token` set every route but /healthz, /login and the signed bot
webhooks needs the token; request bodies are limited as they arrive; answers and retrievals wait in a bounded
queue (503 + Retry-After beyond it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import sys
import time
import uuid
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from advisor.compose.answer import Answer
from advisor.compose.assess import Profile, ProfileError, parse_profile
from advisor.compose.markup import md_text
from advisor.errors import (
    AdvisorError,
    BadQuestion,
    CorpusError,
    EmbedderError,
    ProviderError,
    StoreError,
    TemplateError,
    UnknownInstrument,
    UnknownProvider,
)
from advisor.present import openai_chat
from advisor.present.advisor import Advisor
from advisor.present.gate import (
    COOKIE,
    LOGIN_PATH,
    BodyLimit,
    Busy,
    TokenGate,
    WorkQueue,
    login_form,
    login_page,
    matching_token,
    safe_next,
    session_cookie,
)
from advisor.present.openai_chat import ChatError, Cutter
from advisor.present.api_tokens import configured

log = logging.getLogger("advisor.http")
MODEL_ID = "china-ai-advisor"
CHAT_PATH = "/v1/chat/completions"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(Strict):
    question: str | None = Field(None, description="A free question; or use template + variables.")
    template: str | None = None
    variables: dict[str, str] | None = None
    lang: Literal["en", "zh"] = "en"
    as_of: dt.date | None = None
    instruments: list[str] | None = None
    k: int | None = Field(None, ge=1, le=50)
    provider: str | None = Field(None, description="One of the providers the operator allows (settings.allowed_providers); "
                                                   "default: the configured one.")
    profile: dict[str, Any] | None = Field(
        None, description="A business profile (as for /v1/assess): the risk_level and roadmap templates are then built "
                          "on the applicability engine, and a model may only reword its items.")


class RetrieveRequest(Strict):
    question: str
    k: int = Field(10, ge=1, le=100)
    as_of: dt.date | None = None
    instruments: list[str] | None = None
    status: list[str] | None = None
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"


class AssessRequest(Strict):
    """A business profile to assess (the profile is validated by the assessment engine, which names each bad field)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "profile": {"name": "Public chatbot", "public_service": True, "features": {"generative_text": True},
                    "users": 2000000, "personal_information": True, "pi_subjects": 2000000},
        "lang": "en", "format": "json"}]})

    profile: Any = Field(description="The business profile: see GET /v1/profile/schema for its fields.",
                         json_schema_extra={"type": "object"})
    lang: Literal["en", "zh"] = Field("en", description="Language of the Markdown report.")
    as_of: dt.date | None = Field(None, description="Date whose rules apply (YYYY-MM-DD); default today.")
    format: Literal["json", "markdown"] = Field(
        "json", description="json: the full assessment (as `advisor assess --json`); "
                            "markdown: {profile, as_of, risk_level, lang, markdown}.")


def _status_for(exc: AdvisorError) -> int:
    if isinstance(exc, ProfileError):  # a bad profile is invalid input, like a bad request field
        return 422
    if isinstance(exc, (BadQuestion, TemplateError, UnknownInstrument, UnknownProvider)):
        return 400
    if isinstance(exc, (StoreError, ProviderError, EmbedderError, CorpusError)):
        return 503
    return 400


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status,
                        headers=headers)


def _openai_error(status: int, message: str, code: str | None, param: str | None = None,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else ("server_error" if status == 500 else "service_unavailable")
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status,
                        headers=headers)


def refuse_malformed_text(value: Any, where: str = "body") -> None:
    """BadQuestion (a 400) when any string in a request holds a lone surrogate (text that is not Unicode)."""
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            raise BadQuestion(f"{where}: malformed text (a lone surrogate such as \\ud800); send valid Unicode")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_malformed_text(key, where)
            refuse_malformed_text(item, f"{where}.{key}" if where != "body" else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            refuse_malformed_text(item, f"{where}.{i}")


def answer_markdown(answer: Answer) -> str:
    """The answer with its citations and warnings, as Markdown (for bots, wikis and downloads)."""
    lines = [answer.text.rstrip(), ""]
    if answer.citations:
        lines.append("**Citations**" if answer.lang != "zh" else "**引用条文**")
        for c in answer.citations:
            status = f" ({c.status}, effective {c.effective})" if c.effective else ""
            link = f" [{c.source_url}]({c.source_url})" if c.source_url else ""
            quote = "" if answer.provider == "offline" else f": 「{c.quote}」"  # offline text already quotes
            displaced = f" ({c.displaced_note(answer.lang)})" if c.displaced_by else ""
            lines.append(f"- {c.label}{status}{displaced}{quote}{link}")
    for w in answer.warnings:  # warnings may quote a model's or a user's text: shown as typed, never as markup
        lines.append(f"> warning: {md_text(w)}")
    lines.append(f"\n_as of {answer.as_of.isoformat()}, {answer.provider}_")
    return "\n".join(lines)


def create_app(advisor: Advisor, mount_ui: bool = False) -> FastAPI:
    """The API over one Advisor (optionally with the Gradio chat mounted at /).

    Every route but /healthz, the login page and the signed bot webhooks needs the token when one is set
    (`gate.TokenGate`); bodies are limited as they arrive (`gate.BodyLimit`); retrievals and answers wait in
    a bounded queue for a worker (`gate.WorkQueue`), so /healthz never waits behind them.
    """
    settings = advisor.settings
    tokens = configured(settings)  # name -> token: api_token ("api") and the named api_tokens
    app = FastAPI(title="China AI compliance advisor", version="0.1.0",
                  description="Cited answers from China's AI and data regulations. Not legal advice.")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(TokenGate, tokens=tokens, max_age=settings.session_hours * 3600)  # outermost: before any body
    work = WorkQueue(settings.concurrency, settings.max_queue, settings.retry_after)
    app.state.work = work
    health = anyio.CapacityLimiter(2)  # /healthz reads the index state on its own threads, never behind the work
    corpus = advisor.corpus  # loaded now: no request ever waits for it (or for a lock around it)
    instruments = len(corpus)

    def is_chat(request: Request) -> bool:
        return request.url.path == CHAT_PATH

    @app.exception_handler(AdvisorError)
    async def _advisor_error(request: Request, exc: AdvisorError):
        status = _status_for(exc)
        if is_chat(request):
            return _openai_error(status, str(exc), type(exc).__name__)
        return _error(status, str(exc), type(exc).__name__)

    @app.exception_handler(ChatError)
    async def _chat_error(request: Request, exc: ChatError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy):
        headers = {"Retry-After": str(exc.retry_after)}
        if is_chat(request):
            return _openai_error(503, str(exc), "busy", headers=headers)
        return _error(503, str(exc), "busy", headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        kind = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else kind
        if is_chat(request):
            return _openai_error(exc.status_code, message, kind, headers=getattr(exc, "headers", None))
        return _error(exc.status_code, message, kind, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(422, problems or "invalid request", "invalid_request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); see the server log", "internal_error")

    # ---- open routes -----------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz():
        """At once under any load (never behind a worker): 200 when the index is complete and of today's corpus,
        503 with the index state otherwise; and how much work is in progress or queued."""
        try:
            index = (await anyio.to_thread.run_sync(advisor.index_state, limiter=health)).to_dict()
        except AdvisorError as exc:  # the store cannot be opened or read
            index = {"state": "unavailable", "message": str(exc)}
        complete = index["state"] == "complete"
        body = {"status": "ok" if complete else "unavailable", "index": index, "instruments": instruments,
                "embedder": settings.embedder, "provider": settings.provider,
                "work": {"in_progress_or_queued": work.pending, "capacity": work.capacity}}
        return JSONResponse(body, status_code=200 if complete else 503)

    @app.get(LOGIN_PATH, include_in_schema=False)
    async def login(next: str = "/"):
        if not tokens:
            return RedirectResponse(safe_next(next), status_code=303)
        return HTMLResponse(login_page(next))

    @app.post(LOGIN_PATH, include_in_schema=False)
    async def login_submit(request: Request):
        given, target = login_form(await request.body())
        if not tokens:
            return RedirectResponse(safe_next(target), status_code=303)
        token = matching_token(given, tokens)
        if token is None:
            log.warning("failed login from %s", request.client.host if request.client else "?")
            await asyncio.sleep(1.0)  # slows down guessing
            return HTMLResponse(login_page(target, "Wrong token · 令牌错误"), status_code=401)
        response = RedirectResponse(safe_next(target), status_code=303)
        response.set_cookie(COOKIE, session_cookie(token), max_age=int(settings.session_hours * 3600), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/")
        return response

    @app.get("/logout", include_in_schema=False)
    async def logout():
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---- the API (behind the token when one is set) ----------------------------------------------
    @app.post("/v1/ask")
    async def ask(body: AskRequest) -> dict:
        refuse_malformed_text(body.model_dump(mode="json"))
        if not body.question and not body.template:
            raise BadQuestion("give a question or a template")
        profile = parse_profile(body.profile) if body.profile is not None else None  # a mapping, never a path
        answer = await work.run(lambda: advisor.ask(
            body.question, body.k, template=body.template, variables=body.variables, lang=body.lang, as_of=body.as_of,
            instruments=body.instruments, provider=body.provider, profile=profile))
        return answer.to_dict()

    @app.post("/v1/retrieve")
    async def retrieve(body: RetrieveRequest) -> dict:
        refuse_malformed_text(body.model_dump(mode="json"))
        hits = await work.run(lambda: advisor.retrieve(body.question, body.k, as_of=body.as_of, instruments=body.instruments,
                                                       status=body.status, mode=body.mode))
        return {"hits": [h.to_dict() for h in hits]}

    @app.get("/v1/regulations")
    def regulations() -> dict:
        rows = []
        for inst in sorted(corpus, key=lambda i: i.id):
            rows.append({
                "id": inst.id, "title_zh": inst.title_zh, "title_en": inst.title_en, "issuers": inst.issuers,
                "document_number": inst.document_number, "effective": inst.effective.isoformat() if inst.effective else None,
                "status": inst.status.value, "articles": len(inst.articles), "verification": inst.verification.status,
                "source_url": inst.source_url,
            })
        return {"regulations": rows}

    @app.get("/v1/templates")
    def templates() -> dict:
        return {"templates": [{"name": t.name, "title": t.title, "description": t.description, "variables": t.variables}
                              for t in advisor.templates().values()]}

    @app.post("/v1/assess", summary="Assess a business profile",
              description="Deterministic (no model): the obligations that apply, with verbatim citations, the risk "
                          "level and a six-month roadmap. `format: json` returns the same JSON as `advisor assess "
                          "--json`; `format: markdown` returns `{profile, as_of, risk_level, lang, markdown}`. "
                          "A bad profile field is a 422 naming the field and the valid fields.")
    async def assess(body: AssessRequest) -> dict:
        refuse_malformed_text(body.model_dump(mode="json"))
        profile = parse_profile(body.profile)  # never a path: Advisor.assess would read a str as a file
        assessment = await work.run(lambda: advisor.assess(profile, as_of=body.as_of))
        if body.format == "json":
            return assessment.to_dict()
        return {"profile": assessment.profile, "as_of": assessment.as_of.isoformat(), "risk_level": assessment.risk_level,
                "lang": body.lang, "markdown": assessment.to_markdown(body.lang)}

    @app.get("/v1/profile/schema", summary="JSON Schema of a business profile",
             description="The fields `POST /v1/assess` accepts in `profile`, with types, defaults and allowed values "
                         "(for building forms).")
    def profile_schema() -> dict:
        return Profile.model_json_schema()

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "china-ai-advisor"}]}

    @app.post(CHAT_PATH, summary="OpenAI chat completions",
              description=(openai_chat.__doc__ or "").split("\n\n", 1)[-1])
    async def chat(request: Request):
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise ChatError("the request body is not valid JSON", None, "invalid_json") from None
        body = openai_chat.parse(data)
        try:
            refuse_malformed_text(data)
        except BadQuestion as exc:
            raise ChatError(str(exc), "messages", "malformed_text") from None
        users = [openai_chat.texts(m) for m in body.messages if m.role == "user"]
        if not users:
            raise ChatError("messages must include a user message", "messages")
        question = openai_chat.question_from_turns(users, corpus, settings.max_question_chars)
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in users[-1]) else "en"
        created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:12]}"
        cutter = Cutter.of(body)

        def envelope(extra: dict) -> dict:
            return {"id": ident, "created": created, "model": body.model, **extra}

        if not body.stream:
            answer = await work.run(lambda: advisor.ask(question, lang=lang, temperature=body.temperature))
            content = cutter.feed(answer_markdown(answer), last=True)
            return envelope({
                "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": cutter.finish_reason,
                             "message": {"role": "assistant", "content": content}}],
                "citations": [c.to_dict() for c in answer.citations],
                "warnings": answer.warnings,
                "usage": openai_chat.usage(body, content),
            })

        include_usage = bool((body.stream_options or {}).get("include_usage"))
        pieces = advisor.ask_stream(question, lang=lang, temperature=body.temperature)
        first = await work.run(next, pieces)  # the question is checked before the stream starts (a 4xx, not a broken stream)

        def chunk(delta: dict, finish=None, **extra) -> str:
            data = envelope({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                             **({"usage": None} if include_usage else {}), **extra})
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            streamed = ""
            final: Answer | None = None
            try:
                async for piece in work.stream(itertools.chain([first], pieces)):
                    if isinstance(piece, Answer):
                        final = piece
                        markdown = answer_markdown(piece)
                        # a model answer was streamed already: add its citations; a fallback was not: send it whole
                        kept = streamed and piece.text.startswith(streamed.rstrip()[:40])
                        text = markdown[len(piece.text.rstrip()):] if kept else markdown
                    else:
                        streamed += piece
                        text = piece
                    out = cutter.feed(text)
                    if out:
                        yield chunk({"content": out})
            except Exception as exc:  # noqa: BLE001 - the stream has started: say so in it, then end it
                log.exception("streaming answer failed")
                yield f"data: {json.dumps({'error': {'message': f'internal error ({type(exc).__name__})', 'type': 'server_error', 'param': None, 'code': None}})}\n\n"
                yield "data: [DONE]\n\n"
                return
            out = cutter.finish()
            if out:
                yield chunk({"content": out})
            yield chunk({}, cutter.finish_reason, citations=[c.to_dict() for c in final.citations] if final else [],
                        warnings=final.warnings if final else [])
            if include_usage:
                data = envelope({"object": "chat.completion.chunk", "choices": [], "usage": openai_chat.usage(body, cutter.sent)})
                yield f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    from advisor.present.bots import build_router

    app.include_router(build_router(lambda question: advisor.ask(question), settings))

    from advisor.present.http_workspace import include_workspace

    include_workspace(app, advisor, [])  # behind the TokenGate like every route

    if mount_ui:
        import gradio as gr

        from advisor.present.chat_ui import build_ui

        blocks = build_ui(advisor)
        app = gr.mount_gradio_app(app, blocks, path="/")
        # Gradio checks that a file sent to a function was uploaded (is in its upload folder) only once it
        # "has launched", which a mounted app never does: without this, a FileData path names any file on the
        # server, which Gradio copies into its cache for the function (issue 12 item 2). The interview checks
        # the path again itself (interview_ui.uploaded_file).
        blocks.has_launched = True
    return app


def serve(advisor: Advisor, host: str | None = None, port: int | None = None, ui: bool = True) -> None:
    """Ingest unless the index is complete and of today's corpus, then run the API (and the chat app) with uvicorn."""
    import uvicorn

    settings = advisor.settings
    state = advisor.index_state()
    if not state.complete:
        print(f"index {state.state}: ingesting the corpus first ...", flush=True)
        print(advisor.ingest().summary(), flush=True)
    host, port = host or settings.host, port or settings.port
    if settings.api_token is None and host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host} without ADVISOR_API_TOKEN: anyone who can reach this port can use the "
              "advisor and its configured model; set a token (see README, Deploying)", file=sys.stderr, flush=True)
    app = create_app(advisor, mount_ui=ui)
    print(f"China AI compliance advisor on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
