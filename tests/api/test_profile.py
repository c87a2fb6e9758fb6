"""Profiles: a name and a bio anyone who sees you reads, and an avatar made from a real
photo, cleaned of its metadata, bounded by what decoding it costs, and gone with you."""

import io
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.config import Settings
from app.errors import ApiError
from app.models import User
from app.services import avatars, exports
from app.services.context import transaction
from tests.api.test_delete_account import delete_me
from tests.api.test_export import download, exported, ready_export
from tests.erasure import on_disk, unique_word
from tests.helpers import Api, Person, assert_error, running
from tests.s3server import S3Server, s3_server  # noqa: F401  (a fixture)
from tests.services.helpers import blob_files

BLUE, RED = (0, 0, 255), (255, 0, 0)


# Images, made here with Pillow.


def photo(fmt: str = "JPEG", *, orientation: int | None = None, gps: bool = False) -> bytes:
    """A 400x200 picture, blue on the left half and red on the right, with EXIF."""
    image = Image.new("RGB", (400, 200), RED)
    image.paste(BLUE, (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:11:30 08:15:00"  # DateTime
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        where = exif.get_ifd(0x8825)
        where[1], where[2] = "N", (40.0, 26.0, 46.0)
        where[3], where[4] = "W", (79.0, 58.0, 56.0)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def transparent_png() -> bytes:
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (100, 100, 200, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def heic() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (320, 240), BLUE).save(out, "HEIF")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header of `width` x `height` grey pixels whose first rows of zeros
    are squeezed by zlib into a few kilobytes: a decompression bomb."""
    rows = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    data = b"".join(rows.compress(row) for _ in range(50)) + rows.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims `width` x `height`."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), BLUE).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def riff_chunks(webp: bytes) -> list[str]:
    """The chunk names of a WebP file (EXIF, XMP and ICCP would be metadata)."""
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    names, at = [], 12
    while at + 8 <= len(webp):
        size = struct.unpack("<I", webp[at + 4 : at + 8])[0]
        names.append(webp[at : at + 4].decode())
        at += 8 + size + (size & 1)
    return names


# Calls.


async def put_avatar(api: Api, who: Person, data: bytes, name: str = "me.jpg") -> Any:
    return await api.call(who, "PUT", "/me/avatar", files={"file": (name, data)})


async def set_avatar(api: Api, who: Person, data: bytes) -> dict[str, Any]:
    r = await put_avatar(api, who, data)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def fetch(api: Api, url: str) -> Any:
    return await api.client.get(url)  # no Authorization: an <img> sends none


def avatar_blobs(app: Any) -> list[str]:
    return [f for f in blob_files(app) if f.startswith("avatars/")]


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# The pipeline.


async def test_a_phone_photo_becomes_an_upright_256px_webp_without_exif_or_location(
    app: Any, api: Api
) -> None:
    amy = await api.register("amy")
    # Orientation 6: the camera was turned; shown upright, the blue half is on top.
    me = await set_avatar(api, amy, photo(orientation=6, gps=True))

    assert me["avatar_url"] == f"/api/v1/avatars/{amy.id}/{me['avatar_url'].rsplit('/', 1)[1]}"
    r = await fetch(api, me["avatar_url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/webp"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in r.headers["cache-control"]
    image = decoded(r.content)
    assert (image.format, image.size) == ("WEBP", (256, 256))
    assert riff_chunks(r.content)[0] in ("VP8 ", "VP8L", "VP8X")
    assert not {"EXIF", "XMP ", "ICCP"} & set(riff_chunks(r.content))
    assert not image.getexif() and not {"exif", "xmp", "icc_profile"} & set(image.info)
    for trace in (b"Exif", b"PhoneMaker", b"2026:11:30"):
        assert trace not in r.content
    # Upright: blue above red (turned the other way, or not at all, they would not be).
    top_right, bottom_left = (
        image.convert("RGB").getpixel((235, 20)),
        image.convert("RGB").getpixel((20, 235)),
    )
    assert _near(top_right, BLUE) and _near(bottom_left, RED), (top_right, bottom_left)
    assert avatar_blobs(app) == [f"avatars/{amy.id}/{me['avatar_url'].rsplit('/', 1)[1]}.webp"]


def _near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(pixel, colour, strict=True))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("data", "mode"),
    [
        pytest.param(transparent_png, "RGBA", id="png-with-transparency"),
        pytest.param(lambda: photo("WEBP"), "RGB", id="webp"),
        pytest.param(heic, "RGB", id="heic"),
    ],
)
async def test_png_webp_and_heic_are_taken_too(api: Api, data: Any, mode: str) -> None:
    amy = await api.register("amy")
    me = await set_avatar(api, amy, data())
    image = decoded((await fetch(api, me["avatar_url"])).content)
    assert (image.format, image.size, image.mode) == ("WEBP", (256, 256), mode)
    if mode == "RGBA":  # the transparent corners stay transparent
        assert image.getpixel((5, 5))[3] == 0 and image.getpixel((128, 128))[3] == 255


# Refusals: a clear 4xx, and nothing changes.


async def _refused_changes_nothing(
    app: Any, api: Api, who: Person, r: Any, status: int, code: str, before: dict[str, Any]
) -> dict[str, Any]:
    error = assert_error(r, status, code)
    assert await api.ok(who, "GET", "/me") == before
    assert len(avatar_blobs(app)) == (1 if before["avatar_url"] else 0)
    return error


NOT_AN_IMAGE, TOO_MANY_PIXELS = (415, "unsupported_image"), (422, "image_too_large")


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        pytest.param(lambda: b"just some text, not a picture" * 10, NOT_AN_IMAGE, id="text"),
        pytest.param(lambda: photo()[:600], NOT_AN_IMAGE, id="truncated-jpeg"),
        pytest.param(lambda: photo("GIF"), NOT_AN_IMAGE, id="gif-is-not-taken"),
        pytest.param(lambda: b"", NOT_AN_IMAGE, id="empty"),
        pytest.param(lambda: png_claiming(50_000, 50_000), TOO_MANY_PIXELS, id="png-bomb"),
        pytest.param(lambda: png_claiming(5_000, 5_000), TOO_MANY_PIXELS, id="png-25-megapixels"),
        pytest.param(lambda: jpeg_claiming(65_000, 65_000), TOO_MANY_PIXELS, id="jpeg-header"),
    ],
)
async def test_what_is_not_a_sane_image_is_refused_and_the_old_avatar_stays(
    app: Any, api: Api, data: Any, refusal: tuple[int, str]
) -> None:
    status, code = refusal
    amy = await api.register("amy")
    before = await set_avatar(api, amy, photo())
    body = data()
    assert len(body) < 64 * 1024 or code != "image_too_large"  # bombs are small files
    error = await _refused_changes_nothing(
        app, api, amy, await put_avatar(api, amy, body), status, code, before
    )
    if code == "image_too_large":
        assert error["details"]["max_pixels"] == 24_000_000
    assert (await fetch(api, before["avatar_url"])).status_code == 200
    assert not list(app.state.runtime.settings.work_dir.glob("upload-*"))


async def _endless(total: int, sent: list[int]) -> AsyncIterator[bytes]:
    """A multipart body with a `total`-byte file, counting what the server pulled."""
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'
    sent[0] += len(head)
    yield head
    chunk = b"\xff" * 65536
    while sent[0] < total:
        sent[0] += len(chunk)
        yield chunk
    yield b"\r\n--b--\r\n"


async def test_an_oversize_file_is_refused_with_413_before_it_is_read_whole(
    app: Any, api: Api
) -> None:
    amy = await api.register("amy")
    before = await api.ok(amy, "GET", "/me")
    limit = app.state.runtime.settings.avatar_max_bytes
    assert limit == 5 * 1024 * 1024
    r = await put_avatar(api, amy, b"\xff" * (limit + 1))
    error = await _refused_changes_nothing(app, api, amy, r, 413, "too_large", before)
    assert error["details"]["max_bytes"] == limit

    sent = [0]  # no Content-Length: the server must stop reading by itself
    r = await api.call(
        amy,
        "PUT",
        "/me/avatar",
        content=_endless(50 * limit, sent),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    await _refused_changes_nothing(app, api, amy, r, 413, "too_large", before)
    assert sent[0] < limit + 2 * 1024 * 1024  # stopped near the limit, not at 250 MB


async def test_an_upload_needs_the_file_field_in_multipart(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    before = await api.ok(amy, "GET", "/me")
    r = await api.call(
        amy, "PUT", "/me/avatar", content=photo(), headers={"Content-Type": "image/jpeg"}
    )
    await _refused_changes_nothing(app, api, amy, r, 400, "invalid_upload", before)
    r = await api.call(amy, "PUT", "/me/avatar", files={"photo": ("me.jpg", b"tiny")})
    await _refused_changes_nothing(app, api, amy, r, 422, "validation_error", before)
    r = await api.call(amy, "PUT", "/me/avatar", files={"photo": ("me.jpg", photo())})
    await _refused_changes_nothing(app, api, amy, r, 400, "invalid_upload", before)
    assert_error(await api.call(None, "PUT", "/me/avatar", files={"file": ("a.jpg", photo())}), 401)


# Replacing, removing, seeing.


async def test_a_new_avatar_has_a_new_url_and_the_old_one_is_deleted(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    first = (await set_avatar(api, amy, photo()))["avatar_url"]
    second = (await set_avatar(api, amy, transparent_png()))["avatar_url"]
    assert first != second
    assert avatar_blobs(app) == [f"avatars/{amy.id}/{second.rsplit('/', 1)[1]}.webp"]
    assert_error(await fetch(api, first), 404, "avatar_not_found")
    assert (await fetch(api, second)).status_code == 200


async def test_removing_the_avatar_deletes_it(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    url = (await set_avatar(api, amy, photo()))["avatar_url"]
    r = await api.call(amy, "DELETE", "/me/avatar")
    assert r.status_code == 204, r.text
    assert (await api.ok(amy, "GET", "/me"))["avatar_url"] is None
    assert avatar_blobs(app) == []
    assert_error(await fetch(api, url), 404, "avatar_not_found")
    assert_error(await api.call(amy, "DELETE", "/me/avatar"), 404, "avatar_not_found")


async def test_avatar_and_bio_are_on_the_user_everyone_who_sees_you_reads(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.ok(ben, "PATCH", "/me", json={"bio": "Math coach, Pine Hill.\nAsk me about tasks."})
    url = (await set_avatar(api, ben, photo()))["avatar_url"]
    await api.post(ben, gid, "hello")

    members = (await api.ok(amy, "GET", f"/groups/{gid}/members"))["members"]
    seen = next(m["user"] for m in members if m["user"]["id"] == ben.id)
    assert seen["avatar_url"] == url
    assert seen["bio"] == "Math coach, Pine Hill.\nAsk me about tasks."
    assert "email" not in seen and "who_can_add_me" not in seen
    amys = next(m["user"] for m in members if m["user"]["id"] == amy.id)
    assert (amys["avatar_url"], amys["bio"]) == (None, "")
    messages = (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"]
    assert messages[-1]["sender"]["avatar_url"] == url


async def test_a_wrong_or_made_up_avatar_url_finds_nothing(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    url = (await set_avatar(api, amy, photo()))["avatar_url"]
    avatar_id = url.rsplit("/", 1)[1]
    assert_error(await fetch(api, f"/api/v1/avatars/{ben.id}/{avatar_id}"), 404, "avatar_not_found")
    assert_error(await fetch(api, f"/api/v1/avatars/{amy.id}/{'0' * 32}"), 404, "avatar_not_found")
    assert (await fetch(api, f"/api/v1/avatars/{amy.id}/..%2F..%2Fsecret")).status_code in (
        404,
        422,
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the store is the subject
async def test_avatars_live_in_an_s3_store_too(
    settings: Settings,
    s3_server: S3Server,  # noqa: F811
) -> None:
    store = s3_server.storage_url(f"avatars-{uuid.uuid4().hex}")
    async with running(settings.model_copy(update={"storage_url": store})) as (app, client):
        api = Api(client)
        amy = await api.register("amy")
        first = (await set_avatar(api, amy, photo(orientation=6, gps=True)))["avatar_url"]
        second = (await set_avatar(api, amy, transparent_png()))["avatar_url"]
        blobs = app.state.runtime.blobs
        assert await blobs.list_keys("avatars/") == [
            f"avatars/{amy.id}/{second.rsplit('/', 1)[1]}.webp"
        ]
        r = await fetch(api, second)
        assert r.status_code == 200 and decoded(r.content).size == (256, 256)
        assert_error(await fetch(api, first), 404, "avatar_not_found")
        assert (await api.call(amy, "DELETE", "/me/avatar")).status_code == 204
        assert await blobs.list_keys("avatars/") == []


# Name and bio.


async def test_name_and_bio_can_be_changed_and_cleared(api: Api) -> None:
    amy = await api.register("amy")
    me = await api.ok(amy, "PATCH", "/me", json={"display_name": "  Amy P.  ", "bio": " Coach "})
    assert (me["display_name"], me["bio"]) == ("Amy P.", "Coach")
    me = await api.ok(amy, "PATCH", "/me", json={"bio": ""})
    assert (me["display_name"], me["bio"]) == ("Amy P.", "")
    me = await api.ok(amy, "PATCH", "/me", json={"bio": None, "display_name": None})
    assert (me["display_name"], me["bio"]) == ("Amy P.", "")


@pytest.mark.parametrize(
    "body",
    [
        {"bio": "x" * 281},
        {"bio": "tab\there"},
        {"bio": "bell\x07"},
        {"bio": "nul\x00"},
        {"bio": "looks \u202eevil"},
        {"bio": 42},
        {"display_name": "   "},
        {"display_name": "x" * 101},
    ],
    ids=["long", "tab", "bell", "nul", "bidi-override", "number", "blank-name", "long-name"],
)
async def test_a_bad_name_or_bio_is_refused_and_changes_nothing(api: Api, body: Any) -> None:
    amy = await api.register("amy")
    before = await api.ok(amy, "PATCH", "/me", json={"bio": "Coach"})
    assert_error(
        await api.call(amy, "PATCH", "/me", json={**body, "who_can_add_me": "shared_group"}), 422
    )
    assert await api.ok(amy, "GET", "/me") == before


# Limits, deletion, export.


async def test_new_avatars_are_rate_limited_per_person(settings: Settings) -> None:
    async with running(settings.model_copy(update={"limit_avatar_uploads_per_hour": 2})) as (
        app,
        client,
    ):
        api = Api(client)
        amy, ben = await api.register("amy"), await api.register("ben")
        await set_avatar(api, amy, photo())
        await set_avatar(api, amy, photo())
        r = await put_avatar(api, amy, photo())
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        await set_avatar(api, ben, photo())  # per person


async def test_a_deleted_account_leaves_no_avatar_or_bio(app: Any, api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.ok(ben, "PATCH", "/me", json={"bio": "Ben's unique bio words"})
    url = (await set_avatar(api, ben, photo()))["avatar_url"]
    assert (
        await api.call(ben, "DELETE", "/me", json={"password": "nope nope nope"})
    ).status_code == 403
    assert (await fetch(api, url)).status_code == 200  # a refusal changed nothing

    assert (await delete_me(api, ben)).status_code == 204
    assert avatar_blobs(app) == []
    assert_error(await fetch(api, url), 404, "avatar_not_found")
    events = await api.events(amy, gid)
    assert "Ben's unique bio words" not in str(events) and url not in str(events)
    assert any(e["data"].get("user", {}).get("id") == ben.id for e in events)


async def test_an_avatar_that_races_the_accounts_deletion_leaves_no_file(
    app: Any, api: Api, tmp_path: Path
) -> None:
    ben = await api.register("ben")
    rt = app.state.runtime
    async with transaction(rt) as ctx:
        account = await ctx.db.get(User, ben.id)  # signed in when the upload began
        await avatars.admit(ctx, account)  # as the route does, before reading the body
    assert account is not None
    assert (await delete_me(api, ben)).status_code == 204
    upload = tmp_path / "late.jpg"
    upload.write_bytes(photo())
    async with transaction(rt) as ctx:
        with pytest.raises(ApiError) as refused:
            await avatars.set_avatar(ctx, account, upload)
    assert (refused.value.status, refused.value.code) == (403, "account_deleted")
    assert avatar_blobs(app) == []


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL: what VACUUM does, see the README
async def test_a_deleted_accounts_bio_leaves_the_sqlite_files(app: Any, api: Api) -> None:
    ben = await api.register("ben")
    word = unique_word()
    await api.ok(ben, "PATCH", "/me", json={"bio": f"Instructional coach, {word} district"})
    assert on_disk(app, word)
    assert (await delete_me(api, ben)).status_code == 204
    await app.state.runtime.scrubber.idle()
    assert on_disk(app, word) == []


async def test_the_export_holds_your_avatar_and_bio(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    await api.ok(amy, "PATCH", "/me", json={"bio": "Science coach"})
    url = (await set_avatar(api, amy, photo(orientation=6)))["avatar_url"]
    r = await api.call(amy, "POST", "/me/export")
    assert r.status_code == 202, r.text
    state = await ready_export(api, amy)
    assert state["status"] == "ready", state
    zf = await download(api, amy, state["size_bytes"])
    profile = exported(zf, "profile.json")
    assert (profile["bio"], profile["avatar_url"]) == ("Science coach", url)
    assert profile["avatar_file"] == exports.AVATAR_FILE
    assert zf.read(exports.AVATAR_FILE) == (await fetch(api, url)).content


async def test_no_avatar_no_avatar_file_in_the_export(api: Api, tmp_path: Path) -> None:
    amy = await api.register("amy")
    await api.ok(amy, "POST", "/me/export")
    state = await ready_export(api, amy)
    zf = await download(api, amy, state["size_bytes"])
    assert exported(zf, "profile.json")["avatar_file"] is None
    assert exports.AVATAR_FILE not in zf.namelist()
