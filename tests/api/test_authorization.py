"""Who may do what in a group: every group endpoint against every role.

Outsiders get 404 for everything (a group's existence is not revealed), and so do
people who were removed or banned: they are outsiders now, and so is an instance
admin who is not in the group. Members without the needed role get 403.
"""

import json
from dataclasses import dataclass
from typing import Any

import pytest

from app.config import Settings
from tests.helpers import Api, Person, assert_error, make_admin


@dataclass
class Cast:
    gid: str
    owner: Person
    moderator: Person
    member: Person
    spare: Person  # another member, a target for removals and role changes
    newcomer: Person  # registered, not in the group
    outsider: Person
    removed: Person  # was a member, removed by a moderator
    banned: Person  # was a member, banned
    admin: Person  # an instance admin, not in the group
    spare_message: str
    invite: str  # a code made by the moderator
    report: str  # an open report (by the owner) of another of spare's messages


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The matrix casts a few groups per test: more accounts than one address may
    register in an hour (that limit has its own tests)."""
    return settings.model_copy(update={"limit_registrations_per_hour": 10_000})


@pytest.fixture
async def cast(api: Api, app: Any) -> Cast:
    return await make_cast(api, app)


async def make_cast(api: Api, app: Any) -> Cast:
    """A group with one person in each role, a message, an invite and an open report."""
    owner = await api.register("owner")
    gid = await api.group(owner)
    moderator, member, spare = (
        await api.register("mod"),
        await api.register("mem"),
        await api.register("spare"),
    )
    await api.add(owner, gid, moderator, "moderator")
    await api.add(owner, gid, member)
    await api.add(owner, gid, spare)
    removed, banned = await api.register("removed"), await api.register("banned")
    await api.add(owner, gid, removed)
    await api.add(owner, gid, banned)
    await api.ok(owner, "DELETE", f"/groups/{gid}/members/{removed.id}")
    await api.ok(owner, "POST", f"/groups/{gid}/bans", json={"user_id": banned.id})
    admin = await api.register("admin")
    await make_admin(app, admin)
    message = await api.post(spare, gid, "from spare")
    reported = await api.post(spare, gid, "reported by the owner")
    report = await api.ok(owner, "POST", f"/messages/{reported['id']}/reports", json=REASON)
    invite = await api.ok(moderator, "POST", f"/groups/{gid}/invites", json={})
    return Cast(
        gid,
        owner,
        moderator,
        member,
        spare,
        await api.register("new"),
        await api.register("out"),
        removed,
        banned,
        admin,
        message["id"],
        invite["code"],
        report["id"],
    )


REASON = {"reason": "This breaks our group's norms."}


def _request(c: Cast, action: str) -> tuple[str, str, dict | None]:
    g = f"/groups/{c.gid}"
    return {
        "read group": ("GET", g, None),
        "rename group": ("PATCH", g, {"name": "new name"}),
        "delete group": ("DELETE", g, None),
        "list members": ("GET", f"{g}/members", None),
        "add member": ("POST", f"{g}/members", {"handle": c.newcomer.handle}),
        "add moderator": (
            "POST",
            f"{g}/members",
            {"handle": c.newcomer.handle, "role": "moderator"},
        ),
        "promote member": ("PATCH", f"{g}/members/{c.spare.id}", {"role": "moderator"}),
        "remove member": ("DELETE", f"{g}/members/{c.spare.id}", None),
        "remove moderator": ("DELETE", f"{g}/members/{c.moderator.id}", None),
        "remove owner": ("DELETE", f"{g}/members/{c.owner.id}", None),
        "create invite": ("POST", f"{g}/invites", {}),
        "list messages": ("GET", f"{g}/messages", None),
        "post text": ("POST", f"{g}/messages", {"text": "hi"}),
        "list events": ("GET", f"{g}/events", None),
        "read message": ("GET", f"/messages/{c.spare_message}", None),
        "delete others' message": ("DELETE", f"/messages/{c.spare_message}", None),
        "list invites": ("GET", f"{g}/invites", None),
        "revoke invite": ("DELETE", f"{g}/invites/{c.invite}", None),
        "ban member": ("POST", f"{g}/bans", {"user_id": c.spare.id, "reason": "spam"}),
        "list bans": ("GET", f"{g}/bans", None),
        "lift ban": ("DELETE", f"{g}/bans/{c.banned.id}", None),
        "report message": ("POST", f"/messages/{c.spare_message}/reports", REASON),
        "react to message": ("PUT", f"/messages/{c.spare_message}/reactions/👍", None),
        "list reports": ("GET", f"{g}/reports", None),
        "resolve report": ("POST", f"{g}/reports/{c.report}/resolve", {"action": "dismiss"}),
        "read moderation log": ("GET", f"{g}/moderation-log", None),
    }[action]


# action: (outsider, member, moderator, owner)
MATRIX = {
    "read group": (404, 200, 200, 200),
    "rename group": (404, 403, 200, 200),
    "delete group": (404, 403, 403, 204),
    "list members": (404, 200, 200, 200),
    "add member": (404, 403, 201, 201),
    "add moderator": (404, 403, 403, 201),
    "promote member": (404, 403, 403, 200),
    "remove member": (404, 403, 204, 204),
    "remove moderator": (404, 403, 204, 204),
    "remove owner": (404, 403, 403, 409),
    "create invite": (404, 403, 201, 201),
    "list messages": (404, 200, 200, 200),
    "post text": (404, 201, 201, 201),
    "list events": (404, 200, 200, 200),
    "read message": (404, 200, 200, 200),
    "delete others' message": (404, 403, 204, 204),
    "list invites": (404, 403, 200, 200),
    "revoke invite": (404, 403, 204, 204),
    "ban member": (404, 403, 201, 201),
    "list bans": (404, 403, 200, 200),
    "lift ban": (404, 403, 204, 204),
    "report message": (404, 201, 201, 201),
    "react to message": (404, 200, 200, 200),
    "list reports": (404, 403, 200, 200),
    "resolve report": (404, 403, 200, 200),
    "read moderation log": (404, 200, 200, 200),
}
ROLES = ("outsider", "member", "moderator", "owner")
FORMER = ("removed", "banned", "admin")  # treated exactly as outsiders


@pytest.mark.parametrize("action", MATRIX)
async def test_role_matrix(api: Api, app: Any, action: str) -> None:
    """Every role's answer to one action. A refusal must change nothing, so the refusals
    (and the reads) share one cast; each change that is allowed gets a cast of its own
    (the first one the shared cast, once every refusal has been tried on it)."""
    expected = dict(zip(ROLES, MATRIX[action], strict=True))
    expected |= {role: MATRIX[action][0] for role in FORMER}  # former members: outsiders
    shared = await make_cast(api, app)
    changes = _request(shared, action)[0] != "GET"
    allowed = [role for role, status in expected.items() if status < 400 and changes]
    answers = {}
    for role in [r for r in expected if r not in allowed] + allowed:
        cast = shared if role not in allowed or role == allowed[0] else await make_cast(api, app)
        answers[role] = await _answer(api, cast, action, role, expected[role])
    assert answers == expected


async def _answer(api: Api, cast: Cast, action: str, role: str, expected: int) -> int:
    """The status `role` gets for `action`; a refusal must be in the one error shape (404
    hiding the group or message) and leave the group's events as they were."""
    method, path, body = _request(cast, action)
    before = await api.events(cast.owner, cast.gid)
    r = await api.call(getattr(cast, role), method, path, json=body)
    if r.status_code == expected >= 400:
        not_found = "message_not_found" if path.startswith("/messages") else "group_not_found"
        assert_error(r, expected, not_found if expected == 404 else None)
        after = await api.events(cast.owner, cast.gid)
        assert after == before, f"{action} refused to {role} changed the group"
    return r.status_code


