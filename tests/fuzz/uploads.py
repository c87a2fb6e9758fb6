"""Mutations of real recordings, for fuzzing the upload probe.

Each mutated file is described by a `Mutant` (a source and a list of steps) so that
a failure reads as what was done, and is made from the bytes only when sent.
"""

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

# Size fields of the containers clients send: MP4 boxes have a 32-bit big-endian size
# before their name, RIFF/WAV chunks a 32-bit little-endian one after it, EBML (WebM)
# elements a variable-length one after their ID; Ogg pages and FLAC headers carry
# lengths and sample counts just after their magic.
TAGS = [
    b"ftyp", b"moov", b"mvhd", b"trak", b"mdhd", b"stsz", b"stco", b"mdat", b"moof",
    b"RIFF", b"fmt ", b"data", b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67",
    b"\x44\x89", b"ID3", b"Xing", b"Info",
]  # fmt: skip
HUGE = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE]
# Fields that declare a length, a rate or a duration: (tag, offset after it, big-endian).
FIELDS = [
    (b"fmt ", 8, False),  # WAV sample rate
    (b"fmt ", 12, False),  # WAV byte rate: the length is data size / byte rate
    (b"data", 0, False),  # WAV data size
    (b"RIFF", 0, False),  # RIFF size
    (b"mvhd", 16, True),  # MP4 movie timescale (version 0)
    (b"mvhd", 20, True),  # MP4 movie duration
    (b"mdhd", 16, True),  # MP4 track timescale
    (b"mdhd", 20, True),  # MP4 track duration
    (b"mdat", -8, True),  # MP4 media data box size
    (b"moov", -8, True),  # MP4 index box size
    (b"OggS", 2, False),  # Ogg granule position (the sample count so far)
    (b"fLaC", 14, True),  # FLAC total samples (about there)
    (b"Xing", 4, True),  # MP3 frame count
    (b"Info", 4, True),  # MP3 frame count (CBR)
    (b"\x44\x89", 1, True),  # WebM Duration (a float)
]


@dataclass(frozen=True)
class Step:
    """One change to the bytes; `apply(data, sources)` makes it."""

    name: str
    args: tuple[object, ...]
    apply: Callable[[bytearray, dict[str, bytes]], bytearray]

    def __repr__(self) -> str:
        return f"{self.name}{self.args!r}"


@dataclass(frozen=True)
class Mutant:
    source: str  # a key of CLIENT_FORMATS
    steps: tuple[Step, ...]

    def make(self, sources: dict[str, bytes]) -> bytes:
        data = bytearray(sources[self.source])
        for step in self.steps:
            data = step.apply(data, sources)
        return bytes(data)


def _at(position: int, data: bytearray) -> int:
    return position % len(data) if data else 0


def flip_bits(flips: tuple[tuple[int, int], ...]) -> Step:
    def apply(data: bytearray, _: dict[str, bytes]) -> bytearray:
        for position, bit in flips:
            if data:
                data[_at(position, data)] ^= 1 << bit
        return data

    return Step("flip_bits", (flips,), apply)


def truncate(fraction: float) -> Step:
    return Step("truncate", (fraction,), lambda d, _: d[: int(len(d) * fraction)])


def behead(count: int) -> Step:
    return Step("behead", (count,), lambda d, _: d[count:])


def insert(position: int, run: bytes) -> Step:
    def apply(data: bytearray, _: dict[str, bytes]) -> bytearray:
        at = _at(position, data)
        data[at:at] = run
        return data

    return Step("insert", (position, run if len(run) <= 16 else f"<{len(run)} bytes>"), apply)


def delete(position: int, count: int) -> Step:
    def apply(data: bytearray, _: dict[str, bytes]) -> bytearray:
        at = _at(position, data)
        del data[at : at + count]
        return data

    return Step("delete", (position, count), apply)


def overwrite_head(junk: bytes) -> Step:
    def apply(data: bytearray, _: dict[str, bytes]) -> bytearray:
        data[: len(junk)] = junk
        return data

    return Step("overwrite_head", (junk,), apply)


def declared_size(tag: bytes, nth: int, offset: int, value: int, big_endian: bool) -> Step:
    """Write a 32-bit `value` at `offset` from the end of an occurrence of `tag`: where
    containers keep sizes, lengths, rates and durations (an MP4 box's size is at -8,
    mdhd's timescale and duration at +16 and +20, a WAV chunk's size at 0 and its byte
    rate at +12, FLAC's sample count and Xing's frame count a few bytes on)."""

    def apply(data: bytearray, _: dict[str, bytes]) -> bytearray:
        found, start = [], 0
        while (at := data.find(tag, start)) != -1 and len(found) < 64:
            found.append(at)
            start = at + 1
        if not found:
            return data
        at = max(found[nth % len(found)] + len(tag) + offset, 0)
        data[at : at + 4] = value.to_bytes(4, "big" if big_endian else "little")
        return data

    return Step("declared_size", (tag, nth, offset, hex(value), big_endian), apply)


def append(other: str) -> Step:
    return Step("append", (other,), lambda d, sources: d + sources[other])


def repeat(times: int) -> Step:
    return Step("repeat", (times,), lambda d, _: d * times)


def empty() -> Step:
    return Step("empty", (), lambda d, _: bytearray())


def mutants(kinds: list[str]) -> st.SearchStrategy[Mutant]:
    position = st.integers(0, 1 << 20)
    flips = st.lists(st.tuples(position, st.integers(0, 7)), min_size=1, max_size=16)
    header_flips = st.lists(
        st.tuples(st.integers(0, 512), st.integers(0, 7)), min_size=1, max_size=16
    )
    runs = st.binary(min_size=1, max_size=64) | st.integers(1, 8192).map(lambda n: b"\xff" * n)
    sizes = st.builds(
        declared_size,
        st.sampled_from(TAGS),
        st.integers(0, 63),
        st.sampled_from([-8, -4, 0, 4, 8, 12, 16, 20, 24]) | st.integers(-8, 32),
        st.sampled_from(HUGE) | st.integers(0, 2**32 - 1),
        st.booleans(),
    )
    fields = st.builds(
        lambda field, nth, value: declared_size(field[0], nth, field[1], value, field[2]),
        st.sampled_from(FIELDS),
        st.integers(0, 3),
        st.sampled_from(HUGE) | st.integers(0, 2**32 - 1),
    )
    steps = st.one_of(
        fields,
        fields,
        header_flips.map(tuple).map(flip_bits),
        flips.map(tuple).map(flip_bits),
        flips.map(tuple).map(flip_bits),
        st.floats(0, 1).map(truncate),
        st.integers(1, 4096).map(behead),
        st.builds(insert, position, runs),
        st.builds(delete, position, st.integers(1, 4096)),
        st.binary(min_size=1, max_size=64).map(overwrite_head),
        sizes,
        sizes,
        sizes,
        st.sampled_from(kinds).map(append),
        st.integers(2, 3).map(repeat),
        st.integers(2, 3).map(repeat),
        st.just(empty()),
    )
    return st.builds(Mutant, st.sampled_from(kinds), st.lists(steps, max_size=3).map(tuple))
