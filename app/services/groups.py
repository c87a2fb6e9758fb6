"""Groups and the role check every group-scoped use case starts with."""

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import Forbidden, Invalid, group_not_found
from app.kinds import EventType
from app.models import Group, Membership, Message, User, UtcDateTime
from app.schemas import GroupOut
from app.services import moderation, views
from app.services.context import Ctx
from app.storage.keys import voice_prefix

ROLE_RANK = {"member": 0, "moderator": 1, "owner": 2}


async def require_role(
    ctx: Ctx, group_id: str, user_id: str, needed: str = "member", *, lock: bool = False
) -> Membership:
    """The caller's membership, or 404 for outsiders (a group's existence stays secret)
    and 403 for members below `needed`. `lock` takes the group row first, which
    serializes concurrent role and membership changes in the group."""
    if lock:
        await ctx.db.execute(select(Group.id).where(Group.id == group_id).with_for_update())
    membership = await ctx.db.get(Membership, (group_id, user_id), populate_existing=lock)
    if membership is None:
        raise group_not_found()
    if ROLE_RANK[membership.role] < ROLE_RANK[needed]:
        raise Forbidden(f"Only a {needed} of this group may do that.")
    return membership


async def load_group(ctx: Ctx, group_id: str) -> Group:
    group = await ctx.db.get(Group, group_id, populate_existing=True)
    if group is None:
        raise group_not_found()
    return group


async def create_group(
    ctx: Ctx, user: User, *, name: str, description: str, client_id: str | None
) -> tuple[GroupOut, bool]:
    """Create a group owned by `user`; a repeated `client_id` returns the first one."""
    await ctx.limit("group-create", user.id)
    if client_id:
        existing = await _group_by_client_id(ctx, user.id, client_id)
        if existing:
            return existing, False
    group = Group(name=name, description=description, created_by=user.id, client_id=client_id)
    existing = await ctx.add_unless_raced(
        group, lambda: _group_by_client_id(ctx, user.id, client_id or "")
    )
    if existing is not None:
        return existing, False
    membership = Membership(group_id=group.id, user_id=user.id, role="owner", added_by=user.id)
    membership.user = await ctx.db.merge(user, load=False)
    ctx.db.add(membership)
    await ctx.db.flush()
    await ctx.emit(
        group.id, EventType.MEMBER_JOINED, views.member_out(membership).model_dump(mode="json")
    )
    out = await views.group_out(ctx, user.id, group, "owner")
    await ctx.commit()
    return out, True


async def _group_by_client_id(ctx: Ctx, user_id: str, client_id: str) -> GroupOut | None:
    row = (
        await ctx.db.execute(
            select(Group, Membership.role)
            .join(Membership, Membership.group_id == Group.id)
            .where(
                Group.created_by == user_id,
                Group.client_id == client_id,
                Membership.user_id == user_id,
            )
        )
    ).first()
    return await views.group_out(ctx, user_id, row[0], row[1]) if row else None


async def list_groups(
    ctx: Ctx, user: User, *, cursor: str | None, limit: int
) -> tuple[list[GroupOut], str | None]:
    """A page of the caller's groups, most recent activity first, and the cursor of the
    next page (None on the last). A group whose activity changes while a client pages
    moves to the front: the client hears of it by its events."""
    activity = func.coalesce(Group.last_message_at, Group.created_at)
    query = (
        select(Group, Membership.role, activity)
        .join(Membership, Membership.group_id == Group.id)
        .where(Membership.user_id == user.id)
        .order_by(activity.desc(), Group.id)
        .limit(limit + 1)
    )
    if cursor:
        at, after_id = _read_cursor(cursor)
        at_value = literal(at, UtcDateTime())
        query = query.where(
            or_(activity < at_value, and_(activity == at_value, Group.id > after_id))
        )
    rows = (await ctx.db.execute(query)).all()
    page = rows[:limit]
    following = _cursor(page[-1][2], page[-1][0].id) if len(rows) > limit else None
    return await views.group_outs(ctx, user.id, [(g, role) for g, role, _ in page]), following


