"""The audit trail: every answer, assessment and change, with who made it (OS user, `--user`, or the name
of the API token, never the token), the question or profile, the citations, the provider and model, and
the corpus version. Append-only: there is no update or delete API, the database refuses UPDATEs, and old
entries leave only through the retention purge (setting ``audit_retention_days``).

With ``audit_mask_pii = true`` phone numbers, Chinese resident ID numbers and email addresses in logged
text (questions, template variables, profile names and descriptions) are replaced by placeholders.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import datetime as dt
import getpass
import io
import json
import re
from typing import Any, Iterator

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from advisor.workspace.models import AuditEntry, utcnow

_USER: contextvars.ContextVar[str | None] = contextvars.ContextVar("advisor_audit_user", default=None)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")
PLACEHOLDERS = {"email": "[email]", "id": "[ID number]", "phone": "[phone]"}


def mask_pii(text: str) -> str:
    """`text` with emails, Chinese ID numbers (18 or 15 digits) and phone numbers replaced by placeholders."""
    text = _EMAIL.sub(PLACEHOLDERS["email"], text)
    text = _ID_NUMBER.sub(PLACEHOLDERS["id"], text)
    text = _MOBILE.sub(PLACEHOLDERS["phone"], text)
    return _LANDLINE.sub(PLACEHOLDERS["phone"], text)


def _mask_deep(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {k: _mask_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_deep(v) for v in value]
    return value


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


def current_user() -> str:
    """Who is acting: set by the shell (`acting_as`), else the local OS user."""
    return _USER.get() or os_user()


@contextlib.contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Everything logged inside the block is attributed to `user`."""
    token = _USER.set(user)
    try:
        yield
    finally:
        _USER.reset(token)


def set_user(user: str) -> None:
    """Attribute what this context logs from now on to `user` (ASGI middleware, CLI)."""
    _USER.set(user)


class Audit:
    """Writes and reads the audit log of one workspace database."""

    def __init__(self, sessions, *, mask: bool = False, retention_days: int | None = None):
        self.sessions, self.mask, self.retention_days = sessions, mask, retention_days

    def log(self, action: str, *, subject: str = "", detail: dict | None = None, system: str | None = None,
            user: str | None = None, session: Session | None = None) -> None:
        """Append one entry (in `session`'s transaction when given, so it commits with the change)."""
        detail = dict(detail or {})
        if self.mask:
            subject, detail = mask_pii(subject), _mask_deep(detail)
        entry = AuditEntry(at=utcnow(), user=(user or current_user())[:120], action=action, system=system,
                           subject=subject, detail=json.loads(json.dumps(detail, ensure_ascii=False, default=str)))
        if session is not None:
            session.add(entry)
            return
        with self.sessions.begin() as s:
            s.add(entry)

    def on_change(self, session: Session, action: str, detail: dict) -> None:
        """The workspace's change hook: status changes, profile versions, assessments, records."""
        detail = dict(detail)
        user, system = detail.pop("user", None), detail.pop("system", None)
        subject = ""
        if action == "obligation.update":
            b, a = detail.get("before", {}), detail.get("after", {})
            subject = f"{detail.get('obligation')}: {b.get('status')} -> {a.get('status')}"
        elif "profile" in detail:
            subject = json.dumps(detail["profile"], ensure_ascii=False, sort_keys=True)
        self.log(action, subject=subject, detail=detail, system=system, user=user, session=session)

    def entries(self, since: dt.datetime | dt.date | None = None, until: dt.datetime | dt.date | None = None, *,
                action: str | None = None, system: str | None = None, limit: int | None = None) -> list[dict]:
        """Entries in [since, until) (dates mean midnight UTC), oldest first."""
        q = select(AuditEntry)
        if since is not None:
            q = q.where(AuditEntry.at >= _moment(since))
        if until is not None:
            q = q.where(AuditEntry.at < _moment(until))
        if action:
            q = q.where(AuditEntry.action == action)
        if system:
            q = q.where(AuditEntry.system == system)
        q = q.order_by(AuditEntry.id)
        if limit:
            q = q.limit(limit)
        with self.sessions() as s:
            return [{"id": e.id, "at": e.at.isoformat(), "user": e.user, "action": e.action, "system": e.system,
                     "subject": e.subject, "detail": e.detail} for e in s.scalars(q)]

    def export(self, fmt: str = "jsonl", **filters: Any) -> str:
        """The entries as JSON Lines or CSV (detail as a JSON column)."""
        rows = self.entries(**filters)
        if fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["id", "at", "user", "action", "system", "subject", "detail"])
            for r in rows:
                writer.writerow([r["id"], r["at"], r["user"], r["action"], r["system"] or "", r["subject"],
                                 json.dumps(r["detail"], ensure_ascii=False)])
            return buf.getvalue()
        from advisor.workspace.db import WorkspaceError

        raise WorkspaceError(f"audit export format must be jsonl or csv, not '{fmt}'")

    def purge(self, now: dt.datetime | None = None) -> int:
        """Delete entries older than the retention setting; the number deleted (0 when no retention is set)."""
        if not self.retention_days:
            return 0
        cutoff = (now or utcnow()) - dt.timedelta(days=self.retention_days)
        with self.sessions.begin() as s:
            return s.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount or 0


def _moment(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
