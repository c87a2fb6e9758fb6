"""Your data export: start one, see how it goes, download the zip."""

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from app.api.common import created_or_repeated, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.schemas import ExportOut
from app.services import exports

router = APIRouter(tags=["accounts"])


@router.post(
    "/me/export",
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


@router.get("/me/export", response_model=ExportOut, responses=errors(401, 404))
async def export_state(ctx: ReadCtxDep, user: CurrentUser) -> ExportOut:
    """Your latest export: `pending`, `ready` (download it before `expires_at`) or `failed`."""
    return await exports.state(ctx, user)


@router.get(
    "/me/export/download",
    response_class=StreamingResponse,
    responses={
        **errors(401, 404, 409),
        200: {"content": {"application/zip": {}}, "description": "the zip"},
    },
)
async def download_export(ctx: ReadCtxDep, user: CurrentUser) -> StreamingResponse:
    """The zip of your ready export (`409 export_not_ready` while it is made or failed)."""
    key, size = await exports.ready_key(ctx, user)
    filename = f"earshot-export-{user.handle}.zip"
    return StreamingResponse(
        ctx.rt.blobs.read_range(key, 0, size - 1),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
