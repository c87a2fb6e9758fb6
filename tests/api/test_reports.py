"""Reports: members flag a message, moderators resolve them; the log says what was done."""

import json

from tests.helpers import Api, Person, assert_error

REASON = {"reason": "This shares a teacher's evaluation by name."}


async def scene(api: Api) -> tuple[Person, Person, Person, Person, str]:
    """Owner Amy, moderator Mo, members Ben and Eve in one group."""
    amy, mo, ben, eve = (
        await api.register("amy"),
        await api.register("mo"),
        await api.register("ben"),
        await api.register("eve"),
    )
    gid = await api.group(amy)
    await api.add(amy, gid, mo, "moderator")
    await api.add(amy, gid, ben)
    await api.add(amy, gid, eve)
    return amy, mo, ben, eve, gid


async def test_a_member_reports_a_message_once(api: Api) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    said = await api.post(eve, gid, "Ms. X got a 1 on her evaluation")
    r = await api.call(ben, "POST", f"/messages/{said['id']}/reports", json=REASON)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["status"], report["reason"], report["reporter"]["id"]) == (
        "open",
        REASON["reason"],
        ben.id,
    )
    assert report["message"]["id"] == said["id"]
    again = await api.call(ben, "POST", f"/messages/{said['id']}/reports", json={"reason": "x"})
    assert again.status_code == 200 and again.json()["id"] == report["id"]
    own = await api.call(eve, "POST", f"/messages/{said['id']}/reports", json=REASON)
    assert_error(own, 422, "own_message")
    outsider = await api.register("outsider")
    r = await api.call(outsider, "POST", f"/messages/{said['id']}/reports", json=REASON)
    assert_error(r, 404, "message_not_found")
    for bad in ({"reason": ""}, {"reason": "x" * 1001}, {}):
        r = await api.call(mo, "POST", f"/messages/{said['id']}/reports", json=bad)
        assert_error(r, 422)
    await api.ok(eve, "DELETE", f"/messages/{said['id']}")
    other = await api.post(eve, gid, "another")
    await api.ok(eve, "DELETE", f"/messages/{other['id']}")
    r = await api.call(ben, "POST", f"/messages/{other['id']}/reports", json=REASON)
    assert_error(r, 409, "message_deleted")


async def test_moderators_see_the_queue_and_dismiss(api: Api) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    said = await api.post(eve, gid, "borderline joke")
    report = await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json=REASON)
    queue = await api.ok(mo, "GET", f"/groups/{gid}/reports")
    assert [r["id"] for r in queue["reports"]] == [report["id"]] and not queue["has_more"]
    assert queue["reports"][0]["message"]["text"] == "borderline joke"
    resolved = await api.ok(
        mo, "POST", f"/groups/{gid}/reports/{report['id']}/resolve", json={"action": "dismiss"}
    )
    assert (resolved["status"], resolved["resolution"], resolved["resolved_by"]["id"]) == (
        "resolved",
        "dismiss",
        mo.id,
    )
    assert (await api.ok(mo, "GET", f"/groups/{gid}/reports"))["reports"] == []
    assert not (await api.ok(ben, "GET", f"/messages/{said['id']}"))["deleted"]
    r = await api.call(
        amy, "POST", f"/groups/{gid}/reports/{report['id']}/resolve", json={"action": "delete"}
    )
    assert_error(r, 409, "report_resolved")
    log = (await api.ok(ben, "GET", f"/groups/{gid}/moderation-log"))["entries"]
    assert [(e["action"], e["actor"]["id"], e["target"], e["details"]) for e in log][0] == (
        "report.resolved",
        mo.id,
        None,
        {"action": "dismiss"},
    )
    assert ben.id not in json.dumps(log[0]) and "evaluation" not in json.dumps(log)


async def test_resolving_with_delete_erases_the_message_and_closes_every_report(
    api: Api,
) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    said = await api.post(eve, gid, "the xenoglossia rumour about Ms. X")
    first = await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json=REASON)
    await api.ok(amy, "POST", f"/messages/{said['id']}/reports", json=REASON)
    await api.ok(
        mo, "POST", f"/groups/{gid}/reports/{first['id']}/resolve", json={"action": "delete"}
    )
    assert (await api.ok(mo, "GET", f"/groups/{gid}/reports"))["reports"] == []
    assert (await api.ok(ben, "GET", f"/messages/{said['id']}"))["deleted"]
    assert "xenoglossia" not in json.dumps(await api.events(ben, gid))
    log = (await api.ok(ben, "GET", f"/groups/{gid}/moderation-log"))["entries"]
    assert [(e["action"], e["target"] and e["target"]["id"]) for e in log[:2]] == [
        ("report.resolved", None),
        ("message.deleted", eve.id),
    ]
    assert log[1]["message_id"] == said["id"]


