"""start_eagerly: runs a coroutine in the caller's task until it first has to wait."""

import asyncio

import pytest

from app.aio import start_eagerly


async def test_a_coroutine_that_never_waits_finishes_inline() -> None:
    done: list[str] = []

    async def quick() -> None:
        done.append("ran")

    assert start_eagerly(quick()) is None
    assert done == ["ran"]


async def test_one_that_waits_carries_on_as_a_task_and_sees_results() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def slow() -> None:
        seen.append("before")
        seen.append(await gate)
        await asyncio.sleep(0)  # a bare yield too
        seen.append("after")

    task = start_eagerly(slow())
    assert task is not None and seen == ["before"]
    gate.set_result("opened")
    await task
    assert seen == ["before", "opened", "after"]


async def test_errors_reach_the_coroutine_and_the_task() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[str] = []

    async def guarded() -> None:
        try:
            await gate
        except ValueError as exc:
            caught.append(str(exc))
            raise RuntimeError("gave up") from exc

    task = start_eagerly(guarded())
    assert task is not None
    gate.set_exception(ValueError("socket gone"))
    with pytest.raises(RuntimeError, match="gave up"):
        await task
    assert caught == ["socket gone"]


async def test_an_error_before_any_wait_is_raised_to_the_caller() -> None:
    async def broken() -> None:
        raise ConnectionError("closed")

    with pytest.raises(ConnectionError):
        start_eagerly(broken())


async def test_cancelling_the_task_cancels_the_coroutine() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[bool] = []

    async def waits() -> None:
        try:
            await gate
        finally:
            cleaned.append(True)

    task = start_eagerly(waits())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True] and gate.cancelled()
