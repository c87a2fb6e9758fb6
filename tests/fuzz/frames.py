"""Websocket frames for fuzzing, and a model of what the contract says each one gets.

Strategies make what a buggy or hostile client could send: arbitrary text, random
JSON, the real frame types (API.md, "Realtime") with fields dropped, mistyped or
mutated, deep nesting, frames just around 64 KiB, and binary chunks (random bytes,
pieces of a real MediaRecorder WebM with flipped bits, empty, around the chunk limit).

`Model` predicts the answer to each frame from the contract alone and from what
this connection did before (is a live message open? which client_ids were used?).
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.common import assert_error_frame

MAX_TEXT_BYTES = 64 * 1024  # README/ws.py: text frames are limited to 64 KiB
MAX_CHUNK_BYTES = 64 * 1024  # EARSHOT_LIVE_MAX_CHUNK_BYTES
MAX_SEQ = 2**31 - 1  # seq is a 32-bit integer column; no cursor can be beyond it
PING = '{"type":"ping"}'
LIVE_END = '{"type":"live.end"}'
DURABLE = {
    "message.created",
    "message.updated",
    "message.deleted",
    "receipt.listened",
    "member.joined",
    "member.left",
    "member.role_changed",
    "group.updated",
    "group.deleted",
}
CLIENT_TYPES = ["ping", "sync", "recording.started", "recording.stopped", "live.start", "live.end"]


def live_start(gid: str, client_id: str | None = None) -> str:
    frame = {"type": "live.start", "group_id": gid, "mime": "audio/webm;codecs=opus"}
    if client_id is not None:
        frame["client_id"] = client_id
    return json.dumps(frame)


# Values -----------------------------------------------------------------------------------

BIG_NUMBERS = [
    MAX_SEQ, MAX_SEQ + 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1, 10**4000,
]  # fmt: skip
ODD_STRINGS = [
    "", " ", "\x00", "\ud800", "\udfff\ud800", "é", "🎙", "a" * 64, "a" * 65, "a" * 100,
    "a" * 101, "audio/webm\r\nX-Injected: 1", "audio/ogg\x00", "audio/ögg", "audio/ogg\t",
    "null", "0", "ping",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(BIG_NUMBERS)
    | st.floats()  # NaN and infinities too: Python's json writes and reads them
    | st.text(max_size=20)  # lone surrogates included: they travel as \ud800 escapes
    | st.sampled_from(ODD_STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def dumped(draw: st.DrawFn, value: Any) -> str:
    """JSON text of `value`, escaped to ASCII or not (never unencodable: lone surrogates)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value)
    return text if draw(st.booleans()) else json.dumps(value)


# Text frames --------------------------------------------------------------------------------

garbage_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
random_json = json_values.flatmap(dumped)


@dataclass(frozen=True)
class Digits:
    """A sync frame whose cursor has more digits than Python converts (a ValueError)."""

    count: int

    def frame(self) -> str:
        return '{"type":"sync","cursors":{"g":' + "9" * self.count + "}}"


@dataclass(frozen=True)
class Nested:
    """Nesting far past Python's recursion limit, in frames that are wrong however deep."""

    shape: str
    depth: int

    def frame(self) -> str:
        nested_object = '{"a":' * self.depth + "1" + "}" * self.depth
        return {
            "array": "[" * self.depth + "]" * self.depth,
            "object": nested_object,
            "sync": '{"type":"sync","cursors":' + nested_object + "}",
            "unclosed": "[" * self.depth,
        }[self.shape]


