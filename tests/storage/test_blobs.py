"""The local blob store: atomic writes, growing live recordings, ranged reads, deletes, keys."""

import os
from pathlib import Path

import pytest

from app.storage.blobs import CHUNK_SIZE, BlobStore, LocalBlobStore, open_blob_store

KEY = "voice/0d2c6a3e-1111-4a5b-9c1d-2e3f4a5b6c7d/original"


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read_range(key, start, end)])


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def test_put_bytes_stores_and_reads_back(store: LocalBlobStore) -> None:
    assert await store.put_bytes(KEY, b"hello memo") == 10
    assert await store.size(KEY) == 10
    assert await read_all(store, KEY) == b"hello memo"


async def test_put_file_copies_and_leaves_the_source(store: LocalBlobStore, tmp_path: Path) -> None:
    src = tmp_path / "upload.bin"
    src.write_bytes(os.urandom(300_000))
    assert await store.put_file(KEY, src) == 300_000
    assert src.exists()
    assert await read_all(store, KEY) == src.read_bytes()


async def test_put_replaces_a_blob_whole_and_leaves_no_temp_files(store: LocalBlobStore) -> None:
    await store.put_bytes(KEY, b"old" * 1000)
    await store.put_bytes(KEY, b"new")
    assert await read_all(store, KEY) == b"new"
    assert files_under(store.root) == [KEY]


async def test_reader_of_the_old_blob_is_not_disturbed_by_a_replacement(
    store: LocalBlobStore,
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
    store: LocalBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await store.put_file(KEY, tmp_path / "missing.bin")
    assert await store.size(KEY) is None
    assert files_under(store.root) == []


async def test_append_grows_a_live_recording_and_returns_its_size(store: LocalBlobStore) -> None:
    sizes = [await store.append(KEY, chunk) for chunk in (b"one", b"", b"two-", b"three")]
    assert sizes == [3, 3, 7, 12]
    assert await read_all(store, KEY) == b"onetwo-three"


async def test_append_continues_a_blob_that_was_put(store: LocalBlobStore) -> None:
    await store.put_bytes(KEY, b"head")
    assert await store.append(KEY, b"+tail") == 9
    assert await read_all(store, KEY) == b"head+tail"


async def test_size_of_a_missing_blob_is_none(store: LocalBlobStore) -> None:
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
    store: LocalBlobStore, start: int, end: int | None, expected: bytes
) -> None:
    await store.put_bytes(KEY, b"0123456789")
    assert await read_all(store, KEY, start, end) == expected


async def test_range_read_streams_in_bounded_chunks(store: LocalBlobStore) -> None:
    data = os.urandom(5 * CHUNK_SIZE + 123)
    await store.put_bytes(KEY, data)
    chunks = [chunk async for chunk in store.read_range(KEY, 100, len(data) - 2)]
    assert len(chunks) > 1 and all(len(c) <= CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data[100:-1]


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4)])
async def test_invalid_range_is_refused(store: LocalBlobStore, start: int, end: int | None) -> None:
    await store.put_bytes(KEY, b"0123456789")
    with pytest.raises(ValueError):
        store.read_range(KEY, start, end)


async def test_range_read_of_a_missing_blob_raises_not_found(store: LocalBlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        await read_all(store, KEY)


async def test_fetch_to_copies_the_blob_to_a_local_path(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    await store.put_bytes(KEY, b"audio bytes")
    dst = tmp_path / "work" / "original"
    dst.parent.mkdir()
    await store.fetch_to(KEY, dst)
    assert dst.read_bytes() == b"audio bytes"
    with pytest.raises(FileNotFoundError):
        await store.fetch_to("voice/missing/original", tmp_path / "other")


async def test_delete_removes_a_blob_and_ignores_a_missing_one(store: LocalBlobStore) -> None:
    await store.put_bytes(KEY, b"x")
    await store.delete(KEY)
    await store.delete(KEY)
    assert await store.size(KEY) is None


async def test_delete_prefix_removes_one_message_and_keeps_the_others(
    store: LocalBlobStore,
) -> None:
    for key in ("voice/a1/original", "voice/a1/audio.ogg", "voice/a10/audio.ogg", "voice/b2/x"):
        await store.put_bytes(key, b"x")
    (store.root / "voice/a1/.audio.mp3.deadbeef.tmp").write_bytes(b"half")  # a crashed write
    await store.delete_prefix("voice/a1/")
    assert files_under(store.root) == ["voice/a10/audio.ogg", "voice/b2/x"]
    assert not (store.root / "voice/a1").exists()


async def test_delete_prefix_without_slash_is_a_string_prefix(store: LocalBlobStore) -> None:
    for key in ("voice/a1/original", "voice/a10/audio.ogg", "voice/b2/x"):
        await store.put_bytes(key, b"x")
    await store.delete_prefix("voice/a1")
    assert await store.list_keys("") == ["voice/b2/x"]


async def test_delete_prefix_refuses_to_empty_the_store(store: LocalBlobStore) -> None:
    await store.put_bytes(KEY, b"x")
    with pytest.raises(ValueError):
        await store.delete_prefix("")
    assert await store.size(KEY) == 1


async def test_list_keys_by_prefix_hides_temp_files(store: LocalBlobStore) -> None:
    for key in ("voice/a1/original", "voice/a1/audio.ogg", "voice/a10/audio.ogg", "other/k"):
        await store.put_bytes(key, b"x")
    (store.root / "voice/a1/.original.cafe.tmp").write_bytes(b"half")
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
async def test_malformed_keys_are_refused(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        await store.size(key)
    assert files_under(store.root) == []


@pytest.mark.parametrize("key", ["voice/abc-123/original", "voice/0f/audio.ogg", "a", "x_y.z"])
async def test_well_formed_keys_are_accepted(store: LocalBlobStore, key: str) -> None:
    await store.put_bytes(key, b"ok")
    assert await store.size(key) == 2


def test_default_store_is_a_directory_in_the_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path)
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "blobs").resolve()


def test_file_url_names_the_store_directory(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path}/elsewhere", tmp_path / "data")
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize(
    "url", ["s3://bucket/prefix", "file://relative/path", "ftp://host/x", "/just/a/path"]
)
def test_unsupported_storage_urls_are_refused_clearly(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="file:///"):
        open_blob_store(url, tmp_path)
