"""Files an attacker uploads as voice memos, made with real ffmpeg (each checked to be the
real thing: a bomb really decodes to hours, a reference really points at audio).

- Zero-timestamp bombs: every packet carries timestamp 0, so the header claims a few
  seconds, `-t` never fires, and the file decodes to far more than it says (FLAC of
  silence costs 9 KB an hour). In FLAC, Opus and PCM, each in Matroska.
- An HLS playlist naming a real audio file elsewhere on the server's disk.
- A QuickTime movie whose track's samples live in another file (an `alis` data
  reference to a sibling), which ffmpeg reads only with `enable_drefs`.
"""

import struct
from pathlib import Path

from tests.audio_samples import _cached, _ffmpeg, long_speech_mp3

BOMB_CODECS = {
    # codec: (sample rate, encoder options)
    "flac": (8000, ("-c:a", "flac", "-frame_size", "65535")),
    "opus": (48000, ("-c:a", "libopus", "-b:a", "6k", "-frame_duration", "120",
                     "-compression_level", "0")),
    "pcm": (8000, ("-c:a", "pcm_u8", "-frame_size", "65535")),
}  # fmt: skip


def zero_timestamp_bomb(directory: Path, codec: str, seconds: int) -> Path:
    """`seconds` of silence in Matroska whose packets all say timestamp 0."""
    rate, options = BOMB_CODECS[codec]
    return _cached(
        directory / f"bomb_{codec}_{seconds}s.mkv",
        lambda tmp: _ffmpeg(
            "-f", "lavfi", "-i", f"anullsrc=r={rate}:cl=mono", "-t", str(seconds), *options,
            "-bsf:a", "setts=ts=0", "-f", "matroska", str(tmp),
        ),
    )  # fmt: skip


def hls_playlist(directory: Path) -> Path:
    """A playlist (named like a memo) whose one segment is real speech elsewhere on disk."""
    segment = long_speech_mp3(directory, 20).resolve()
    return _cached(
        directory / "playlist_to_speech.m4a",
        lambda tmp: tmp.write_text(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:20\n#EXT-X-MEDIA-SEQUENCE:0\n"
            f"#EXTINF:20.0,\n{segment}\n#EXT-X-ENDLIST\n"
        ),
    )


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf"}


def _boxes(data: bytes) -> list[list]:
    out, i = [], 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        body = data[i + 8 : i + size]
        out.append([kind, _boxes(body) if kind in _CONTAINERS else body])
        i += size
    return out


def _bytes(boxes: list[list]) -> bytes:
    out = b""
    for kind, body in boxes:
        raw = _bytes(body) if isinstance(body, list) else body
        out += struct.pack(">I4s", 8 + len(raw), kind) + raw
    return out


def _alias_to_sibling(name: bytes) -> bytes:
    """A Mac alias record (`alis` data reference entry) naming `name` beside the movie."""
    path = b"Mac:elsewhere:" + name  # "volume:dir:file"; ffmpeg keeps the last level
    body = b"\0" * 10 + bytes([3]) + b"Mac".ljust(27, b"\0") + b"\0" * 12
    body += bytes([len(name)]) + name.ljust(63, b"\0") + b"\0" * 16
    body += struct.pack(">HH", 1, 1) + b"\0" * 16  # one level up from the alias, one down
    body += struct.pack(">HH", 2, len(path)) + path + b"\0" * (len(path) % 2)
    body += struct.pack(">hH", -1, 0)
    return struct.pack(">I4sI", 12 + len(body), b"alis", 0) + body  # flags 0: not in this file


def _replace_dref(boxes: list[list], name: bytes) -> None:
    for box in boxes:
        if box[0] == b"dref":
            box[1] = struct.pack(">II", 0, 1) + _alias_to_sibling(name)
        elif isinstance(box[1], list):
            _replace_dref(box[1], name)


def movie_with_external_reference(directory: Path, target_name: str) -> tuple[Path, bytes]:
    """A .mov holding only an index whose samples are in `target_name` beside it.

    Returns the movie and the bytes that must sit at `target_name` for the reference
    to decode (a whole QuickTime file with 5 s of tone: the index's offsets point into it).
    """
    target = _cached(
        directory / "dref_target.mov",
        lambda tmp: _ffmpeg(
            "-f", "lavfi", "-i", "sine=f=440:r=44100", "-t", "5", "-ac", "1", "-c:a", "aac",
            "-f", "mov", str(tmp),
        ),
    )  # fmt: skip
    movie = directory / f"external_reference_{target_name}.mov"

    def make(tmp: Path) -> None:
        boxes = [box for box in _boxes(target.read_bytes()) if box[0] != b"mdat"]
        _replace_dref(boxes, target_name.encode())
        tmp.write_bytes(_bytes(boxes))

    return _cached(movie, make), target.read_bytes()
