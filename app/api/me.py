"""The caller's own account: settings, and the people they block."""

from fastapi import APIRouter, Request, Response

from app.api.auth import client_address
from app.api.common import Id, created_or_repeated, errors, repeated
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep, TokenDep
from app.schemas import BlockIn, BlockOut, BlocksOut, DeleteMeIn, MeOut, MePatch
from app.services import deletion, people

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=MeOut, responses=errors(401))
async def me(user: CurrentUser) -> MeOut:
    return people.me_out(user)


@router.patch("/me", response_model=MeOut, responses=errors(401, 409, 429))
async def update_me(body: MePatch, ctx: CtxDep, user: CurrentUser) -> MeOut:
    """`who_can_add_me`: "shared_group" (default) or "anyone"; `notification_previews`;
    `quiet_hours` (an explicit null turns them off); `email` (a new one is unverified and
    mailed a link, 409 `email_not_configured` without email; null removes it)."""
    return await people.update_me(ctx, user, body.model_dump(mode="json", exclude_unset=True))


@router.delete(
    "/me", status_code=204, response_class=Response, responses=errors(401, 403, 409, 429, 503)
)
async def delete_me(
    body: DeleteMeIn, request: Request, ctx: CtxDep, user: CurrentUser, token: TokenDep
) -> Response:
    """Delete your account for good: every message and memo you posted is erased, you leave
    every group (one where you are the only member is deleted), every token is revoked.
    `403 wrong_password`; `409 owner_required` (`details.groups`) while you own a group with
    other members: make someone else its owner first. An account made through SSO (no
    password): `403 reauthentication_required` unless this token came from its provider
    in the last 15 minutes (the password is then ignored)."""
    await deletion.delete_account(ctx, user, body.password, token, client_address(request))
    return Response(status_code=204)


@router.post(
    "/me/blocks",
    status_code=201,
    response_model=BlockOut,
    responses={**errors(401, 404, 409), **repeated(BlockOut)},
)
async def block(body: BlockIn, ctx: CtxDep, user: CurrentUser, response: Response) -> BlockOut:
    """Block someone: they can never add you to a group, and their messages carry
    `sender_blocked: true` in what you read. They are not told."""
    out, created = await people.block(ctx, user, blocked_id=body.user_id)
    created_or_repeated(response, created)
    return out


@router.get("/me/blocks", response_model=BlocksOut, responses=errors(401))
async def list_blocks(ctx: ReadCtxDep, user: CurrentUser) -> BlocksOut:
    return BlocksOut(blocks=await people.list_blocks(ctx, user))


@router.delete(
    "/me/blocks/{uid}", status_code=204, response_class=Response, responses=errors(401, 404)
)
async def unblock(uid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    await people.unblock(ctx, user, blocked_id=uid)
    return Response(status_code=204)
