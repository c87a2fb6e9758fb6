"""Child processes the test services run: started with their output in a log file,
stopped by their own PID, and their log's tail quoted when they fail."""

import subprocess
from pathlib import Path

STOP_TIMEOUT_S = 15.0


def start_logged(
    command: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `command` with stdout and stderr appended to `log` (its own PID, no shell)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )


def log_tail(log: Path, limit: int = 3000) -> str:
    """The last non-blank lines of a log, for a failure message."""
    text = log.read_text(errors="replace").replace("\r", "\n") if log.exists() else ""
    return "\n".join(line for line in text.splitlines() if line.strip())[-limit:]


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
