"""HTTP API for wiki and chat bots (FastAPI), in the same process as the chat app.

    POST /v1/ask               question or template + variables -> the CLI's answer JSON
    POST /v1/retrieve          question -> ranked articles
    GET  /v1/regulations       the instruments in the corpus
    GET  /v1/templates         the prompt templates and their variables
    POST /v1/assess            business profile -> the applicability assessment (JSON or Markdown)
    GET  /v1/profile/schema    the JSON Schema of a business profile
    POST /v1/chat/completions  OpenAI chat-completions shape (streaming or not), citations in an extra field
    GET  /v1/models            the advisor as an OpenAI "model"
    GET  /healthz              liveness and what is loaded
    /docs                      OpenAPI documentation
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import time
import uuid
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.base import BaseHTTPMiddleware

from advisor.compose.answer import Answer
from advisor.compose.assess import Profile, ProfileError, parse_profile
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
from advisor.present.advisor import Advisor

log = logging.getLogger("advisor.http")
MODEL_ID = "china-ai-advisor"


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
    provider: str | None = None
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


class ChatMessage(BaseModel):
    role: str
    content: str | list | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send many optional fields
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def _status_for(exc: AdvisorError) -> int:
    if isinstance(exc, ProfileError):  # a bad profile is invalid input, like a bad request field
        return 422
    if isinstance(exc, (BadQuestion, TemplateError, UnknownInstrument, UnknownProvider)):
        return 400
    if isinstance(exc, (StoreError, ProviderError, EmbedderError, CorpusError)):
        return 503
    return 400


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


class BodyLimit(BaseHTTPMiddleware):
    """Reject bodies over the limit before they are read (by Content-Length, and while streaming)."""

    def __init__(self, app, limit: int):
        super().__init__(app)
        self.limit = limit

    async def dispatch(self, request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.limit:
            return _error(413, f"request body over {self.limit} bytes", "payload_too_large")
        return await call_next(request)


def _text_of(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    if isinstance(message.content, list):  # OpenAI "content parts"
        return "".join(p.get("text", "") for p in message.content if isinstance(p, dict))
    return ""


def answer_markdown(answer: Answer) -> str:
    """The answer with its citations and warnings, as Markdown (for bots, wikis and downloads)."""
    lines = [answer.text.rstrip(), ""]
    if answer.citations:
        lines.append("**Citations**" if answer.lang != "zh" else "**引用条文**")
        for c in answer.citations:
            status = f" ({c.status}, effective {c.effective})" if c.effective else ""
            link = f" [{c.source_url}]({c.source_url})" if c.source_url else ""
            quote = "" if answer.provider == "offline" else f": 「{c.quote}」"  # offline text already quotes
            lines.append(f"- {c.label}{status}{quote}{link}")
    for w in answer.warnings:
        lines.append(f"> warning: {w}")
    lines.append(f"\n_as of {answer.as_of.isoformat()}, {answer.provider}_")
    return "\n".join(lines)


def create_app(advisor: Advisor, mount_ui: bool = False) -> FastAPI:
    """The API over one Advisor (optionally with the Gradio chat mounted at /)."""
    settings = advisor.settings
    app = FastAPI(title="China AI compliance advisor", version="0.1.0",
                  description="Cited answers from China's AI and data regulations. Not legal advice.")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    def auth(request: Request) -> None:
        token = settings.api_token.get_secret_value() if settings.api_token else None
        if not token:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise PermissionError

    @app.exception_handler(PermissionError)
    async def _unauthorised(request: Request, exc: PermissionError):
        log.warning("rejected %s %s from %s: missing or wrong bearer token", request.method, request.url.path, request.client.host if request.client else "?")
        return _error(401, "missing or wrong bearer token", "unauthorized")

    @app.exception_handler(AdvisorError)
    async def _advisor_error(request: Request, exc: AdvisorError):
        return _error(_status_for(exc), str(exc), type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(422, problems or "invalid request", "invalid_request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); see the server log", "internal_error")

    guarded = [Depends(auth)]

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "instruments": len(advisor.corpus), "embedder": settings.embedder, "provider": settings.provider}

    @app.post("/v1/ask", dependencies=guarded)
    def ask(body: AskRequest) -> dict:
        if not body.question and not body.template:
            raise BadQuestion("give a question or a template")
        profile = parse_profile(body.profile) if body.profile is not None else None  # a mapping, never a path
        answer = advisor.ask(body.question, body.k, template=body.template, variables=body.variables, lang=body.lang,
                             as_of=body.as_of, instruments=body.instruments, provider=body.provider, profile=profile)
        return answer.to_dict()

    @app.post("/v1/retrieve", dependencies=guarded)
    def retrieve(body: RetrieveRequest) -> dict:
        hits = advisor.retrieve(body.question, body.k, as_of=body.as_of, instruments=body.instruments, status=body.status, mode=body.mode)
        return {"hits": [h.to_dict() for h in hits]}

    @app.get("/v1/regulations", dependencies=guarded)
    def regulations() -> dict:
        rows = []
        for inst in sorted(advisor.corpus, key=lambda i: i.id):
            rows.append({
                "id": inst.id, "title_zh": inst.title_zh, "title_en": inst.title_en, "issuers": inst.issuers,
                "document_number": inst.document_number, "effective": inst.effective.isoformat() if inst.effective else None,
                "status": inst.status.value, "articles": len(inst.articles), "verification": inst.verification.status,
                "source_url": inst.source_url,
            })
        return {"regulations": rows}

    @app.get("/v1/templates", dependencies=guarded)
    def templates() -> dict:
        return {"templates": [{"name": t.name, "title": t.title, "description": t.description, "variables": t.variables}
                              for t in advisor.templates().values()]}

    @app.post("/v1/assess", dependencies=guarded, summary="Assess a business profile",
              description="Deterministic (no model): the obligations that apply, with verbatim citations, the risk "
                          "level and a six-month roadmap. `format: json` returns the same JSON as `advisor assess "
                          "--json`; `format: markdown` returns `{profile, as_of, risk_level, lang, markdown}`. "
                          "A bad profile field is a 422 naming the field and the valid fields.")
    def assess(body: AssessRequest) -> dict:
        profile = parse_profile(body.profile)  # never a path: Advisor.assess would read a str as a file
        assessment = advisor.assess(profile, as_of=body.as_of)
        if body.format == "json":
            return assessment.to_dict()
        return {"profile": assessment.profile, "as_of": assessment.as_of.isoformat(), "risk_level": assessment.risk_level,
                "lang": body.lang, "markdown": assessment.to_markdown(body.lang)}

    @app.get("/v1/profile/schema", dependencies=guarded, summary="JSON Schema of a business profile",
             description="The fields `POST /v1/assess` accepts in `profile`, with types, defaults and allowed values "
                         "(for building forms).")
    def profile_schema() -> dict:
        return Profile.model_json_schema()

    @app.get("/v1/models", dependencies=guarded)
    def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "china-ai-advisor"}]}

    @app.post("/v1/chat/completions", dependencies=guarded)
    def chat(body: ChatRequest):
        users = [m for m in body.messages if m.role == "user"]
        question = _text_of(users[-1]) if users else ""
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "en"
        created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:12]}"

        def envelope(extra: dict) -> dict:
            return {"id": ident, "created": created, "model": body.model, **extra}

        if not body.stream:
            answer = advisor.ask(question, lang=lang)
            return envelope({
                "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer_markdown(answer)}}],
                "citations": [c.to_dict() for c in answer.citations],
                "warnings": answer.warnings,
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            })
        pieces = advisor.ask_stream(question, lang=lang)  # validates the question before streaming starts
        first = next(pieces)

        def events():
            def chunk(delta: dict, finish=None, **extra) -> str:
                data = envelope({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})
                return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant"})
            streamed = ""
            for piece in [first, *pieces]:
                if isinstance(piece, Answer):
                    markdown = answer_markdown(piece)
                    # a model answer was streamed already: add citations; a fallback was not: send it whole
                    tail = markdown[len(piece.text.rstrip()):] if streamed and piece.text.startswith(streamed.rstrip()[:40]) else markdown
                    if tail.strip():
                        yield chunk({"content": tail})
                    yield chunk({}, "stop", citations=[c.to_dict() for c in piece.citations], warnings=piece.warnings)
                else:
                    streamed += piece
                    yield chunk({"content": piece})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    from advisor.present.bots import build_router

    app.include_router(build_router(lambda question: advisor.ask(question), settings))

    if mount_ui:
        import gradio as gr

        from advisor.present.chat_ui import build_ui

        app = gr.mount_gradio_app(app, build_ui(advisor), path="/")
    return app


def serve(advisor: Advisor, host: str | None = None, port: int | None = None, ui: bool = True) -> None:
    """Ingest if the store is empty, then run the API (and the chat app) with uvicorn."""
    import uvicorn

    settings = advisor.settings
    if not advisor.store.exists():
        print("no index yet: ingesting the corpus first ...", flush=True)
        print(advisor.ingest().summary(), flush=True)
    host, port = host or settings.host, port or settings.port
    app = create_app(advisor, mount_ui=ui)
    print(f"China AI compliance advisor on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
