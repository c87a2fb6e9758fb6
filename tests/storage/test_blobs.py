"""Blob stores, local and S3: atomic writes, growing live recordings, ranged reads, deletes, keys.

Every test taking `store` runs against both stores; the S3-only parts (appended
parts, multipart uploads, presigned URLs, storage URLs) come at the end.
"""

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from app.storage.blobs import CHUNK_SIZE, BlobStore, open_blob_store
from app.storage.local import LocalBlobStore
from app.storage.s3 import S3BlobStore
from tests.s3server import S3Server
from tests.storage.conftest import Raw

KEY = "voice/0d2c6a3e-1111-4a5b-9c1d-2e3f4a5b6c7d/original"


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read_range(key, start, end)])


async def test_put_bytes_stores_and_reads_back(store: BlobStore) -> None:
    assert await store.put_bytes(KEY, b"hello memo") == 10
    assert await store.size(KEY) == 10
    assert await read_all(store, KEY) == b"hello memo"


async def test_put_file_copies_and_leaves_the_source(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "upload.bin"
    src.write_bytes(os.urandom(300_000))
    assert await store.put_file(KEY, src) == 300_000
    assert src.exists()
    assert await read_all(store, KEY) == src.read_bytes()


async def test_put_replaces_a_blob_whole_and_leaves_no_temp_files(
    store: BlobStore, raw: Raw
) -> None:
    await store.put_bytes(KEY, b"old" * 1000)
    await store.put_bytes(KEY, b"new")
    assert await read_all(store, KEY) == b"new"
    assert await raw.files() == [KEY]


async def test_reader_of_the_old_blob_is_not_disturbed_by_a_replacement(
    store: BlobStore,
) -> None:
    old = b"a" * (3 * CHUNK_SIZE)
    await store.put_bytes(KEY, old)
    reader = store.read_range(KEY)
    first = await anext(reader)
    await store.put_bytes(KEY, b"b" * (3 * CHUNK_SIZE))
    rest = b"".join([chunk async for chunk in reader])
    assert first + rest == old, "a rename swaps the whole file; readers never see a mix"
    assert await read_all(store, KEY) == b"b" * (3 * CHUNK_SIZE)


async def test_failed_put_leaves_neither_blob_nor_temp_file(
    store: BlobStore, raw: Raw, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await store.put_file(KEY, tmp_path / "missing.bin")
    assert await store.size(KEY) is None
    assert await raw.files() == []


async def test_append_grows_a_live_recording_and_returns_its_size(store: BlobStore) -> None:
    sizes = [await store.append(KEY, chunk) for chunk in (b"one", b"", b"two-", b"three")]
    assert sizes == [3, 3, 7, 12]
    assert await read_all(store, KEY) == b"onetwo-three"


async def test_append_continues_a_blob_that_was_put(store: BlobStore) -> None:
    await store.put_bytes(KEY, b"head")
    assert await store.append(KEY, b"+tail") == 9
    assert await read_all(store, KEY) == b"head+tail"


async def test_size_of_a_missing_blob_is_none(store: BlobStore) -> None:
    assert await store.size("voice/nothing/here") is None


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, b"0"),  # first byte
        (9, 9, b"9"),  # last byte
        (0, None, b"0123456789"),
        (3, 6, b"3456"),
        (7, None, b"789"),
        (7, 100, b"789"),  # end past the end stops at the end
        (10, None, b""),  # start just past the end
        (25, 30, b""),  # wholly past the end
    ],
)
async def test_range_reads_at_the_edges(
    store: BlobStore, start: int, end: int | None, expected: bytes
) -> None:
    await store.put_bytes(KEY, b"0123456789")
    assert await read_all(store, KEY, start, end) == expected


async def test_range_read_streams_in_bounded_chunks(store: BlobStore) -> None:
    data = os.urandom(5 * CHUNK_SIZE + 123)
    await store.put_bytes(KEY, data)
    chunks = [chunk async for chunk in store.read_range(KEY, 100, len(data) - 2)]
    assert len(chunks) > 1 and all(len(c) <= CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data[100:-1]


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4)])
async def test_invalid_range_is_refused(store: BlobStore, start: int, end: int | None) -> None:
    await store.put_bytes(KEY, b"0123456789")
    with pytest.raises(ValueError):
        store.read_range(KEY, start, end)


