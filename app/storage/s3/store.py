"""The S3 blob store itself; the layout of its objects is described in `app.storage.s3`."""

import asyncio
import os
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from app.storage.blobs import (
    CHUNK_SIZE,
    StoredBlob,
    check_key,
    check_prefix,
    check_range,
)

PARTS_PREFIX = ".parts/"
OFFSET_DIGITS = 20
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK_SIZE = 8 * 1024 * 1024
_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class _Segment:
    """One object holding the blob's bytes `start .. start + size - 1`."""

    object_key: str
    start: int
    size: int


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


def _parts_prefix(key: str) -> str:
    return f"{PARTS_PREFIX}{key}/"


def _part_key(key: str, offset: int) -> str:
    return f"{_parts_prefix(key)}{offset:0{OFFSET_DIGITS}d}"


def _key_of_part(object_key: str) -> str | None:
    """The blob key a part object belongs to, or None if `object_key` is not a part."""
    if not object_key.startswith(PARTS_PREFIX):
        return None
    key, _, offset = object_key[len(PARTS_PREFIX) :].rpartition("/")
    if len(offset) != OFFSET_DIGITS or not offset.isdigit() or not _is_valid(key):
        return None
    return key


def _is_valid(key: str) -> bool:
    try:
        check_key(key)
    except ValueError:
        return False
    return True


