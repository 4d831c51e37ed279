"""The workspace's tables (SQLAlchemy 2 ORM). The schema itself is created and changed only by the
Alembic migrations in ``migrations/versions`` (run on open); these classes must match the head revision.

Editable rows (systems, tracked obligations, records) carry a ``version`` column used as SQLAlchemy's
``version_id_col``: every UPDATE says ``WHERE id = ? AND version = ?``, so a write based on a stale read
changes nothing and is reported as a conflict instead of silently overwriting someone else's change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC on every backend; read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[dt.datetime], dialect) -> Optional[dt.datetime]:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Optional[dt.datetime], dialect) -> Optional[dt.datetime]:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: UTCDateTime}


class System(Base):
    """One AI system of the organisation (e.g. "customer-service bot")."""

    __tablename__ = "systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[Optional[str]] = mapped_column(String(120))
    review_months: Mapped[int] = mapped_column(Integer, default=3)
    last_reviewed: Mapped[Optional[dt.date]] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    profiles: Mapped[list["ProfileVersion"]] = relationship(back_populates="system", order_by="ProfileVersion.number",
                                                            cascade="all, delete-orphan")


class ProfileVersion(Base):
    """Every version of a system's business profile: the JSON of the engine's Profile (non-default fields)."""

    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("system_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))

    system: Mapped[System] = relationship(back_populates="profiles")


class AssessmentRecord(Base):
    """One run of the applicability engine for a system, with the corpus version it used."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    profile_version_id: Mapped[int] = mapped_column(ForeignKey("profile_versions.id", ondelete="CASCADE"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    risk_level: Mapped[str] = mapped_column(String(16))
    applicable: Mapped[int] = mapped_column(Integer)
    to_confirm: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)           # Assessment.to_dict()
    corpus_version: Mapped[dict[str, Any]] = mapped_column(JSON)   # see corpus_version.py
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))


class InstrumentSnapshot(Base):
    """The articles of one instrument version, by content hash (kept so later corpus changes can be diffed)."""

    __tablename__ = "instrument_snapshots"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(120), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackedObligation(Base):
    """An obligation the engine found for a system (applies or to confirm), with its tracked progress."""

    __tablename__ = "tracked_obligations"
    __table_args__ = (UniqueConstraint("system_id", "obligation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    obligation_id: Mapped[str] = mapped_column(String(120))
    finding: Mapped[str] = mapped_column(String(16))                # applies | confirm (latest assessment)
    active: Mapped[bool] = mapped_column(Boolean, default=True)     # false: no longer found by the latest assessment
    status: Mapped[str] = mapped_column(String(16), default="not_started")
    na_reason: Mapped[Optional[str]] = mapped_column(Text)
    owner: Mapped[Optional[str]] = mapped_column(String(120))
    due: Mapped[Optional[dt.date]] = mapped_column(Date)
    due_is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    month: Mapped[int] = mapped_column(Integer, default=1)
    stage: Mapped[str] = mapped_column(String(16), default="prepare")
    title_en: Mapped[str] = mapped_column(Text)
    title_zh: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(JSON)              # [{instrument, article, label_en, label_zh}]
    checklist: Mapped[list[Any]] = mapped_column(JSON)              # the obligation's evidence list [{en, zh}]
    timing: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    evidence: Mapped[list[Any]] = mapped_column(JSON)               # references kept: file names or links
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Record(Base):
    """A record the guide asks to keep per system: model versions, training data, moderation decisions,
    labelling methods (``kind``; fields validated by the schemas in records.py)."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """One line of the audit trail: append-only (no update API; an UPDATE is refused by a database trigger);
    old lines leave only through the retention purge."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40), index=True)
    system: Mapped[Optional[str]] = mapped_column(String(80), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class WatchSource(Base):
    """A page or feed `advisor watch` checks, with its HTTP cache validators and last outcome."""

    __tablename__ = "watch_sources"

    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    etag: Mapped[Optional[str]] = mapped_column(String(500))
    last_modified: Mapped[Optional[str]] = mapped_column(String(100))
    checked_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    status: Mapped[Optional[str]] = mapped_column(String(40))
    error: Mapped[Optional[str]] = mapped_column(Text)


class WatchItem(Base):
    """An announcement that looks like a new or amended rule (its title holds a watch keyword)."""

    __tablename__ = "watch_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(1000), unique=True)
    source: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(1000))
    published: Mapped[Optional[str]] = mapped_column(String(100))
    keywords: Mapped[list[Any]] = mapped_column(JSON)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """One message sent on one channel: the unique (key, channel) makes every notice go out at most once."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("key", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(1000))
    channel: Mapped[str] = mapped_column(String(80))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