@dataclass(frozen=True)
class Padded:
    """A ping padded with `fill` to at most `size` bytes (UTF-8)."""

    fill: str
    size: int

    def frame(self) -> str:
        head, tail = '{"type":"ping","pad":"', '"}'
        room = self.size - len(head) - len(tail)
        return head + self.fill * (room // len(self.fill.encode())) + tail


huge_integers = st.builds(Digits, st.integers(4301, 6000))
deeply_nested = st.builds(
    Nested, st.sampled_from(["array", "object", "sync", "unclosed"]), st.integers(1, 20_000)
)
around_the_size_limit = st.builds(
    Padded,
    st.sampled_from(["x", "é", "€", "🎙"]),
    st.integers(-4, 4).map(lambda d: MAX_TEXT_BYTES + d),
)  # 1- to 4-byte characters, to within a few bytes of 64 KiB either way


def typed_frames(gid: str, foreign_gid: str, types: list[str]) -> st.SearchStrategy[str]:
    """A real frame type with its fields kept, dropped or made wrong, and extra fields."""
    nobodys = "00000000-0000-0000-0000-000000000000"
    group_ids = st.sampled_from(
        [gid, foreign_gid, nobodys, "", gid.upper(), f" {gid}", f"{gid}\x00"]
    )
    cursor_values = (
        st.integers(-3, 50) | st.sampled_from(BIG_NUMBERS) | st.booleans() | st.floats() | scalars
    )
    wrong: dict[str, st.SearchStrategy[Any]] = {
        "group_id": group_ids | json_values,
        "mime": st.sampled_from(ODD_STRINGS) | st.text(max_size=120) | json_values,
        "client_id": st.sampled_from(ODD_STRINGS) | st.text(max_size=70) | json_values,
        "cursors": json_values
        | st.dictionaries(st.sampled_from([gid, foreign_gid, "", "x"]), cursor_values, max_size=3),
    }

    @st.composite
    def build(draw: st.DrawFn) -> str:
        kind = draw(st.sampled_from(types))
        valid: dict[str, Any] = {
            "ping": {},
            "sync": {"cursors": {gid: 0}},
            "recording.started": {"group_id": gid},
            "recording.stopped": {"group_id": gid},
            "live.start": {
                "group_id": gid,
                "mime": "audio/webm;codecs=opus",
                "client_id": draw(st.uuids()).hex,  # shrinks to repeats: idempotency
            },
            "live.end": {},
        }[kind]
        if valid and draw(st.booleans()):  # one field wrong, the rest right: each check alone
            name = draw(st.sampled_from(sorted(valid)))
            return draw(dumped({"type": kind, **valid, name: draw(wrong[name])}))
        frame: dict[str, Any] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))
        for name, value in valid.items():
            how = draw(st.sampled_from(["keep", "keep", "drop", "wrong"]))
            if how == "keep":
                frame[name] = value
            elif how == "wrong":
                frame[name] = draw(wrong[name])
            else:
                frame.pop(name, None)
        how = draw(st.sampled_from(["keep", "keep", "keep", "wrong", "drop"]))
        if how == "keep":
            frame["type"] = kind
        elif how == "wrong":
            frame["type"] = draw(
                st.sampled_from([kind.upper(), f"{kind} ", kind.replace(".", "_"), ""])
                | st.sampled_from(["pong", "error", "live.started", "message.created"])
                | st.text(max_size=12)
                | json_values
            )
        else:
            frame.pop("type", None)
        return draw(dumped(frame))

    return build()


EDGE_CURSORS = [0, 1, MAX_SEQ, MAX_SEQ + 1, 2**63 - 1, 2**63, 2**64, 10**30, -1, True, 1.0, None]


def edge_frames(gid: str) -> st.SearchStrategy[str]:
    """A right frame but for one field set at or past the edge of what it may hold."""
    cursors = st.sampled_from(EDGE_CURSORS).map(
        lambda seq: json.dumps({"type": "sync", "cursors": {gid: seq}})
    )
    field = st.sampled_from(["mime", "client_id"])
    starts = st.tuples(field, st.sampled_from(ODD_STRINGS)).map(
        lambda edge: json.dumps(
            {"type": "live.start", "group_id": gid, "mime": "audio/ogg", edge[0]: edge[1]}
        )
    )
    return cursors | starts