class S3BlobStore:
    """Blobs as objects in `bucket`; see the module docstring for the layout."""

    can_presign = True

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunk_size: int = MULTIPART_CHUNK_SIZE,
    ) -> None:
        self.bucket = bucket
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"mode": "standard"},
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunk_size
        )

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (blocking; meant for start-up)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as e:
            if not _is_missing(e):
                raise
        region = self.client.meta.region_name
        extra = {}
        if region and region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise

    def close(self) -> None:
        """Close the client's pooled connections."""
        self.client.close()

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)

    # Blocking helpers, each run in a worker thread by the async methods below.

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object whose name starts with `prefix`, in name order."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            yield from page.get("Contents", [])

    def _parts(self, key: str) -> list[dict[str, Any]]:
        """The part objects of `key` in offset order (not those of keys below `key/`)."""
        return [o for o in self._objects(_parts_prefix(key)) if _key_of_part(o["Key"]) == key]

    def _segments(self, key: str) -> list[_Segment] | None:
        """The objects that make up the blob, in order; None if there is no such blob."""
        segments = []
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            segments.append(_Segment(key, 0, head["ContentLength"]))
        except ClientError as e:
            if not _is_missing(e):
                raise
        offset = segments[0].size if segments else 0
        for part in self._parts(key):
            segments.append(_Segment(part["Key"], offset, part["Size"]))
            offset += part["Size"]
        return segments or None

    def _size(self, key: str) -> int | None:
        segments = self._segments(key)
        return None if segments is None else sum(s.size for s in segments)

    def _delete_objects(self, object_keys: list[str]) -> None:
        for i in range(0, len(object_keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in object_keys[i : i + _DELETE_BATCH]]
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            if response.get("Errors"):
                raise OSError(f"could not delete from bucket {self.bucket}: {response['Errors']}")

    def _delete_parts(self, key: str) -> None:
        self._delete_objects([part["Key"] for part in self._parts(key)])

    def _get(self, object_key: str, first: int, last: int) -> Any:
        """The body of bytes `first..last` of one object; FileNotFoundError if it is gone."""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=object_key, Range=f"bytes={first}-{last}"
            )
        except ClientError as e:
            if _is_missing(e):
                raise FileNotFoundError(object_key) from e
            raise
        return response["Body"]

    # The BlobStore interface.

    async def put_file(self, key: str, src: Path) -> int:
        """Upload a copy of `src` (multipart when large); `src` is left in place."""
        check_key(key)

        def upload() -> int:
            size = os.stat(src).st_size  # FileNotFoundError before anything is written
            self.client.upload_file(str(src), self.bucket, key, Config=self.transfer)
            self._delete_parts(key)
            return size

        return await asyncio.to_thread(upload)

    async def put_bytes(self, key: str, data: bytes) -> int:
        """Store `data` as one object, replacing any earlier blob and its parts."""
        check_key(key)

        def put() -> int:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
            self._delete_parts(key)
            return len(data)

        return await asyncio.to_thread(put)

    async def append(self, key: str, data: bytes) -> int:
        """Store `data` as the part starting at the blob's current size; return the new size."""
        check_key(key)

        def write() -> int:
            size = self._size(key) or 0
            self.client.put_object(Bucket=self.bucket, Key=_part_key(key, size), Body=data)
            return size + len(data)

        return await asyncio.to_thread(write)

    async def size(self, key: str) -> int | None:
        """Size in bytes, or None when missing."""
        check_key(key)
        return await asyncio.to_thread(self._size, key)

    def read_range(
        self, key: str, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a byte range in chunks of at most CHUNK_SIZE, as LocalBlobStore does.

        A range past the end yields nothing; an end past the end stops at the end.
        A bad key or range raises ValueError at once; a missing blob raises
        FileNotFoundError on first iteration.
        """
        check_key(key)
        check_range(start, end_inclusive)
        return self._stream(key, start, end_inclusive)

    async def _stream(
        self, key: str, start: int, end_inclusive: int | None
    ) -> AsyncIterator[bytes]:
        segments = await asyncio.to_thread(self._segments, key)
        if segments is None:
            raise FileNotFoundError(key)
        size = sum(s.size for s in segments)
        last = size - 1 if end_inclusive is None else min(end_inclusive, size - 1)
        for segment in segments:
            first_here = max(start, segment.start)
            last_here = min(last, segment.start + segment.size - 1)
            if first_here > last_here:
                continue
            body = await asyncio.to_thread(
                self._get,
                segment.object_key,
                first_here - segment.start,
                last_here - segment.start,
            )
            try:
                while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
                    yield chunk
            finally:
                await asyncio.to_thread(body.close)

    async def fetch_to(self, key: str, dst: Path) -> None:
        """Download to `dst`; FileNotFoundError when the blob is missing."""
        check_key(key)

        def fetch() -> None:
            segments = self._segments(key)
            if segments is None:
                raise FileNotFoundError(key)
            if len(segments) == 1 and segments[0].object_key == key:
                try:
                    self.client.download_file(self.bucket, key, str(dst), Config=self.transfer)
                except ClientError as e:
                    if _is_missing(e):
                        raise FileNotFoundError(key) from e
                    raise
                return
            with open(dst, "wb") as out:
                for segment in segments:
                    if segment.size:
                        body = self._get(segment.object_key, 0, segment.size - 1)
                        with body:
                            shutil.copyfileobj(body, out, CHUNK_SIZE)

        await asyncio.to_thread(fetch)

    async def delete(self, key: str) -> None:
        """Remove the blob and its parts; a missing blob is not an error."""
        check_key(key)

        def delete() -> None:
            self._delete_parts(key)  # first, so a crash in between leaves a whole prefix
            self.client.delete_object(Bucket=self.bucket, Key=key)

        await asyncio.to_thread(delete)

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every blob (and part, and stray object) whose key starts with `prefix`."""
        if not check_prefix(prefix):
            raise ValueError("refusing to delete every blob: give a non-empty prefix")

        def delete() -> None:
            parts = [
                o["Key"]
                for o in self._objects(PARTS_PREFIX + prefix)
                if (_key_of_part(o["Key"]) or "").startswith(prefix)
            ]
            self._delete_objects(parts)
            self._delete_objects([o["Key"] for o in self._objects(prefix)])

        await asyncio.to_thread(delete)

    async def list_keys(self, prefix: str) -> list[str]:
        """Keys that start with `prefix`, sorted; part objects and invalid names hidden."""
        check_prefix(prefix)

        def walk() -> list[str]:
            keys = {o["Key"] for o in self._objects(prefix) if _is_valid(o["Key"])}
            for obj in self._objects(PARTS_PREFIX + prefix):
                key = _key_of_part(obj["Key"])
                if key is not None and key.startswith(prefix):
                    keys.add(key)
            return sorted(keys)

        return await asyncio.to_thread(walk)

    async def presigned_get(self, key: str, expires_s: int) -> str:
        """A URL that GETs the blob without credentials for `expires_s` seconds.

        It names the single object `key`, so it serves whole blobs written by
        `put_file` / `put_bytes` only: a blob grown by `append` keeps its bytes in
        part objects that the URL does not reach.
        """
        check_key(key)
        return await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=expires_s,
        )

    async def inventory(self, prefix: str = "") -> list[StoredBlob]:
        """Every blob under `prefix`: its object plus its parts, summed, with the newest write."""
        check_prefix(prefix)

        def walk() -> list[StoredBlob]:
            sizes: dict[str, int] = defaultdict(int)
            newest: dict[str, datetime] = {}

            def add(key: str, obj: dict[str, Any]) -> None:
                sizes[key] += obj["Size"]
                newest[key] = max(newest.get(key, obj["LastModified"]), obj["LastModified"])

            for obj in self._objects(prefix):
                if not obj["Key"].startswith(PARTS_PREFIX):
                    add(obj["Key"], obj)
            for obj in self._objects(PARTS_PREFIX + prefix):
                key = obj["Key"][len(PARTS_PREFIX) :].rpartition("/")[0]
                add(key if key.startswith(prefix) else obj["Key"], obj)
            return [StoredBlob(key, sizes[key], newest[key]) for key in sorted(sizes)]

        return await asyncio.to_thread(walk)

    async def empty_dirs(self, under: str) -> list[StoredBlob]:
        return []  # a bucket has no directories

    async def remove_temp(self, name: str) -> str:
        return "skipped: only local stores have temporary files"

    async def remove_empty_dir(self, name: str, *, stop_at: str) -> str:
        return "skipped: a bucket has no directories"
