"""The workspace over HTTP: /v1/systems/..., /v1/dashboard, /v1/audit (included by `create_app` with the
same auth dependency as the other /v1 routes).

    GET    /v1/systems                                list: risk level, progress, overdue, next review
    POST   /v1/systems                                add {name, profile, key?, description?, owner?, review_months?}
    GET    /v1/systems/{key}                          one system, its profile and latest assessment
    PATCH  /v1/systems/{key}                          {version, name?, description?, owner?, review_months?, last_reviewed?}
    GET    /v1/systems/{key}/profiles                 every profile version
    PUT    /v1/systems/{key}/profile                  {version, profile, note?}: a new profile version
    POST   /v1/systems/{key}/assess                   {as_of?}: assess, store, update the checklist
    POST   /v1/systems/{key}/reassess                 {as_of?, save?}: obligations added/removed/changed and why
    GET    /v1/systems/{key}/assessments              the assessments over time
    GET    /v1/systems/{key}/obligations              the checklist (?all=true: with those no longer found)
    PATCH  /v1/systems/{key}/obligations/{id}         {version, status?, na_reason?, owner?, due?, notes?, evidence?, add_evidence?}
    GET    /v1/systems/{key}/records[/{kind}]         records by kind
    POST   /v1/systems/{key}/records/{kind}           a JSON object or list, or a CSV body (text/csv); all or none
    GET    /v1/systems/{key}/export, /v1/export       ?format=md|xlsx|docx&lang=en|zh: a file to hand on
    GET    /v1/dashboard                              obligations by status and by risk across systems
    GET    /v1/watch/items                            announcements recognised by `advisor watch`
    GET    /v1/audit                                  the audit log for a period (?since&until&format=json|jsonl|csv)

Every write is attributed to the name of the API token used (`api_tokens` setting; the single `api_token`
is "api"; "anonymous" when the API has no token). An edit names the `version` it is based on; a stale one
gets 409 with the row as it is now, so two people editing the same system never lose an update.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Optional

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from advisor.present.advisor import Advisor
from advisor.present.api_tokens import token_name
from advisor.workspace import ConflictError, NotFound, WorkspaceError
from advisor.workspace.audit import current_user, set_user
from advisor.workspace.service import STATUSES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SystemCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    profile: dict[str, Any] = Field(default_factory=dict, description="A business profile (see GET /v1/profile/schema).")
    key: Optional[str] = Field(None, description="Short id, lowercase letters, digits and dashes (default: from the name).")
    description: str = ""
    owner: Optional[str] = None
    review_months: int = Field(3, ge=1, le=60)


class SystemUpdate(_Strict):
    version: int = Field(description="The version this edit is based on (from GET).")
    name: Optional[str] = Field(None, min_length=1, max_length=200)
    description: Optional[str] = None
    owner: Optional[str] = None
    review_months: Optional[int] = Field(None, ge=1, le=60)
    last_reviewed: Optional[dt.date] = None


class ProfileUpdate(_Strict):
    version: int = Field(description="The system version this profile is based on.")
    profile: dict[str, Any]
    note: str = ""


class AssessBody(_Strict):
    as_of: Optional[dt.date] = None


class ReassessBody(_Strict):
    as_of: Optional[dt.date] = None
    save: bool = Field(True, description="Store the fresh assessment and update the checklist (false: only compare).")


class ItemUpdate(_Strict):
    version: int = Field(description="The version of the obligation this edit is based on.")
    status: Optional[Literal["not_started", "in_progress", "done", "not_applicable"]] = None
    na_reason: Optional[str] = Field(None, description="Why it does not apply (required with not_applicable).")
    owner: Optional[str] = None
    due: Optional[dt.date] = None
    notes: Optional[str] = None
    evidence: Optional[list[str]] = Field(None, description="Replace the evidence references (file names or links).")
    add_evidence: Optional[list[str]] = Field(None, description="Add evidence references.")
    clear: list[Literal["owner", "due", "notes"]] = []


def _conflict(exc: ConflictError, current: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": str(exc), "type": "conflict"}, "current": current}, status_code=409)


class _WhoMiddleware:
    """Pure ASGI: attributes everything a request logs to the name of its API token (never the token)."""

    def __init__(self, app, settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"authorization"), "")
            name = token_name(self.settings, header)
            set_user(f"api:{name}" if name else "api:unauthenticated")
        await self.app(scope, receive, send)


def include_workspace(app: FastAPI, advisor: Advisor, dependencies: list) -> None:
    """Add the workspace routes (behind `dependencies`), their error statuses, and the who-is-it middleware."""
    app.add_middleware(_WhoMiddleware, settings=advisor.settings)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return JSONResponse({"error": {"message": str(exc), "type": "not_found"}}, status_code=404)

    @app.exception_handler(ConflictError)
    async def _stale(request: Request, exc: ConflictError):
        return JSONResponse({"error": {"message": str(exc), "type": "conflict"}}, status_code=409)

    router = APIRouter(prefix="/v1", dependencies=dependencies, tags=["workspace"])
    ws = lambda: advisor.workspace  # noqa: E731 - opened on first use

    @router.get("/systems", summary="List the AI systems")
    def list_systems() -> dict:
        return {"systems": ws().list_systems()}

    @router.post("/systems", status_code=201, summary="Add an AI system with its business profile")
    def add_system(body: SystemCreate) -> dict:
        profile = {"name": body.name, **body.profile}
        return ws().add_system(body.name, profile, user=current_user(), key=body.key, description=body.description,
                               owner=body.owner, review_months=body.review_months)

    @router.get("/systems/{key}", summary="One system")
    def get_system(key: str) -> dict:
        return ws().get_system(key)

    @router.patch("/systems/{key}", summary="Change a system (optimistic concurrency: give its version)")
    def update_system(key: str, body: SystemUpdate):
        changes = body.model_dump(exclude_unset=True, exclude={"version"})
        try:
            return ws().update_system(key, expected_version=body.version, user=current_user(), **changes)
        except ConflictError as exc:
            return _conflict(exc, ws().get_system(key))

    @router.get("/systems/{key}/profiles", summary="Every profile version, with who and when")
    def profiles(key: str) -> dict:
        return {"profiles": ws().profile_history(key)}

    @router.put("/systems/{key}/profile", summary="Save a new profile version")
    def set_profile(key: str, body: ProfileUpdate):
        try:
            return ws().set_profile(key, body.profile, expected_version=body.version, user=current_user(), note=body.note)
        except ConflictError as exc:
            return _conflict(exc, ws().get_system(key))

    @router.post("/systems/{key}/assess", summary="Assess the current profile and update the checklist")
    def assess(key: str, body: AssessBody | None = None) -> dict:
        return ws().assess_system(key, advisor, user=current_user(), as_of=body.as_of if body else None)

    @router.post("/systems/{key}/reassess", summary="What changed since the last assessment (and store the new one)")
    def reassess(key: str, body: ReassessBody | None = None) -> dict:
        body = body or ReassessBody()
        return ws().reassess(key, advisor, user=current_user(), as_of=body.as_of, save=body.save)

    @router.get("/systems/{key}/assessments", summary="The assessments over time")
    def assessments(key: str) -> dict:
        return {"assessments": ws().assessments(key)}

    @router.get("/systems/{key}/obligations", summary="The tracked checklist")
    def checklist(key: str, all: bool = False) -> dict:  # noqa: A002 - the query parameter's name
        return {"obligations": ws().checklist(key, include_inactive=all), "statuses": list(STATUSES)}

    @router.patch("/systems/{key}/obligations/{obligation}", summary="Update a tracked obligation (give its version)")
    def update_item(key: str, obligation: str, body: ItemUpdate):
        changes = body.model_dump(exclude_unset=True, exclude={"version"})
        try:
            return ws().update_item(key, obligation, expected_version=body.version, user=current_user(),
                                    status=changes.get("status"), na_reason=changes.get("na_reason"),
                                    owner=changes.get("owner"), due=changes.get("due"), notes=changes.get("notes"),
                                    evidence=changes.get("evidence"), add_evidence=changes.get("add_evidence"),
                                    clear=changes.get("clear", []))
        except ConflictError as exc:
            current = [i for i in ws().checklist(key, include_inactive=True) if i["obligation"] == obligation]
            return _conflict(exc, current[0] if current else None)

    @router.get("/systems/{key}/records", summary="Records by kind")
    def all_records(key: str) -> dict:
        return {"records": ws().records(key)}

    @router.get("/systems/{key}/records/{kind}", summary="Records of one kind")
    def records(key: str, kind: str) -> dict:
        return {"records": ws().records(key, kind)}

    @router.post("/systems/{key}/records/{kind}", status_code=201,
                 summary="Add records: a JSON object or list, or CSV (Content-Type text/csv) with a header of field names",
                 openapi_extra={"requestBody": {"content": {
                     "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}},
                     "text/csv": {"schema": {"type": "string"}}}}})
    async def add_records(key: str, kind: str, request: Request) -> dict:
        body = (await request.body()).decode("utf-8", errors="replace")
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype in ("text/csv", "application/csv"):
            fmt = "csv"
        elif ctype == "application/json":
            fmt = "json"
            stripped = body.strip()
            if stripped.startswith("{"):
                body = f"[{stripped}]"
        else:
            raise WorkspaceError(f"send records as application/json or text/csv, not {ctype}")
        user = current_user()
        from starlette.concurrency import run_in_threadpool

        made = await run_in_threadpool(ws().import_records, key, kind, body, fmt, user=user)
        return {"records": made}

    def _export(keys, fmt: str, lang: str) -> Response:
        from advisor.workspace.exports import MEDIA, export, filename

        data = export(ws(), fmt, lang, keys)
        name = filename(fmt, lang, keys[0] if keys else None)
        return Response(data, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/systems/{key}/export", summary="One system as Markdown, Excel or Word, in English or Chinese",
                response_class=Response)
    def export_system(key: str, format: Literal["md", "xlsx", "docx"] = "md", lang: Literal["en", "zh"] = "en"):  # noqa: A002
        return _export([ws().get_system(key)["key"]], format, lang)

    @router.get("/export", summary="The whole workspace as Markdown, Excel or Word, in English or Chinese",
                response_class=Response)
    def export_all(format: Literal["md", "xlsx", "docx"] = "md", lang: Literal["en", "zh"] = "en"):  # noqa: A002
        return _export(None, format, lang)

    @router.get("/dashboard", summary="Obligations by status and by risk across systems")
    def dashboard() -> dict:
        return ws().dashboard()

    @router.get("/watch/items", summary="Announcements `advisor watch` recognised as new or amended rules")
    def watch_items(limit: int = Query(100, ge=1, le=1000)) -> dict:
        from advisor.workspace.watcher import Watcher

        watcher = Watcher(ws(), [], [], [])
        try:
            return {"items": watcher.items(limit)}
        finally:
            watcher.close()

    @router.get("/audit", summary="The audit log for a period")
    def audit(since: Optional[dt.date] = Query(None, description="From this date (inclusive)."),
              until: Optional[dt.date] = Query(None, description="Until this date (exclusive)."),
              action: Optional[str] = None, system: Optional[str] = None,
              format: Literal["json", "jsonl", "csv"] = "json") -> Response:  # noqa: A002
        log = ws().audit
        if format == "json":
            return JSONResponse({"entries": log.entries(since, until, action=action, system=system)})
        text = log.export(format, since=since, until=until, action=action, system=system)
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson; charset=utf-8"
        return PlainTextResponse(text, media_type=media)

    app.include_router(router)
