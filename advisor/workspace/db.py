"""Opening the workspace database: the engine for a SQLAlchemy URL (a SQLite file in the data folder by
default), then ``alembic upgrade head`` with the migrations shipped in this package, so an installed wheel
upgrades an older database on open and never loses a workspace."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from advisor.errors import AdvisorError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_FILE = "workspace.db"


class WorkspaceError(AdvisorError):
    """The workspace database cannot be opened, or a request on it is invalid (one-line message)."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / DEFAULT_FILE}"


def in_use(settings) -> bool:
    """Whether the workspace database is in use: a workspace_url is set, or the default SQLite file exists."""
    return bool(settings.workspace_url) or (Path(settings.data_dir) / DEFAULT_FILE).exists()


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout (several threads and processes)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise WorkspaceError(f"workspace_url is not a valid SQLAlchemy URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if database and database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, ModuleNotFoundError) as exc:
        raise WorkspaceError(f"the database driver for {parsed.get_backend_name()} is not installed ({exc.name}); "
                             "for PostgreSQL: pip install 'china-ai-advisor[postgres]'") from None


def alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default head): `alembic upgrade` on this engine."""
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise WorkspaceError(f"cannot open the workspace database {redacted(engine.url.render_as_string(hide_password=False))}: "
                             f"{_first_line(exc.orig)}") from None


def _first_line(exc: object) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def open_engine(url: str) -> Engine:
    """The engine for `url`, migrated to head (WorkspaceError if it cannot be reached)."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise WorkspaceError(f"cannot open the workspace database {redacted(url)}: {type(exc).__name__}: "
                             f"{_first_line(exc)}") from None
    return engine


def has_tables(engine: Engine) -> bool:
    return inspect(engine).has_table("systems")
