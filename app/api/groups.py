"""Groups, their members and invite links."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.common import Id, created_or_repeated, errors, repeated
from app.api.deps import CtxDep, CurrentUser
from app.schemas import (
    GroupCreate,
    GroupOut,
    GroupPatch,
    GroupsOut,
    InviteCreate,
    InviteOut,
    MemberAdd,
    MemberOut,
    MemberPatch,
    MembersOut,
)
from app.services import groups, invites, members, pins

router = APIRouter(tags=["groups"])


@router.post(
    "/groups",
    status_code=201,
    response_model=GroupOut,
    responses={**errors(401, 429), **repeated(GroupOut)},
)
async def create_group(
    body: GroupCreate, ctx: CtxDep, user: CurrentUser, response: Response
) -> GroupOut:
    out, created = await groups.create_group(
        ctx, user, name=body.name, description=body.description, client_id=body.client_id
    )
    created_or_repeated(response, created)
    return out


@router.get("/groups", response_model=GroupsOut, responses=errors(401))
async def list_groups(
    ctx: CtxDep,
    user: CurrentUser,
    cursor: Annotated[str | None, Query(max_length=300, pattern=r"^[A-Za-z0-9_-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> GroupsOut:
    """The caller's groups, most recent activity first, `limit` at a time; follow
    `next_cursor` until it is null."""
    page, next_cursor = await groups.list_groups(ctx, user, cursor=cursor, limit=limit)
    return GroupsOut(groups=page, next_cursor=next_cursor)


@router.get("/groups/{gid}", response_model=GroupOut, responses=errors(401, 404))
async def get_group(gid: Id, ctx: CtxDep, user: CurrentUser) -> GroupOut:
    return await groups.get_group(ctx, user, gid)


@router.patch("/groups/{gid}", response_model=GroupOut, responses=errors(401, 403, 404))
async def update_group(gid: Id, body: GroupPatch, ctx: CtxDep, user: CurrentUser) -> GroupOut:
    changes = body.model_dump(exclude_unset=True)  # an explicit null retention means "keep all"
    return await groups.update_group(ctx, user, gid, changes=changes)


@router.delete(
    "/groups/{gid}", status_code=204, response_class=Response, responses=errors(401, 403, 404)
)
async def delete_group(gid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    await groups.delete_group(ctx, user, gid)
    return Response(status_code=204)


@router.get("/groups/{gid}/members", response_model=MembersOut, responses=errors(401, 404))
async def list_members(gid: Id, ctx: CtxDep, user: CurrentUser) -> MembersOut:
    return MembersOut(members=await members.list_members(ctx, user, gid))


@router.post(
    "/groups/{gid}/members",
    status_code=201,
    response_model=MemberOut,
    responses={**errors(401, 403, 404, 409, 429), **repeated(MemberOut)},
)
async def add_member(
    gid: Id, body: MemberAdd, ctx: CtxDep, user: CurrentUser, response: Response
) -> MemberOut:
    out, created = await members.add_member(
        ctx, user, gid, handle=body.handle, role=body.role, client_id=body.client_id
    )
    created_or_repeated(response, created)
    return out


@router.patch(
    "/groups/{gid}/members/{uid}", response_model=MemberOut, responses=errors(401, 403, 404, 409)
)
async def change_role(
    gid: Id, uid: Id, body: MemberPatch, ctx: CtxDep, user: CurrentUser
) -> MemberOut:
    return await members.change_role(ctx, user, gid, uid, role=body.role)


@router.delete(
    "/groups/{gid}/members/{uid}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404, 409),
)
async def remove_member(gid: Id, uid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    await members.remove_member(ctx, user, gid, uid)
    return Response(status_code=204)


@router.post(
    "/groups/{gid}/invites",
    status_code=201,
    response_model=InviteOut,
    responses={**errors(401, 403, 404, 429), **repeated(InviteOut)},
)
async def create_invite(
    gid: Id, body: InviteCreate, ctx: CtxDep, user: CurrentUser, response: Response
) -> InviteOut:
    out, created = await invites.create_invite(
        ctx,
        user,
        gid,
        max_uses=body.max_uses,
        expires_in_s=body.expires_in_s,
        client_id=body.client_id,
    )
    created_or_repeated(response, created)
    return out


@router.post("/invites/{code}/accept", response_model=MemberOut, responses=errors(401, 404, 410))
async def accept_invite(code: Id, ctx: CtxDep, user: CurrentUser) -> MemberOut:
    return await invites.accept_invite(ctx, user, code)


@router.put(
    "/groups/{gid}/pins/{mid}", response_model=GroupOut, responses=errors(401, 403, 404, 409)
)
async def pin_message(gid: Id, mid: Id, ctx: CtxDep, user: CurrentUser) -> GroupOut:
    """Pin a message of the group (moderators and the owner; at most 5: `409 too_many_pins`).
    Pinning a pinned message changes nothing."""
    return await pins.pin(ctx, user, gid, mid)


@router.delete("/groups/{gid}/pins/{mid}", response_model=GroupOut, responses=errors(401, 403, 404))
async def unpin_message(gid: Id, mid: Id, ctx: CtxDep, user: CurrentUser) -> GroupOut:
    """Unpin a message (moderators and the owner); unpinning one not pinned changes nothing."""
    return await pins.unpin(ctx, user, gid, mid)
