"""A thin client over the HTTP API so tests read as what people do."""

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import Settings
from app.main import create_app

_counter = itertools.count(1)


@dataclass
class Person:
    handle: str
    token: str
    id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def register(self, name: str = "coach", *, addable_by_anyone: bool = True) -> Person:
        """A new account. Most tests add people to groups freely, so by default the person
        lets anyone add them; `addable_by_anyone=False` keeps the default "shared_group"."""
        handle = f"{name}{next(_counter)}"
        r = await self.client.post(
            "/api/v1/auth/register",
            json={"handle": handle, "display_name": name.title(), "password": "correct horse"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        person = Person(handle=handle, token=body["token"], id=body["user"]["id"])
        if addable_by_anyone:
            await self.ok(person, "PATCH", "/me", json={"who_can_add_me": "anyone"})
        return person

    async def call(
        self, who: Person | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {**(who.auth if who else {}), **kwargs.pop("headers", {})}
        return await self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def ok(self, who: Person | None, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.call(who, method, path, **kwargs)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    async def group(self, owner: Person, name: str = "Coaches") -> str:
        return (await self.ok(owner, "POST", "/groups", json={"name": name}))["id"]

    async def add(self, actor: Person, gid: str, who: Person, role: str = "member") -> None:
        await self.ok(
            actor, "POST", f"/groups/{gid}/members", json={"handle": who.handle, "role": role}
        )

    async def post(self, who: Person, gid: str, text: str = "hello", **extra: Any) -> Any:
        return await self.ok(who, "POST", f"/groups/{gid}/messages", json={"text": text, **extra})

    async def every_page(
        self, who: Person, path: str, items: str, cursor: str, key: str, limit: int = 2
    ) -> list[str]:
        """The `key` of every item of a cursor-paged list, walked `limit` at a time."""
        seen: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        while True:
            page = await self.ok(who, "GET", path, params=params)
            seen += [item[key] for item in page[items]]
            if not page["has_more"]:
                return seen
            params[cursor] = seen[-1]

    async def events(self, who: Person, gid: str, after: int = 0) -> list[dict[str, Any]]:
        body = await self.ok(
            who, "GET", f"/groups/{gid}/events", params={"after": after, "limit": 1000}
        )
        return body["events"]


@asynccontextmanager
async def running(
    settings: Settings, request_timeout_s: float = 5
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """An app for `settings` with its lifespan running, and an HTTP client of it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://earshot.test", timeout=request_timeout_s
        ) as client:
            yield app, client


async def make_admin(app: Any, person: Person) -> None:
    """Make `person` an instance admin, as `earshot admin promote` does."""
    from app.services import admin
    from app.services.context import transaction

    async with transaction(app.state.runtime) as ctx:
        await admin.set_admin(ctx, None, person.id, True)


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an error in the one shape, with this status (and code)."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "details"}
    if code:
        assert error["code"] == code, body
    return error
