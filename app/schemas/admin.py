"""The shapes of the instance admins' API (/api/v1/admin): accounts and the server's size."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StringConstraints

from app.schemas import _SPACE, Email, Handle, Name, Out, Timestamp

# What an admin writes about a disabled account: shown to admins only, never to its owner.
Reason = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=500, pattern=f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$"
    ),
    AfterValidator(lambda v: v.strip(_SPACE)),
]


class AdminUserOut(Out):
    """An account as an instance admin sees it (never a deleted one)."""

    id: str
    handle: str
    display_name: str
    created_at: Timestamp
    email: str | None = None
    email_verified: bool = False
    is_admin: bool = False
    disabled: bool = Field(default=False, description="an admin disabled it: no sign-in")
    disabled_at: Timestamp | None = None
    disabled_reason: str | None = Field(default=None, description="the admin's reason")


class AdminUsersPage(Out):
    users: list[AdminUserOut]
    has_more: bool


class AdminUserCreate(BaseModel):
    handle: Handle = Field(description="3–32 of a-z 0-9 _ . - (stored lower-cased)")
    display_name: Name | None = Field(default=None, description="default: the handle")
    email: Email | None = Field(
        default=None, description="optional; a verification link is mailed to it"
    )
    admin: StrictBool = Field(default=False, description="make the new account an admin")


class AdminUserCreated(Out):
    user: AdminUserOut
    password_link: str = Field(
        description="a one-time link where the person sets their password; shown once, "
        "valid for 72 hours (a path alone when EARSHOT_PUBLIC_URL is not set)"
    )


class DisableIn(BaseModel):
    reason: Reason = Field(description="why (1–500 characters): admins see it, the person does not")


class AdminStatsOut(Out):
    """The server's size, counted by the database (deleted accounts and messages excluded)."""

    accounts: int
    active_accounts: int = Field(
        description="enabled accounts that posted or listened in the last 30 days"
    )
    disabled_accounts: int
    admins: int
    groups: int
    messages: int = Field(description="texts and memos, not deleted")
    memos: int = Field(description="voice memos, not deleted")
    audio_minutes: float = Field(description="total length of the stored memos, in minutes")
    bytes_stored: int = Field(description="stored memo audio and data exports, in bytes")
