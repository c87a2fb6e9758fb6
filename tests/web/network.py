"""A flaky network for one page's websocket: cut it (open sockets close, new ones are
refused) and restore it, as a train in a tunnel would."""

from typing import Any

from playwright.async_api import Page, WebSocketRoute


class FlakySocket:
    def __init__(self) -> None:
        self.down = False
        self.open: list[WebSocketRoute] = []

    async def attach(self, page: Page) -> "FlakySocket":
        await page.route_web_socket("**/api/v1/ws*", self._route)
        return self

    async def _route(self, route: WebSocketRoute) -> Any:
        if self.down:
            await route.close(code=1006, reason="network down")
            return
        route.connect_to_server()
        self.open.append(route)

    async def cut(self) -> None:
        self.down = True
        for route in self.open:
            await route.close(code=1006, reason="network down")
        self.open = []

    def restore(self) -> None:
        self.down = False  # the client's next attempt connects
