"""Alembic environment: run by ``advisor.workspace.db.upgrade`` with the connection in ``config.attributes``.

For development, ``alembic -x url=sqlite:///path.db -c <any ini with script_location pointing here>``
works as well (the URL is read from ``-x url=...``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from advisor.workspace.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
