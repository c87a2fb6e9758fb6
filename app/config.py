"""Every setting Earshot reads, in one place, from `EARSHOT_*` environment variables.

Nothing is required for the embedded default: SQLite, local files and the
in-process broker all live under `data_dir`.
"""

import os
import secrets
import socket
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EARSHOT_", extra="ignore")

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

    # Rate limits, answered 429 with Retry-After. Sign-in attempts (and password
    # changes) count per handle and per client address in windows of login_window_s.
    login_attempts_per_handle: int = 10
    login_attempts_per_address: int = 60
    login_window_s: int = 600
    uploads_per_minute: int = 30

    # Browsers on other origins allowed to call the API (comma-separated, e.g.
    # "https://coach.example.org"); empty: only the web client served here.
    cors_origins: str = ""

    # Operations: "text" or "json" (one object per line, with request ids).
    log_format: Literal["text", "json"] = "text"

    # Realtime.
    ws_send_queue: int = 1024
    ws_heartbeat_s: float = 20.0
    ws_messages_per_s: float = 20.0
    ws_burst: int = 60

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
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".secret.{os.getpid()}.tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # atomic, and the first process to get here wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip().encode()
