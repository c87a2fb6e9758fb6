"""Transcripts: made on this machine after a memo is ready, searchable, and off when asked."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import transcribe
from app.config import Settings
from app.models import Message
from tests import audio_samples
from tests.erasure import on_disk, replays, stored_anywhere
from tests.helpers import Api
from tests.services.helpers import blob_files, processed, upload

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian pocketsphinx-testdata
NUMBERS = {"10": "ten", "3": "three", "3rd": "third"}


def words(text: str) -> list[str]:
    found = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return [NUMBERS.get(w, w) for w in found]


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Word-level edit distance over the reference length."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / len(reference)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"transcripts": True})


async def transcribed(app: Any, api: Api, who: Any, message_id: str) -> dict[str, Any]:
    await processed(app, api, who, message_id)
    await app.state.runtime.transcripts.idle()
    return await api.ok(who, "GET", f"/messages/{message_id}")


async def test_a_memo_is_ready_first_then_transcribed_and_found_by_a_spoken_word(
    api: Api, app: Any, samples: Path
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "iphone_m4a"))
    mid = r.json()["id"]
    message = await transcribed(app, api, amy, mid)
    transcript = message["voice"]["transcript"]
    assert transcript["status"] == "ready" and transcript["language"] == "en"
    assert word_error_rate(words(audio_samples.SENTENCES), words(transcript["text"])) < 0.10
    updates = [
        e["data"]["voice"]
        for e in await api.events(amy, gid)
        if e["type"] == "message.updated" and e["data"]["id"] == mid
    ]
    assert [u["status"] for u in updates] == ["ready", "ready"]
    assert [u["transcript"]["status"] for u in updates] == ["pending", "ready"], (
        "ready for playback before the transcript"
    )
    hits = await api.ok(amy, "GET", f"/groups/{gid}/search", params={"q": "pacing"})
    assert [h["message_id"] for h in hits["hits"]] == [mid], "a word only spoken is found"


async def test_a_group_with_transcripts_off_stores_none(api: Api, app: Any, samples: Path) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    group = await api.ok(amy, "PATCH", f"/groups/{gid}", json={"transcripts": False})
    assert group["transcripts"] is False
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "mp3"))
    message = await transcribed(app, api, amy, r.json()["id"])
    assert message["voice"]["transcript"] == {"status": "off", "text": None, "language": None}
    async with app.state.runtime.sessions() as db:
        stored = await db.scalar(select(Message.transcript_text).where(Message.id == message["id"]))
    assert stored is None
    hits = await api.ok(amy, "GET", f"/groups/{gid}/search", params={"q": "pacing"})
    assert hits["hits"] == []


async def test_deleting_a_memo_erases_its_transcript_everywhere(
    api: Api, app: Any, samples: Path, backend: str
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    r = await upload(api, ben, gid, audio_samples.client_file(samples, "mp3"))
    memo = await transcribed(app, api, amy, r.json()["id"])
    mid, spoken = memo["id"], "engaged"
    assert spoken in memo["voice"]["transcript"]["text"].lower()
    assert spoken in await replays(api, amy, gid), "message.updated carried the transcript"
    assert any(mid in f for f in blob_files(app))

    assert (await api.call(amy, "DELETE", f"/messages/{mid}")).status_code == 204  # a moderator
    assert spoken not in await replays(api, amy, gid)
    assert (await api.ok(amy, "GET", f"/groups/{gid}/search", params={"q": spoken}))["hits"] == []
    assert await stored_anywhere(app, spoken) == []
    async with app.state.runtime.sessions() as db:
        stored = await db.scalar(select(Message.transcript_text).where(Message.id == mid))
    assert stored is None
    assert not any(mid in f for f in blob_files(app)), "the audio is gone too"
    if backend == "sqlite":
        await app.state.runtime.scrubber.idle()
        assert on_disk(app, spoken) == []


def test_recorded_human_speech_is_transcribed_within_the_stated_error(tmp_path: Path) -> None:
    """Five LibriVox readings (a human reader, Debian's pocketsphinx-testdata): WER < 15 %."""
    references = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, name = re.fullmatch(r"<s> (.*) </s> \((.*)\)", line.strip()).groups()  # type: ignore[union-attr]
        references[name] = text
    assert len(references) == 5
    reference: list[str] = []
    hypothesis: list[str] = []
    for name, text in references.items():
        stored = audio_samples.as_stored_opus(LIBRIVOX / f"{name}.wav", tmp_path)
        reference += words(text)
        hypothesis += words(transcribe.transcribe(stored).text)
    assert word_error_rate(reference, hypothesis) < 0.15


def test_silence_gives_an_empty_transcript_not_invented_words(tmp_path: Path) -> None:
    silence = tmp_path / "silence.ogg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "8",
         "-c:a", "libopus", str(silence)],
        check=True,
    )  # fmt: skip
    assert transcribe.transcribe(silence).text == ""
