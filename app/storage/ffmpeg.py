"""Running ffmpeg and ffprobe on untrusted files: every child bounded, every input fenced.

One home for what keeps a hostile upload from costing more than its real audio:

- `Limits`: each child runs with RLIMIT_CPU, RLIMIT_FSIZE and RLIMIT_AS set between
  fork and exec, a umask that keeps whatever it writes owner-only, and a CPU priority:
  checking an upload (its sender waits; `Slots` bound how many) at PROBE_NICENESS,
  converting memos already accepted at the lower CONVERSION_NICENESS, so on a busy
  machine requests and upload checks come before conversions. (Probes niced too lost
  the race against a backlog of conversions: bench.soak saw uploads refused 503.)
  A child whose parent died still stops by itself.
- `input_args`: only the audio containers clients send (`INPUT_FORMATS`, which keeps
  the playlist demuxers HLS and concat out), only local files and pipes
  (`-protocol_whitelist file,pipe`: no network, no `subfile:` or `concat:` tricks).
  The MOV demuxer's external data references (`enable_drefs`) are off by ffmpeg's
  default, which cannot be passed explicitly for inputs of other formats; a test
  keeps the default honest.
- `DecodedBudget` and `decoded_cap`: the length of a file is what it decodes to, never
  what its header or its timestamps claim. A file whose packets all carry timestamp 0
  defeats ffmpeg's `-t` (input or output), so the filter graph first rebuilds the
  timestamps from the count of decoded samples (`asetpts=N/SR/TB`) and trims on them
  (`atrim`), and the reader counts the PCM it receives and kills the child the moment
  it passes the cap. Issue 21's conversion while bytes arrive reuses the same two.
- `Process`, `Watchdog`, `run_with_progress`: the generic runner (a child, its error
  output, a deadline that grows with the media it has processed).
- `Slots`: at most N jobs at once; with a wait limit, a job that cannot start in time
  raises `Busy` instead of queueing without end.
"""

import asyncio
import contextlib
import os
import resource
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeVar

from pydub import AudioSegment
from pydub.utils import get_prober_name

INPUT_FORMATS = ",".join(
    [
        "mov", "mp4", "m4a", "3gp", "3g2", "mj2",  # iOS, Safari, Android (AAC, AMR)
        "matroska", "webm",  # Chrome and Android MediaRecorder
        "ogg", "mp3", "wav", "w64", "flac", "aac", "amr", "amrnb", "amrwb",
        "caf", "aiff", "asf",
    ]
)  # fmt: skip
PROTOCOLS = "file,pipe"

PCM_RATE = 8000  # what decoded audio is counted (and the waveform measured) at: 16 KB/s
PROBE_NICENESS = 0  # added to ours
CONVERSION_NICENESS = 10
# Address space of one child. Debian's ffmpeg maps ~300 MB of shared libraries before
# it reads a byte; decoding a voice memo needs a few tens of MB more.
MEMORY_BYTES = 1024 * 1024 * 1024
_STDERR_LINES = 20
_READ_SIZE = 256 * 1024
_STALL_TIMEOUT_S = 30.0  # no output at all from ffmpeg for this long: give up
_GRACE_S = 30.0  # on top of a speed budget, for start-up and a loaded machine


def ffmpeg_binary() -> str:
    """The ffmpeg pydub is configured to use (`AudioSegment.converter`)."""
    return str(AudioSegment.converter)


def ffprobe_binary() -> str:
    """The ffprobe pydub would use."""
    return str(get_prober_name())


def input_args(path: Path) -> list[str]:
    """Options and `-i` for reading an untrusted local file."""
    return [
        "-format_whitelist", INPUT_FORMATS, "-protocol_whitelist", PROTOCOLS, "-i", str(path),
    ]  # fmt: skip


def decoded_cap(seconds: float) -> str:
    """Filters that end the audio after `seconds` of decoded samples, whatever its timestamps."""
    return f"asetpts=N/SR/TB,atrim=end={seconds:.3f}"


class DecodedBudget:
    """Counts 16-bit mono PCM at PCM_RATE as it arrives; `over` once past `cap_s`."""

    def __init__(self, cap_s: float) -> None:
        self.cap_bytes = int(cap_s * PCM_RATE) * 2
        self.bytes = 0

    def add(self, size: int) -> None:
        self.bytes += size

    @property
    def over(self) -> bool:
        return self.bytes > self.cap_bytes

    @property
    def seconds(self) -> float:
        return self.bytes / 2 / PCM_RATE

    @property
    def ms(self) -> int:
        return self.bytes // 2 * 1000 // PCM_RATE


def pcm_bytes(seconds: float, rate: int = 48000) -> int:
    """Size of `seconds` of 16-bit mono PCM at `rate` (for file-size limits)."""
    return int(seconds * rate) * 2


@dataclass(frozen=True)
class Limits:
    """What one child may use: CPU seconds, bytes in any file it writes, address space."""

    cpu_s: int
    file_bytes: int
    memory_bytes: int = MEMORY_BYTES
    niceness: int = PROBE_NICENESS

    @staticmethod
    def for_media(
        seconds: float, speed: float, file_bytes: int, niceness: int = PROBE_NICENESS
    ) -> "Limits":
        """CPU for `seconds` of media at `speed` times real time, plus the start-up grace."""
        return Limits(int(_GRACE_S + seconds / speed) + 1, file_bytes, niceness=niceness)

    def apply_in_child(self) -> None:
        """Runs in the child between fork and exec: only system calls, nothing that locks."""
        for kind, value in (
            (resource.RLIMIT_CPU, self.cpu_s),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_AS, self.memory_bytes),
        ):
            _, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))
        os.umask(0o077)
        if self.niceness:
            with contextlib.suppress(OSError):  # best effort: the job runs either way
                os.nice(self.niceness)