# Binary frames ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """`size` bytes of the real recording from `start` (None: where the open live message
    is), with bits flipped at `flips` (position, bit)."""

    start: int | None
    size: int
    flips: tuple[tuple[int, int], ...] = ()

    def chunk(self, recording: bytes, offset: int) -> bytes:
        start = offset if self.start is None else self.start
        piece = bytearray(recording[start : start + self.size])
        for position, bit in self.flips:
            if piece:
                piece[position % len(piece)] ^= 1 << bit
        return bytes(piece)


@dataclass(frozen=True)
class Zeros:
    """A chunk of `size` zero bytes (for sizes around the chunk limit)."""

    size: int

    def chunk(self) -> bytes:
        return bytes(self.size)


flips = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)), max_size=3).map(tuple)
next_pieces = st.builds(Piece, st.none(), st.integers(0, 8000), flips | st.just(()))


def binary_frames(recording: bytes) -> st.SearchStrategy[bytes | Piece | Zeros]:
    return st.one_of(
        st.binary(max_size=2048),
        st.builds(Piece, st.integers(0, len(recording)), st.integers(0, 8000), flips),
        st.just(b""),
        st.builds(Zeros, st.integers(MAX_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 3)),
    )


Action = str | bytes | Digits | Nested | Padded | Piece | Zeros


def actions(gid: str, foreign_gid: str, recording: bytes) -> st.SearchStrategy[Action]:
    """Any frame; valid live.start/live.end and recording pieces often, so that chunks
    arrive both inside and outside a live message."""
    typed = typed_frames(gid, foreign_gid, CLIENT_TYPES)
    start = st.just(live_start(gid)) | st.uuids().map(lambda u: live_start(gid, u.hex[:8]))
    return st.one_of(
        garbage_text,
        random_json,
        typed,
        typed,
        edge_frames(gid),
        edge_frames(gid),
        deeply_nested,
        around_the_size_limit,
        huge_integers,
        start,
        start,
        st.just(LIVE_END),
        binary_frames(recording),
        next_pieces,
        next_pieces,
        next_pieces,
    )


def flood_frames(gid: str, foreign_gid: str) -> st.SearchStrategy[str | bytes]:
    """What a flooding client sends (no live message, so every frame is rate limited)."""
    return st.one_of(
        st.just(PING),
        st.just(PING),
        garbage_text,
        random_json,
        typed_frames(gid, foreign_gid, ["ping", "sync", "recording.started", "recording.stopped"]),
        st.binary(max_size=64),
    )


# The model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One frame the server should answer with: `kind` is its type; an error's `code` when
    the contract fixes it; for live.started/ended the message id (None: a new one)."""

    kind: str
    code: str | None = None
    message_id: str | None = None
    client_id: str | None = None


def error(code: str) -> Expect:
    return Expect("error", code)


def _is_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ


