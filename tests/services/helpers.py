"""Uploading memos and waiting for them to be processed."""

import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Api, Person


async def upload(api: Api, who: Person, gid: str, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as f:
        return await api.call(
            who, "POST", f"/groups/{gid}/voice", files={"file": (path.name, f)}, data=fields
        )


async def processed(app: Any, api: Api, who: Person, message_id: str) -> dict[str, Any]:
    """The message once the ingest queue has drained."""
    await app.state.runtime.ingest.idle()
    return await api.ok(who, "GET", f"/messages/{message_id}")


def ffprobe_stream(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,channels,sample_rate:format=format_name", "-of",
         "default=noprint_wrappers=1", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.strip().splitlines())


def blob_files(app: Any) -> list[str]:
    root = app.state.runtime.blobs.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def work_files(app: Any) -> list[Path]:
    return [p for p in app.state.runtime.settings.work_dir.rglob("*") if p.is_file()]
