"""Running `earshot serve` (and `earshot admin`) as a real process, as a user (or a
crash) would."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def earshot_admin(settings: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`earshot admin ARGS` in a process of its own on `settings`' database and data
    directory (`env`: more EARSHOT_* settings, as keyword arguments)."""
    variables = {
        "EARSHOT_DATA_DIR": str(settings.data_dir),
        "EARSHOT_DATABASE_URL": settings.resolved_database_url,
        "EARSHOT_SECRET_KEY": "test-secret",
        "PATH": "/usr/bin:/bin",
        **{f"EARSHOT_{k.upper()}": v for k, v in env.items()},
    }
    command = [sys.executable, "-m", "app.cli", "admin", *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, env=variables
    )


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        log: Path | None = None,
        log_level: str = "warning",
        host: str = "127.0.0.1",
        address_in_env: bool = False,
        **settings: str,
    ) -> None:
        """`address_in_env`: the host and port are given as EARSHOT_HOST and EARSHOT_PORT
        rather than as --host and --port."""
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
        self.env["EARSHOT_DATA_DIR"] = str(data_dir)
        self.env.update({f"EARSHOT_{k.upper()}": v for k, v in settings.items()})
        self.address = ["--host", host, "--port", str(self.port)]
        if address_in_env:
            self.env.update({"EARSHOT_HOST": host, "EARSHOT_PORT": str(self.port)})
            self.address = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = log  # where its output goes (else this process's own stdout/stderr)
        self.log_level = log_level

    def start(self) -> "ServerProcess":
        output = self.log.open("ab") if self.log else None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", *self.address,
             "--log-level", self.log_level],
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )  # fmt: skip
        if output:
            output.close()  # the child has its own copy
        # Generous: on a loaded 2-core machine importing and migrating alone can take 20 s.
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.kill()  # reaped, not left to a warning in some later test
                raise AssertionError("the server did not answer /healthz within 120 s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a power cut or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as a service manager would; SIGKILL if it has not exited in 30 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
