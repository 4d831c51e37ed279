"""Shared fixtures: the real corpus ingested once into a temporary embedded Qdrant store."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded, here or on CI

from advisor import Advisor  # noqa: E402
from advisor.settings import PROJECT_ROOT, load_settings  # noqa: E402

CORPUS = PROJECT_ROOT / "corpus"
SHARED = PROJECT_ROOT.parent / "shared"
ADVISOR = str(Path(sys.executable).parent / "advisor")  # the console script of this environment


def make_settings(data_dir: Path, corpus_dir: Path = CORPUS, **extra):
    return load_settings(data_dir=data_dir, corpus_dir=corpus_dir, **extra)


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory) -> Path:
    """A data dir holding the whole corpus, ingested once per test session."""
    data = tmp_path_factory.mktemp("data")
    with Advisor(make_settings(data)) as advisor:
        advisor.ingest()
    return data


@pytest.fixture(scope="session")
def advisor(store_dir) -> Advisor:
    adv = Advisor(make_settings(store_dir))
    yield adv
    adv.close()


@pytest.fixture
def store_copy(store_dir, tmp_path) -> Path:
    """A private copy of the ingested store, for tests that open it from another process."""
    target = tmp_path / "data"
    shutil.copytree(store_dir, target, ignore=shutil.ignore_patterns(".lock", ".advisor.lock", "advisor-owner.json"))
    return target


def cli_env(data_dir: Path, corpus_dir: Path = CORPUS, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")}
    env.update(ADVISOR_DATA_DIR=str(data_dir), ADVISOR_CORPUS_DIR=str(corpus_dir), HF_HUB_OFFLINE="1", COLUMNS="200")
    env.update(extra)
    return env


# ---- the workspace database: a SQLite file, and the same tests on PostgreSQL when a server can be started ----

@pytest.fixture(scope="session")
def postgres_server():
    from support.postgres import PostgresServer

    server, reason = PostgresServer.start()
    if server is None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed on CI: {reason}")
        pytest.skip(f"no PostgreSQL server: {reason}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def workspace_url(request, tmp_path) -> str:
    """A fresh, empty workspace database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workspace.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture(scope="session")
def rules(tmp_path_factory) -> Advisor:
    """An Advisor used only for its corpus, rulebook and engine (no store is opened)."""
    adv = Advisor(make_settings(tmp_path_factory.mktemp("rules")))
    yield adv
    adv.close()