async def test_range_read_of_a_missing_blob_raises_not_found(store: BlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        await read_all(store, KEY)


async def test_fetch_to_copies_the_blob_to_a_local_path(store: BlobStore, tmp_path: Path) -> None:
    await store.put_bytes(KEY, b"audio bytes")
    dst = tmp_path / "work" / "original"
    dst.parent.mkdir()
    await store.fetch_to(KEY, dst)
    assert dst.read_bytes() == b"audio bytes"
    with pytest.raises(FileNotFoundError):
        await store.fetch_to("voice/missing/original", tmp_path / "other")


async def test_delete_removes_a_blob_and_ignores_a_missing_one(store: BlobStore) -> None:
    await store.put_bytes(KEY, b"x")
    await store.delete(KEY)
    await store.delete(KEY)
    assert await store.size(KEY) is None


async def test_delete_prefix_removes_one_message_and_keeps_the_others(
    store: BlobStore, raw: Raw
) -> None:
    for key in ("voice/a1/original", "voice/a1/audio.ogg", "voice/a10/audio.ogg", "voice/b2/x"):
        await store.put_bytes(key, b"x")
    await raw.plant("voice/a1/.audio.mp3.deadbeef.tmp", b"half")  # a crashed write
    await store.delete_prefix("voice/a1/")
    assert await raw.files() == ["voice/a10/audio.ogg", "voice/b2/x"]
    if isinstance(store, LocalBlobStore):
        assert not (store.root / "voice/a1").exists()


async def test_delete_prefix_without_slash_is_a_string_prefix(store: BlobStore) -> None:
    for key in ("voice/a1/original", "voice/a10/audio.ogg", "voice/b2/x"):
        await store.put_bytes(key, b"x")
    await store.delete_prefix("voice/a1")
    assert await store.list_keys("") == ["voice/b2/x"]


async def test_delete_prefix_refuses_to_empty_the_store(store: BlobStore) -> None:
    await store.put_bytes(KEY, b"x")
    with pytest.raises(ValueError):
        await store.delete_prefix("")
    assert await store.size(KEY) == 1


async def test_list_keys_by_prefix_hides_temp_files(store: BlobStore, raw: Raw) -> None:
    for key in ("voice/a1/original", "voice/a1/audio.ogg", "voice/a10/audio.ogg", "other/k"):
        await store.put_bytes(key, b"x")
    await raw.plant("voice/a1/.original.cafe.tmp", b"half")
    assert await store.list_keys("voice/a1/") == ["voice/a1/audio.ogg", "voice/a1/original"]
    assert await store.list_keys("voice/a1") == [
        "voice/a1/audio.ogg",
        "voice/a1/original",
        "voice/a10/audio.ogg",
    ]
    assert await store.list_keys("nothing/") == []
    assert len(await store.list_keys("")) == 4


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "voice/../../outside",
        "voice/..",
        "Voice/Upper",
        "voice//double",
        "voice/trailing/",
        "voice/.hidden",
        "-dash-first",
        "voice/with space",
        "voice/ünïcode",
        "voice/a\x00b",
        "voice/" + "x" * 600,
    ],
)
async def test_malformed_keys_are_refused(store: BlobStore, raw: Raw, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        await store.put_file(key, Path("/dev/null"))
    with pytest.raises(ValueError):
        await store.append(key, b"x")
    with pytest.raises(ValueError):
        await store.size(key)
    with pytest.raises(ValueError):
        store.read_range(key)
    with pytest.raises(ValueError):
        await store.fetch_to(key, Path("/dev/null"))
    with pytest.raises(ValueError):
        await store.delete(key)
    assert await raw.files() == []


@pytest.mark.parametrize("key", ["voice/abc-123/original", "voice/0f/audio.ogg", "a", "x_y.z"])
async def test_well_formed_keys_are_accepted(store: BlobStore, key: str) -> None:
    await store.put_bytes(key, b"ok")
    assert await store.size(key) == 2


def test_default_store_is_a_directory_in_the_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path)
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "blobs").resolve()


