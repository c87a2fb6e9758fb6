"""A parallel run (pytest-xdist, as .ci/run does) gives each worker its own Redis
database number, so no worker reads or clears another's keys."""

from tests.conftest import worker_redis_url


def test_each_worker_gets_its_own_redis_database() -> None:
    urls = [worker_redis_url("redis://127.0.0.1:6379/0", f"gw{n}") for n in range(3)]
    assert urls == [f"redis://127.0.0.1:6379/{n}" for n in (1, 2, 3)]
    assert worker_redis_url("redis://:secret@cache:6380/4?ssl=1", "gw1") == (
        "redis://:secret@cache:6380/6?ssl=1"
    )
    assert worker_redis_url("redis://cache", "gw0") == "redis://cache/1"
