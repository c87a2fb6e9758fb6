"""Full-text search: in one group and across the caller's groups, over texts and transcripts."""

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text, update

from app.models import Message, utcnow
from app.services import retention
from app.services.search import (
    MARK_END,
    MARK_START,
    PG_DOCUMENT,
    PG_QUERY,
    statement,
    terms,
    tsquery,
)
from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload

HIT_FIELDS = {
    "message_id",
    "group_id",
    "seq",
    "kind",
    "created_at",
    "sender",
    "sender_blocked",
    "snippet",
}


async def search(api: Api, who: Person, q: str, gid: str | None = None, **params: Any) -> list:
    path = f"/groups/{gid}/search" if gid else "/search"
    body = await api.ok(who, "GET", path, params={"q": q, **params})
    assert set(body) == {"hits"}
    for hit in body["hits"]:
        assert set(hit) == HIT_FIELDS, hit
    return body["hits"]


def ids(hits: list[dict[str, Any]]) -> list[str]:
    return [h["message_id"] for h in hits]


def marked(snippet: str) -> list[str]:
    """The words a snippet marks (the markers must be balanced and never nested)."""
    plain = f"[^{MARK_START}{MARK_END}]"
    balanced = f"{plain}*(?:{MARK_START}{plain}+{MARK_END}{plain}*)*"
    assert re.fullmatch(balanced, snippet), repr(snippet)
    return re.findall(f"{MARK_START}(.*?){MARK_END}", snippet)


async def set_transcript(app: Any, message_id: str, transcript: str) -> None:
    """What the transcription pipeline stores: search covers `messages.transcript_text`."""
    async with app.state.runtime.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(transcript_status="ready", transcript_text=transcript, transcript_language="en")
        )
        await db.commit()


