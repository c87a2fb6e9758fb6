"""Small asyncio helpers."""

import asyncio
from collections.abc import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel tasks and wait until they have really finished.

    Cancels again while any is still running: on Python 3.11, `asyncio.wait_for`
    can swallow a cancellation that arrives as the awaited thing completes, and a
    worker loop would then go on to wait for its next job forever.
    """
    tasks = list(tasks)
    pending = [t for t in tasks if not t.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1)
        pending = [t for t in pending if not t.done()]
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: an error while stopping is not news
