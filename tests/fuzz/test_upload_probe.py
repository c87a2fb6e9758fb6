"""Fuzzing voice uploads with mutated real recordings, through the real app.

Each client format (tests/audio_samples.py: m4a, Safari's fragmented mp4, WebM and
Ogg Opus, 3gp, mp3, flac, wav) of three seconds of speech is mutated: bits flipped,
truncated, beheaded, runs inserted or deleted, headers overwritten, declared sizes
made huge or zero, files concatenated or repeated, emptied (tests/fuzz/uploads.py).

Whatever is posted, the answer is 202, after which the memo ends `ready` or `failed`
(bounded wait), or an error in the one shape: 413 too_large, 415 not_audio or
422 too_long. Never a 5xx or an unhandled error in the log; a refusal leaves no row,
no event and no blob; after every example the work directory is empty. Every
ffmpeg/ffprobe run is bounded (app/storage/audio.py: a 20 s limit on ffprobe, a
stall timeout and a speed watchdog on ffmpeg), so a file that makes ffmpeg hang
fails the memo instead of hanging the upload.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.models import Message
from tests import audio_samples
from tests.fuzz.common import LogTrap, assert_error_body, fuzz
from tests.fuzz.uploads import Mutant, mutants
from tests.helpers import Api, Person
from tests.services.helpers import blob_files

MAX_UPLOAD_BYTES = 1024 * 1024  # so that a repeated WAV is too large
MAX_DURATION_S = 10  # so that a few repeats of a 3 s recording are too long
REFUSALS = {413: "too_large", 415: "not_audio", 422: "too_long"}
PROCESSING_WAIT_S = 120


@pytest.fixture
def settings(settings: Settings) -> Settings:
    update: dict[str, Any] = {
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "max_duration_s": MAX_DURATION_S,
    }
    if "uploads_per_minute" in Settings.model_fields:
        update["uploads_per_minute"] = 1_000_000  # the fuzzer is not a flood
    return settings.model_copy(update=update)


@dataclass
class Uploads:
    api: Api
    app: Any
    trap: LogTrap
    amy: Person
    gid: str
    sources: dict[str, bytes]

    async def message_rows(self) -> int:
        async with self.app.state.runtime.sessions() as db:
            return int(await db.scalar(select(func.count()).select_from(Message)) or 0)

    def work_dir_entries(self) -> list[Path]:
        return list(self.app.state.runtime.settings.work_dir.rglob("*"))

    async def post(self, mutant: Mutant) -> None:
        body = mutant.make(self.sources)
        name = audio_samples.CLIENT_FORMATS[mutant.source].filename
        rows, blobs = await self.message_rows(), blob_files(self.app)
        events = await self.api.events(self.amy, self.gid)
        r = await self.api.call(
            self.amy, "POST", f"/groups/{self.gid}/voice", files={"file": (name, body)}
        )
        if r.status_code == 202:
            assert r.json()["voice"]["status"] in ("processing", "ready"), r.text
            assert await self.message_rows() == rows + 1
            await asyncio.wait_for(self.app.state.runtime.ingest.idle(), PROCESSING_WAIT_S)
            memo = await self.api.ok(self.amy, "GET", f"/messages/{r.json()['id']}")
            assert memo["voice"]["status"] in ("ready", "failed"), memo
            assert memo["voice"]["status"] == "ready" or memo["voice"]["error"], memo
        else:
            assert r.status_code in REFUSALS, f"{r.status_code} for {len(body)} bytes: {r.text}"
            assert set(r.json()) == {"error"}, r.text
            assert_error_body(r.json()["error"])
            assert r.json()["error"]["code"] == REFUSALS[r.status_code], r.text
            assert await self.message_rows() == rows, "a refused upload leaves no row"
            assert blob_files(self.app) == blobs, "a refused upload leaves no blob"
            assert await self.api.events(self.amy, self.gid) == events
        assert self.work_dir_entries() == [], "nothing is left in the work directory"
        self.trap.assert_clean()


@pytest.fixture
async def uploads(api: Api, app: Any, samples: Path, log_trap: LogTrap) -> AsyncIterator[Uploads]:
    three_seconds = audio_samples.speech_of_length(samples, 3)
    sources = {
        kind: audio_samples.client_file(samples, kind, three_seconds).read_bytes()
        for kind in audio_samples.CLIENT_FORMATS
    }
    amy = await api.register("amy")
    yield Uploads(api, app, log_trap, amy, await api.group(amy), sources)


# The probe and conversion do not depend on the database; what does (a row for every
# 202, none for a refusal) is checked on PostgreSQL over the first third of the examples.
EXAMPLES = {"sqlite": 60, "postgresql": 20}


async def test_mutated_recordings_are_accepted_or_refused_cleanly(
    uploads: Uploads, backend: str
) -> None:
    await fuzz(mutants(sorted(uploads.sources)), uploads.post, max_examples=EXAMPLES[backend])
