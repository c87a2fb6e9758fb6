"""Where audio bytes live: a small blob-store interface and a local-directory store.

The interface is the handful of verbs the voice pipeline needs (whole-file puts,
appends for live recordings, ranged streaming reads for playback, prefix deletes
for a message's files), so that `app.storage.s3.S3BlobStore` (any S3-compatible
server) stands in for the local store without touching the callers.

Keys are made by the server (`voice/<uuid>/original`), never from user input,
and are validated anyway so that a bug can never reach outside the store.
Whole-blob writes are atomic (temp file in the store, fsync, rename, fsync of the
directory): after a crash a key holds either the old blob or the new one, never
half of one. Blocking file work runs in worker threads so the event loop never
waits on the disk.
"""

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK_SIZE = 64 * 1024
MAX_KEY_LENGTH = 512

_KEY = re.compile(r"[a-z0-9][a-z0-9._/-]*")
_TEMP_SUFFIX = ".tmp"


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

    async def ping(self) -> None:
        """Raise unless the store can be used now (for /readyz)."""
        ...

    def close(self) -> None:
        """Release connections (at shutdown)."""
        ...


class LocalBlobStore:
    """Blobs as files under `root`, one file per key, `/` in keys making directories."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def ping(self) -> None:
        if not await asyncio.to_thread(os.access, self.root, os.W_OK | os.X_OK):
            raise OSError(f"cannot write to {self.root}")

    def close(self) -> None:
        pass

    def _make_parents(self, path: Path) -> None:
        """Create the directories above `path`, each made durable in its own parent."""
        missing = []
        directory = path.parent
        while directory != self.root and not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for directory in reversed(missing):
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                continue
            _fsync_dir(directory.parent)

    def _write_atomic(self, key: str, fill: Callable[[BinaryIO], None]) -> int:
        path = self._path(key)
        self._make_parents(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
        try:
            with open(tmp, "wb", opener=_private) as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return size

    async def put_file(self, key: str, src: Path) -> int:
        """Store a copy of `src` under `key` atomically; `src` is left in place."""
        check_key(key)

        def copy(out: BinaryIO) -> None:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK_SIZE)

        return await asyncio.to_thread(self._write_atomic, key, copy)

    async def put_bytes(self, key: str, data: bytes) -> int:
        """Store `data` under `key` atomically."""
        check_key(key)

        def write(out: BinaryIO) -> None:
            out.write(data)

        return await asyncio.to_thread(self._write_atomic, key, write)

    async def append(self, key: str, data: bytes) -> int:
        """Append durably (fsync before returning); the blob is created on first use."""
        path = self._path(key)

        def write() -> int:
            self._make_parents(path)
            with open(path, "ab", opener=_private) as out:
                created = out.tell() == 0
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
            if created:
                _fsync_dir(path.parent)
            return size

        return await asyncio.to_thread(write)

    async def size(self, key: str) -> int | None:
        """Size in bytes, or None when missing."""
        path = self._path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_range(
        self, key: str, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a byte range in chunks of at most CHUNK_SIZE.

        A range past the end yields nothing; an end past the end stops at the end.
        A bad key or range raises ValueError at once; a missing blob raises
        FileNotFoundError on first iteration.
        """
        path = self._path(key)
        check_range(start, end_inclusive)
        return self._stream(path, start, end_inclusive)

    async def _stream(
        self, path: Path, start: int, end_inclusive: int | None
    ) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(open, path, "rb")
        try:
            await asyncio.to_thread(f.seek, start)
            remaining = None if end_inclusive is None else end_inclusive - start + 1
            while remaining is None or remaining > 0:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = await asyncio.to_thread(f.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(f.close)

    async def fetch_to(self, key: str, dst: Path) -> None:
        """Copy to `dst`; FileNotFoundError when the blob is missing."""
        await asyncio.to_thread(shutil.copyfile, self._path(key), dst)

    async def delete(self, key: str) -> None:
        """Remove the blob if present."""
        path = self._path(key)
        await asyncio.to_thread(path.unlink, True)

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under `prefix`, unfinished temp files and emptied directories too."""
        if not check_prefix(prefix):
            raise ValueError("refusing to delete every blob: give a non-empty prefix")
        await asyncio.to_thread(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> None:
        if prefix.endswith("/"):
            shutil.rmtree(self.root / prefix.removesuffix("/"), ignore_errors=True)
        else:
            directory, _, stem = prefix.rpartition("/")
            base = self.root / directory
            for entry in _scandir(base):
                if entry.name.startswith(stem) or _is_temp_for(entry.name, stem):
                    target = Path(entry.path)
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        target.unlink(missing_ok=True)
        self._prune_empty_dirs(self.root / prefix.rpartition("/")[0])

    def _prune_empty_dirs(self, directory: Path) -> None:
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:  # not empty, or already gone
                if directory.exists():
                    return
            directory = directory.parent

    async def list_keys(self, prefix: str) -> list[str]:
        """Keys that start with `prefix` (string prefix, as in S3), sorted; temp files hidden."""
        check_prefix(prefix)

        def walk() -> list[str]:
            base = self.root / prefix.rpartition("/")[0]
            if not base.is_dir():
                return []
            keys = []
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if name.startswith("."):
                        continue
                    key = Path(dirpath, name).relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        keys.append(key)
            return sorted(keys)

        return await asyncio.to_thread(walk)


def _private(path: str, flags: int) -> int:
    """`open` that creates files readable by this user only."""
    return os.open(path, flags, 0o600)


def _is_temp_for(name: str, stem: str) -> bool:
    return name.startswith(f".{stem}") and name.endswith(_TEMP_SUFFIX)


def _scandir(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_blob_store(storage_url: str | None, data_dir: Path) -> BlobStore:
    """The store that EARSHOT_STORAGE_URL names.

    Unset (or empty) means a `blobs` directory in the data directory, and
    `file:///absolute/path` a directory of one's choosing.
    `s3://BUCKET?endpoint=http://host:9000&region=us-east-1` means a bucket on an
    S3-compatible server (both parameters optional: AWS by default), with
    credentials from the usual AWS environment variables or boto3's chain, or from
    `access_key` and `secret_key` parameters (for local test servers). The bucket
    is created if it does not exist. Anything else raises ValueError.
    """
    if not storage_url:
        return LocalBlobStore(data_dir / "blobs")
    url = urlsplit(storage_url)
    if url.scheme == "file":
        path = unquote(url.path)
        if url.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(
                f"storage URL {storage_url!r} must name an absolute path, like file:///srv/earshot"
            )
        return LocalBlobStore(Path(path))
    if url.scheme == "s3":
        return _open_s3(storage_url)
    raise ValueError(
        f"storage URL {storage_url!r} is not supported: use file:///absolute/path, "
        f"{_S3_FORM}, or leave it unset to keep blobs in the data directory"
    )


_S3_FORM = "s3://BUCKET?endpoint=http://host:port&region=us-east-1"
_S3_PARAMETERS = {"endpoint", "region", "access_key", "secret_key"}


def _open_s3(storage_url: str) -> BlobStore:
    url = urlsplit(storage_url)
    params = parse_qs(url.query, keep_blank_values=True)
    problem = None
    if not url.netloc or url.path not in ("", "/"):
        problem = "must name just a bucket"
    elif unknown := set(params) - _S3_PARAMETERS:
        problem = f"has unknown parameters {sorted(unknown)}"
    elif any(len(values) != 1 or not values[0] for values in params.values()):
        problem = "repeats a parameter or leaves one empty"
    elif ("access_key" in params) != ("secret_key" in params):
        problem = "needs both access_key and secret_key, or neither"
    if problem:
        raise ValueError(f"storage URL {storage_url!r} {problem}, like {_S3_FORM}")
    from app.storage.s3 import S3BlobStore  # boto3 is imported only when S3 is used

    one = {name: values[0] for name, values in params.items()}
    store = S3BlobStore(
        url.netloc,
        endpoint_url=one.get("endpoint"),
        region=one.get("region"),
        access_key=one.get("access_key"),
        secret_key=one.get("secret_key"),
    )
    try:
        store.ensure_bucket()
    except BaseException:
        store.close()
        raise
    return store
