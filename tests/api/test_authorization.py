"""Who may do what in a group: every group endpoint against every role.

Outsiders get 404 for everything (a group's existence is not revealed), members
without the needed role get 403.
"""

from dataclasses import dataclass

import pytest

from tests.helpers import Api, Person, assert_error


@dataclass
class Cast:
    gid: str
    owner: Person
    moderator: Person
    member: Person
    spare: Person  # another member, a target for removals and role changes
    newcomer: Person  # registered, not in the group
    outsider: Person
    spare_message: str


@pytest.fixture
async def cast(api: Api) -> Cast:
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
    message = await api.post(spare, gid, "from spare")
    return Cast(
        gid,
        owner,
        moderator,
        member,
        spare,
        await api.register("new"),
        await api.register("out"),
        message["id"],
    )


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
}
ROLES = ("outsider", "member", "moderator", "owner")
CASES = [
    pytest.param(action, role, statuses[i], id=f"{action}-as-{role}")
    for action, statuses in MATRIX.items()
    for i, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
async def test_role_matrix(api: Api, cast: Cast, action: str, role: str, expected: int) -> None:
    method, path, body = _request(cast, action)
    before = await api.events(cast.owner, cast.gid)
    r = await api.call(getattr(cast, role), method, path, json=body)
    if expected >= 400:
        not_found = "message_not_found" if path.startswith("/messages") else "group_not_found"
        assert_error(r, expected, not_found if expected == 404 else None)
        assert await api.events(cast.owner, cast.gid) == before, "a refused call changed nothing"
    else:
        assert r.status_code == expected, r.text
