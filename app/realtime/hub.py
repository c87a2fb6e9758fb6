"""The websocket hub: routes each durable event to the connections of its group's members.

One hub per server process. Every event arrives once from the broker, is
parsed once, and the same text is queued to each recipient. Each connection
has a bounded queue drained by its own task, so a slow client only ever slows
itself; one that falls too far behind is closed and resumes with `sync`.

A connection starts quiet: its first `sync` frame says where each group resumes,
and delivery as events happen begins after the replay. A client that sends no `sync` within
SYNC_GRACE_S starts from the moment it connected. Either way nothing is missed:
whatever happened meanwhile is in the database.

Per connection and group the hub remembers the last seq delivered. An event at
or below it is a duplicate and is dropped; one beyond the next expected seq
means something was missed (a replay still running, a broker hiccup, events
published out of order by two processes), and the gap is filled from the
database before it is sent. That one rule gives resume without gap or
duplicate, whatever the timing.

A `member.left` (or `group.deleted`) is also a signal to this process: the
departing user's connections here end any live memo they send in that group,
and live chunks of theirs still in flight are dropped. Control messages that are
no group event go only where they are addressed: a report notice to the sockets
of the moderators it names.

A signed-out token's sockets close (4001) when its `TokensRevoked` notice arrives;
every TOKEN_CHECK_S the hub also asks the database which of its sockets' tokens still
work, and closes the others: those revoked by a process that shares no broker with
this one (`earshot admin disable` on a server without Redis), and SSO tokens past
their expiry.
"""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

from app.aio import cancel_and_wait, start_eagerly
from app.kinds import EventType
from app.realtime.connection import (
    CLOSE_REVOKED,
    CLOSE_TOO_SLOW,
    Check,
    Connection,
    Delivery,
    Item,
    Send,
    SendBytes,
    Start,
    Sync,
    Wait,
    error_frame,
)
from app.realtime.wire import (
    CHUNKS_CHANNEL,
    CONTROL_CHANNEL,
    EVENTS_CHANNEL,
    RecordingNotice,
    ReportNotice,
    TokensRevoked,
    decode_chunk,
    decode_control,
    decode_event,
    encode_event,
)
from app.services import accounts, events
from app.services.context import Runtime

log = logging.getLogger(__name__)

REPLAY_PAGE = 500
SYNC_GRACE_S = 1.0
DEPARTED_S = 300.0  # far longer than any chunk takes from its sender to this hub
DEPARTED_MAX = 10_000
TOKEN_CHECK_S = 30.0
TOKEN_CHECK_BATCH = 500  # token hashes per query


