"""A person's private podcast feed: their groups' voice memos in the podcast app they use.

The feed's address carries a secret token, shown once; only its SHA-256 is stored,
so the database alone cannot rebuild it. The feed is RSS 2.0 with Apple's iTunes
namespace, one item per ready voice memo of the person's groups from the last
`feed_days` days (memos of people they blocked left out), each enclosure an MP3
at a URL signed for this feed's token: it works as long as the feed does, and
revoking the feed makes the feed and every enclosure answer 404. Every request
looks again, so a deleted memo or a group the person left is gone from the next
fetch, and its enclosure answers 404. Transcripts are item descriptions only if
the person allows previews.
"""

import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.utils import format_datetime

from sqlalchemy import and_, func, select

from app.errors import Conflict, NotFound
from app.models import Block, Feed, Group, Membership, Message, User, utcnow
from app.schemas.notifications import FeedOut
from app.services import signing
from app.services.context import Ctx

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ARTWORK_PATH = "/web/icons/icon-512.png"  # served by app.api.web, as the manifest's icon
MAX_FEEDS = 10  # per person
MAX_ITEMS = 500
MP3_BYTES_PER_MS = 8  # the MP3 rendition is 64 kb/s: its enclosure length, near enough
FEED_PATH = "/api/v1/feeds/{feed_id}"
AUDIO_PATH = "/api/v1/feeds/{feed_id}/audio/{message_id}.mp3"

ET.register_namespace("itunes", ITUNES)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_not_found() -> NotFound:
    return NotFound("There is no such feed (it may have been revoked).", code="feed_not_found")


async def create_feed(ctx: Ctx, user: User, base_url: str) -> tuple[str, str]:
    """A new feed: its id and its secret URL (the only time the token is seen)."""
    count = await ctx.db.scalar(
        select(func.count()).select_from(Feed).where(Feed.user_id == user.id)
    )
    if (count or 0) >= MAX_FEEDS:
        raise Conflict(f"You can have at most {MAX_FEEDS} feeds.", code="too_many_feeds")
    token = secrets.token_urlsafe(32)
    feed = Feed(user_id=user.id, token_hash=_hash(token), created_at=utcnow())
    ctx.db.add(feed)
    await ctx.db.flush()
    feed_id = feed.id
    await ctx.commit()
    return feed_id, f"{base_url}{FEED_PATH.format(feed_id=feed_id)}?token={token}"


async def list_feeds(ctx: Ctx, user: User) -> list[FeedOut]:
    rows = await ctx.db.scalars(
        select(Feed).where(Feed.user_id == user.id).order_by(Feed.created_at)
    )
    return [FeedOut(id=f.id, created_at=f.created_at) for f in rows]


async def revoke_feed(ctx: Ctx, user: User, feed_id: str) -> None:
    feed = await ctx.db.get(Feed, feed_id)
    if feed is None or feed.user_id != user.id:
        raise feed_not_found()
    await ctx.db.delete(feed)
    await ctx.commit()


async def feed_for_token(ctx: Ctx, feed_id: str, token: str) -> Feed:
    feed = await ctx.db.get(Feed, feed_id)
    if feed is None or not hmac.compare_digest(feed.token_hash, _hash(token)):
        raise feed_not_found()
    return feed


def _duration(ms: int | None) -> str:
    seconds = round((ms or 0) / 1000)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


async def render(ctx: Ctx, feed: Feed, base_url: str) -> bytes:
    """The feed's RSS document, as of now."""
    user = await ctx.db.get(User, feed.user_id)
    assert user is not None  # feeds go with their account
    since = utcnow() - timedelta(days=ctx.settings.feed_days)
    blocked = and_(Block.user_id == feed.user_id, Block.blocked_id == Message.sender_id)
    rows = (
        await ctx.db.execute(
            select(Message, Group.name)
            .join(Membership, and_(
                Membership.group_id == Message.group_id, Membership.user_id == feed.user_id
            ))
            .join(Group, Group.id == Message.group_id)
            .outerjoin(Block, blocked)
            .where(
                Message.kind == "voice",
                Message.voice_status == "ready",
                Message.deleted_at.is_(None),
                Message.created_at >= since,
                Block.user_id.is_(None),
            )
            .order_by(Message.created_at.desc())
            .limit(MAX_ITEMS)
        )
    ).all()  # fmt: skip
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    for tag, text in (
        ("title", f"Earshot for {user.display_name}"),
        ("link", f"{base_url}/"),
        (
            "description",
            f"Voice memos from your Earshot groups, last {ctx.settings.feed_days} days",
        ),
        (f"{{{ITUNES}}}author", "Earshot"),
        (f"{{{ITUNES}}}block", "Yes"),  # never listed in a podcast directory
        (f"{{{ITUNES}}}explicit", "false"),
    ):
        ET.SubElement(channel, tag).text = text
    # The artwork podcast apps show (and CarPlay, and the lock screen): the app's icon.
    ET.SubElement(channel, f"{{{ITUNES}}}image", {"href": f"{base_url}{ARTWORK_PATH}"})
    secret = ctx.settings.resolved_secret
    for message, group_name in rows:
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = f"{message.sender.display_name} in {group_name}"
        ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = message.id
        ET.SubElement(item, "pubDate").text = format_datetime(message.created_at, usegmt=True)
        sig = signing.feed_audio_sig(secret, feed.id, feed.token_hash, message.id)
        path = AUDIO_PATH.format(feed_id=feed.id, message_id=message.id)
        ET.SubElement(
            item,
            "enclosure",
            {
                "url": f"{base_url}{path}?sig={sig}",
                "length": str((message.duration_ms or 0) * MP3_BYTES_PER_MS),
                "type": "audio/mpeg",
            },
        )
        ET.SubElement(item, f"{{{ITUNES}}}duration").text = _duration(message.duration_ms)
        if user.notification_previews and message.transcript_text:
            ET.SubElement(item, "description").text = message.transcript_text
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


async def enclosure(ctx: Ctx, feed_id: str, message_id: str, sig: str) -> None:
    """404 unless `sig` is this live feed's signature for a memo its owner may still hear."""
    feed = await ctx.db.get(Feed, feed_id)
    secret = ctx.settings.resolved_secret
    if feed is None or not signing.check_feed_audio(
        secret, feed.id, feed.token_hash, message_id, sig
    ):
        raise feed_not_found()
    message = await ctx.db.get(Message, message_id)
    member = None
    if message is not None:
        member = await ctx.db.get(Membership, (message.group_id, feed.user_id))
    if message is None or message.deleted_at is not None or member is None:
        raise NotFound("This memo is not in the feed any more.", code="audio_not_found")
