"""Where audio bytes live: a small interface with a local-directory implementation.

Keys are made by the server (`voice/<uuid>/original`), never from user input,
and are validated anyway. Writes are atomic (temp file, fsync, rename) so a
crash leaves either the old blob or the new one, never half a file.
"""

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK = 64 * 1024
_KEY = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key or "//" in key:
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore(Protocol):
    async def put_file(self, key: str, src: Path) -> int: ...
    async def put_bytes(self, key: str, data: bytes) -> int: ...
    async def append(self, key: str, data: bytes) -> int: ...
    async def size(self, key: str) -> int | None: ...
    def read_range(
        self, key: str, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]: ...
    async def fetch_to(self, key: str, dst: Path) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def delete_prefix(self, prefix: str) -> None: ...
    async def list_keys(self, prefix: str) -> list[str]: ...


class LocalBlobStore:
    """Blobs as files under `root`; blocking file work runs in threads."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write_atomic(self, key: str, fill: "callable[[object], None]") -> int:  # type: ignore[valid-type]
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return path.stat().st_size

    async def put_file(self, key: str, src: Path) -> int:
        def copy(out: object) -> None:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK)  # type: ignore[arg-type]

        return await asyncio.to_thread(self._write_atomic, key, copy)

    async def put_bytes(self, key: str, data: bytes) -> int:
        return await asyncio.to_thread(self._write_atomic, key, lambda out: out.write(data))  # type: ignore[attr-defined]

    async def append(self, key: str, data: bytes) -> int:
        def write() -> int:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
                return out.tell()

        return await asyncio.to_thread(write)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def read_range(
        self, key: str, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        f = await asyncio.to_thread(open, path, "rb")
        try:
            await asyncio.to_thread(f.seek, start)
            remaining = None if end_inclusive is None else end_inclusive - start + 1
            while remaining is None or remaining > 0:
                want = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await asyncio.to_thread(f.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def fetch_to(self, key: str, dst: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self._path(key), dst)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def delete_prefix(self, prefix: str) -> None:
        target = self.root / check_key(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, target, True)

    async def list_keys(self, prefix: str) -> list[str]:
        def walk() -> list[str]:
            base = self.root / check_key(prefix.rstrip("/")) if prefix else self.root
            if base.is_file():
                return [prefix]
            return sorted(
                str(p.relative_to(self.root))
                for p in base.rglob("*")
                if p.is_file() and not p.name.startswith(".")
            )

        return await asyncio.to_thread(walk)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_blob_store(storage_url: str | None, data_dir: Path) -> BlobStore:
    """The store a setting names: nothing or `file:///path` is a local directory."""
    if not storage_url:
        return LocalBlobStore(data_dir / "blobs")
    if storage_url.startswith("file://"):
        return LocalBlobStore(Path(storage_url.removeprefix("file://")))
    raise ValueError(f"unsupported EARSHOT_STORAGE_URL {storage_url!r} (use file:///path)")
