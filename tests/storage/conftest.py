"""Fixtures for the storage tests: generated audio, and blob stores of both kinds.

`store` runs a test against the local store and against an S3 store in a fresh
bucket on a real SeaweedFS server (`tests.s3server`); `raw` looks beneath either
store at what it really keeps (files, or objects), to check what it leaves behind.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.storage.blobs import BlobStore, open_blob_store
from app.storage.local import LocalBlobStore
from app.storage.s3 import S3BlobStore
from tests.s3server import S3Server, s3_server  # noqa: F401  (a fixture)


@pytest.fixture(scope="session")
def audio_dir(samples: Path) -> Path:
    """Where tests.audio_samples makes speech and garbage once, for every storage test."""
    return samples


@dataclass(frozen=True)
class Raw:
    """What a store keeps underneath: every file or object name, and a way to add one."""

    files: Callable[[], Awaitable[list[str]]]
    plant: Callable[[str, bytes], Awaitable[None]]


def _local_raw(root: Path) -> Raw:
    async def files() -> list[str]:
        def walk() -> list[str]:
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

        return await asyncio.to_thread(walk)

    async def plant(name: str, data: bytes) -> None:
        await asyncio.to_thread((root / name).write_bytes, data)

    return Raw(files, plant)


def _s3_raw(store: S3BlobStore) -> Raw:
    async def files() -> list[str]:
        def walk() -> list[str]:
            return sorted(o["Key"] for o in store._objects(""))

        return await asyncio.to_thread(walk)

    async def plant(name: str, data: bytes) -> None:
        await asyncio.to_thread(store.client.put_object, Bucket=store.bucket, Key=name, Body=data)

    return Raw(files, plant)


def _empty_bucket(store: S3BlobStore) -> None:
    store._delete_objects([o["Key"] for o in store._objects("")])
    store.client.delete_bucket(Bucket=store.bucket)


@pytest.fixture
async def s3_store(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[S3BlobStore]:  # noqa: F811
    """An S3 store in a fresh bucket (made by `open_blob_store`), removed afterwards."""
    bucket = f"test-{uuid.uuid4().hex}"
    store = await asyncio.to_thread(open_blob_store, s3_server.storage_url(bucket), tmp_path)
    assert isinstance(store, S3BlobStore)
    try:
        yield store
        await asyncio.to_thread(_empty_bucket, store)
    finally:
        store.close()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """An empty blob store: a local directory, or a fresh S3 bucket."""
    if request.param == "s3":
        return request.getfixturevalue("s3_store")
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def raw(store: BlobStore) -> Raw:
    """The files or objects beneath `store`."""
    if isinstance(store, S3BlobStore):
        return _s3_raw(store)
    assert isinstance(store, LocalBlobStore)
    return _local_raw(store.root)