def _storable(text: str) -> bool:
    """Text any database keeps: encodable as UTF-8 (no lone surrogate), no NUL."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


_AUDIO_TYPE = re.compile(r'audio/[a-z0-9][a-z0-9.+-]{0,40}(;[ a-z0-9=.,+"-]{0,50})?')


def _is_mime(value: Any) -> bool:
    """An audio type (GET /live sends it back as Content-Type): `audio/<subtype>`, with
    parameters, ASCII in any case, at most 100 characters (docs/api.md, Live push-to-talk)."""
    if not isinstance(value, str) or len(value) > 100 or not value.isascii():
        return False
    return _AUDIO_TYPE.fullmatch(value.lower()) is not None


@dataclass
class Model:
    gid: str
    live: str | None = None  # the open live message
    client_ids: dict[str, str] = field(default_factory=dict)  # live.start client_id -> message
    started: list[str] = field(default_factory=list)  # live messages begun in this example
    chunks: dict[str, list[bytes]] = field(default_factory=dict)  # accepted, by message
    resync: bool = False  # a sync moved this group's cursor: sync again before checking delivery
    head: int = 0  # the group's newest seq, as the room last read it

    def new_example(self) -> None:
        self.started, self.chunks, self.resync = [], {}, False

    def expect(self, frame: str | bytes) -> list[Expect]:
        """The answers the frame should get (in order), updating what the model knows."""
        if isinstance(frame, bytes):
            return self._chunk(frame)
        if len(frame.encode()) > MAX_TEXT_BYTES:
            return [error("too_large")]
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError):
            return [error("invalid_frame")]
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return [error("invalid_frame")]
        kind = message["type"]
        if kind == "ping":
            return [Expect("pong")]
        if kind == "sync":
            return self._sync(message.get("cursors"))
        if kind in ("recording.started", "recording.stopped"):
            return [] if message.get("group_id") == self.gid else [error("group_not_found")]
        if kind == "live.start":
            return self._live_start(message)
        if kind == "live.end":
            if self.live is None:
                return [error("no_live_message")]
            return [Expect("live.ended", message_id=self.live)]
        return [error("unknown_type")]

    def _sync(self, cursors: Any) -> list[Expect]:
        if not isinstance(cursors, dict) or not all(_is_seq(v) for v in cursors.values()):
            return [error("invalid_frame")]
        answers = []
        if self.gid in cursors:
            self.resync = True
            if cursors[self.gid] > self.head:  # told the head, and resumes from it
                answers.append(error("cursor_ahead"))
        if not set(cursors) <= {self.gid}:
            answers.append(error("group_not_found"))
        return answers

    def _live_start(self, message: dict[str, Any]) -> list[Expect]:
        if self.live is not None:
            return [error("live_in_progress")]
        if message.get("group_id") != self.gid:
            return [error("group_not_found")]
        if not _is_mime(message.get("mime")):
            return [error("invalid_frame")]
        client_id = message.get("client_id")
        if client_id is not None and not (
            isinstance(client_id, str) and 0 < len(client_id) <= 64 and _storable(client_id)
        ):
            return [error("invalid_frame")]
        if client_id in self.client_ids:  # a repeat: the first answer, nothing new
            return [Expect("live.started", message_id=self.client_ids[client_id])]
        return [Expect("live.started", client_id=client_id)]

    def _chunk(self, data: bytes) -> list[Expect]:
        if self.live is None:
            return [error("no_live_message")]
        if len(data) > MAX_CHUNK_BYTES:
            return [error("chunk_too_large"), Expect("live.ended", message_id=self.live)]
        self.chunks[self.live].append(data)
        return []

    def offset(self) -> int:
        """Bytes of the open live message so far."""
        return sum(map(len, self.chunks.get(self.live or "", [])))

    def observe(self, expected: list[Expect], got: list[dict[str, Any]]) -> list[str]:
        """Check the answers against the expectation; returns live messages just begun."""
        wanted = [e.kind if e.code is None else f"{e.kind}/{e.code}" for e in expected]
        labels = [_label(f) for f in got]
        assert len(got) == len(expected) and all(
            label == want or (e.kind == "error" and e.code is None and label.startswith("error/"))
            for label, want, e in zip(labels, wanted, expected, strict=False)
        ), f"expected {wanted}, got {got}"
        begun = []
        for want, frame in zip(expected, got, strict=True):
            if want.kind == "error":
                assert_error_frame(frame)
            elif want.kind == "pong":
                assert frame == {"type": "pong"}, frame
            elif want.kind == "live.ended":
                assert frame == {"type": "live.ended", "message_id": want.message_id}, frame
                self.live = None
            elif want.kind == "live.started":
                assert set(frame) == {"type", "message_id"}, frame
                if want.message_id is not None:
                    assert frame["message_id"] == want.message_id, "a repeat creates nothing"
                    continue
                self.live = frame["message_id"]
                assert self.live not in self.chunks, "a new live message has a new id"
                self.chunks[self.live] = []
                self.started.append(self.live)
                if want.client_id is not None:
                    self.client_ids[want.client_id] = self.live
                begun.append(self.live)
        return begun


def _label(frame: dict[str, Any]) -> str:
    if frame.get("type") == "error" and isinstance(frame.get("error"), dict):
        return f"error/{frame['error'].get('code')}"
    return str(frame.get("type"))


def resolve(action: Action, model: Model, recording: bytes) -> str | bytes:
    """The frame an action stands for (big ones are described, to keep reports readable)."""
    if isinstance(action, Piece):
        return action.chunk(recording, model.offset())
    if isinstance(action, Zeros):
        return action.chunk()
    if isinstance(action, Digits | Nested | Padded):
        return action.frame()
    return action