class Process:
    """One ffmpeg/ffprobe run under `limits`: stdout piped to us, stderr's last lines kept,
    always killed and reaped on the way out."""

    def __init__(self, args: list[str], limits: Limits) -> None:
        self.args = args
        self.limits = limits
        self.tail: deque[str] = deque(maxlen=_STDERR_LINES)
        self.summary: list[str] = []  # lines after the last "Summary:" (ebur128's report)
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def proc(self) -> asyncio.subprocess.Process:
        assert self._proc is not None
        return self._proc

    async def __aenter__(self) -> "Process":
        self._proc = await asyncio.create_subprocess_exec(
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=self.limits.apply_in_child,
        )
        self._stderr_task = asyncio.create_task(self._collect_stderr())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        if self._stderr_task is not None:
            await self._stderr_task

    async def _collect_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        pending = b""
        in_summary = False
        while chunk := await self._proc.stderr.read(8192):
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-4096:]
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                if not line:
                    continue
                self.tail.append(line)
                if line.endswith("Summary:"):  # the last one counts: graph set-up prints one too
                    self.summary = []
                    in_summary = True
                elif in_summary and len(self.summary) < 30:
                    self.summary.append(line)
        if pending.strip():
            self.tail.append(pending.decode("utf-8", "replace").rstrip())

    async def read(self, stall_timeout_s: float = _STALL_TIMEOUT_S) -> bytes:
        """The next piece of stdout (b"" at the end); TimeoutError if ffmpeg goes quiet."""
        assert self.proc.stdout is not None
        return await asyncio.wait_for(self.proc.stdout.read(_READ_SIZE), stall_timeout_s)

    async def finish(self, timeout_s: float = _STALL_TIMEOUT_S) -> int:
        """Wait for the exit (stdout already drained) and for the whole of stderr."""
        code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        if self._stderr_task is not None:
            await asyncio.wait_for(self._stderr_task, timeout_s)
        return code

    def stderr_tail(self, lines: int = 3) -> str:
        return " | ".join(list(self.tail)[-lines:]) or "no error output"


class Watchdog:
    """Deadline proportional to progress: `grace` seconds plus media time / `speed`."""

    def __init__(self, speed: float, grace_s: float = _GRACE_S) -> None:
        self.speed = speed
        self.grace_s = grace_s
        self.started = time.monotonic()

    def check(self, media_seconds: float) -> None:
        if time.monotonic() - self.started > self.grace_s + media_seconds / self.speed:
            raise TimeoutError("ffmpeg is too slow")


class ProgressTimeout(Exception):
    """An ffmpeg fell behind its progress budget (or went quiet), and was stopped."""

    def __init__(self, stderr_tail: str) -> None:
        super().__init__("ffmpeg is too slow")
        self.stderr_tail = stderr_tail


async def run_with_progress(
    args: list[str], limits: Limits, media_seconds: float, speed: float
) -> tuple[int, str]:
    """Run ffmpeg (`args[0]`) with `-progress` on stdout, killed if its reported progress
    falls behind `speed` times real time (over `media_seconds` of media); its exit code
    and the tail of its error output."""
    async with Process([*args[:1], "-progress", "pipe:1", *args[1:]], limits) as run:
        budget = Watchdog(speed)
        done_s = 0.0
        pending = b""
        try:
            while chunk := await run.read():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.startswith(b"out_time_us="):
                        done_s = max(done_s, _micro(line[12:]))
                budget.check(max(done_s, media_seconds))
            code = await run.finish()
        except TimeoutError:
            raise ProgressTimeout(run.stderr_tail()) from None
        return code, run.stderr_tail()


def _micro(value: bytes) -> float:
    try:
        return max(0, int(value)) / 1_000_000
    except ValueError:
        return 0.0


class Busy(Exception):
    """No slot came free within the wait; try again after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"busy; retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


P = ParamSpec("P")
T = TypeVar("T")


class Slots:
    """At most `size` jobs at once, so a burst of uploads cannot starve the machine."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one slot")
        self.size = size
        self.running = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(size)

    async def run(
        self,
        job: Callable[P, Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Await `job(*args, **kwargs)` once a slot is free; the slot is freed however it ends."""
        await self._acquire(None)
        return await self._run_acquired(job(*args, **kwargs))

    async def run_within(self, wait_s: float, job: Awaitable[T]) -> T:
        """Await `job` if a slot comes free within `wait_s`; else raise Busy (and close it)."""
        try:
            await self._acquire(wait_s)
        except BaseException:
            if asyncio.iscoroutine(job):
                job.close()
            raise
        return await self._run_acquired(job)

    async def _acquire(self, wait_s: float | None) -> None:
        self.waiting += 1
        try:
            if wait_s is None:
                await self._slots.acquire()
            else:
                try:
                    async with asyncio.timeout(wait_s):  # a slot won as time runs out is given back
                        await self._slots.acquire()
                except TimeoutError:
                    raise Busy(max(wait_s, 1.0)) from None
        finally:
            self.waiting -= 1

    async def _run_acquired(self, job: Awaitable[T]) -> T:
        self.running += 1
        try:
            return await job
        finally:
            self.running -= 1
            self._slots.release()
