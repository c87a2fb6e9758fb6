"""Fixtures for the fuzz tests: the real app (tests/conftest.py), a real uvicorn and
websocket clients (tests/realtime/conftest.py), and a trap for server-side errors."""

from collections.abc import Iterator

import pytest

from tests.fuzz.common import LogTrap
from tests.realtime.conftest import ws, ws_url  # noqa: F401 (fixtures reused as they are)


@pytest.fixture
def log_trap() -> Iterator[LogTrap]:
    trap = LogTrap()
    trap.watch()
    yield trap
    trap.unwatch()
