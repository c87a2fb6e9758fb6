"""Peaks of decoded PCM for the player's waveform, in bounded memory whatever the length."""

from array import array

from app.storage.ffmpeg import PCM_RATE

try:  # C speed for peaks; deprecated since 3.11 (pydub needs it too), `audioop-lts` on 3.13
    import audioop
except ImportError:  # pragma: no cover
    audioop = None  # type: ignore[assignment]

WAVEFORM_BARS = 64
# Silence the player may skip: windows whose peak is this far below the memo's loudest
# (and below SILENCE_FLOOR anyway), for at least SILENCE_MIN_MS; each span keeps
# SILENCE_MARGIN_MS of quiet at both ends, so speech is never clipped.
SILENCE_BELOW_LOUDEST_DB = 30
SILENCE_CEILING = 2**15 * 10 ** (-30 / 20)  # never "silent" above -30 dBFS
SILENCE_MIN_MS = 1000
SILENCE_MARGIN_MS = 200
fast_peaks = audioop is not None  # else feed PCM from a worker thread


class Peaks:
    """Peak of |sample| per short window of 16-bit mono PCM, fed chunk by chunk.

    Windows start at 10 ms and double (pairwise max) whenever there are too many,
    so memory stays a few kilobytes however long the memo is.
    """

    MAX_WINDOWS = 4096

    def __init__(self) -> None:
        self.window = PCM_RATE // 100
        self.peaks = array("i")
        self.bytes = 0
        self._carry = b""

    @property
    def samples(self) -> int:
        return self.bytes // 2

    def feed(self, data: bytes) -> None:
        self.bytes += len(data)
        data = self._carry + data
        view = memoryview(data)
        i = 0
        while len(data) - i >= 2 * self.window:
            step = 2 * self.window
            self._add(peak(view[i : i + step]))
            i += step
        self._carry = data[i:]

    def _add(self, peak: int) -> None:
        self.peaks.append(peak)
        if len(self.peaks) >= 2 * self.MAX_WINDOWS:
            p = self.peaks
            self.peaks = array("i", map(max, p[0::2], p[1::2]))
            self.window *= 2

    def finish(self) -> None:
        tail = self._carry[: len(self._carry) - len(self._carry) % 2]
        if tail:
            self.peaks.append(peak(memoryview(tail)))
        self._carry = b""

    def waveform(self, bars: int = WAVEFORM_BARS) -> list[int]:
        """`bars` values 0-255, scaled to the memo's own loudest bar.

        Scaling to the memo's peak (not to full scale) keeps a quiet recording as
        readable as a loud one; a floor at about -54 dBFS keeps silence flat.
        """
        n = len(self.peaks)
        if n == 0:
            return [0] * bars
        values = [
            max(self.peaks[i * n // bars : max((i + 1) * n // bars, i * n // bars + 1)])
            for i in range(bars)
        ]
        top = max(max(values), 64)
        return [min(255, round(v * 255 / top)) for v in values]

    def silences(self) -> list[list[int]]:
        """Spans of the memo a listener may skip, `[[start_ms, end_ms], ...]` in order:
        quiet for at least SILENCE_MIN_MS (measured on the same windows as the waveform:
        10 ms, coarser for long memos), less SILENCE_MARGIN_MS at each end."""
        if not self.peaks:
            return []
        loudest = max(self.peaks)
        quiet = min(loudest * 10 ** (-SILENCE_BELOW_LOUDEST_DB / 20), SILENCE_CEILING)
        window_ms = self.window * 1000 / PCM_RATE
        spans: list[list[int]] = []
        start = None
        for i, value in enumerate([*self.peaks, loudest]):  # the sentinel ends a last span
            if value <= quiet:
                start = i if start is None else start
                continue
            if start is not None and (i - start) * window_ms >= SILENCE_MIN_MS:
                begin = round(start * window_ms) + (SILENCE_MARGIN_MS if start else 0)
                end = round(i * window_ms) - (SILENCE_MARGIN_MS if i < len(self.peaks) else 0)
                if end > begin:
                    spans.append([begin, min(end, self.samples * 1000 // PCM_RATE)])
            start = None
        return spans


def peak(pcm: memoryview) -> int:
    """Largest |sample| of 16-bit native-endian PCM."""
    if audioop is not None:
        return int(audioop.max(pcm, 2))
    samples = pcm.cast("h")
    return max(max(samples), -min(samples))
