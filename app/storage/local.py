"""Blobs as files in a local directory: the embedded default (`EARSHOT_STORAGE_URL` unset
or `file:///absolute/path`).

Whole-blob writes are atomic (temp file in the store, fsync, rename, fsync of the
directory): after a crash a key holds either the old blob or the new one, never
half of one. An interrupted write can leave a temporary file (`.NAME.HEX.tmp`) or an
empty directory behind; `inventory` and `empty_dirs` show them to `earshot fsck`,
which removes them with `remove_temp` and `remove_empty_dir`. Blocking file work
runs in worker threads so the event loop never waits on the disk.
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from app.storage.blobs import CHUNK_SIZE, StoredBlob, check_key, check_prefix, check_range

_TEMP_SUFFIX = ".tmp"


def open_local(storage_url: str | None, data_dir: Path) -> "LocalBlobStore":
    """The directory a `file:///absolute/path` URL names, or `blobs` in the data directory."""
    if not storage_url:
        return LocalBlobStore(data_dir / "blobs")
    url = urlsplit(storage_url)
    path = unquote(url.path)
    if url.netloc not in ("", "localhost") or not path.startswith("/"):
        raise ValueError(
            f"storage URL {storage_url!r} must name an absolute path, like file:///srv/earshot"
        )
    return LocalBlobStore(Path(path))


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

    # What `earshot fsck` needs beyond the blobs themselves.

    can_presign = False

    async def presigned_get(self, key: str, expires_s: int) -> str:
        raise NotImplementedError("a local store has no URLs of its own")

    async def inventory(self, prefix: str = "") -> list[StoredBlob]:
        """Every blob under `prefix` with its size and age, and unfinished temporary files."""
        return await asyncio.to_thread(self._inventory, prefix)

    def _inventory(self, prefix: str) -> list[StoredBlob]:
        found = []
        for dirpath, _, filenames in os.walk(self.root / prefix.rpartition("/")[0]):
            for name in filenames:
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:  # removed while we looked
                    continue
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                temp = name.startswith(".") and name.endswith(_TEMP_SUFFIX)
                found.append(StoredBlob(key, stat.st_size, modified, temp=temp))
        return sorted(found, key=lambda b: b.key)

    async def empty_dirs(self, under: str) -> list[StoredBlob]:
        """Empty directories below `under` (a prefix ending in `/`), left by interrupted writes."""
        return await asyncio.to_thread(self._empty_dirs, self.root / check_prefix(under))

    def _empty_dirs(self, base: Path) -> list[StoredBlob]:
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            path = Path(dirpath)
            if path == base or dirnames or filenames:
                continue
            try:
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:
                continue
            found.append(StoredBlob(f"{path.relative_to(self.root).as_posix()}/", 0, modified))
        return found

    async def remove_temp(self, name: str) -> str:
        """Remove a temporary file `inventory` listed (its path relative to the store)."""
        path = self.root / name
        if self.root not in path.resolve().parents:
            raise ValueError(f"{name!r} is outside the store")
        await asyncio.to_thread(path.unlink, True)
        return "deleted"

    async def remove_empty_dir(self, name: str, *, stop_at: str) -> str:
        """Remove an empty directory `empty_dirs` listed, and the parents it leaves empty
        (up to `stop_at`); refuses, atomically, if a writer put something in meanwhile."""
        path, stop = self.root / name, self.root / stop_at

        def remove() -> str:
            try:
                path.rmdir()
            except FileNotFoundError:
                return "skipped: already gone"
            except OSError:
                return "skipped: no longer empty"
            parent = path.parent
            while parent != stop and self.root in parent.parents:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent
            return "removed"

        return await asyncio.to_thread(remove)


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