ACCOUNT_CALLS = [
    ("GET", "/me", None),
    ("PATCH", "/me", {"who_can_add_me": "anyone"}),
    ("GET", "/me/blocks", None),
    ("POST", "/me/blocks", {"user_id": "00000000-0000-0000-0000-000000000000"}),
    ("DELETE", "/me/blocks/00000000-0000-0000-0000-000000000000", None),
    ("GET", "/me/bookmarks", None),
    ("GET", "/me/bookmarks.md", None),
    ("GET", "/admin/users", None),
    ("POST", "/admin/users", {"handle": "newbie"}),
    ("POST", "/admin/users/00000000-0000-0000-0000-000000000000/disable", {"reason": "spam"}),
    ("POST", "/admin/users/00000000-0000-0000-0000-000000000000/enable", None),
    ("GET", "/admin/stats", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ACCOUNT_CALLS, ids=lambda v: str(v))
async def test_account_calls_need_a_token(api: Api, method: str, path: str, body: dict) -> None:
    assert_error(await api.call(None, method, path, json=body), 401, "unauthorized")


async def test_reports_are_seen_by_moderators_only(api: Api, cast: Cast) -> None:
    """A report makes no event and no log line: members never learn of it, or who made it."""
    log = f"/groups/{cast.gid}/moderation-log"
    before = (await api.events(cast.spare, cast.gid), await api.ok(cast.spare, "GET", log))
    await api.ok(cast.member, "POST", f"/messages/{cast.spare_message}/reports", json=REASON)
    after = (await api.events(cast.spare, cast.gid), await api.ok(cast.spare, "GET", log))
    assert after == before
    assert REASON["reason"] not in json.dumps(after)
    for who in (cast.member, cast.spare):
        assert_error(await api.call(who, "GET", f"/groups/{cast.gid}/reports"), 403, "forbidden")
    queue = (await api.ok(cast.moderator, "GET", f"/groups/{cast.gid}/reports"))["reports"]
    assert {r["reporter"]["id"] for r in queue} == {cast.owner.id, cast.member.id}
