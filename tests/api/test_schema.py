"""Schemathesis against the app's own OpenAPI schema, as a signed-in member, all phases.

A real server process on each database backend; Schemathesis's CLI with every check
(its default: no 5xx, responses match their schemas, documented statuses, errors in
the one shape via ErrorOut, ...; `--checks all` would override the per-operation
exceptions in tests/api/schemathesis.toml), the coverage, fuzzing and stateful
phases, a fixed seed and a bounded number of examples. The sign-in is in
tests/api/schemathesis_hooks.py.
"""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.process import ServerProcess

# Examples per operation in the fuzzing and stateful phases. The coverage phase (the
# boundary values and wrong types of every schema, where the two databases are most
# likely to differ) does not depend on it; on PostgreSQL the random phases are fewer.
EXAMPLES = {"sqlite": 25, "postgresql": 10}
MEMBER = {"handle": "schema-member", "display_name": "Schema Member", "password": "correct horse"}


async def test_the_api_matches_its_openapi_schema(
    backend: str, database_url: str, tmp_path: Path, repo_root: Path
) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(
        tmp_path / "data",
        log=log,
        database_url=database_url,
        argon2_time_cost="1",
        argon2_memory_kib="1024",
        argon2_parallelism="1",
        rate_limits="false",  # Schemathesis signs in again after each logout, and floods
    ).start()
    try:
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{server.url}/api/v1/auth/register", json=MEMBER)
        assert r.status_code == 201, r.text
        env = {
            **os.environ,
            "PYTHONPATH": str(repo_root),
            "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
            "EARSHOT_SCHEMA_TEST_URL": server.url,
            "EARSHOT_SCHEMA_TEST_HANDLE": MEMBER["handle"],
            "EARSHOT_SCHEMA_TEST_PASSWORD": MEMBER["password"],
        }
        run = await asyncio.to_thread(
            subprocess.run,
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--no-color",
                "--config-file", str(repo_root / "tests/api/schemathesis.toml"),
                "run", f"{server.url}/openapi.json",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(EXAMPLES[backend]),
                "--seed", "20261123",
                "--workers", "1",
                "--request-timeout", "30",
            ],
            env=env,
            cwd=tmp_path,  # its caches (.schemathesis, .hypothesis): this run's alone
            capture_output=True,
            text=True,
            timeout=600,
        )  # fmt: skip
    finally:
        server.stop()
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20_000:]
    covered = re.search(r"API Links:\s+(\d+) covered", report)
    assert covered and int(covered.group(1)) > 0, "the stateful phase followed no link"
    server_log = log.read_text()
    assert "Traceback" not in server_log, server_log[-5000:]
