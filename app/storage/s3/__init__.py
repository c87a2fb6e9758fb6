"""Blobs in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, ...).

Layout of one blob `K` (keys as in `app.storage.blobs`):

    K                                  the blob written by `put_file` / `put_bytes`
    .parts/K/00000000000000000000      bytes appended at offset 0
    .parts/K/00000000000000004096      bytes appended at offset 4096, and so on

S3 cannot append, so each `append` stores its chunk durably as its own object,
named by the zero-padded offset at which it starts. The blob's bytes are the
object `K` (if any) followed by its parts in order; `size`, `read_range` and
`fetch_to` all read it that way. A `put_*` replaces the whole blob: it writes `K`,
then removes the parts; `delete` and `delete_prefix` remove parts too. No valid
key has a segment starting with `.`, so part objects never collide with blobs,
and `list_keys` hides them (and any other object whose name is not a valid key).

Limits worth knowing:
- Appends to one key must come from one writer at a time (as the live recorder
  does); each costs a HEAD, a LIST of the parts and a PUT.
- A `put_*` over a blob that has parts is two steps: if the process dies between
  them, stale parts remain after the new bytes until the next `put_*` or
  `delete`. A failed `put_*` leaves the old blob untouched.
- A reader streams a snapshot of the blob's objects: a `put_*` or `delete` of an
  appended blob during the read may end it with FileNotFoundError. (Readers of a
  single object keep reading the old bytes, as with the local store.)
- `presigned_get` serves only the object `K`, so it is for whole blobs written
  by `put_*`, not for blobs grown by `append`.

The store is named by `s3://BUCKET?endpoint=...&region=...&access_key=...&secret_key=...`
(`open_s3`; every parameter optional: AWS and boto3's credential chain by default).
Every boto3 call blocks, so each runs in a worker thread; `close()` ends the client.
"""

from urllib.parse import parse_qs, urlsplit

from app.storage.blobs import S3_FORM
from app.storage.s3.store import PARTS_PREFIX, S3BlobStore

__all__ = ["PARTS_PREFIX", "S3BlobStore", "media_origin", "open_s3"]

_PARAMETERS = {"endpoint", "region", "access_key", "secret_key"}


def _parameters(storage_url: str) -> dict[str, str]:
    """The bucket (as "bucket") and the parameters of an s3:// URL; ValueError if malformed."""
    url = urlsplit(storage_url)
    params = parse_qs(url.query, keep_blank_values=True)
    problem = None
    if not url.netloc or url.path not in ("", "/"):
        problem = "must name just a bucket"
    elif unknown := set(params) - _PARAMETERS:
        problem = f"has unknown parameters {sorted(unknown)}"
    elif any(len(values) != 1 or not values[0] for values in params.values()):
        problem = "repeats a parameter or leaves one empty"
    elif ("access_key" in params) != ("secret_key" in params):
        problem = "needs both access_key and secret_key, or neither"
    if problem:
        raise ValueError(f"storage URL {storage_url!r} {problem}, like {S3_FORM}")
    return {"bucket": url.netloc} | {name: values[0] for name, values in params.items()}


def open_s3(storage_url: str) -> S3BlobStore:
    """The bucket an s3:// URL names, created if it does not exist."""
    one = _parameters(storage_url)
    store = S3BlobStore(
        one["bucket"],
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


def media_origin(storage_url: str) -> str:
    """The origin presigned URLs of this bucket point at, for the CSP's media-src."""
    endpoint = parse_qs(urlsplit(storage_url).query).get("endpoint", [""])[0]
    if not endpoint:
        return "https:"  # AWS: a regional host we do not know in advance
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"
