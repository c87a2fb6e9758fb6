"""What every fuzz test shares: Hypothesis settings, the error-shape check, a log trap.

The examples are derandomized (a fixed seed: the same examples on every run, until
Hypothesis or Python is upgraded), so a failure in CI reproduces on any machine.
Set EARSHOT_FUZZ_RANDOM=1 to explore new examples, and EARSHOT_FUZZ_EXAMPLES=N to
run N examples per test instead of each test's default.
"""

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st

T = TypeVar("T")

RANDOM = os.environ.get("EARSHOT_FUZZ_RANDOM") == "1"


async def fuzz(
    strategy: st.SearchStrategy[T],
    example: Callable[[T], Awaitable[None]],
    *,
    max_examples: int,
) -> None:
    """Run Hypothesis over `strategy`: each example is `await example(value)` on this loop.

    Hypothesis runs in a worker thread in its own synchronous way (generating, shrinking,
    reporting) and hands every example to the test's event loop, where the app, the
    server and the connections live; they are made once, by the test's fixtures.
    (pytest-asyncio's own Hypothesis support runs each example in one shared copied
    context, which makes Hypothesis report "Inconsistent data generation" here.)
    """
    loop = asyncio.get_running_loop()

    @fuzz_settings(max_examples)
    @hypothesis.given(strategy)
    def run(value: T) -> None:
        try:
            asyncio.run_coroutine_threadsafe(example(value), loop).result()  # type: ignore[arg-type]
        except BaseException as failure:
            failure.add_note(f"The example: {value!r:.5000}")
            raise

    await asyncio.to_thread(run)


def fuzz_settings(max_examples: int) -> hypothesis.settings:
    """Bounded, reproducible runs."""
    return hypothesis.settings(
        max_examples=int(os.environ.get("EARSHOT_FUZZ_EXAMPLES", max_examples)),
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


_CODE = re.compile(r"[a-z][a-z0-9_]*")


def assert_error_body(error: Any) -> None:
    """`{"code": "snake_case", "message": "sentence", "details"?: {...}}`."""
    assert isinstance(error, dict), error
    assert set(error) <= {"code", "message", "details"}, error
    assert isinstance(error.get("code"), str) and _CODE.fullmatch(error["code"]), error
    assert isinstance(error.get("message"), str) and error["message"], error
    assert isinstance(error.get("details", {}), dict), error


def assert_error_frame(frame: Any) -> None:
    """A websocket error frame: `{"type": "error", "error": {...}}` and nothing else."""
    assert isinstance(frame, dict) and set(frame) == {"type", "error"}, frame
    assert frame["type"] == "error", frame
    assert_error_body(frame["error"])


# uvicorn's loggers do not propagate to the root logger: trap both.
TRAPPED_LOGGERS = ("", "uvicorn")


class LogTrap(logging.Handler):
    """Keeps every ERROR record, and any record with a traceback, from the server."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def watch(self) -> None:
        """Attach to the root and uvicorn loggers (again after uvicorn reconfigures its own)."""
        for name in TRAPPED_LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)

    def unwatch(self) -> None:
        for name in TRAPPED_LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def clear(self) -> None:
        self.records.clear()

    def assert_clean(self) -> None:
        """No unhandled exception anywhere in the server since the last clear()."""
        found = [f"{r.name}: {r.getMessage()}\n{self.format(r)}" for r in self.records]
        self.clear()
        assert not found, "\n\n".join(found)
