"""Reports: a member asks the moderators to look at a message; moderators resolve it.

A report is between its reporter and the group's moderators: it is no group event
(those reach every member). Moderators connected at the time hear `report.created`
and `report.resolved` on their sockets through a control message addressed to them
alone; the rest of the queue is `GET .../reports`. Resolving `delete` erases the
message (`app.services.erasure`), `ban` erases it and bans its sender
(`app.services.bans`); either closes every open report of that message. The
moderation log says a report was resolved and how, never by whom it was made or why.
"""

from typing import Any

from sqlalchemy import func, select

from app.errors import Conflict, Invalid, NotFound
from app.models import Membership, Message, Report, User, utcnow
from app.realtime.wire import CONTROL_CHANNEL, ControlType, ReportNotice, encode_control
from app.schemas.reports import ReportOut
from app.services import bans, erasure, moderation, pages, views
from app.services.context import Ctx
from app.services.groups import require_role
from app.services.messages import load_message


def _report_not_found() -> NotFound:
    return NotFound("No such report in this group.", code="report_not_found")


async def _outs(ctx: Ctx, viewer_id: str, reports: list[Report]) -> list[ReportOut]:
    ids = list({r.message_id for r in reports})
    found = list(await ctx.db.scalars(select(Message).where(Message.id.in_(ids)))) if ids else []
    shown = {m.id: m for m in await views.message_outs(ctx, viewer_id, found)}
    return [
        ReportOut(
            id=r.id,
            group_id=r.group_id,
            message=shown[r.message_id],
            reporter=views.user_out(r.reporter),
            reason=r.reason,
            status=r.status,
            created_at=r.created_at,
            resolved_at=r.resolved_at,
            resolved_by=views.user_out(r.resolver) if r.resolver else None,
            resolution=r.resolution,
        )
        for r in reports
    ]


async def _open_report(ctx: Ctx, message_id: str, reporter_id: str) -> Report | None:
    return await ctx.db.scalar(
        select(Report).where(
            Report.message_id == message_id,
            Report.reporter_id == reporter_id,
            Report.status == "open",
        )
    )


async def _tell_moderators(ctx: Ctx, group_id: str, type_: str, report: dict[str, Any]) -> None:
    """After commit, a control message to the group's moderators' sockets (none stored)."""
    moderators = list(
        await ctx.db.scalars(
            select(Membership.user_id).where(
                Membership.group_id == group_id, Membership.role.in_(("moderator", "owner"))
            )
        )
    )
    open_count = await ctx.db.scalar(
        select(func.count())
        .select_from(Report)
        .where(Report.group_id == group_id, Report.status == "open")
    )
    payload = encode_control(ReportNotice(type_, group_id, moderators, report, open_count or 0))
    ctx.after_commit(lambda: ctx.rt.broker.publish(CONTROL_CHANNEL, payload))


async def report_message(
    ctx: Ctx, user: User, message_id: str, *, reason: str
) -> tuple[ReportOut, bool]:
    """Report a message; reporting it again while open returns that report (created False)."""
    await ctx.limit("report", user.id)  # before any query: no lock is held meanwhile
    message, _ = await load_message(ctx, user, message_id)
    if message.sender_id == user.id:
        raise Invalid("You cannot report your own message.", code="own_message")
    earlier = await _open_report(ctx, message_id, user.id)
    if earlier is not None:
        return (await _outs(ctx, user.id, [earlier]))[0], False
    if message.deleted_at is not None:
        raise Conflict("That message has been deleted already.", code="message_deleted")
    report = Report(
        group_id=message.group_id,
        message_id=message_id,
        reporter_id=user.id,
        reason=reason,
        status="open",
        created_at=utcnow(),
    )
    report.reporter = await ctx.db.merge(user, load=False)
    raced = await ctx.add_unless_raced(report, lambda: _open_report(ctx, message_id, user.id))
    if raced is not None:
        return (await _outs(ctx, user.id, [raced]))[0], False
    out = (await _outs(ctx, user.id, [report]))[0]
    brief = {"id": report.id, "message_id": message_id}
    await _tell_moderators(ctx, message.group_id, ControlType.REPORT_CREATED, brief)
    await ctx.commit()
    return out, True


async def list_reports(
    ctx: Ctx, user: User, group_id: str, *, after: str | None, limit: int
) -> tuple[list[ReportOut], bool]:
    """Open reports, oldest first (moderators only); `after` is the last report id seen."""
    await require_role(ctx, group_id, user.id, "moderator")
    query = select(Report).where(Report.group_id == group_id, Report.status == "open")
    rows, more = await pages.group_page(
        ctx,
        query,
        when=Report.created_at,
        key=Report.id,
        group_id=group_id,
        cursor_id=after,
        newest_first=False,
        limit=limit,
        missing=_report_not_found,
    )
    return await _outs(ctx, user.id, rows), more


async def resolve(ctx: Ctx, user: User, group_id: str, report_id: str, *, action: str) -> ReportOut:
    """Dismiss the report, delete the message, or delete it and ban its sender."""
    mine = await require_role(ctx, group_id, user.id, "moderator", lock=True)
    report = await ctx.db.get(Report, report_id, populate_existing=True)
    if report is None or report.group_id != group_id:
        raise _report_not_found()
    if report.status != "open":
        raise Conflict("That report has been resolved already.", code="report_resolved")
    closing = [report]
    if action in ("delete", "ban"):
        sender_id = await ctx.db.scalar(
            select(Message.sender_id).where(Message.id == report.message_id)
        )
        await erasure.erase_message(ctx, report.message_id, actor_id=user.id)
        if action == "ban" and sender_id is not None:
            await bans.stage_ban(ctx, user, mine, user_id=sender_id, reason=None)
        closing = list(
            await ctx.db.scalars(
                select(Report).where(
                    Report.message_id == report.message_id, Report.status == "open"
                )
            )
        )
    now = utcnow()
    for each in closing:
        each.status, each.resolution = "resolved", action
        each.resolved_at, each.resolved_by = now, user.id
        each.resolver = await ctx.db.merge(user, load=False)
    await ctx.db.flush()
    await moderation.record(
        ctx, group_id, "report.resolved", actor_id=user.id, details={"action": action}
    )
    out = (await _outs(ctx, user.id, [report]))[0]
    for each in closing:
        brief = {"id": each.id, "message_id": each.message_id, "resolution": action}
        await _tell_moderators(ctx, group_id, ControlType.REPORT_RESOLVED, brief)
    await ctx.commit()
    return out
