"""Avatars: setting and removing your own, and fetching anyone's by the URL on their user."""

from fastapi import APIRouter, Request, Response

from app.api.common import Id, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.api.upload import openapi_upload, receive_upload
from app.schemas import MeOut
from app.services import avatars
from app.storage.images import MEDIA_TYPE

router = APIRouter(tags=["accounts"])


@router.put(
    "/me/avatar",
    response_model=MeOut,
    responses=errors(401, 403, 413, 415, 429, 503, 507),
    openapi_extra=openapi_upload(),
)
async def put_avatar(request: Request, ctx: CtxDep, user: CurrentUser) -> MeOut:
    """Set your avatar from a JPEG, PNG, WebP or HEIC image (multipart field `file`, at
    most `EARSHOT_AVATAR_MAX_BYTES`): it is stored as a 256 px square WebP with none of
    the photo's metadata (EXIF, location, XMP, colour profile), and replaces any earlier one.
    `413 too_large`; `415 unsupported_image`; `422 image_too_large` (too many pixels)."""
    await avatars.admit(ctx, user)
    upload = await receive_upload(
        request,
        ctx.settings.work_dir,
        ctx.settings.avatar_max_bytes,
        what="image",
        empty=avatars.not_an_image,
    )
    try:
        assert upload.path is not None  # receive_upload answers 422 without the file
        return await avatars.set_avatar(ctx, user, upload.path)
    finally:
        upload.discard()


@router.delete("/me/avatar", status_code=204, response_class=Response, responses=errors(401, 404))
async def delete_avatar(ctx: CtxDep, user: CurrentUser) -> Response:
    """Remove your avatar (`404 avatar_not_found` if you have none)."""
    await avatars.remove_avatar(ctx, user)
    return Response(status_code=204)


@router.get(
    "/avatars/{uid}/{avatar_id}",
    response_class=Response,
    responses={**errors(404), 200: {"content": {MEDIA_TYPE: {}}, "description": "The avatar"}},
)
async def get_avatar(uid: Id, avatar_id: Id, ctx: ReadCtxDep) -> Response:
    """An avatar, by the `avatar_url` of a user object: the URL is the credential (an
    <img> sends no token), it changes with the avatar, and stops working when it does."""
    data = await avatars.avatar_blob(ctx, uid, avatar_id)
    return Response(
        data,
        media_type=MEDIA_TYPE,
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "Content-Disposition": "inline",
        },
    )