async def test_resolving_with_ban_erases_and_bans_the_sender(api: Api) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    said = await api.post(eve, gid, "a threat")
    report = await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json=REASON)
    code = (await api.ok(mo, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(
        mo, "POST", f"/groups/{gid}/reports/{report['id']}/resolve", json={"action": "ban"}
    )
    assert_error(await api.call(eve, "GET", f"/groups/{gid}"), 404)
    assert_error(await api.call(eve, "POST", f"/invites/{code}/accept"), 403, "banned")
    assert (await api.ok(ben, "GET", f"/messages/{said['id']}"))["deleted"]
    actions = [
        e["action"] for e in (await api.ok(ben, "GET", f"/groups/{gid}/moderation-log"))["entries"]
    ]
    assert actions[:3] == ["report.resolved", "member.banned", "message.deleted"]


async def test_a_ban_the_moderator_may_not_make_changes_nothing(api: Api) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    said = await api.post(amy, gid, "the owner says something")
    report = await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json=REASON)
    before = await api.events(amy, gid)
    r = await api.call(
        mo, "POST", f"/groups/{gid}/reports/{report['id']}/resolve", json={"action": "ban"}
    )
    assert_error(r, 403, "forbidden")
    assert await api.events(amy, gid) == before
    assert not (await api.ok(ben, "GET", f"/messages/{said['id']}"))["deleted"]
    assert len((await api.ok(mo, "GET", f"/groups/{gid}/reports"))["reports"]) == 1


async def test_unknown_or_other_groups_reports_are_404(api: Api) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    other = await api.group(amy, "other")
    await api.add(amy, other, ben)
    said = await api.post(amy, other, "elsewhere")
    report = await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json=REASON)
    body = {"action": "dismiss"}
    r = await api.call(amy, "POST", f"/groups/{gid}/reports/{report['id']}/resolve", json=body)
    assert_error(r, 404, "report_not_found")
    r = await api.call(amy, "POST", f"/groups/{gid}/reports/nope/resolve", json=body)
    assert_error(r, 404, "report_not_found")
    r = await api.call(amy, "POST", f"/groups/{other}/reports/{report['id']}/resolve", json={})
    assert_error(r, 422)


async def test_the_queue_pages_oldest_first(api: Api) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    ids = []
    for i in range(5):
        said = await api.post(eve, gid, f"message {i}")
        ids.append(
            (await api.ok(ben, "POST", f"/messages/{said['id']}/reports", json=REASON))["id"]
        )
    assert await api.every_page(mo, f"/groups/{gid}/reports", "reports", "after", "id") == ids


async def test_the_log_shows_what_moderators_did_and_never_the_content(
    api: Api,
) -> None:
    amy, mo, ben, eve, gid = await scene(api)
    mine = await api.post(mo, gid, "my own typo")
    theirs = await api.post(eve, gid, "something quixotic and hurtful")
    await api.ok(mo, "DELETE", f"/messages/{mine['id']}")  # one's own: not logged
    await api.ok(mo, "DELETE", f"/messages/{theirs['id']}")
    code = (await api.ok(mo, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(mo, "DELETE", f"/groups/{gid}/invites/{code}")
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"retention_days": 90, "transcripts": False})
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"name": "Renamed"})  # not logged
    await api.ok(amy, "PATCH", f"/groups/{gid}/members/{ben.id}", json={"role": "moderator"})
    await api.ok(mo, "DELETE", f"/groups/{gid}/members/{eve.id}")
    await api.ok(ben, "DELETE", f"/groups/{gid}/members/{ben.id}")  # leaving: not logged

    log = await api.ok(mo, "GET", f"/groups/{gid}/moderation-log")
    got = [
        (e["action"], e["actor"]["id"], e["target"] and e["target"]["id"], e["details"])
        for e in log["entries"]
    ]
    assert got == [
        ("member.removed", mo.id, eve.id, {}),
        ("member.role_changed", amy.id, ben.id, {"from": "member", "to": "moderator"}),
        ("group.transcripts_changed", amy.id, None, {"from": True, "to": False}),
        ("group.retention_changed", amy.id, None, {"from": None, "to": 90}),
        ("invite.revoked", mo.id, mo.id, {"code": code}),
        ("message.deleted", mo.id, eve.id, {}),
    ]
    assert log["entries"][-1]["message_id"] == theirs["id"]
    assert "quixotic" not in json.dumps(log)
    seqs = [e["seq"] for e in log["entries"]]
    assert seqs == sorted(seqs, reverse=True)
    older = await api.ok(
        mo, "GET", f"/groups/{gid}/moderation-log", params={"before": seqs[1], "limit": 2}
    )
    assert [e["seq"] for e in older["entries"]] == seqs[2:4] and older["has_more"]
    logged = [e for e in await api.events(mo, gid) if e["type"] == "moderation.logged"]
    assert [e["seq"] for e in logged] == seqs[::-1], "each entry is announced as an event"
