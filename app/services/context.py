"""What a use case works with: the long-lived parts of a running server (`Runtime`)
and, per call, a database session that commits its changes and their events together (`Ctx`).

Every use case runs in a `Ctx`: HTTP routes get one per request (`app.api.deps`),
everything else (workers, the websocket, fsck) opens one with `transaction(rt)`.
Events recorded with `emit` are published only after `commit`, in the spirit of
Zulip's `send_event_on_commit`: a rolled-back change announces nothing.
"""

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, read_session_factory, session_factory, session_scope
from app.metrics import Metrics
from app.models import Event, Group, utcnow
from app.ratelimit import Limiter, MemoryLimiter, enforce, open_limiter, rule
from app.realtime.broker import Broker, open_broker
from app.realtime.wire import EVENTS_CHANNEL, encode_event
from app.services.oidc_provider import ProviderCache
from app.services.passwords import Passwords
from app.storage.blobs import BlobStore, open_blob_store
from app.storage.ffmpeg import Slots

if TYPE_CHECKING:
    from app.services.scrub import Scrubber

log = logging.getLogger(__name__)
T = TypeVar("T")


class Jobs(Protocol):
    def submit(self, message_id: str) -> None: ...


def _nothing() -> None:
    pass


def new_process_id() -> str:
    """Names this server process in leases: host, pid, and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]  # for lookups that never write
    broker: Broker
    blobs: BlobStore
    transcoder: Slots
    probes: Slots = field(default_factory=lambda: Slots(2))  # checking uploads are audio
    passwords: Passwords = field(init=False)
    ingest: Jobs = field(init=False)
    transcripts: Jobs = field(init=False)
    scrubber: "Scrubber" = field(init=False)
    process_id: str = field(default_factory=new_process_id)
    metrics: Metrics = field(default_factory=Metrics)
    limiter: Limiter = field(default_factory=MemoryLimiter)
    oidc: ProviderCache = field(default_factory=ProviderCache)  # discovery and JWKS
    wake_outbox: Callable[[], None] = _nothing  # this process's outbox worker looks now


@asynccontextmanager
async def open_runtime(settings: Settings, *, shared: bool = True) -> AsyncIterator[Runtime]:
    """The database, broker, blob store and limits of `settings`, closed again at the end.

    The server (`app.main`) adds its workers on top; `earshot fsck` uses it as it is.
    `shared=False`: an in-process broker and limiter even when Redis is configured
    (nothing to announce to other processes)."""
    engine = create_engine(settings.resolved_database_url)
    blobs = open_blob_store(settings.storage_url, settings.data_dir)
    broker = open_broker(settings.redis_url if shared else None)
    limiter = open_limiter(settings) if shared else MemoryLimiter()
    try:
        await broker.connect()
        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            read_sessions=read_session_factory(engine),
            broker=broker,
            blobs=blobs,
            transcoder=Slots(settings.transcode_workers),
            probes=Slots(settings.probe_workers),
            limiter=limiter,
        )
    finally:
        await broker.disconnect()
        await engine.dispose()
        blobs.close()
        await limiter.close()


@dataclass
class Ctx:
    db: AsyncSession
    rt: Runtime
    _outbox: list[bytes] = field(default_factory=list)
    _after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.rt.settings

    async def limit(self, name: str, key: str) -> None:
        """Count one `name` action (`app.ratelimit.RULES`) by `key`; 429 past its limit."""
        await enforce(self.rt.limiter, rule(self.settings, name), key)

    async def next_seq(self, group_id: str) -> int:
        """Take the group's next seq; the row lock is held until this transaction ends."""
        seq = await self.db.scalar(
            update(Group)
            .where(Group.id == group_id)
            .values(last_seq=Group.last_seq + 1)
            .returning(Group.last_seq)
        )
        if seq is None:
            raise LookupError(f"group {group_id} vanished")
        return seq

    async def emit(
        self, group_id: str, type_: str, data: dict[str, Any], *, seq: int | None = None
    ) -> int:
        """Record a durable event in this transaction; it is published after commit.

        A `message.*` event is indexed by the message it carries (see `app.services.erasure`)."""
        if seq is None:
            seq = await self.next_seq(group_id)
        message_id = data.get("id") if type_.startswith("message.") else None
        self.db.add(
            Event(
                group_id=group_id,
                seq=seq,
                type=type_,
                data=data,
                created_at=utcnow(),
                message_id=message_id,
            )
        )
        self._outbox.append(encode_event(group_id, seq, type_, data))
        return seq

    def announce(self, group_id: str, seq: int, type_: str, data: dict[str, Any]) -> None:
        """Queue an event that is published after commit but not stored (its group is gone)."""
        self._outbox.append(encode_event(group_id, seq, type_, data))

    async def release(self) -> None:
        """End the current read transaction, so no lock is held across slow work.

        What was loaded stays readable (detached) instead of being expired."""
        self.db.expunge_all()
        await self.db.rollback()

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` once this transaction has committed (e.g. delete blobs it orphaned)."""
        self._after.append(action)

    async def add_unless_raced(
        self, row: object, earlier: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """Add `row` and flush it: None. If a concurrent request stored the same unique
        key first, roll back and return what `earlier()` loads instead, so a repeated
        request answers with the first one. (After the rollback `row`'s attributes are
        expired: `earlier` must not read them.) Any other integrity error is raised."""
        self.db.add(row)
        try:
            await self.db.flush()
        except IntegrityError:
            await self.db.rollback()
            found = await earlier()
            if found is None:
                raise
            return found
        return None

    async def commit(self) -> None:
        await self.db.commit()
        outbox, self._outbox = self._outbox, []
        after, self._after = self._after, []
        for payload in outbox:
            try:
                await self.rt.broker.publish(EVENTS_CHANNEL, payload)
            except Exception:  # the change is committed; clients catch up by resuming
                log.exception("publishing an event failed")
        for action in after:
            try:
                await action()
            except Exception:  # committed; fsck and the next sweep find what is left
                log.exception("an action after commit failed")


@asynccontextmanager
async def transaction(rt: Runtime, *, reads_only: bool = False) -> AsyncIterator[Ctx]:
    """A `Ctx` on a fresh session; whatever is not committed is rolled back at the end.

    `reads_only`: a session that only reads, so it never waits for (or holds up) writers."""
    async with session_scope(rt.read_sessions if reads_only else rt.sessions) as db:
        yield Ctx(db=db, rt=rt)
