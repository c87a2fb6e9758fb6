"""What travels over the broker between server processes: three channels and their frames.

Each frame has its encoder and its decoder here, and nowhere else:

- `events`: a durable event, as stored and as clients receive it
  (`encode_event` / `decode_event`): JSON `{"type", "group_id", "seq", "data"}`.
- `control`: notices that are never stored (`encode_control` / `decode_control`):
  revoked tokens, recording indicators, report notices for moderators. JSON.
- `chunks`: a chunk of a live memo on its way to listeners (`encode_chunk` /
  `decode_chunk`): `group id (36) | sender id (36) | listener frame`, where the
  listener frame is what clients receive as a binary websocket frame:
  `message UUID (16 bytes) | offset (8 bytes, big-endian) | audio`.
"""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

EVENTS_CHANNEL: Final = "events"
CONTROL_CHANNEL: Final = "control"
CHUNKS_CHANNEL: Final = "chunks"

_ID_BYTES = 36  # a group or user id: a UUID in its 36-character text form
_UUID_BYTES = 16
_OFFSET_BYTES = 8


# Durable events


def encode_event(group_id: str, seq: int, type_: str, data: dict[str, Any]) -> bytes:
    """The one wire form of a durable event, shared by fan-out, replay and HTTP."""
    return json.dumps(
        {"type": type_, "group_id": group_id, "seq": seq, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


@dataclass(frozen=True)
class EventFrame:
    """A durable event as it arrived: parsed once, sent on as the same text."""

    group_id: str
    seq: int
    type: str
    data: dict[str, Any]
    text: str


def decode_event(payload: bytes) -> EventFrame:
    event = json.loads(payload)
    return EventFrame(
        event["group_id"], event["seq"], event["type"], event["data"], payload.decode()
    )


# Control notices


class ControlType:
    TOKEN_REVOKED: Final = "token.revoked"
    RECORDING_STARTED: Final = "recording.started"
    RECORDING_STOPPED: Final = "recording.stopped"
    REPORT_CREATED: Final = "report.created"
    REPORT_RESOLVED: Final = "report.resolved"


RECORDING_TYPES: Final = (ControlType.RECORDING_STARTED, ControlType.RECORDING_STOPPED)
REPORT_TYPES: Final = (ControlType.REPORT_CREATED, ControlType.REPORT_RESOLVED)


@dataclass(frozen=True)
class TokensRevoked:
    """These tokens of `user_id` are signed out: close their sockets."""

    user_id: str
    token_hashes: list[str]


@dataclass(frozen=True)
class RecordingNotice:
    """Someone started or stopped recording in a group (the other members see it)."""

    type: str  # one of RECORDING_TYPES
    group_id: str
    user_id: str

    def text(self) -> str:
        """The frame the group's other members receive."""
        return _compact({"type": self.type, "group_id": self.group_id, "user_id": self.user_id})


@dataclass(frozen=True)
class ReportNotice:
    """A report was made or resolved: for the sockets of the moderators it names only."""

    type: str  # one of REPORT_TYPES
    group_id: str
    user_ids: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    open_reports: int = 0

    def text(self) -> str:
        """The frame the moderators receive (without the list of who receives it)."""
        notice = {
            "type": self.type,
            "group_id": self.group_id,
            "report": self.report,
            "open_reports": self.open_reports,
        }
        return _compact(notice)


Control = TokensRevoked | RecordingNotice | ReportNotice


def encode_control(notice: Control) -> bytes:
    if isinstance(notice, TokensRevoked):
        body: dict[str, Any] = {
            "type": ControlType.TOKEN_REVOKED,
            "user_id": notice.user_id,
            "token_hashes": notice.token_hashes,
        }
    elif isinstance(notice, RecordingNotice):
        body = {"type": notice.type, "group_id": notice.group_id, "user_id": notice.user_id}
    else:
        body = {
            "type": notice.type,
            "group_id": notice.group_id,
            "user_ids": notice.user_ids,
            "report": notice.report,
            "open_reports": notice.open_reports,
        }
    return _compact(body).encode()


def decode_control(payload: bytes) -> Control | None:
    """The notice, or None for a type this version does not know (a newer process sent it)."""
    body = json.loads(payload)
    type_ = body["type"]
    if type_ == ControlType.TOKEN_REVOKED:
        return TokensRevoked(body["user_id"], list(body["token_hashes"]))
    if type_ in RECORDING_TYPES:
        return RecordingNotice(type_, body["group_id"], body["user_id"])
    if type_ in REPORT_TYPES:
        return ReportNotice(
            type_, body["group_id"], list(body["user_ids"]), body["report"], body["open_reports"]
        )
    return None


def _compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


# Live chunks


@dataclass(frozen=True)
class ChunkFrame:
    """A chunk of a live memo, routed by group and sender, carrying the listeners' frame."""

    group_id: str
    sender_id: str
    frame: bytes  # message UUID (16) | offset (8, big-endian) | audio: sent on as it is


def chunk_frame(
    group_id: str, sender_id: str, message_id: str, offset: int, data: bytes
) -> ChunkFrame:
    head = uuid.UUID(message_id).bytes + offset.to_bytes(_OFFSET_BYTES, "big")
    return ChunkFrame(group_id, sender_id, head + data)


def encode_chunk(chunk: ChunkFrame) -> bytes:
    route = f"{chunk.group_id}{chunk.sender_id}".encode()
    if len(route) != 2 * _ID_BYTES:
        raise ValueError("group and sender ids are 36-character UUIDs")
    return route + chunk.frame


def decode_chunk(payload: bytes) -> ChunkFrame:
    group_id = payload[:_ID_BYTES].decode()
    sender_id = payload[_ID_BYTES : 2 * _ID_BYTES].decode()
    return ChunkFrame(group_id, sender_id, payload[2 * _ID_BYTES :])


def parse_listener_frame(frame: bytes) -> tuple[str, int, bytes]:
    """(message id, offset, audio) of a frame as listeners receive it."""
    head = _UUID_BYTES + _OFFSET_BYTES
    message_id = str(uuid.UUID(bytes=frame[:_UUID_BYTES]))
    return message_id, int.from_bytes(frame[_UUID_BYTES:head], "big"), frame[head:]
