"""The JSON text frames a client sends on the websocket, validated by one discriminated union.

`parse` turns a frame's text into one of the models below, or into a `BadFrame` that
says which fields were wrong; `app.realtime.ws` decides what each answer is (the
order of its checks is part of the contract: docs/api.md, "Websocket").
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from app.models import MAX_SEQ
from app.schemas import storable

MAX_TEXT_FRAME = 64 * 1024  # bytes of one text frame, as UTF-8


def _storable(value: str) -> str:
    if not storable(value):
        raise ValueError("not storable text")
    return value


Seq = Annotated[int, Field(strict=True, ge=0, le=MAX_SEQ)]
Text = Annotated[str, Field(strict=True)]


class Ping(BaseModel):
    type: Literal["ping"]


class SyncFrame(BaseModel):
    """Resume: each group's last seen seq (the connection starts delivering after it)."""

    type: Literal["sync"]
    cursors: dict[str, Seq]


class RecordingFrame(BaseModel):
    """Show (or stop showing) the group's other members that this person is recording."""

    type: Literal["recording.started", "recording.stopped"]
    group_id: Text


class LiveStart(BaseModel):
    type: Literal["live.start"]
    group_id: Text
    # GET /live sends it back as Content-Type: audio types only (app.services.live checks).
    mime: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    client_id: (
        Annotated[str, Field(strict=True, min_length=1, max_length=64), AfterValidator(_storable)]
        | None
    ) = None
    # A live memo may reply to a message of the group (and so join its thread).
    reply_to: (
        Annotated[str, Field(strict=True, min_length=1, max_length=36), AfterValidator(_storable)]
        | None
    ) = None


class LiveEnd(BaseModel):
    type: Literal["live.end"]


ClientFrame = Ping | SyncFrame | RecordingFrame | LiveStart | LiveEnd
_FRAMES: TypeAdapter[ClientFrame] = TypeAdapter(Annotated[ClientFrame, Field(discriminator="type")])


@dataclass(frozen=True)
class BadFrame:
    """A frame that is not one of the models: why, and (for a known type) which fields."""

    problem: Literal["too_large", "not_json", "no_type", "unknown_type", "fields"]
    type: str = ""
    fields: frozenset[str] = frozenset()
    group_id: str | None = None  # the frame's `group_id`, when it is text


def parse(text: str) -> ClientFrame | BadFrame:
    if len(text) > MAX_TEXT_FRAME or len(text.encode()) > MAX_TEXT_FRAME:  # bytes, not chars
        return BadFrame("too_large")
    try:
        message: Any = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        return BadFrame("not_json")
    try:
        return _FRAMES.validate_python(message)
    except ValidationError as invalid:
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            return BadFrame("no_type")
        errors = invalid.errors()
        if any(e["type"] == "union_tag_invalid" for e in errors):
            return BadFrame("unknown_type", kind)
        fields = frozenset(str(e["loc"][1]) for e in errors if len(e["loc"]) > 1)
        group_id = message.get("group_id")
        return BadFrame("fields", kind, fields, group_id if isinstance(group_id, str) else None)
