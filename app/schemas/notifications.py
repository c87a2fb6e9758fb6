"""The shapes of notifications (levels, Web Push subscriptions) and the podcast feed."""

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas import STORABLE, Out, Timestamp

NotifyLevel = Literal["all", "replies", "none"]
Base64Url = r"^[A-Za-z0-9_-]+={0,2}$"


class NotificationsIn(BaseModel):
    level: NotifyLevel


class NotificationsOut(Out):
    level: NotifyLevel = Field(
        description="all: every new message; replies: only replies to you; none: nothing"
    )


class PushKeyOut(Out):
    public_key: str = Field(description="the VAPID public key: base64url of a P-256 point")


class PushKeys(BaseModel):
    p256dh: str = Field(max_length=100, pattern=Base64Url)
    auth: str = Field(max_length=32, pattern=Base64Url)


class PushSubscriptionIn(BaseModel):
    """What `PushSubscription.toJSON()` gives (its `expirationTime` is ignored)."""

    endpoint: str = Field(min_length=1, max_length=2048, pattern=STORABLE)
    keys: PushKeys


class PushSubscriptionOut(Out):
    id: str
    endpoint: str
    created_at: Timestamp


class PushSubscriptionsOut(Out):
    subscriptions: list[PushSubscriptionOut]


class FeedCreated(Out):
    id: str
    url: str = Field(description="the feed's secret address; shown once, never again")


class FeedOut(Out):
    id: str
    created_at: Timestamp


class FeedsOut(Out):
    feeds: list[FeedOut]
