"""Database engine, sessions and migrations, the same code for SQLite and PostgreSQL.

SQLite transactions start with BEGIN IMMEDIATE so that concurrent writers queue
on the database lock instead of failing when a reader upgrades to a writer; a
busy timeout makes them wait rather than raise; `secure_delete` zeroes what is
deleted. Sessions made by
`read_session_factory` only read, so they begin DEFERRED and, with WAL, never
wait for the writers (every request's token lookup is one).
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a writer waits for the database lock


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; for SQLite, one that serializes writers safely across processes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database:
        _create_private(Path(parsed.database))
    engine = create_async_engine(url, pool_size=8, max_overflow=32, pool_timeout=60, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Deleted content is overwritten with zeros, not left in free space of the file,
        # and the WAL is cut to what it holds whenever it restarts, so no stale copy of
        # a deleted page lingers in its tail (see app.services.scrub).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA journal_size_limit=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        reads_only = conn.get_execution_options().get(_READS_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if reads_only else "BEGIN IMMEDIATE")

    return engine


_READS_ONLY = "earshot_reads_only"


def _create_private(path: Path) -> None:
    """Make the SQLite file 0600 before SQLite does (it gives its -wal and -shm files the
    database file's mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read (writing in one may fail with SQLITE_BUSY on SQLite)."""
    return session_factory(engine.execution_options(**{_READS_ONLY: True}))


@asynccontextmanager
async def session_scope(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session that rolls back whatever was left uncommitted."""
    async with factory() as session:
        try:
            yield session
        finally:
            await session.rollback()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate_async(url: str) -> None:
    """Bring the schema to the newest revision, in one transaction."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, url)
    finally:
        await engine.dispose()


def migrate(url: str) -> None:
    """The same, for callers outside an event loop (`earshot serve`, `earshot migrate`)."""
    asyncio.run(migrate_async(url))