async def test_finds_by_word_best_match_first_with_the_words_marked(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    # The better match is posted first: only its rank, not its age, can put it first.
    best = await api.post(
        amy, gid, "Observation feedback: the observation went well; observation notes attached."
    )
    weaker = await api.post(
        amy,
        gid,
        "Some feedback on the lesson observation, and a long list of other unrelated things "
        "to talk about at the meeting next week with the whole grade level team",
    )
    await api.post(amy, gid, "Lunch at noon? The feedback form is in the shared drive.")
    await api.post(amy, gid, "Nothing to see here")

    hits = await search(api, amy, "observation feedback", gid)
    assert ids(hits) == [best["id"], weaker["id"]]
    top = hits[0]
    assert top["group_id"] == gid and top["seq"] == best["seq"] and top["kind"] == "text"
    assert top["created_at"] == best["created_at"]
    assert top["sender"] == best["sender"] and top["sender"]["id"] == amy.id
    words = marked(top["snippet"])
    assert words and {w.lower() for w in words} == {"observation", "feedback"}
    assert "went well" in top["snippet"]
    assert ids(await search(api, amy, "observation feedback", gid, limit=1)) == [best["id"]]
    assert ids(await search(api, amy, "observation feedback")) == [best["id"], weaker["id"]]


async def test_english_stemming_and_a_prefix_on_the_last_word(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    coach = await api.post(amy, gid, "The coach visited three classrooms today")
    coaching = await api.post(amy, gid, "Coaching cycles start on Monday")
    # A query ending in a space or punctuation has no prefix: only the stem matches.
    assert set(ids(await search(api, amy, "coaching.", gid))) == {coach["id"], coaching["id"]}
    assert set(ids(await search(api, amy, "coaches ", gid))) == {coach["id"], coaching["id"]}
    assert ids(await search(api, amy, "classroom ", gid)) == [coach["id"]]
    assert ids(await search(api, amy, "visit!", gid)) == [coach["id"]]
    # Typing: the last word matches as a prefix, the others must be whole words.
    assert ids(await search(api, amy, "three classr", gid)) == [coach["id"]]
    assert ids(await search(api, amy, "classr ", gid)) == []
    assert ids(await search(api, amy, "thr classrooms", gid)) == []
    assert ids(await search(api, amy, "MONDAY", gid)) == [coaching["id"]]


async def test_a_transcript_is_searchable_and_follows_its_updates(
    api: Api, app: Any, samples: Path
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    text_msg = await api.post(amy, gid, "Bring the manipulatives tomorrow")
    r = await upload(api, ben, gid, audio_samples.client_file(samples, "firefox_ogg"))
    assert r.status_code == 202, r.text
    memo = await processed(app, api, ben, r.json()["id"])
    assert memo["voice"]["status"] == "ready"
    assert await search(api, amy, "scaffolding", gid) == []

    await set_transcript(app, memo["id"], "We tried scaffolding with fraction manipulatives.")
    hits = await search(api, amy, "scaffolding", gid)
    assert ids(hits) == [memo["id"]]
    hit = hits[0]
    assert hit["kind"] == "voice" and hit["seq"] == memo["seq"] and hit["sender"]["id"] == ben.id
    assert [w.lower() for w in marked(hit["snippet"])] == ["scaffolding"]
    assert set(ids(await search(api, amy, "manipulatives", gid))) == {memo["id"], text_msg["id"]}
    assert ids(await search(api, ben, "scaffold")) == [memo["id"]]

    # A corrected transcript replaces the old words in the index.
    await set_transcript(app, memo["id"], "We tried number talks instead.")
    assert await search(api, amy, "scaffolding", gid) == []
    assert ids(await search(api, amy, "number talks", gid)) == [memo["id"]]

    assert (await api.call(ben, "DELETE", f"/messages/{memo['id']}")).status_code == 204
    assert await search(api, amy, "number talks", gid) == []
    assert await search(api, amy, "number talks") == []


async def test_outsiders_get_404_and_never_another_groups_content(api: Api) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    await api.post(amy, gid, "Confidential: the principal's evaluation rubric")
    eves = await api.group(eve, "Eve's")
    own = await api.post(eve, eves, "My own rubric notes")

    assert_error(await api.call(eve, "GET", f"/groups/{gid}/search", params={"q": "rubric"}), 404,
                 "group_not_found")  # fmt: skip
    unknown = str(uuid.uuid4())
    assert_error(
        await api.call(eve, "GET", f"/groups/{unknown}/search", params={"q": "rubric"}),
        404,
        "group_not_found",
    )
    assert_error(await api.call(None, "GET", f"/groups/{gid}/search", params={"q": "x"}), 401)
    assert_error(await api.call(None, "GET", "/search", params={"q": "x"}), 401)
    everywhere = await search(api, eve, "rubric")
    assert ids(everywhere) == [own["id"]] and everywhere[0]["group_id"] == eves
    assert await search(api, eve, "confidential principal") == []
    assert len(await search(api, amy, "rubric")) == 1


async def test_deleted_messages_never_appear(api: Api, app: Any) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    by_ben = await api.post(ben, gid, "Zebra crossing outside the school")
    by_amy = await api.post(amy, gid, "Another zebra sighting")
    assert set(ids(await search(api, amy, "zebra"))) == {by_ben["id"], by_amy["id"]}

    assert (await api.call(ben, "DELETE", f"/messages/{by_ben['id']}")).status_code == 204
    assert ids(await search(api, amy, "zebra", gid)) == [by_amy["id"]]
    assert ids(await search(api, ben, "zebra")) == [by_amy["id"]]
    assert await search(api, amy, "crossing", gid) == []

    # Retention deletes the same way: an expired message leaves the results too.
    async with app.state.runtime.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id == by_amy["id"])
            .values(created_at=utcnow() - timedelta(days=3))
        )
        await db.commit()
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"retention_days": 1})
    await retention.sweep(app.state.runtime)
    assert (await api.ok(amy, "GET", f"/messages/{by_amy['id']}"))["deleted"] is True
    assert await search(api, amy, "zebra", gid) == []