def _cursor(activity: datetime, group_id: str) -> str:
    raw = json.dumps([activity.isoformat(), group_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, group_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(group_id, str) or len(group_id) > 64:
            raise ValueError
    except (ValueError, TypeError):
        raise Invalid(
            "That cursor is not one this server gave out.",
            code="invalid_cursor",
            details={"field": "cursor"},
        ) from None
    return when, group_id


async def get_group(ctx: Ctx, user: User, group_id: str) -> GroupOut:
    membership = await require_role(ctx, group_id, user.id)
    return await views.group_out(ctx, user.id, await load_group(ctx, group_id), membership.role)


async def update_group(ctx: Ctx, user: User, group_id: str, *, changes: dict[str, Any]) -> GroupOut:
    """Apply the fields given (name, description, retention_days, transcripts, norms;
    export_policy by the owner only); `group.updated`."""
    membership = await require_role(ctx, group_id, user.id, "moderator", lock=True)
    if changes.get("export_policy") is not None and membership.role != "owner":
        raise Forbidden("Only the owner of this group may change who can export it.")
    group = await load_group(ctx, group_id)
    if changes.get("name") is not None:
        group.name = changes["name"]
    if changes.get("description") is not None:
        group.description = changes["description"]
    # (action, before, after) of the settings members must be able to audit
    logged: list[tuple[str, Any, Any]] = []
    if "retention_days" in changes and changes["retention_days"] != group.retention_days:
        logged.append(("group.retention_changed", group.retention_days, changes["retention_days"]))
        group.retention_days = changes["retention_days"]
    transcripts = changes.get("transcripts")
    if transcripts is not None and transcripts != group.transcripts:
        logged.append(("group.transcripts_changed", group.transcripts, transcripts))
        group.transcripts = transcripts
    norms = changes.get("norms")
    if norms is not None and norms != group.norms:
        logged.append(("group.norms_changed", None, None))  # the log keeps no content
        group.norms = norms
    policy = changes.get("export_policy")
    if policy is not None and policy != group.export_policy:
        logged.append(("group.export_policy_changed", group.export_policy, policy))
        group.export_policy = policy
        if policy == "nobody":
            await _forget_export(ctx, group_id)
    await ctx.db.flush()
    for action, before, after in logged:
        details = {} if action == "group.norms_changed" else {"from": before, "to": after}
        await moderation.record(ctx, group_id, action, actor_id=user.id, details=details)
    seq = await ctx.next_seq(group_id)  # last, so the payload's last_seq is its own seq
    set_committed_value(group, "last_seq", seq)
    await ctx.emit(
        group_id, EventType.GROUP_UPDATED, await views.group_payload(ctx, group), seq=seq
    )
    out = await views.group_out(ctx, user.id, group, membership.role)
    await ctx.commit()
    return out


async def delete_group(ctx: Ctx, user: User, group_id: str) -> None:
    """Delete the group with its messages, events and audio; members hear `group.deleted`."""
    await require_role(ctx, group_id, user.id, "owner", lock=True)
    await remove_group(ctx, await load_group(ctx, group_id))
    await ctx.commit()


async def remove_group(ctx: Ctx, group: Group) -> None:
    """Delete `group` (locked by the caller) with its messages, events and audio once the
    caller commits; members hear `group.deleted`. Authorization is the caller's."""
    group_id = group.id
    voice_ids = list(
        await ctx.db.scalars(
            select(Message.id).where(Message.group_id == group_id, Message.kind == "voice")
        )
    )
    ctx.announce(group_id, group.last_seq + 1, EventType.GROUP_DELETED, {"id": group_id})
    await _forget_export(ctx, group_id)
    await ctx.db.delete(group)

    async def delete_audio() -> None:
        for message_id in voice_ids:
            await ctx.rt.blobs.delete_prefix(voice_prefix(message_id))

    ctx.after_commit(delete_audio)
    ctx.after_commit(ctx.rt.scrubber.request)  # the words leave the index and the WAL too


async def _forget_export(ctx: Ctx, group_id: str) -> None:
    """Drop the group's export and its zip (nobody may take a copy now, or it is gone)."""
    from app.services import exports  # imported late: exports -> people -> notify -> groups

    await exports.forget_group(ctx, group_id)
