"""The transcription worker pool as the server runs it: ended mid-life by terminate()
(as `Transcripts.stop` does), its workers leave nothing behind."""

import subprocess
import sys
from pathlib import Path

from tests import audio_samples

# Runs in a fresh interpreter: the resource tracker reports leaks only when it exits.
SCRIPT = """
import sys
from pathlib import Path
from app import transcribe

if __name__ == "__main__":
    pool = transcribe.worker_pool(1)
    print(pool.apply(transcribe.transcribe, (Path(sys.argv[1]),)).text, flush=True)
    pool.terminate()
    pool.join()
"""


def test_a_terminated_pool_leaks_no_semaphore(samples: Path, repo_root: Path) -> None:
    speech = audio_samples.speech_wav(samples)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(speech)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "it transcribed nothing: the job never ran in the pool"
    assert "leaked" not in done.stderr and "resource_tracker" not in done.stderr, done.stderr