def test_file_url_names_the_store_directory(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path}/elsewhere", tmp_path / "data")
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize("url", ["file://relative/path", "ftp://host/x", "/just/a/path"])
def test_unsupported_storage_urls_are_refused_clearly(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="file:///"):
        open_blob_store(url, tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "s3://bucket/prefix",
        "s3:///no-bucket",
        "s3://bucket?endpoint=http://127.0.0.1:1&colour=blue",
        "s3://bucket?endpoint=",
        "s3://bucket?region=a&region=b",
        "s3://bucket?access_key=only-half",
    ],
)
def test_malformed_s3_urls_are_refused_clearly(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match=re.escape("s3://BUCKET?endpoint=")):
        open_blob_store(url, tmp_path)


def test_boto3_is_imported_only_for_an_s3_store() -> None:
    code = "import sys, app.storage.blobs; sys.exit('boto3' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# The S3 store's own parts: the storage URL, appended parts, multipart uploads, presigned URLs.


async def test_s3_url_opens_a_store_and_creates_its_bucket(
    s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = f"made-{uuid.uuid4().hex}"
    url = s3_server.storage_url(bucket)
    first = await asyncio.to_thread(open_blob_store, url, tmp_path)
    again = await asyncio.to_thread(open_blob_store, url, tmp_path)  # the bucket exists now
    try:
        assert isinstance(first, S3BlobStore) and first.bucket == bucket
        await first.put_bytes(KEY, b"shared")
        assert await read_all(again, KEY) == b"shared"
        await first.delete(KEY)
        await asyncio.to_thread(first.client.delete_bucket, Bucket=bucket)
    finally:
        first.close()
        again.close()


async def test_s3_url_with_wrong_credentials_fails_at_open(
    s3_server: S3Server, tmp_path: Path
) -> None:
    url = s3_server.storage_url("never-made").replace(s3_server.secret_key, "wrong")
    with pytest.raises(ClientError):
        await asyncio.to_thread(open_blob_store, url, tmp_path)


async def test_appends_are_parts_that_read_as_one_blob(
    s3_store: S3BlobStore, tmp_path: Path
) -> None:
    sizes = [1, 700, CHUNK_SIZE - 1, 2, CHUNK_SIZE + 5, 0, 333] * 4
    data = b""
    for n in sizes:
        chunk = os.urandom(n)
        assert await s3_store.append(KEY, chunk) == len(data) + n
        data += chunk
    assert await s3_store.size(KEY) == len(data)
    parts = await s3_store.list_keys("")
    assert parts == [KEY], "part objects are not keys"
    objects = await _objects(s3_store)
    assert all(o.startswith(f".parts/{KEY}/") for o in objects) and len(objects) >= 20
    assert objects == sorted(objects) and objects[0] == f".parts/{KEY}/" + "0" * 20

    boundaries = [0, 1, 700, 701, CHUNK_SIZE + 700, len(data) // 2, len(data) - 1]
    for start in boundaries:
        for end in (start, start + 1, start + 2 * CHUNK_SIZE, None):
            chunks = [c async for c in s3_store.read_range(KEY, start, end)]
            assert all(0 < len(c) <= CHUNK_SIZE for c in chunks)
            stop = len(data) if end is None else end + 1
            assert b"".join(chunks) == data[start:stop], (start, end)
    assert await read_all(s3_store, KEY, len(data), None) == b""

    dst = tmp_path / "live.webm"
    await s3_store.fetch_to(KEY, dst)
    assert dst.read_bytes() == data


async def test_empty_blobs_put_or_appended(s3_store: S3BlobStore, tmp_path: Path) -> None:
    await s3_store.put_bytes("voice/put/original", b"")
    await s3_store.fetch_to("voice/put/original", tmp_path / "put")
    assert (tmp_path / "put").read_bytes() == b""
    assert await s3_store.append(KEY, b"") == 0
    assert await s3_store.size(KEY) == 0
    assert await s3_store.list_keys("voice/") == [KEY, "voice/put/original"]
    assert await read_all(s3_store, KEY) == b""
    await s3_store.fetch_to(KEY, tmp_path / "appended")
    assert (tmp_path / "appended").read_bytes() == b""
    assert await s3_store.append(KEY, b"abc") == 3
    assert await read_all(s3_store, KEY) == b"abc"


async def test_append_after_put_keeps_the_object_and_adds_parts(
    s3_store: S3BlobStore, tmp_path: Path
) -> None:
    await s3_store.put_bytes(KEY, b"head")
    await s3_store.append(KEY, b"-one")
    await s3_store.append(KEY, b"-two")
    assert await _objects(s3_store) == [
        f".parts/{KEY}/00000000000000000004",
        f".parts/{KEY}/00000000000000000008",
        KEY,
    ]
    assert await read_all(s3_store, KEY, 2, 9) == b"ad-one-t"
    dst = tmp_path / "joined"
    await s3_store.fetch_to(KEY, dst)
    assert dst.read_bytes() == b"head-one-two"


@pytest.mark.parametrize("how", ["bytes", "file"])
async def test_put_replaces_an_appended_blob_and_its_parts(
    s3_store: S3BlobStore, tmp_path: Path, how: str
) -> None:
    for chunk in (b"live-", b"chunks-", b"here"):
        await s3_store.append(KEY, chunk)
    if how == "bytes":
        await s3_store.put_bytes(KEY, b"final")
    else:
        (tmp_path / "final").write_bytes(b"final")
        await s3_store.put_file(KEY, tmp_path / "final")
    assert await _objects(s3_store) == [KEY]
    assert await s3_store.size(KEY) == 5
    assert await read_all(s3_store, KEY) == b"final"
    assert await s3_store.append(KEY, b"!") == 6


async def test_failed_put_keeps_the_appended_blob(s3_store: S3BlobStore, tmp_path: Path) -> None:
    await s3_store.append(KEY, b"live")
    with pytest.raises(FileNotFoundError):
        await s3_store.put_file(KEY, tmp_path / "missing")
    assert await read_all(s3_store, KEY) == b"live"


async def test_delete_removes_the_parts_too(s3_store: S3BlobStore) -> None:
    await s3_store.put_bytes(KEY, b"head")
    await s3_store.append(KEY, b"tail")
    await s3_store.put_bytes("voice/other/original", b"x")
    await s3_store.delete(KEY)
    assert await s3_store.size(KEY) is None
    assert await _objects(s3_store) == ["voice/other/original"]
    with pytest.raises(FileNotFoundError):
        await read_all(s3_store, KEY)


async def test_delete_prefix_removes_parts_of_matching_keys_only(s3_store: S3BlobStore) -> None:
    for key in ("voice/a1/original", "voice/a10/original", "voice/b2/original"):
        await s3_store.append(key, b"x")
        await s3_store.append(key, b"y")
    await s3_store.put_bytes("voice/a1/audio.ogg", b"z")
    await s3_store.delete_prefix("voice/a1/")
    assert await s3_store.list_keys("") == ["voice/a10/original", "voice/b2/original"]
    await s3_store.delete_prefix("voice/a")
    assert await _objects(s3_store) == [
        ".parts/voice/b2/original/00000000000000000000",
        ".parts/voice/b2/original/00000000000000000001",
    ]


async def test_list_keys_lists_appended_and_put_blobs_once(s3_store: S3BlobStore) -> None:
    await s3_store.append("voice/a1/original", b"live")
    await s3_store.put_bytes("voice/a1/audio.ogg", b"x")
    await s3_store.put_bytes("voice/a10/original", b"x")
    await s3_store.append("voice/a10/original", b"more")
    await s3_store.append("other/k", b"x")
    assert await s3_store.list_keys("voice/a1/") == ["voice/a1/audio.ogg", "voice/a1/original"]
    assert await s3_store.list_keys("voice/a1") == [
        "voice/a1/audio.ogg",
        "voice/a1/original",
        "voice/a10/original",
    ]
    assert await s3_store.list_keys("voice/a1/original/") == []
    assert await s3_store.list_keys("") == [
        "other/k",
        "voice/a1/audio.ogg",
        "voice/a1/original",
        "voice/a10/original",
    ]


async def test_large_file_is_uploaded_in_parts_and_downloaded_whole(
    s3_store: S3BlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "long-memo.wav"
    await asyncio.to_thread(_write_random, src, 20 * 1024 * 1024)
    size = src.stat().st_size
    assert size > s3_store.transfer.multipart_threshold
    assert await s3_store.put_file(KEY, src) == size
    head = await asyncio.to_thread(s3_store.client.head_object, Bucket=s3_store.bucket, Key=KEY)
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3"), "a multipart upload of three 8 MB parts"

    dst = tmp_path / "fetched.wav"
    await s3_store.fetch_to(KEY, dst)
    assert _sha256(dst) == _sha256(src)
    digest = hashlib.sha256()
    async for chunk in s3_store.read_range(KEY):
        assert len(chunk) <= CHUNK_SIZE
        digest.update(chunk)
    assert digest.hexdigest() == _sha256(src)
    tail = await read_all(s3_store, KEY, size - 10)
    assert tail == (await asyncio.to_thread(src.read_bytes))[-10:]


async def test_presigned_get_serves_the_blob_and_refuses_tampering(
    s3_store: S3BlobStore,
) -> None:
    await s3_store.put_bytes(KEY, b"memo bytes")
    await s3_store.put_bytes("voice/other/original", b"secret")
    url = await s3_store.presigned_get(KEY, 60)
    async with httpx.AsyncClient() as http:
        ok = await http.get(url)
        assert ok.status_code == 200 and ok.content == b"memo bytes"
        ranged = await http.get(url, headers={"Range": "bytes=5-"})
        assert ranged.status_code == 206 and ranged.content == b"bytes"

        parts = httpx.URL(url)
        signature = parts.params["X-Amz-Signature"]
        forged = "0" * len(signature) if signature[0] != "0" else "1" * len(signature)
        for tampered in (
            parts.copy_set_param("X-Amz-Signature", forged),
            parts.copy_with(path=parts.path.replace(KEY, "voice/other/original")),
            parts.copy_set_param("X-Amz-Expires", "604800"),
        ):
            refused = await http.get(tampered)
            assert refused.status_code == 403, tampered
            assert b"secret" not in refused.content


async def test_presigned_get_checks_the_key(s3_store: S3BlobStore) -> None:
    with pytest.raises(ValueError):
        await s3_store.presigned_get("../etc/passwd", 60)


async def _objects(store: S3BlobStore) -> list[str]:
    return await asyncio.to_thread(lambda: sorted(o["Key"] for o in store._objects("")))


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // (1024 * 1024)):
            f.write(os.urandom(1024 * 1024))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


async def test_inventory_lists_each_blob_once_with_its_whole_size_and_age(
    store: BlobStore,
) -> None:
    """What `earshot fsck` compares with the database: appended parts count as their blob."""
    await store.put_bytes("voice/a/original", b"12345")
    await store.append("voice/b/original", b"abc")
    await store.append("voice/b/original", b"defg")
    await store.put_bytes("other/x", b"1")
    listed = await store.inventory("voice/")
    assert [(b.key, b.size, b.temp) for b in listed] == [
        ("voice/a/original", 5, False),
        ("voice/b/original", 7, False),
    ]
    assert all(b.modified is not None for b in listed)
    assert [b.key for b in await store.inventory()] == [
        "other/x",
        "voice/a/original",
        "voice/b/original",
    ]


async def test_only_a_store_that_can_presign_says_so(store: BlobStore) -> None:
    await store.put_bytes("voice/a/audio.ogg", b"OggS")
    assert store.can_presign == isinstance(store, S3BlobStore)
    if store.can_presign:
        assert (await store.presigned_get("voice/a/audio.ogg", 60)).startswith("http")
    else:
        with pytest.raises(NotImplementedError):
            await store.presigned_get("voice/a/audio.ogg", 60)
