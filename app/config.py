"""Every setting Earshot reads, in one place, from `EARSHOT_*` environment variables.

Nothing is required for the embedded default: SQLite, local files and the
in-process broker all live under `data_dir`.
"""

import base64
import contextlib
import os
import re
import secrets
import socket
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from app.services.oidc_config import OidcProviderConfig

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def make_private_dir(path: Path) -> None:
    """Create `path` (and its parents) for this user only, and tighten it if it exists.

    Audio, the database and the signing secret live below the data directory: nobody
    else on the machine reads them (each file is created 0600 as well)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change (a mount): leave it as it is
        path.chmod(0o700)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EARSHOT_", extra="ignore")

    # Where `earshot serve` listens (its --host and --port override these).
    host: str = "127.0.0.1"
    port: int = 8000

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    storage_url: str | None = None
    secret_key: str | None = None

    # Passwords (Argon2id). Defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # Voice memos.
    max_upload_bytes: int = 25 * 1024 * 1024
    max_duration_s: int = 15 * 60
    transcode_workers: int = 2
    # Checking that an upload is audio decodes all of it (bounded by max_duration_s):
    # at most this many at once per process; an upload waits probe_wait_s for a turn,
    # then is refused with 503 and Retry-After.
    probe_workers: int = 2
    probe_wait_s: float = 5.0
    # Uploads and live memos are refused (507) while the data or scratch directory has
    # less free space than this.
    min_free_mb: int = 1024

    # Avatars (app.services.avatars): the largest image file taken, refused with 413
    # before more of it is read. Decoding one takes a probe slot (probe_workers).
    avatar_max_bytes: int = 5 * 1024 * 1024
    audio_url_ttl_s: int = 6 * 3600
    # How a signed audio URL is answered: "proxy" streams the bytes through Earshot;
    # "redirect" answers 307 to a presigned GET of the S3 store, for clients that can
    # reach the store, so audio bytes bypass the server processes.
    audio_delivery: Literal["proxy", "redirect"] = "proxy"
    # A process renews its claim on a memo it records or converts every third of this;
    # another process takes over a memo whose claim ran out (its owner died).
    lease_s: float = 30.0
    # How often each process looks for orphaned memos and for messages past retention.
    sweep_interval_s: float = 15.0

    # Transcripts: speech-to-text of voice memos on this machine (off: none is made
    # or stored, whatever the groups say). Jobs run in this many worker processes.
    transcripts: bool = True
    transcribe_workers: int = 1

    # Live push-to-talk.
    live_max_chunk_bytes: int = 64 * 1024
    live_idle_timeout_s: float = 10.0
    live_max_chunks_per_s: int = 50

    # Rate limits, answered 429 with Retry-After; `rate_limits=False` turns every one off
    # (load tests and benchmarks). Counted per client address or per user, in Redis when
    # redis_url is set (shared by every process), else in this process.
    rate_limits: bool = True
    login_attempts_per_address: int = 60  # sign-in attempts from one address per window
    login_window_s: int = 600
    # Sign-in failures count per (handle, address): after this many, each further
    # attempt from there waits 1 s, 2 s, 4 s... up to the maximum. Others are unaffected.
    limit_sign_in_failures: int = 5
    limit_sign_in_max_delay_s: int = 900
    uploads_per_minute: int = 30  # voice uploads per user
    limit_registrations_per_hour: int = 20  # per client address
    limit_text_posts_per_minute: int = 60  # per user
    limit_reactions_per_minute: int = 120  # reactions added or taken back, per user
    limit_positions_per_minute: int = 60  # listening positions saved, per user
    limit_groups_per_hour: int = 20  # groups created, per user
    limit_invites_per_hour: int = 60  # invite links made, per user
    limit_member_adds_per_hour: int = 300  # members added, per user
    limit_reports_per_hour: int = 30  # messages reported, per user
    # push subscriptions made or renewed, per user (each one resolves a host name it names)
    limit_push_subscriptions_per_hour: int = 30
    limit_avatar_uploads_per_hour: int = 20  # avatars set, per user (each one is decoded)

    # Password hashing runs on executors of its own, so a flood of registrations cannot
    # delay other requests: new hashes (registrations, password changes) on
    # hash_workers threads, sign-in checks on verify_workers; past hash_queue waiting
    # jobs, 503 with Retry-After.
    hash_workers: int = 1
    verify_workers: int = 2
    hash_queue: int = 64

    # Browsers on other origins allowed to call the API (comma-separated, e.g.
    # "https://coach.example.org"); empty: only the web client served here.
    cors_origins: str = ""

    # Web Push. The VAPID key must be the same on every replica (browsers bind each
    # subscription to it); unset, one is generated once into data_dir/vapid.key.
    vapid_private_key: str | None = None
    push_contact: str = "mailto:earshot@localhost"  # the VAPID `sub`: how push services reach you
    push_ttl_s: int = 24 * 3600  # how long a push service keeps an undelivered push
    # Tests only: also accept and contact http:// and loopback or private push endpoints.
    push_allow_insecure: bool = False
    push_workers: int = 8  # pushes (and other outbox items) sent at once, per process
    # Outbox (pushes, later email): the first wait after a failed attempt, doubled after
    # each further one (a Retry-After from the far side wins).
    outbox_retry_s: float = 5.0

    # Email (verification links, password resets), sent through the outbox. All three
    # are needed: smtp_url "smtp://user:password@host:587" (STARTTLS when the server
    # offers it) or "smtps://user:password@host:465" (TLS from the first byte);
    # mail_from the From address; public_url the address people open Earshot at, for
    # the links in mails. Without them, email features answer 409 email_not_configured.
    smtp_url: SecretStr | None = None  # a SecretStr: never in a repr or a log
    mail_from: str | None = None
    public_url: str | None = None
    smtp_timeout_s: float = 20.0
    limit_password_resets_per_hour: int = 10  # per client address, and per login
    limit_email_tokens_per_hour: int = 30  # verify/reset confirmations, per client address
    limit_verification_mails_per_hour: int = 5  # per user
    # The catch-up digest (app.services.digest), for those who chose one: mailed at this
    # hour (0-23) of each person's local morning (looked for every sweep_interval_s).
    digest_hour: int = Field(default=7, ge=0, le=23)

    # Who may make an account (app.services.registration): "open" (anyone), "invite"
    # (only with a group invite code, joining that group) or "closed" (nobody).
    registration: Literal["open", "invite", "closed"] = "open"
    # Comma-separated domains (district.org,...): an account without a verified address
    # in one of them cannot post until it verifies one. Empty: no such rule.
    registration_email_domains: str = ""
    # Passwords: false makes the server SSO-only (password sign-in and registration
    # answer 403 password_login_disabled; linking an SSO identity still asks for it once).
    password_login: bool = True
    # OpenID Connect sign-in (app.services.oidc): a JSON list of providers, each
    # {"name", "issuer", "client_id", "client_secret", "display_name", "allowed_domains"?,
    # "hd"?, "tid"?}; the callback is {public_url}/api/v1/auth/oidc/{name}/callback.
    oidc_providers: str = "[]"
    # A token issued through SSO stops working after this many hours: the person goes
    # through the provider again (a district account disabled there cannot come back).
    oidc_session_hours: float = Field(default=12.0, gt=0)
    oidc_timeout_s: float = 10.0  # each request to a provider
    # An ID token with a kid not in the cached JWKS refetches it, at most this often.
    oidc_jwks_refetch_s: float = 60.0
    limit_oidc_starts_per_hour: int = 120  # sign-ins started, per client address

    # A deleted account's handle stays taken this long (nobody can pose as them at once),
    # then the sweep frees it.
    deleted_handle_grace_days: int = Field(default=30, ge=0)

    # Data exports (app.services.exports): a zip of at most export_max_bytes, made within
    # export_timeout_s, kept export_keep_hours; limit_exports_per_day per person.
    export_max_bytes: int = 1024 * 1024 * 1024
    export_timeout_s: float = 600.0
    export_keep_hours: int = 48
    limit_exports_per_day: int = 5
    limit_group_exports_per_day: int = 5  # a group's exports by its owner, per group

    # The private podcast feed: voice memos of the last feed_days.
    feed_days: int = 30

    # Operations: "text" or "json" (one object per line, with request ids).
    log_format: Literal["text", "json"] = "text"
    # GET /metrics answers only `Authorization: Bearer <metrics_token>`; unset: 404.
    metrics_token: str | None = None

    # Realtime.
    ws_send_queue: int = 1024
    ws_send_queue_bytes: int = 4 * 1024 * 1024  # bytes queued for one socket, then dropped
    ws_heartbeat_s: float = 20.0
    ws_messages_per_s: float = 20.0
    ws_burst: int = 60
    ws_max_frame_bytes: int = 128 * 1024  # larger frames close the socket (1009) unread
    ws_max_sockets_per_user: int = 10  # per process; the next is closed with 4009
    ws_auth_timeout_s: float = 5.0  # without ?token=, the first frame must authenticate

    @field_validator("push_contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("EARSHOT_PUSH_CONTACT must be a mailto: or https:// address")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("smtp://", "smtps://")):
            raise ValueError("EARSHOT_SMTP_URL must start with smtp:// or smtps://")
        return value

    @field_validator("registration_email_domains")
    @classmethod
    def _domains(cls, value: str) -> str:
        for domain in _domain_list(value):
            if "." not in domain or not re.fullmatch(r"[a-z0-9.-]+", domain):
                raise ValueError(f"EARSHOT_REGISTRATION_EMAIL_DOMAINS: not a domain: {domain!r}")
        return value

    @field_validator("oidc_providers")
    @classmethod
    def _oidc(cls, value: str) -> str:
        from app.services.oidc_config import parse_providers  # the one home of the format

        parse_providers(value)
        return value

    @model_validator(mode="after")
    def _oidc_needs_public_url(self) -> "Settings":
        if self.oidc and not self.public_url:
            raise ValueError(
                "EARSHOT_OIDC_PROVIDERS needs EARSHOT_PUBLIC_URL (for the callback URL)"
            )
        return self

    @property
    def email_domains(self) -> list[str]:
        """The domains of `registration_email_domains`, lower-cased ([] for no rule)."""
        return _domain_list(self.registration_email_domains)

    @property
    def oidc(self) -> "dict[str, OidcProviderConfig]":
        """The OpenID Connect providers of `oidc_providers`, by name (parsed once)."""
        from app.services.oidc_config import parse_providers

        return parse_providers(self.oidc_providers)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_url and self.mail_from and self.public_url)

    @property
    def work_dir(self) -> Path:
        """This process's scratch space for uploads and transcoding.

        Per host and process, so replicas that share a data volume never touch
        each other's files; see `app.main` for the clean-up of dead ones."""
        return self.data_dir / "tmp" / f"{socket.gethostname()}-{os.getpid()}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'earshot.db').resolve()}"

    @cached_property
    def resolved_secret(self) -> bytes:
        """The signing secret: the setting, or one generated once and kept in data_dir."""
        if self.secret_key:
            return self.secret_key.encode()
        return self._kept("secret.key", lambda: secrets.token_urlsafe(48)).encode()

    @cached_property
    def resolved_vapid_key(self) -> str:
        """The Web Push (VAPID) private key, base64url of its 32 raw bytes: the setting,
        or one generated once and kept in data_dir like the secret."""
        if self.vapid_private_key:
            return self.vapid_private_key
        return self._kept("vapid.key", new_vapid_key)

    def _kept(self, name: str, make: Callable[[], str]) -> str:
        """The text of data_dir/`name`, made by `make` the first time (by one process only)."""
        path = self.data_dir / name
        if not path.exists():
            make_private_dir(self.data_dir)
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(make())
            try:
                os.link(tmp, path)  # atomic, and the first process to get here wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


def _domain_list(value: str) -> list[str]:
    return [d.strip().lower().lstrip("@") for d in value.split(",") if d.strip()]


def new_vapid_key() -> str:
    """A fresh P-256 private key as base64url of its 32-byte scalar (what web-push tools print)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
