"""Small asyncio helpers."""

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any


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


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` now, in the caller's task, up to its first real wait.

    Returns None when it finished without waiting (a websocket send to a client
    whose buffer has room does), otherwise a task that carries on from where it
    stopped. This is what Python 3.12's eager tasks do; on 3.11 it lets one loop
    send an event to a thousand connections without a thousand task switches.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_carry_on(coro, waiting_on))


async def _carry_on(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    while True:
        error: BaseException | None = None
        if waiting_on is not None:
            waiting_on._asyncio_future_blocking = False  # taken over, as a Task does
        try:
            await (asyncio.sleep(0) if waiting_on is None else waiting_on)
        except BaseException as exc:  # noqa: BLE001 - handed on to the coroutine, as a task does
            error = exc
        try:
            waiting_on = coro.send(None) if error is None else coro.throw(error)
        except StopIteration:
            return
