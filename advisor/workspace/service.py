"""The workspace: an inventory of a company's AI systems, their versioned business profiles, their
assessments over time, a tracked checklist per system, and the records the guide asks for.

    ws = Workspace.open(settings)                    # SQLite file in data_dir, or settings.workspace_url
    ws.add_system("Customer-service bot", profile, user="alice")
    ws.assess_system("customer-service-bot", advisor, user="alice")   # any object with .assess/.corpus/.rulebook
    ws.update_item("customer-service-bot", "pipl-privacy-notice", expected_version=1, user="bob", status="done")

Every editable row carries a version; an update names the version it was based on, and a stale one raises
`ConflictError` (HTTP 409) instead of overwriting someone else's change. Profiles are stored as the JSON of
the engine's `Profile` (fields left at their default are omitted, so fields added to the model later keep
working); the workspace never lists profile fields itself.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from advisor.compose.assess import LEVELS, Assessment, Profile, ProfileError, parse_profile
from advisor.corpus import Corpus
from advisor.workspace.audit import Audit
from advisor.workspace.corpus_version import corpus_version, instrument_hash, short, snapshot
from advisor.workspace.db import WorkspaceError, default_url, open_engine
from advisor.workspace.models import (
    AssessmentRecord,
    InstrumentSnapshot,
    ProfileVersion,
    Record,
    System,
    TrackedObligation,
    utcnow,
)
from advisor.workspace.records import parse_rows, record_kind, validate_record

STATUSES = ("not_started", "in_progress", "done", "not_applicable")
STATUS_ZH = {"not_started": "未开始", "in_progress": "进行中", "done": "已完成", "not_applicable": "不适用"}
STATUS_EN = {"not_started": "not started", "in_progress": "in progress", "done": "done", "not_applicable": "not applicable"}
CLOSED = ("done", "not_applicable")


class ConflictError(WorkspaceError):
    """The row changed since the version the update was based on (HTTP 409)."""

    def __init__(self, what: str, expected: int, current: int | None):
        self.expected, self.current = expected, current
        now = f"it is now at version {current}" if current is not None else "it was changed meanwhile"
        super().__init__(f"{what} was changed by someone else: your edit is based on version {expected}, {now}; "
                         "reload it and apply your change again")


class NotFound(WorkspaceError):
    """No such system, obligation or record (HTTP 404)."""


class Assessor(Protocol):
    """What the workspace needs from the engine (the `Advisor` is one)."""

    corpus: Corpus
    rulebook: Any

    def assess(self, profile: Profile, as_of: Optional[dt.date] = None) -> Assessment: ...


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def default_due(as_of: dt.date, month: int) -> dt.date:
    """The last day of roadmap month `month` counted from the assessment date (month 1 ends a month later)."""
    return add_months(as_of, month) - dt.timedelta(days=1)


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def profile_data(profile: Profile | Mapping[str, Any]) -> dict:
    """A profile as stored: validated, then the JSON of its non-default fields."""
    if not isinstance(profile, Profile):
        profile = parse_profile(dict(profile) if isinstance(profile, Mapping) else profile)
    return profile.model_dump(mode="json", exclude_defaults=True)


def _date(value: Any, what: str) -> Optional[dt.date]:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise WorkspaceError(f"{what} must be a date like 2026-12-31, not '{value}'") from None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


@dataclass
class Hooks:
    """Called inside the same transaction as the change (the audit trail registers here)."""

    on_change: Optional[Callable[[Session, str, dict], None]] = None

    def changed(self, session: Session, action: str, detail: dict) -> None:
        if self.on_change is not None:
            self.on_change(session, action, detail)


class Workspace:
    """The workspace over one database (thread-safe: one short session per call)."""

    def __init__(self, engine: Engine, *, audit: bool = True, mask_pii: bool = False, retention_days: int | None = None):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.audit = Audit(self.sessions, mask=mask_pii, retention_days=retention_days)
        self.hooks = Hooks(self.audit.on_change if audit else None)
        self.audit.purge()

    @classmethod
    def open(cls, settings=None, url: str | None = None) -> "Workspace":
        """Open (and migrate) the database of `url`, else settings.workspace_url, else data_dir/workspace.db.

        The audit trail of workspace changes is on unless settings.audit is false."""
        if url is None and settings is not None:
            url = settings.workspace_url or default_url(settings.data_dir)
        if url is None:
            raise WorkspaceError("no workspace database: give a URL or settings")
        if settings is None:
            return cls(open_engine(url))
        return cls(open_engine(url), audit=settings.audit is not False, mask_pii=settings.audit_mask_pii,
                   retention_days=settings.audit_retention_days)

    def close(self) -> None:
        self.engine.dispose()

    # ---- lookups -------------------------------------------------------------------------------------
    def _system(self, s: Session, ref: str | int) -> System:
        text = str(ref).strip()
        row = s.scalar(select(System).where(System.key == text)) or s.scalar(select(System).where(System.name == text))
        if row is None and text.isdigit():
            row = s.get(System, int(text))
        if row is None:
            known = ", ".join(s.scalars(select(System.key).order_by(System.key).limit(20))) or "none yet"
            raise NotFound(f"no system '{ref}' in the workspace (systems: {known})")
        return row

    def _latest_profile(self, s: Session, system: System) -> ProfileVersion:
        row = s.scalar(select(ProfileVersion).where(ProfileVersion.system_id == system.id)
                       .order_by(ProfileVersion.number.desc()).limit(1))
        if row is None:  # pragma: no cover - every system is created with a profile
            raise WorkspaceError(f"system '{system.key}' has no profile")
        return row

    def _latest_assessment(self, s: Session, system_id: int) -> AssessmentRecord | None:
        return s.scalar(select(AssessmentRecord).where(AssessmentRecord.system_id == system_id)
                        .order_by(AssessmentRecord.id.desc()).limit(1))

    # ---- systems -------------------------------------------------------------------------------------
    def add_system(self, name: str, profile: Profile | Mapping[str, Any] | None = None, *, user: str,
                   key: str | None = None, description: str = "", owner: str | None = None,
                   review_months: int = 3) -> dict:
        """A new system with its first profile version."""
        name = (name or "").strip()
        if not name:
            raise WorkspaceError("a system needs a name")
        if len(name) > 200:
            raise WorkspaceError("a system name has at most 200 characters")
        if review_months < 1:
            raise WorkspaceError("review_months must be at least 1")
        data = profile_data(profile if profile is not None else {"name": name})
        with self.sessions.begin() as s:
            if s.scalar(select(System.id).where(System.name == name)) is not None:
                raise WorkspaceError(f"a system named '{name}' already exists")
            if key is not None:
                if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", key):
                    raise WorkspaceError(f"a system key is lowercase letters, digits and dashes, not '{key}'")
                if s.scalar(select(System.id).where(System.key == key)) is not None:
                    raise WorkspaceError(f"the key '{key}' is taken")
            else:
                key = slugify(name) or "system"
                taken = set(s.scalars(select(System.key).where(System.key.like(f"{key}%"))))
                base, n = key, 2
                while key in taken:
                    key, n = f"{base}-{n}", n + 1
            now = utcnow()
            system = System(key=key, name=name, description=description or "", owner=owner, review_months=review_months,
                            created_at=now, created_by=user, updated_at=now, updated_by=user)
            s.add(system)
            s.flush()
            s.add(ProfileVersion(system_id=system.id, number=1, data=data, note="created", created_at=now, created_by=user))
            self.hooks.changed(s, "system.add", {"system": key, "user": user, "profile": data})
            try:
                s.flush()
            except IntegrityError:
                raise WorkspaceError(f"a system named '{name}' or with key '{key}' already exists") from None
            return self._system_dict(s, system)

    def _system_dict(self, s: Session, system: System) -> dict:
        pv = self._latest_profile(s, system)
        latest = self._latest_assessment(s, system.id)
        return {
            "key": system.key, "name": system.name, "description": system.description, "owner": system.owner,
            "review_months": system.review_months, "last_reviewed": _iso(self._last_review(system, latest)),
            "next_review": _iso(self._next_review(system, latest)),
            "version": system.version, "created_at": _iso(system.created_at), "created_by": system.created_by,
            "updated_at": _iso(system.updated_at), "updated_by": system.updated_by,
            "profile": pv.data, "profile_version": pv.number,
            "assessment": self._assessment_summary(latest),
        }

    @staticmethod
    def _last_review(system: System, latest: AssessmentRecord | None) -> dt.date:
        days = [system.created_at.date()]
        if system.last_reviewed:
            days.append(system.last_reviewed)
        if latest is not None:
            days.append(latest.created_at.date())
        return max(days)

    def _next_review(self, system: System, latest: AssessmentRecord | None) -> dt.date:
        return add_months(self._last_review(system, latest), system.review_months)

    @staticmethod
    def _assessment_summary(row: AssessmentRecord | None) -> dict | None:
        if row is None:
            return None
        return {"id": row.id, "as_of": row.as_of.isoformat(), "risk_level": row.risk_level, "applicable": row.applicable,
                "to_confirm": row.to_confirm, "created_at": _iso(row.created_at), "created_by": row.created_by,
                "corpus_version": short(row.corpus_version)}

    def get_system(self, ref: str | int) -> dict:
        with self.sessions() as s:
            return self._system_dict(s, self._system(s, ref))

    def update_system(self, ref: str | int, *, expected_version: int, user: str, **changes: Any) -> dict:
        """Change name, description, owner, review_months or last_reviewed (optimistic concurrency)."""
        allowed = {"name", "description", "owner", "review_months", "last_reviewed"}
        unknown = set(changes) - allowed
        if unknown:
            raise WorkspaceError(f"cannot change {', '.join(sorted(unknown))} of a system; fields: {', '.join(sorted(allowed))}")
        if "last_reviewed" in changes:
            changes["last_reviewed"] = _date(changes["last_reviewed"], "last_reviewed")
        if "review_months" in changes and (not isinstance(changes["review_months"], int) or changes["review_months"] < 1):
            raise WorkspaceError("review_months must be a whole number of at least 1")
        if "name" in changes and not (changes["name"] or "").strip():
            raise WorkspaceError("a system needs a name")
        with self.sessions.begin() as s:
            system = self._system(s, ref)
            self._check_version(f"system '{system.key}'", system.version, expected_version)
            before = {k: _iso(getattr(system, k)) for k in changes}
            for k, v in changes.items():
                setattr(system, k, v)
            system.updated_at, system.updated_by = utcnow(), user
            self._flush(s, f"system '{system.key}'", expected_version)
            self.hooks.changed(s, "system.update", {"system": system.key, "user": user, "before": before,
                                                    "after": {k: _iso(v) for k, v in changes.items()}})
            return self._system_dict(s, system)

    def set_profile(self, ref: str | int, profile: Profile | Mapping[str, Any], *, expected_version: int, user: str,
                    note: str = "") -> dict:
        """A new profile version (the old ones are kept); based on the system's `expected_version`."""
        data = profile_data(profile)
        with self.sessions.begin() as s:
            system = self._system(s, ref)
            self._check_version(f"system '{system.key}'", system.version, expected_version)
            latest = self._latest_profile(s, system)
            if latest.data == data:
                return self._system_dict(s, system)
            now = utcnow()
            s.add(ProfileVersion(system_id=system.id, number=latest.number + 1, data=data, note=note or "",
                                 created_at=now, created_by=user))
            system.updated_at, system.updated_by = now, user  # bumps the system's version
            self._flush(s, f"system '{system.key}'", expected_version)
            self.hooks.changed(s, "profile.update", {"system": system.key, "user": user, "profile_version": latest.number + 1,
                                                     "profile": data})
            return self._system_dict(s, system)

    def profile_history(self, ref: str | int) -> list[dict]:
        with self.sessions() as s:
            system = self._system(s, ref)
            rows = s.scalars(select(ProfileVersion).where(ProfileVersion.system_id == system.id).order_by(ProfileVersion.number))
            return [{"number": r.number, "data": r.data, "note": r.note, "created_at": _iso(r.created_at),
                     "created_by": r.created_by} for r in rows]

    def current_profile(self, ref: str | int) -> Profile:
        """The latest profile, validated by today's Profile model (WorkspaceError naming the field if not)."""
        with self.sessions() as s:
            system = self._system(s, ref)
            pv = self._latest_profile(s, system)
            key, number, data = system.key, pv.number, pv.data
        try:
            return parse_profile(dict(data), f"system '{key}' profile v{number}")
        except ProfileError as exc:
            raise WorkspaceError(f"{exc} — the stored profile no longer fits the profile model; "
                                 f"save a corrected one (advisor systems profile {key} --profile FILE)") from None

    # ---- assessments ---------------------------------------------------------------------------------
    def assess_system(self, ref: str | int, assessor: Assessor, *, user: str, as_of: dt.date | None = None) -> dict:
        """Run the engine on the latest profile, store the assessment and update the checklist."""
        profile = self.current_profile(ref)
        assessment = assessor.assess(profile, as_of)
        return self.record_assessment(ref, assessment, assessor.corpus, assessor.rulebook, user=user)

    def record_assessment(self, ref: str | int, assessment: Assessment, corpus: Corpus, rulebook: Any, *,
                          user: str) -> dict:
        """Store `assessment` (made from the system's latest profile) with its corpus version; sync the tracker."""
        version = corpus_version(corpus, rulebook, assessment.as_of)
        with self.sessions.begin() as s:
            system = self._system(s, ref)
            pv = self._latest_profile(s, system)
            self._store_snapshots(s, corpus, version)
            row = AssessmentRecord(system_id=system.id, profile_version_id=pv.id, as_of=assessment.as_of,
                                   risk_level=assessment.risk_level, applicable=len(assessment.applicable),
                                   to_confirm=len(assessment.to_confirm), result=assessment.to_dict(),
                                   corpus_version=version, created_at=utcnow(), created_by=user)
            s.add(row)
            s.flush()
            changes = self._sync_tracker(s, system, assessment, user)
            self.hooks.changed(s, "assessment.record", {
                "system": system.key, "user": user, "assessment": row.id, "as_of": assessment.as_of.isoformat(),
                "risk_level": assessment.risk_level, "profile_version": pv.number, "corpus_version": short(version),
                "obligations": assessment.ids("applies") + assessment.ids("confirm"), **changes})
            return {"id": row.id, "system": system.key, "as_of": assessment.as_of.isoformat(),
                    "risk_level": assessment.risk_level, "applicable": row.applicable, "to_confirm": row.to_confirm,
                    "profile_version": pv.number, "corpus_version": short(version), **changes}

    def _store_snapshots(self, s: Session, corpus: Corpus, version: dict) -> None:
        hashes = {v["hash"]: iid for iid, v in version["instruments"].items()}
        have = set(s.scalars(select(InstrumentSnapshot.hash).where(InstrumentSnapshot.hash.in_(list(hashes)))))
        for h, iid in hashes.items():
            if h not in have:
                s.add(InstrumentSnapshot(hash=h, instrument_id=iid, data=snapshot(corpus.instruments[iid]), created_at=utcnow()))

    def _sync_tracker(self, s: Session, system: System, a: Assessment, user: str) -> dict:
        months = {step.obligation: step.month for step in a.roadmap}
        found = {f.id: f for f in (*a.applicable, *a.to_confirm)}
        existing = {t.obligation_id: t for t in s.scalars(select(TrackedObligation).where(TrackedObligation.system_id == system.id))}
        added, reopened, dropped = [], [], []
        now = utcnow()
        for oid, f in found.items():
            values = {
                "finding": "confirm" if f.status == "confirm" else "applies", "active": True,
                "month": months.get(oid, 1), "stage": f.stage, "title_en": f.title_en, "title_zh": f.title_zh,
                "citations": [{"instrument": c.instrument, "article": c.article, "label_en": c.label_en,
                               "label_zh": c.label_zh} for c in f.citations],
                "checklist": [dict(e) for e in f.evidence], "timing": dict(f.timing) if f.timing else None,
            }
            t = existing.get(oid)
            if t is None:
                s.add(TrackedObligation(system_id=system.id, obligation_id=oid, status="not_started",
                                        due=default_due(a.as_of, values["month"]), due_is_default=True, evidence=[],
                                        notes="", created_at=now, updated_at=now, updated_by=user, **values))
                added.append(oid)
                continue
            if not t.active:
                reopened.append(oid)
            dirty = {k: v for k, v in values.items() if getattr(t, k) != v}
            if dirty:
                for k, v in dirty.items():
                    setattr(t, k, v)
                t.updated_at, t.updated_by = now, user
        for oid, t in existing.items():
            if oid not in found and t.active:
                t.active, t.updated_at, t.updated_by = False, now, user
                dropped.append(oid)
        s.flush()
        return {"added": sorted(added), "reopened": sorted(reopened), "no_longer_found": sorted(dropped)}

    def reassess(self, ref: str | int, assessor: Assessor, *, user: str, as_of: dt.date | None = None,
                 save: bool = True) -> dict:
        """Compare a fresh assessment of the current profile with the latest stored one (see reassess.py);
        with `save`, store the fresh one and update the checklist. Without a stored assessment, just assess."""
        from advisor.workspace.reassess import compare

        key = self.get_system(ref)["key"]
        stored = self.latest_assessment(key)
        fresh = assessor.assess(self.current_profile(key), as_of)
        if stored is None:
            report = {"first": True, "new": {"as_of": fresh.as_of.isoformat(), "risk_level": fresh.risk_level}}
        else:
            report = compare(stored, fresh, assessor.corpus, assessor.rulebook, self.snapshot)
        report["system"] = key
        if save:
            report["saved"] = self.record_assessment(key, fresh, assessor.corpus, assessor.rulebook, user=user)
        return report

    def assessments(self, ref: str | int) -> list[dict]:
        with self.sessions() as s:
            system = self._system(s, ref)
            rows = s.scalars(select(AssessmentRecord).where(AssessmentRecord.system_id == system.id).order_by(AssessmentRecord.id))
            return [self._assessment_summary(r) for r in rows]

    def latest_assessment(self, ref: str | int) -> dict | None:
        """The latest stored assessment with its full result and corpus version (None before the first)."""
        with self.sessions() as s:
            system = self._system(s, ref)
            row = self._latest_assessment(s, system.id)
            if row is None:
                return None
            return {**self._assessment_summary(row), "result": row.result, "corpus_version_full": row.corpus_version}

    def snapshot(self, digest: str) -> dict | None:
        with self.sessions() as s:
            row = s.get(InstrumentSnapshot, digest)
            return row.data if row else None

    # ---- the checklist -------------------------------------------------------------------------------
    @staticmethod
    def _item_dict(t: TrackedObligation, today: dt.date) -> dict:
        return {
            "obligation": t.obligation_id, "finding": t.finding, "active": t.active, "status": t.status,
            "na_reason": t.na_reason, "owner": t.owner, "due": _iso(t.due), "due_is_default": t.due_is_default,
            "overdue": bool(t.active and t.due and t.due < today and t.status not in CLOSED),
            "month": t.month, "stage": t.stage, "title_en": t.title_en, "title_zh": t.title_zh,
            "citations": t.citations, "checklist": t.checklist, "timing": t.timing, "evidence": t.evidence,
            "notes": t.notes, "updated_at": _iso(t.updated_at), "updated_by": t.updated_by, "version": t.version,
        }

    def checklist(self, ref: str | int, *, include_inactive: bool = False, today: dt.date | None = None) -> list[dict]:
        """The tracked obligations of a system, in roadmap order (month, stage, id)."""
        today = today or dt.date.today()
        with self.sessions() as s:
            system = self._system(s, ref)
            q = select(TrackedObligation).where(TrackedObligation.system_id == system.id)
            if not include_inactive:
                q = q.where(TrackedObligation.active.is_(True))
            rows = s.scalars(q.order_by(TrackedObligation.active.desc(), TrackedObligation.month, TrackedObligation.obligation_id))
            return [self._item_dict(t, today) for t in rows]

    def update_item(self, ref: str | int, obligation_id: str, *, expected_version: int, user: str,
                    status: str | None = None, na_reason: str | None = None, owner: str | None = None,
                    due: dt.date | str | None = None, notes: str | None = None, evidence: Iterable[str] | None = None,
                    add_evidence: Iterable[str] | None = None, clear: Iterable[str] = ()) -> dict:
        """Change a tracked obligation: status (with a reason for not_applicable), owner, due date, notes, evidence."""
        if status is not None and status not in STATUSES:
            raise WorkspaceError(f"status must be one of {', '.join(STATUSES)}, not '{status}'")
        with self.sessions.begin() as s:
            system = self._system(s, ref)
            t = s.scalar(select(TrackedObligation).where(TrackedObligation.system_id == system.id,
                                                         TrackedObligation.obligation_id == obligation_id))
            if t is None:
                raise NotFound(f"system '{system.key}' has no tracked obligation '{obligation_id}' (assess it first: "
                               f"advisor systems assess {system.key})")
            what = f"obligation '{obligation_id}' of '{system.key}'"
            self._check_version(what, t.version, expected_version)
            before = {"status": t.status, "owner": t.owner, "due": _iso(t.due), "na_reason": t.na_reason}
            if status is not None:
                t.status = status
            if na_reason is not None:
                t.na_reason = na_reason.strip() or None
            if t.status == "not_applicable" and not (t.na_reason or "").strip():
                raise WorkspaceError("status not_applicable needs a reason (why the obligation does not apply)")
            if t.status != "not_applicable" and status is not None:
                t.na_reason = None
            if owner is not None:
                t.owner = owner.strip() or None
            if due is not None:
                t.due, t.due_is_default = _date(due, "due"), False
            if notes is not None:
                t.notes = notes
            refs = list(t.evidence) if evidence is None else [e.strip() for e in evidence if e and e.strip()]
            refs += [e.strip() for e in add_evidence or () if e and e.strip() and e.strip() not in refs]
            if refs != list(t.evidence):
                t.evidence = refs
            for field in clear:
                if field not in ("owner", "due", "notes"):
                    raise WorkspaceError(f"only owner, due and notes can be cleared, not '{field}'")
                setattr(t, field, "" if field == "notes" else None)
            t.updated_at, t.updated_by = utcnow(), user
            self._flush(s, what, expected_version)
            after = {"status": t.status, "owner": t.owner, "due": _iso(t.due), "na_reason": t.na_reason}
            self.hooks.changed(s, "obligation.update", {"system": system.key, "obligation": obligation_id, "user": user,
                                                        "before": before, "after": after})
            return self._item_dict(t, dt.date.today())

    # ---- records -------------------------------------------------------------------------------------
    def add_records(self, ref: str | int, kind: str, rows: list[Any], *, user: str) -> list[dict]:
        """Add records of one kind; all are validated first, so a bad row adds none (its number is named)."""
        rk = record_kind(kind)
        clean = [validate_record(rk, row, f"{rk.name} #{n}") for n, row in enumerate(rows, start=1)]
        if not clean:
            raise WorkspaceError("no records to add")
        with self.sessions.begin() as s:
            system = self._system(s, ref)
            now = utcnow()
            made = [Record(system_id=system.id, kind=rk.name, data=d, created_at=now, created_by=user, updated_at=now,
                           updated_by=user) for d in clean]
            s.add_all(made)
            s.flush()
            self.hooks.changed(s, "records.add", {"system": system.key, "user": user, "kind": rk.name, "count": len(made)})
            return [self._record_dict(r) for r in made]

    def import_records(self, ref: str | int, kind: str, text: str, fmt: str, *, user: str) -> list[dict]:
        """Bulk import from CSV (header = field names) or JSON (a list of objects)."""
        return self.add_records(ref, kind, parse_rows(text, fmt), user=user)

    @staticmethod
    def _record_dict(r: Record) -> dict:
        return {"id": r.id, "kind": r.kind, **r.data, "created_at": _iso(r.created_at), "created_by": r.created_by,
                "version": r.version}

    def records(self, ref: str | int, kind: str | None = None) -> dict[str, list[dict]]:
        """Records of a system by kind (every kind when `kind` is None)."""
        kinds = [record_kind(kind).name] if kind else None
        with self.sessions() as s:
            system = self._system(s, ref)
            q = select(Record).where(Record.system_id == system.id)
            if kinds:
                q = q.where(Record.kind.in_(kinds))
            out: dict[str, list[dict]] = {k: [] for k in (kinds or [])}
            for r in s.scalars(q.order_by(Record.id)):
                out.setdefault(r.kind, []).append(self._record_dict(r))
            return out

    # ---- overview ------------------------------------------------------------------------------------
    def _latest_ids(self):
        return select(func.max(AssessmentRecord.id).label("id")).group_by(AssessmentRecord.system_id).subquery()

    def list_systems(self, today: dt.date | None = None) -> list[dict]:
        """Every system with its risk level (latest assessment), progress and overdue count; a few queries."""
        today = today or dt.date.today()
        with self.sessions() as s:
            systems = list(s.scalars(select(System).order_by(System.name)))
            latest_ids = self._latest_ids()
            latest = {r.system_id: r for r in s.execute(
                select(AssessmentRecord.system_id, AssessmentRecord.risk_level, AssessmentRecord.as_of,
                       AssessmentRecord.created_at).join(latest_ids, AssessmentRecord.id == latest_ids.c.id))}
            counts: dict[int, dict[str, int]] = {}
            for sid, status, n in s.execute(
                    select(TrackedObligation.system_id, TrackedObligation.status, func.count())
                    .where(TrackedObligation.active.is_(True)).group_by(TrackedObligation.system_id, TrackedObligation.status)):
                counts.setdefault(sid, {})[status] = n
            overdue = dict(s.execute(
                select(TrackedObligation.system_id, func.count())
                .where(TrackedObligation.active.is_(True), TrackedObligation.due < today,
                       TrackedObligation.status.not_in(CLOSED)).group_by(TrackedObligation.system_id)).all())
            out = []
            for system in systems:
                c = counts.get(system.id, {})
                total = sum(c.values())
                closed = sum(c.get(k, 0) for k in CLOSED)
                a = latest.get(system.id)
                last = max([system.created_at.date()] + ([system.last_reviewed] if system.last_reviewed else [])
                           + ([a.created_at.date()] if a else []))
                out.append({
                    "key": system.key, "name": system.name, "owner": system.owner,
                    "risk_level": a.risk_level if a else None, "assessed_as_of": _iso(a.as_of) if a else None,
                    "obligations": total, "by_status": {k: c.get(k, 0) for k in STATUSES},
                    "progress": round(closed / total, 3) if total else 0.0, "overdue": overdue.get(system.id, 0),
                    "next_review": add_months(last, system.review_months).isoformat(), "version": system.version,
                })
            return out

    def dashboard(self, today: dt.date | None = None) -> dict:
        """Obligations by status, by risk level, and by risk level x status, across all systems."""
        today = today or dt.date.today()
        with self.sessions() as s:
            latest_ids = self._latest_ids()
            risk = dict(s.execute(select(AssessmentRecord.system_id, AssessmentRecord.risk_level)
                                  .join(latest_ids, AssessmentRecord.id == latest_ids.c.id)).all())
            matrix = {level: {st: 0 for st in STATUSES} for level in ("unassessed", *LEVELS)}
            for sid, status, n in s.execute(
                    select(TrackedObligation.system_id, TrackedObligation.status, func.count())
                    .where(TrackedObligation.active.is_(True)).group_by(TrackedObligation.system_id, TrackedObligation.status)):
                matrix[risk.get(sid, "unassessed")][status] += n
            overdue = s.scalar(select(func.count()).select_from(TrackedObligation).where(
                TrackedObligation.active.is_(True), TrackedObligation.due < today, TrackedObligation.status.not_in(CLOSED)))
            systems = dict(s.execute(select(System.id, System.key)).all())
        by_risk_systems = {level: 0 for level in ("unassessed", *LEVELS)}
        for sid in systems:
            by_risk_systems[risk.get(sid, "unassessed")] += 1
        by_status = {st: sum(row[st] for row in matrix.values()) for st in STATUSES}
        return {"systems": len(systems), "systems_by_risk": by_risk_systems, "by_status": by_status,
                "by_risk": {level: sum(row.values()) for level, row in matrix.items()}, "by_risk_and_status": matrix,
                "overdue": overdue or 0, "as_of": today.isoformat()}

    # ---- plumbing ------------------------------------------------------------------------------------
    @staticmethod
    def _check_version(what: str, current: int, expected: int) -> None:
        if not isinstance(expected, int) or isinstance(expected, bool):
            raise WorkspaceError(f"an update of {what} must give the version it is based on (a whole number)")
        if current != expected:
            raise ConflictError(what, expected, current)

    @staticmethod
    def _flush(s: Session, what: str, expected: int) -> None:
        try:
            s.flush()
        except StaleDataError:  # someone committed between our read and our write
            raise ConflictError(what, expected, None) from None
        except IntegrityError as exc:
            raise WorkspaceError(f"{what}: the change conflicts with another row ({str(exc.orig).splitlines()[0]})") from None
