"""Keeping a group safe: invites, bans, reports and the moderation log."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.common import Id, created_or_repeated, errors, repeated
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.models import MAX_SEQ
from app.schemas import (
    BanIn,
    BanOut,
    BansOut,
    InvitesOut,
    ModerationLogPage,
)
from app.schemas.reports import ReportIn, ReportOut, ReportsPage, ResolveIn
from app.services import bans, invites, moderation, reports

router = APIRouter(tags=["moderation"])
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/groups/{gid}/invites", response_model=InvitesOut, responses=errors(401, 403, 404))
async def list_invites(
    gid: Id, ctx: ReadCtxDep, user: CurrentUser, before: Cursor = None, limit: Limit = 50
) -> InvitesOut:
    """The group's invites that are not revoked, newest first, with whether each still
    works (moderators). `before`: the last code of the previous page."""
    page, has_more = await invites.list_invites(ctx, user, gid, before=before, limit=limit)
    return InvitesOut(invites=page, has_more=has_more)


@router.delete(
    "/groups/{gid}/invites/{code}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404),
)
async def revoke_invite(gid: Id, code: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    """Revoke an invite: accepting it afterwards answers 410 `invite_revoked`."""
    await invites.revoke_invite(ctx, user, gid, code)
    return Response(status_code=204)


@router.post(
    "/groups/{gid}/bans",
    status_code=201,
    response_model=BanOut,
    responses={**errors(401, 403, 404, 409), **repeated(BanOut)},
)
async def ban(gid: Id, body: BanIn, ctx: CtxDep, user: CurrentUser, response: Response) -> BanOut:
    """Remove someone (if a member) and keep them out: no invite or add lets them back."""
    out, created = await bans.ban(ctx, user, gid, user_id=body.user_id, reason=body.reason)
    created_or_repeated(response, created)
    return out


@router.get("/groups/{gid}/bans", response_model=BansOut, responses=errors(401, 403, 404))
async def list_bans(gid: Id, ctx: ReadCtxDep, user: CurrentUser) -> BansOut:
    return BansOut(bans=await bans.list_bans(ctx, user, gid))


@router.delete(
    "/groups/{gid}/bans/{uid}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404),
)
async def unban(gid: Id, uid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    """Lift a ban; the person comes back only through a new invite or an add."""
    await bans.unban(ctx, user, gid, uid)
    return Response(status_code=204)


@router.post(
    "/messages/{mid}/reports",
    status_code=201,
    response_model=ReportOut,
    responses={**errors(401, 404, 409, 429), **repeated(ReportOut)},
)
async def report_message(
    mid: Id, body: ReportIn, ctx: CtxDep, user: CurrentUser, response: Response
) -> ReportOut:
    """Ask the group's moderators to look at a message (only they see the report).
    Reporting it again while the report is open returns that report (200)."""
    out, created = await reports.report_message(ctx, user, mid, reason=body.reason)
    created_or_repeated(response, created)
    return out


@router.get("/groups/{gid}/reports", response_model=ReportsPage, responses=errors(401, 403, 404))
async def list_reports(
    gid: Id, ctx: ReadCtxDep, user: CurrentUser, after: Cursor = None, limit: Limit = 50
) -> ReportsPage:
    """Open reports with their messages, oldest first (moderators). `after`: the last
    report id of the previous page."""
    page, has_more = await reports.list_reports(ctx, user, gid, after=after, limit=limit)
    return ReportsPage(reports=page, has_more=has_more)


@router.post(
    "/groups/{gid}/reports/{rid}/resolve",
    response_model=ReportOut,
    responses=errors(401, 403, 404, 409),
)
async def resolve_report(
    gid: Id, rid: Id, body: ResolveIn, ctx: CtxDep, user: CurrentUser
) -> ReportOut:
    """`dismiss` it, `delete` the message, or delete it and `ban` its sender."""
    return await reports.resolve(ctx, user, gid, rid, action=body.action)


@router.get(
    "/groups/{gid}/moderation-log", response_model=ModerationLogPage, responses=errors(401, 404)
)
async def moderation_log(
    gid: Id,
    ctx: ReadCtxDep,
    user: CurrentUser,
    before: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    limit: Limit = 50,
) -> ModerationLogPage:
    """What moderators did, newest first (every member). `before`: the `seq` of the
    oldest entry already seen."""
    page, has_more = await moderation.list_log(ctx, user, gid, before=before, limit=limit)
    return ModerationLogPage(entries=page, has_more=has_more)
