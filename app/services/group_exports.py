"""A group's export by its owner: the group's record for a range of dates, as a zip.

Allowed only while the group's `export_policy` is "owner" (a setting every member
sees), and only to the owner. Made by the one export machinery of
`app.services.exports` (kind `GROUP`): one at a time per group (asking again while
one is being made returns it), `limit_group_exports_per_day` per group, kept
`export_keep_hours`. Erasing a message in the range, setting the policy back to
"nobody" or deleting the group drops the export and its zip.
"""

from datetime import datetime

from app.errors import Forbidden, Invalid, NotFound
from app.models import GroupExport, User, utcnow
from app.schemas import GroupExportOut
from app.services import exports
from app.services.context import Ctx
from app.services.groups import load_group, require_role


def _not_found() -> NotFound:
    return NotFound("This group has no export: start one.", code="export_not_found")


async def start(
    ctx: Ctx, user: User, group_id: str, *, from_at: datetime, to_at: datetime
) -> tuple[GroupExportOut, bool]:
    """Start exporting the messages sent in [from_at, to_at), or return the export being
    made (and False). The group row lock serializes concurrent starts."""
    await require_role(ctx, group_id, user.id, "owner", lock=True)
    group = await load_group(ctx, group_id)
    if group.export_policy != "owner":
        raise Forbidden(
            "This group does not allow exports: its owner may turn them on in its settings.",
            code="export_not_allowed",
        )
    if from_at >= to_at:
        raise Invalid(
            "`from` must be before `to`.", code="invalid_range", details={"field": "from"}
        )
    earlier = await ctx.db.get(GroupExport, group_id, populate_existing=True)
    if earlier is not None and exports.pending(ctx.rt, earlier):
        return exports.group_out(ctx.rt, earlier), False
    await ctx.limit("group-export", group_id)
    export = GroupExport(
        group_id=group_id,
        requested_by=user.id,
        from_at=from_at,
        to_at=to_at,
        status="pending",
        created_at=utcnow(),
    )
    await exports.replace(ctx, exports.GROUP, group_id, export)
    out = exports.group_out(ctx.rt, export)
    await ctx.commit()
    return out, True


async def _latest(ctx: Ctx, user: User, group_id: str) -> GroupExport:
    await require_role(ctx, group_id, user.id, "owner")
    export = await ctx.db.get(GroupExport, group_id)
    if export is None:
        raise _not_found()
    return export


async def state(ctx: Ctx, user: User, group_id: str) -> GroupExportOut:
    """The group's latest export (owner only)."""
    return exports.group_out(ctx.rt, await _latest(ctx, user, group_id))


async def ready_key(ctx: Ctx, user: User, group_id: str) -> tuple[str, int]:
    """The store key and size of the group's ready zip (404 none, 409 not ready)."""
    export = await _latest(ctx, user, group_id)
    return exports.ready(ctx.rt, exports.GROUP, group_id, export, "The group's export")
