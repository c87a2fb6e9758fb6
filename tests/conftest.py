"""Fixtures shared by every test: a migrated database per backend and a running app.

The API and service tests run once per database backend: SQLite always, and
PostgreSQL too when EARSHOT_TEST_DATABASE_URL names one. The PostgreSQL run
creates a fresh database for the session and drops it at the end; if the server
cannot be reached, the tests error (they are never skipped).

Under pytest-xdist (`-n N`) each worker is a session of its own: its own PostgreSQL
database (named after the worker), its own Redis database number (the worker's
index + 1 past the one EARSHOT_TEST_REDIS_URL names), its own temporary directory
and its own servers on ports the system picks free. Workers share nothing.
"""

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_engine, migrate_async
from app.main import create_app
from tests.helpers import Api
from tests.support.browser import browser  # noqa: F401 (one Chromium for the whole run)

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"... under pytest-xdist


def worker_redis_url(url: str, worker: str) -> str:
    """`url` with the database number moved past the run's own by the worker's index + 1
    (redis://host:6379/0 -> /1 for gw0, /2 for gw1...): keys of one worker never meet
    another's. (Pub/sub channels are not per database, but every channel and event
    names a random group or user id, which no other worker has.)"""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + 1 + int(worker.removeprefix('gw'))}"))


if WORKER and os.environ.get("EARSHOT_TEST_REDIS_URL"):  # before any test module reads it
    os.environ["EARSHOT_TEST_REDIS_URL"] = worker_redis_url(
        os.environ["EARSHOT_TEST_REDIS_URL"], WORKER
    )

PG_URL = os.environ.get("EARSHOT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "earshot.db"
    await migrate_async(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
async def pg_database() -> AsyncIterator[str]:
    assert PG_URL, "EARSHOT_TEST_DATABASE_URL is not set"
    name = f"earshot_test_{WORKER or 'main'}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        await migrate_async(url)
        yield url
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE users, tokens, groups, memberships, invites, messages, receipts, outbox, "
                "events RESTART IDENTITY CASCADE"
            )
        )
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


# For a test whose subject does not touch the database in a way the backends could
# differ on (say, each audio format's conversion, once its path through the database is
# tested on both elsewhere): run it on SQLite only, to keep CI's time for what differs.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def migrated_database(backend: str, request: pytest.FixtureRequest) -> str:
    """The backend's migrated template: a SQLite file path, or a PostgreSQL URL."""
    return str(request.getfixturevalue("sqlite_template" if backend == "sqlite" else "pg_database"))


@pytest.fixture
async def database_url(backend: str, migrated_database: str, tmp_path: Path) -> str:
    """A freshly migrated, empty database on each backend."""
    if backend == "sqlite":
        path = tmp_path / "earshot.db"
        shutil.copyfile(migrated_database, path)
        return f"sqlite+aiosqlite:///{path}"
    await _truncate_all(migrated_database)
    return migrated_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        transcripts=False,  # tests/services/test_transcripts.py turns them on
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://earshot.test") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture(scope="session")
def repo_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where audio_samples makes and keeps speech for the whole run.

    Under pytest-xdist the workers share it (it sits beside their own temporary
    directories, inside this run's): a file one worker made is not made again by
    another. audio_samples writes each file under a temporary name and renames it."""
    if not WORKER:
        return tmp_path_factory.mktemp("samples")
    shared = tmp_path_factory.getbasetemp().parent / "samples"
    shared.mkdir(exist_ok=True)
    return shared