class Hub:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.by_group: dict[str, set[Connection]] = defaultdict(set)
        self.by_user: dict[str, set[Connection]] = defaultdict(set)
        self._sockets: dict[str, int] = defaultdict(int)  # open sockets per user, in this process
        # (group, user) of members who left recently: their live chunks still in flight
        # are dropped, so no listener hears anything of theirs after their `member.left`.
        self._departed: dict[tuple[str, str], float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.token_check_s = TOKEN_CHECK_S

    # Life cycle

    async def start(self) -> None:
        channels = {
            EVENTS_CHANNEL: self._on_event,
            CONTROL_CHANNEL: self._on_control,
            CHUNKS_CHANNEL: self._on_chunk,
        }
        ready = [asyncio.Event() for _ in channels]
        self._tasks = [
            asyncio.create_task(self._listen(channel, handle, event))
            for (channel, handle), event in zip(channels.items(), ready, strict=True)
        ]
        for event in ready:
            await event.wait()
        self._tasks.append(asyncio.create_task(self._check_tokens_now_and_then()))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        for conn in [c for conns in self.by_user.values() for c in conns]:
            await self._close(conn, 1012, "server restarting: reconnect and sync")

    async def _listen(
        self, channel: str, handle: Callable[[bytes], None], ready: asyncio.Event
    ) -> None:
        while True:
            try:
                async with self.rt.broker.subscribe(channel) as subscription:
                    ready.set()
                    if channel == EVENTS_CHANNEL:  # what we missed meanwhile is in the database
                        self._check_everyone()
                    async for payload in subscription:
                        try:
                            handle(payload)
                        except Exception:
                            log.exception("could not route a %s message", channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # SubscriptionLost, or the broker itself failing
                log.warning("lost the %s subscription; resubscribing", channel, exc_info=True)
                await asyncio.sleep(0.5)

    async def _check_tokens_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(self.token_check_s)
            try:
                await self.close_signed_out()
            except Exception:  # the database is away: the next round tries again
                log.warning("could not check the sockets' tokens", exc_info=True)

    async def close_signed_out(self) -> int:
        """Close (4001) every socket whose token no longer works; returns how many."""
        conns = [c for cs in self.by_user.values() for c in cs if not c.closing]
        hashes = sorted({c.token_hash for c in conns})
        working: set[str] = set()
        for start in range(0, len(hashes), TOKEN_CHECK_BATCH):
            batch = hashes[start : start + TOKEN_CHECK_BATCH]
            async with self.rt.read_sessions() as db:
                working |= await accounts.working_tokens(db, batch)
        gone = [c for c in conns if c.token_hash not in working]
        for conn in gone:
            asyncio.get_running_loop().create_task(self._close(conn, CLOSE_REVOKED, "signed out"))
        return len(gone)

    # Connections

    def reserve(self, user_id: str) -> bool:
        """Count a new socket of `user_id`; False (and nothing counted) past the cap."""
        if self._sockets[user_id] >= self.rt.settings.ws_max_sockets_per_user:
            return False
        self._sockets[user_id] += 1
        return True

    def release(self, user_id: str) -> None:
        """The socket `reserve` counted has closed."""
        self._sockets[user_id] -= 1
        if self._sockets[user_id] <= 0:
            del self._sockets[user_id]

    async def attach(self, conn: Connection) -> None:
        """Register a connection with the groups its user is in now."""
        conn.last_seq = await events.heads_of_member(self.rt, conn.user_id)
        self.by_user[conn.user_id].add(conn)
        for gid in conn.last_seq:
            self.by_group[gid].add(conn)
        asyncio.get_running_loop().call_later(SYNC_GRACE_S, conn.offer, Start())

    def detach(self, conn: Connection) -> None:
        conn.closing = True
        self._forget_user_conn(conn)

    def _forget_user_conn(self, conn: Connection) -> None:
        self.by_user[conn.user_id].discard(conn)
        if not self.by_user[conn.user_id]:
            del self.by_user[conn.user_id]
        for gid in list(conn.last_seq):
            self._leave(conn, gid)

    def _leave(self, conn: Connection, group_id: str) -> None:
        conns = self.by_group.get(group_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_group[group_id]

    def connection_count(self) -> int:
        return sum(len(conns) for conns in self.by_user.values())

    def _check_everyone(self) -> None:
        for conns in list(self.by_user.values()):
            for conn in list(conns):
                self._offer(conn, Check())

    def _offer(self, conn: Connection, item: Item) -> None:
        """Send now if the connection is idle and has room; else queue it for its pump.

        The fast path keeps one event to a thousand idle connections a plain loop
        of sends; a send that has to wait (a full socket buffer) carries on as a
        task, and the pump holds everything after it until it is done.
        """
        if conn.closing:
            return
        if conn.idle and (send := self._send_now(conn, item)) is not None:
            try:
                waiting = start_eagerly(send)
            except Exception:
                log.debug("send failed; the connection is going", exc_info=True)
                self.detach(conn)
                return
            if waiting is None:
                return
            item = Wait(waiting)
        if conn.offer(item):
            return
        conn.closing = True
        asyncio.get_running_loop().create_task(
            self._close(conn, CLOSE_TOO_SLOW, "too far behind: reconnect and sync")
        )

    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        self.detach(conn)
        with contextlib.suppress(Exception):
            await conn.close(code, reason)

    # Routing

    def _on_event(self, payload: bytes) -> None:
        event = decode_event(payload)
        gid, seq = event.group_id, event.seq
        delivery = Delivery(gid, seq, event.text)
        if event.type == EventType.MEMBER_LEFT:
            delivery.leaving_user = event.data["user"]["id"]
        delivery.group_deleted = event.type == EventType.GROUP_DELETED
        if event.type == EventType.MEMBER_JOINED:
            joined = event.data["user"]["id"]
            self._departed.pop((gid, joined), None)
            for conn in list(self.by_user.get(joined, ())):
                if gid not in conn.last_seq:
                    conn.last_seq[gid] = seq - 1
                    self.by_group[gid].add(conn)
        recipients = list(self.by_group.get(gid, ()))
        for conn in recipients:
            self._offer(conn, delivery)
        self.rt.metrics.deliveries.inc(len(recipients))
        leaving: list[Connection] = []
        if delivery.leaving_user:
            self._depart(gid, delivery.leaving_user)
            leaving = list(self.by_user.get(delivery.leaving_user, ()))
            for conn in leaving:
                self._leave(conn, gid)
        elif delivery.group_deleted:
            leaving = list(self.by_group.pop(gid, ()))
        for conn in leaving:
            if conn.on_leave is not None:
                conn.on_leave(gid)

    def _depart(self, group_id: str, user_id: str) -> None:
        now = time.monotonic()
        if len(self._departed) > DEPARTED_MAX:
            self._departed = {k: t for k, t in self._departed.items() if now - t < DEPARTED_S}
        self._departed[(group_id, user_id)] = now

    def _on_control(self, payload: bytes) -> None:
        notice = decode_control(payload)
        if isinstance(notice, TokensRevoked):
            revoked = set(notice.token_hashes)
            for conn in list(self.by_user.get(notice.user_id, ())):
                if conn.token_hash in revoked:
                    asyncio.get_running_loop().create_task(
                        self._close(conn, CLOSE_REVOKED, "signed out")
                    )
        elif isinstance(notice, RecordingNotice):
            if (notice.group_id, notice.user_id) in self._departed:
                return
            text = notice.text()
            for conn in list(self.by_group.get(notice.group_id, ())):
                if conn.user_id != notice.user_id:
                    self._offer(conn, Send(text))
        elif isinstance(notice, ReportNotice):
            self._to_moderators(notice)

    def _to_moderators(self, notice: ReportNotice) -> None:
        """A report notice, to the sockets of the moderators it names and nobody else."""
        text = notice.text()
        for user_id in notice.user_ids:
            for conn in list(self.by_user.get(user_id, ())):
                if notice.group_id in conn.last_seq:
                    self._offer(conn, Send(text))

    def _on_chunk(self, payload: bytes) -> None:
        chunk = decode_chunk(payload)
        if (chunk.group_id, chunk.sender_id) in self._departed:
            return  # relayed before their removal was seen here: it reaches nobody
        item = SendBytes(chunk.frame)
        for conn in list(self.by_group.get(chunk.group_id, ())):
            if conn.user_id != chunk.sender_id:
                self._offer(conn, item)

    def _send_now(self, conn: Connection, item: Item) -> Coroutine[Any, Any, None] | None:
        """The send for an item that needs nothing else first (a no-op if it is not for them)."""
        if isinstance(item, Send):
            return conn.send_text(item.text)
        if isinstance(item, SendBytes):
            return conn.send_bytes(item.data)
        if isinstance(item, Delivery):
            verdict = self._take(conn, item)
            if verdict == "send":
                return conn.send_text(item.text)
            if verdict == "drop":
                return _nothing()
        return None  # a gap to fill or a sync to run: the pump's work

    # Each connection's own task: it sends whatever could not be sent at once.

    async def pump(self, conn: Connection) -> None:
        while not conn.closing:
            conn.parked = True
            item = await conn.take()
            conn.parked = False
            if isinstance(item, Wait):
                await item.task
            elif isinstance(item, Send):
                await conn.send_text(item.text)
            elif isinstance(item, SendBytes):
                await conn.send_bytes(item.data)
            elif isinstance(item, Delivery):
                await self._deliver(conn, item)
            elif isinstance(item, Sync):
                await self._sync(conn, item.cursors)
            elif isinstance(item, Start) and conn.synced:
                continue
            else:
                conn.synced = True
                await self._fill_gaps(conn)

    @staticmethod
    def _take(conn: Connection, delivery: Delivery) -> str:
        """What a durable event means for this connection: "drop", "gap" or "send".

        "send" also records it as delivered (and forgets a group they have left).
        """
        last = conn.last_seq.get(delivery.group_id)
        if not conn.synced or last is None or delivery.seq <= last:
            return "drop"  # not synced yet (the replay will include it), not ours, or already sent
        if delivery.seq > last + 1:
            return "gap"
        conn.last_seq[delivery.group_id] = delivery.seq
        if delivery.group_deleted or delivery.leaving_user == conn.user_id:
            del conn.last_seq[delivery.group_id]
        return "send"

    async def _deliver(self, conn: Connection, delivery: Delivery) -> None:
        verdict = self._take(conn, delivery)
        if verdict == "gap":
            gid = delivery.group_id
            await self._replay(conn, gid, conn.last_seq[gid], delivery.seq - 1)
            verdict = self._take(conn, delivery)
        if verdict == "send":
            await conn.send_text(delivery.text)

    async def _sync(self, conn: Connection, cursors: dict[str, int]) -> None:
        """Replay after each cursor. A cursor past a group's newest event (a client that
        remembers more than this server has, e.g. after a restore) is told the head in one
        `cursor_ahead` error frame and resumes from the head: it never goes silently deaf."""
        heads = await events.heads(self.rt, [gid for gid in cursors if gid in conn.last_seq])
        ahead = {
            gid: heads[gid] for gid, cursor in cursors.items() if cursor > heads.get(gid, cursor)
        }
        if ahead:
            await conn.send_text(
                error_frame(
                    "cursor_ahead",
                    "A cursor is past the group's newest event: reload that group and sync "
                    "from its head.",
                    {"heads": ahead},
                )
            )
        for gid, cursor in cursors.items():
            if gid in conn.last_seq:
                conn.last_seq[gid] = min(cursor, heads.get(gid, cursor))
                await self._replay(conn, gid, conn.last_seq[gid])
        conn.synced = True
        await self._fill_gaps(conn)  # groups the client did not name start from connect time

    async def _fill_gaps(self, conn: Connection) -> None:
        groups = list(conn.last_seq)
        if not groups:
            return
        latest = await events.heads(self.rt, groups)
        for gid in groups:
            last = conn.last_seq.get(gid)
            if last is not None and latest.get(gid, 0) > last:
                await self._replay(conn, gid, last)

    async def _replay(
        self, conn: Connection, group_id: str, after: int, until: int | None = None
    ) -> None:
        """Send stored events after `after` (to `until`), in order, from the database."""
        while conn.last_seq.get(group_id) is not None:
            page = await events.replay_page(
                self.rt, group_id, after=after, until=until, limit=REPLAY_PAGE
            )
            for e in page:
                await conn.send_text(encode_event(e.group_id, e.seq, e.type, e.data).decode())
                conn.last_seq[group_id] = after = e.seq
                if e.type == EventType.MEMBER_LEFT and e.data["user"]["id"] == conn.user_id:
                    del conn.last_seq[group_id]  # they left: nothing after this is theirs
                    return
            if len(page) < REPLAY_PAGE:
                return


async def _nothing() -> None:
    return None
