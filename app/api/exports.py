"""Exports: your data, or a group's record by its owner: start one, see how it goes,
download the zip."""

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from app.api.common import Id, created_or_repeated, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.schemas import ExportOut, GroupExportIn, GroupExportOut
from app.services import exports, group_exports
from app.services.context import Ctx

router = APIRouter()  # each route names its one section of the docs (tags)


@router.post(
    "/me/export",
    tags=["accounts"],
    status_code=202,
    response_model=ExportOut,
    responses={
        **errors(401, 429),
        200: {"model": ExportOut, "description": "An export is being made already: that one"},
    },
)
async def start_export(ctx: CtxDep, user: CurrentUser, response: Response) -> ExportOut:
    """Start making a zip of your data (202); while one is being made, that one (200)."""
    out, created = await exports.start(ctx, user)
    created_or_repeated(response, created)
    return out


@router.get("/me/export", tags=["accounts"], response_model=ExportOut, responses=errors(401, 404))
async def export_state(ctx: ReadCtxDep, user: CurrentUser) -> ExportOut:
    """Your latest export: `pending`, `ready` (download it before `expires_at`) or `failed`."""
    return await exports.state(ctx, user)


@router.get(
    "/me/export/download",
    tags=["accounts"],
    response_class=StreamingResponse,
    responses={
        **errors(401, 404, 409),
        200: {"content": {"application/zip": {}}, "description": "the zip"},
    },
)
async def download_export(ctx: ReadCtxDep, user: CurrentUser) -> StreamingResponse:
    """The zip of your ready export (`409 export_not_ready` while it is made or failed)."""
    key, size = await exports.ready_key(ctx, user)
    return _zip(ctx, key, size, f"earshot-export-{user.handle}.zip")


@router.post(
    "/groups/{gid}/export",
    status_code=202,
    response_model=GroupExportOut,
    tags=["groups"],
    responses={
        **errors(401, 403, 404, 429),
        200: {"model": GroupExportOut, "description": "An export is being made already: that one"},
    },
)
async def start_group_export(
    gid: Id, body: GroupExportIn, ctx: CtxDep, user: CurrentUser, response: Response
) -> GroupExportOut:
    """The owner starts a zip of the group's messages sent in [`from`, `to`) (202), when
    the group's `export_policy` is "owner" (else `403 export_not_allowed`); while one is
    being made, that one (200)."""
    out, created = await group_exports.start(ctx, user, gid, from_at=body.from_, to_at=body.to)
    created_or_repeated(response, created)
    return out


@router.get(
    "/groups/{gid}/export",
    response_model=GroupExportOut,
    tags=["groups"],
    responses=errors(401, 403, 404),
)
async def group_export_state(gid: Id, ctx: ReadCtxDep, user: CurrentUser) -> GroupExportOut:
    """The group's latest export (owner only): `pending`, `ready` or `failed`."""
    return await group_exports.state(ctx, user, gid)


@router.get(
    "/groups/{gid}/export/download",
    response_class=StreamingResponse,
    tags=["groups"],
    responses={
        **errors(401, 403, 404, 409),
        200: {"content": {"application/zip": {}}, "description": "the zip"},
    },
)
async def download_group_export(gid: Id, ctx: ReadCtxDep, user: CurrentUser) -> StreamingResponse:
    """The zip of the group's ready export (owner only; `409 export_not_ready` before)."""
    key, size = await group_exports.ready_key(ctx, user, gid)
    return _zip(ctx, key, size, f"earshot-group-{gid}.zip")


def _zip(ctx: Ctx, key: str, size: int, filename: str) -> StreamingResponse:
    return StreamingResponse(
        ctx.rt.blobs.read_range(key, 0, size - 1),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
