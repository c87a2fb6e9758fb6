"""Receiving a multipart upload as a stream: the file part goes to disk chunk by chunk
with a size cap, so a huge or endless body is cut off early and never held in memory.

Everything that is not the file is capped too: at most MAX_FIELDS other parts, each
value at most FIELD_LIMIT bytes, and at most MAX_FIELDS_BYTES of everything around the
file (field values, part headers, boundaries) in all; past any cap the body is
refused with 413 before more of it is read. (python-multipart itself allows a part
at most 8 headers of about 4 KiB.)
"""

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.errors import ApiError

FIELD_LIMIT = 1024
MAX_FIELDS = 16
MAX_FIELDS_BYTES = 64 * 1024
_SLACK = MAX_FIELDS_BYTES  # room for multipart headers and small fields around the file


def openapi_upload(file_field: str = "file", **fields: dict[str, Any]) -> dict[str, Any]:
    """The `openapi_extra` of a route that takes its body through `receive_upload`:
    a multipart/form-data body with a required file part and the optional `fields`."""
    properties = {file_field: {"type": "string", "format": "binary"}, **fields}
    schema = {"type": "object", "required": [file_field], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


def too_many_fields() -> ApiError:
    return ApiError(
        f"Too much besides the file: at most {MAX_FIELDS} other fields and "
        f"{MAX_FIELDS_BYTES // 1024} KiB of them.",
        code="too_large",
        status=413,
        details={"max_fields": MAX_FIELDS, "max_fields_bytes": MAX_FIELDS_BYTES},
    )


def too_large(limit: int) -> ApiError:
    return ApiError(
        f"That file is too large; the limit is {limit // (1024 * 1024)} MB.",
        code="too_large",
        status=413,
        details={"max_bytes": limit},
    )


def _bad(message: str) -> ApiError:
    return ApiError(message, code="invalid_upload", status=400)


@dataclass
class Upload:
    """What the client sent: the file on disk (deleted by `discard`) and the text fields."""

    path: Path | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path:
            self.path.unlink(missing_ok=True)


class _Receiver:
    def __init__(self, work_dir: Path, max_bytes: int, file_field: str) -> None:
        self.upload = Upload()
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.work_dir = work_dir
        self._file: int | None = None
        self._pending: list[bytes] = []
        self._name: str | None = None
        self._is_file = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._value = bytearray()
        self._fields = 0

    # Parser callbacks (synchronous; file writes are batched to a thread afterwards).
    def on_part_begin(self) -> None:
        self._headers, self._name, self._is_file = {}, None, False
        self._value.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        if name == self.file_field:
            if self.upload.path is not None:
                raise _bad("Send one file, not several.")
            fd, path = tempfile.mkstemp(dir=self.work_dir, prefix="upload-")
            self._file, self.upload.path, self._is_file = fd, Path(path), True
        else:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                raise too_many_fields()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.upload.size += end - start
            if self.upload.size > self.max_bytes:
                raise too_large(self.max_bytes)
            self._pending.append(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > FIELD_LIMIT:
                raise _bad(f"The field {self._name!r} is too long.")

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def flush(self) -> None:
        if self._file is not None and self._pending:
            os.write(self._file, b"".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        if self._file is not None:
            os.fsync(self._file)
            os.close(self._file)
            self._file = None


def _no_audio() -> ApiError:
    return ApiError("The file is empty: there is no audio in it.", code="not_audio", status=415)


async def receive_upload(
    request: Request,
    work_dir: Path,
    max_bytes: int,
    file_field: str = "file",
    *,
    what: str = "memo",
    empty: Callable[[], ApiError] = _no_audio,
) -> Upload:
    """Stream a multipart/form-data body; raises 413 past `max_bytes` of file data, and
    `empty()` for an empty file. `what` the upload is, for the error messages."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise _bad(f"Send the {what} as multipart/form-data with a {file_field!r} part.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + _SLACK:
        raise too_large(max_bytes)
    receiver = _Receiver(work_dir, max_bytes, file_field)
    callbacks = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            parser.write(chunk)
            if received - receiver.upload.size > MAX_FIELDS_BYTES:
                raise too_many_fields()
            await asyncio.to_thread(receiver.flush)
        parser.finalize()
        await asyncio.to_thread(receiver.close)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            receiver.close()
        receiver.upload.discard()
        if isinstance(exc, ApiError):
            raise
        if isinstance(exc, ClientDisconnect):
            raise _bad("The upload was interrupted.") from None
        if isinstance(exc, Exception):
            raise _bad("The upload is not valid multipart/form-data.") from None
        raise
    if receiver.upload.path is None:
        raise ApiError(
            f"The {file_field!r} part is missing.",
            code="validation_error",
            status=422,
            details={"errors": [{"field": file_field, "message": "Field required"}]},
        )
    if receiver.upload.size == 0:
        receiver.upload.discard()
        raise empty()
    return receiver.upload