async def test_a_removed_member_loses_the_groups_hits(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    other = await api.group(ben, "Ben's")
    await api.add(amy, gid, ben)
    shared = await api.post(amy, gid, "Literacy block schedule")
    mine = await api.post(ben, other, "Literacy coach meetup")
    assert set(ids(await search(api, ben, "literacy"))) == {shared["id"], mine["id"]}

    assert (await api.call(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")).status_code == 204
    assert ids(await search(api, ben, "literacy")) == [mine["id"]]
    r = await api.call(ben, "GET", f"/groups/{gid}/search", params={"q": "literacy"})
    assert_error(r, 404, "group_not_found")


async def test_hostile_queries_are_text_never_errors(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    near = await api.post(amy, gid, 'He said "near" the end: AND OR NOT * - ^ ( ) {x}')
    await api.post(amy, gid, f"{MARK_START}fake{MARK_END} highlight near here")
    punctuation_only = ['"', "*", "-", "^", "(", ")", '""', "()", "   ", ":*", "'", "\\", "🙂🙂",
                        "&|!<->", "@@", "--", "/*", ";", "%", "_"]  # fmt: skip
    for q in punctuation_only:
        assert await search(api, amy, q, gid) == [], q
        assert await search(api, amy, q) == [], q
    words = ['NEAR(', '"near', 'near"', "near*", "-near", "^near", "near:*", "near AND",
             "NEAR(near, said)", "'near'", "near\\", "near & said", "said|near"]  # fmt: skip
    for q in words:
        assert near["id"] in ids(await search(api, amy, q, gid)), q
    # Operators are words too: they match where the words are, and never fail.
    odd = ["AND OR NOT", "NOT near", "near OR nothing", "ﬁ ß ǅ İ", "日本語", "x" * 200]
    odd += [" ".join(f"w{i}" for i in range(80))[:200], " ".join(map(chr, range(0x4E00, 0x4E64)))]
    odd += ["a" + "\u0301" * 199, "\u202e\u200b\ufeff", "\U0001d400\U0001d401"]
    for q in odd:
        r = await api.call(amy, "GET", f"/groups/{gid}/search", params={"q": q})
        assert r.status_code == 200, (q, r.text)
        r = await api.call(amy, "GET", "/search", params={"q": q, "limit": 50})
        assert r.status_code == 200, (q, r.text)
    assert ids(await search(api, amy, "NOT nothing", gid)) == []
    # Marker characters in a message are never taken for marks.
    hits = await search(api, amy, "highlight", gid)
    assert len(hits) == 1 and [w.lower() for w in marked(hits[0]["snippet"])] == ["highlight"]
    assert "fake" in hits[0]["snippet"]


async def test_query_parameters_are_validated(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    for path in (f"/groups/{gid}/search", "/search"):
        for bad in ({}, {"q": ""}, {"q": "x" * 201}, {"q": "a\x00b"}, {"q": "x", "limit": 0},
                    {"q": "x", "limit": 51}, {"q": "x", "limit": "many"}):  # fmt: skip
            assert_error(await api.call(amy, "GET", path, params=bad), 422, "validation_error")
        assert (await api.call(amy, "GET", path, params={"q": "x" * 200})).status_code == 200
    bad_id = await api.call(amy, "GET", "/groups/not a uuid!/search", params={"q": "x"})
    assert_error(bad_id, 422)


async def test_limit_and_every_group_of_the_caller(api: Api) -> None:
    amy = await api.register("amy")
    first, second = await api.group(amy, "First"), await api.group(amy, "Second")
    posted = [await api.post(amy, gid, f"Reading routine number {i}") for i, gid in
              enumerate([first, second, first, second, first])]  # fmt: skip
    everywhere = await search(api, amy, "routine", limit=50)
    assert set(ids(everywhere)) == {m["id"] for m in posted}
    assert {h["group_id"] for h in everywhere} == {first, second}
    assert len(await search(api, amy, "routine")) == 5
    assert len(await search(api, amy, "routine", limit=2)) == 2
    in_second = await search(api, amy, "routine", second)
    assert {h["group_id"] for h in in_second} == {second} and len(in_second) == 2


def test_user_text_becomes_words_never_syntax() -> None:
    assert terms('NEAR( "a" b*').words == ["NEAR", "a", "b"]
    assert terms("coach coaching Coach").words == ["coaching", "Coach"]
    assert terms("coach ").prefix is False and terms("coach").prefix is True
    assert terms("*-^\"'").words == []
    assert tsquery(terms("don't stop")) == "'don' & 't' & 'stop':*"


async def test_the_query_uses_the_search_index(api: Api, app: Any, backend: str) -> None:
    """The PostgreSQL query must repeat the GIN index's expression exactly, or it scans."""
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.post(amy, gid, "indexed words")
    async with app.state.runtime.sessions() as db:
        if backend == "postgresql":
            await db.execute(text("SET LOCAL enable_seqscan = off"))
            sql = f"SELECT m.id FROM messages AS m WHERE {PG_DOCUMENT} @@ {PG_QUERY}"
            plan = await db.execute(text(f"EXPLAIN {sql}"), {"query": "'indexed'"})
            assert "ix_messages_search" in "\n".join(row[0] for row in plan.all())
            assert PG_DOCUMENT in statement(backend, everywhere=False).text
        else:
            sql = statement(backend, everywhere=True).text
            params = {"query": '"indexed"', "start": "[", "stop": "]", "words": 8, "limit": 5}
            plan = await db.execute(
                text(f"EXPLAIN QUERY PLAN {sql}"), {**params, "user_id": amy.id}
            )
            assert "VIRTUAL TABLE INDEX" in "\n".join(str(row[-1]) for row in plan.all())
        await db.rollback()
