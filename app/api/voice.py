"""Voice memos: upload, listening receipts, and the signed audio stream."""

import re
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from app.api.common import Id, created_or_repeated, errors, repeated
from app.api.deps import CtxDep, CurrentUser
from app.api.upload import Upload, openapi_upload, receive_upload
from app.errors import ApiError, Invalid, NotFound
from app.schemas import (
    STORABLE,
    ListenedIn,
    MessageOut,
    PositionIn,
    PositionOut,
    ReceiptOut,
    ReceiptsOut,
    storable,
)
from app.services import live, playback, voice
from app.services.context import Ctx
from app.services.signing import AUDIO_PATH, verify

router = APIRouter(tags=["voice"])

_UPLOAD_SCHEMA = openapi_upload(
    client_id={"type": "string", "maxLength": 64, "pattern": STORABLE},
    reply_to={"type": "string", "maxLength": 36, "pattern": STORABLE},
    reply_to_offset_ms={"type": "string", "pattern": "^[0-9]{1,10}$"},
)


@router.post(
    "/groups/{gid}/voice",
    status_code=202,
    response_model=MessageOut,
    responses={**errors(400, 401, 404, 413, 415, 429, 503, 507), **repeated(MessageOut)},
    openapi_extra=_UPLOAD_SCHEMA,
)
async def upload_voice(
    gid: Id, request: Request, ctx: CtxDep, user: CurrentUser, response: Response
) -> MessageOut:
    """Post a voice memo: answered 202 once it is stored; `message.updated` follows when ready."""
    await voice.admit_upload(ctx, user, gid)
    settings = ctx.settings
    upload = await receive_upload(request, settings.work_dir, settings.max_upload_bytes)
    try:
        client_id = _form_field(upload, "client_id", 64)
        reply_to = _form_field(upload, "reply_to", 36)
        offset = _offset_field(upload)
        assert upload.path is not None  # receive_upload answers 422 without the file
        out, created = await voice.accept_upload(
            ctx,
            user,
            gid,
            upload=upload.path,
            client_id=client_id,
            reply_to=reply_to,
            reply_to_offset_ms=offset,
        )
    finally:
        upload.discard()
    created_or_repeated(response, created)
    return out


def _form_field(upload: Upload, name: str, max_length: int) -> str | None:
    value = upload.fields.get(name) or None
    if value is not None and (len(value) > max_length or not storable(value)):
        message = f"{name}: at most {max_length} characters, and no NUL."
        raise Invalid(message, details={"field": name})
    return value


def _offset_field(upload: Upload) -> int | None:
    value = _form_field(upload, "reply_to_offset_ms", 10)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or int(value) > 2**31 - 1:
        message = "reply_to_offset_ms: a place in the memo, in whole milliseconds."
        raise Invalid(message, details={"field": "reply_to_offset_ms"})
    return int(value)


@router.post("/messages/{mid}/listened", response_model=ReceiptOut, responses=errors(401, 404))
async def listened(
    mid: Id, ctx: CtxDep, user: CurrentUser, body: ListenedIn | None = None
) -> ReceiptOut:
    return await voice.mark_listened(ctx, user, mid, position_ms=body.position_ms if body else None)


@router.put(
    "/messages/{mid}/position", response_model=PositionOut, responses=errors(401, 404, 409, 429)
)
async def save_position(mid: Id, body: PositionIn, ctx: CtxDep, user: CurrentUser) -> PositionOut:
    return await voice.save_position(ctx, user, mid, body.position_ms)


@router.get("/messages/{mid}/receipts", response_model=ReceiptsOut, responses=errors(401, 404))
async def receipts(mid: Id, ctx: CtxDep, user: CurrentUser) -> ReceiptsOut:
    return ReceiptsOut(receipts=await voice.receipts(ctx, user, mid))


@router.get(
    "/messages/{mid}/live",
    response_class=Response,
    responses={**errors(401, 404, 409, 410), 200: {"description": "The recording so far"}},
)
async def live_so_far(mid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    """A live message's bytes received so far, from offset 0, for a listener joining late.

    Connect the websocket first, then fetch this, then skip frames whose bytes you have."""
    key, mime = await live.live_recording(ctx, user, mid)
    size = await ctx.rt.blobs.size(key) or 0
    if size == 0:
        return Response(b"", media_type=mime, headers={"Cache-Control": "no-store"})
    return StreamingResponse(
        ctx.rt.blobs.read_range(key, 0, size - 1),
        media_type=mime,
        headers={"Content-Length": str(size), "Cache-Control": "no-store"},
    )


async def _redirect_to_store(ctx: Ctx, blob: playback.AudioBlob, expires: int) -> Response:
    url = await ctx.rt.blobs.presigned_get(blob.key, max(expires - int(time.time()), 1))
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range asked for, None for the whole body; 416 if unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # ignore what we do not understand, as RFC 9110 allows
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ApiError(
            "That byte range is outside the audio.",
            code="range_not_satisfiable",
            status=416,
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


@router.get(
    "/audio/{mid}",
    responses={**errors(403, 404, 410, 416), 206: {"description": "Partial content"}},
    response_class=Response,
)
async def audio(
    mid: Id,
    request: Request,
    ctx: CtxDep,
    exp: Annotated[int, Query()],
    sig: Annotated[str, Query(max_length=128)],
    format: Annotated[str, Query(pattern="^(ogg|mp3)$")] = "ogg",
) -> Response:
    """The memo's audio for a signed URL: Ogg Opus, or MP3 with `format=mp3`; honours Range.

    With EARSHOT_AUDIO_DELIVERY=redirect, a 307 to a presigned GET of the object
    store that expires with the signed URL."""
    verify(ctx.settings.resolved_secret, AUDIO_PATH.format(message_id=mid), exp, sig)
    blob = await playback.audio_blob(ctx, mid, format)
    return await send_audio(request, ctx, blob, expires=exp)


async def send_audio(
    request: Request, ctx: Ctx, blob: playback.AudioBlob, *, expires: int
) -> Response:
    """Answer with `blob`, honouring Range and If-None-Match (or redirect to the store)."""
    if ctx.settings.audio_delivery == "redirect":
        return await _redirect_to_store(ctx, blob, expires=expires)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": blob.etag,
        "Cache-Control": "private, max-age=86400, immutable",
    }
    if request.headers.get("if-none-match") == blob.etag:
        return Response(status_code=304, headers=headers)
    byte_range = _byte_range(request.headers.get("range"), blob.size)
    start, end = byte_range or (0, blob.size - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if byte_range:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    if blob.size == 0:
        raise NotFound("This audio is empty.", code="audio_not_found")
    return StreamingResponse(
        ctx.rt.blobs.read_range(blob.key, start, end),
        status_code=status,
        media_type=blob.mime,
        headers=headers,
    )
