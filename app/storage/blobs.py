"""Where audio bytes live: the blob-store interface, and opening the store a URL names.

The interface is the handful of verbs the voice pipeline needs (whole-file puts,
appends for live recordings, ranged streaming reads for playback, prefix deletes
for a message's files, presigned URLs for redirects) and what `earshot fsck` needs
to compare the store with the database (an inventory with sizes and ages, and the
leftovers of interrupted writes). Each backend keeps its own details in its own
module: `app.storage.local` (a directory) and `app.storage.s3` (any S3-compatible
server); callers never look past this interface.

Keys are made by the server (`voice/<uuid>/original`), never from user input,
and are validated anyway so that a bug can never reach outside the store.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

CHUNK_SIZE = 64 * 1024
MAX_KEY_LENGTH = 512

_KEY = re.compile(r"[a-z0-9][a-z0-9._/-]*")


def check_key(key: str) -> str:
    """Return `key` if it is a well-formed blob key, else raise ValueError.

    A key is lowercase ASCII letters, digits and `._/-`, starts with a letter or
    digit, has no empty, `.`-led or `..` segments and does not end with `/`.
    """
    if (
        not isinstance(key, str)
        or len(key) > MAX_KEY_LENGTH
        or not _KEY.fullmatch(key)
        or ".." in key
        or key.endswith("/")
        or any(not part or part.startswith(".") for part in key.split("/"))
    ):
        raise ValueError(f"invalid blob key {key!r}")
    return key


def check_range(start: int, end_inclusive: int | None) -> None:
    """Raise ValueError unless `start..end_inclusive` is a possible byte range."""
    if start < 0 or (end_inclusive is not None and end_inclusive < start):
        raise ValueError(f"invalid byte range {start}-{end_inclusive}")


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it could begin a valid key (`""` means every key), else raise."""
    if prefix == "":
        return prefix
    check_key(prefix.removesuffix("/"))
    return prefix


@dataclass(frozen=True)
class StoredBlob:
    """One blob as listed, or (local store) an unfinished temporary file or an empty directory."""

    key: str  # the blob key, or the leftover's path relative to the store
    size: int
    modified: datetime | None  # the newest write; None when the store cannot say
    temp: bool = False


class BlobStore(Protocol):
    """Durable named blobs; what the voice pipeline needs from local disk or S3."""

    async def put_file(self, key: str, src: Path) -> int:
        """Store a copy of local file `src` under `key`, atomically; return its size."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> int:
        """Store `data` under `key`, atomically; return its size."""
        ...

    async def append(self, key: str, data: bytes) -> int:
        """Append `data` durably to `key` (created if missing); return the new size."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None if there is no such blob."""
        ...

    def read_range(
        self, key: str, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream bytes `start..end_inclusive` (to the end if None) in bounded chunks."""
        ...

    async def fetch_to(self, key: str, dst: Path) -> None:
        """Copy the blob to local file `dst` (for tools such as ffmpeg that need a path)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every blob whose key starts with `prefix` (which may not be empty)."""
        ...

    async def list_keys(self, prefix: str) -> list[str]:
        """Keys starting with `prefix`, sorted."""
        ...

    can_presign: bool  # whether `presigned_get` works (EARSHOT_AUDIO_DELIVERY=redirect)

    async def presigned_get(self, key: str, expires_s: int) -> str:
        """A URL that GETs a whole blob (written by `put_*`) without credentials for a while."""
        ...

    async def inventory(self, prefix: str = "") -> list[StoredBlob]:
        """Every blob under `prefix` with its size and newest write, sorted by key, and
        unfinished temporary files (`temp`) where the store has them."""
        ...

    async def empty_dirs(self, under: str) -> list[StoredBlob]:
        """Empty directories below `under`, where the store has directories."""
        ...

    async def remove_temp(self, name: str) -> str:
        """Remove an unfinished temporary file `inventory` listed; what was done."""
        ...

    async def remove_empty_dir(self, name: str, *, stop_at: str) -> str:
        """Remove an empty directory `empty_dirs` listed (and emptied parents up to
        `stop_at`), unless a writer has used it meanwhile; what was done."""
        ...

    async def ping(self) -> None:
        """Raise unless the store can be used now (for /readyz)."""
        ...

    def close(self) -> None:
        """Release connections (at shutdown)."""
        ...


def open_blob_store(storage_url: str | None, data_dir: Path) -> BlobStore:
    """The store that EARSHOT_STORAGE_URL names.

    Unset (or empty) means a `blobs` directory in the data directory, and
    `file:///absolute/path` a directory of one's choosing (`app.storage.local`).
    `s3://BUCKET?endpoint=http://host:9000&region=us-east-1` means a bucket on an
    S3-compatible server (`app.storage.s3`). Anything else raises ValueError.
    """
    scheme = urlsplit(storage_url).scheme if storage_url else "file"
    if scheme == "file":
        from app.storage.local import open_local

        return open_local(storage_url, data_dir)
    if scheme == "s3":
        from app.storage.s3 import open_s3  # boto3 is imported only when S3 is used

        return open_s3(storage_url or "")
    raise ValueError(
        f"storage URL {storage_url!r} is not supported: use file:///absolute/path, "
        f"{S3_FORM}, or leave it unset to keep blobs in the data directory"
    )


S3_FORM = "s3://BUCKET?endpoint=http://host:port&region=us-east-1"


def media_origin(storage_url: str | None) -> str:
    """The origin presigned audio URLs point at (for the CSP's media-src); "" for none."""
    if storage_url and urlsplit(storage_url).scheme == "s3":
        from app.storage.s3 import media_origin as s3_origin

        return s3_origin(storage_url)
    return ""
