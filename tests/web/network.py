"""A flaky network: for one page's websocket, cut it (open sockets close, new ones are
refused) and restore it, as a train in a tunnel would; for uploads, a proxy that drops
the connection in the middle of one."""

import asyncio
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


class UploadCutter:
    """A TCP proxy in front of the server that drops the connection carrying the first
    voice upload once `after` bytes of that request have passed (its headers and part
    of its body), as a phone's network drops in the middle of sending. Everything else
    (pages, API calls, websockets) goes through untouched. `url` is where to point the
    browser; `cut` says whether the drop happened, `declared` and `passed` how long the
    cut request said it was and how much of it reached the server."""

    MARKER = b"/voice HTTP/1.1\r\n"

    def __init__(self, target: str, after: int = 2000) -> None:
        self.host, port = target.removeprefix("http://").split(":")
        self.port, self.after = int(port), after
        self.cut = False
        self.declared = 0
        self.passed = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> "UploadCutter":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        back = asyncio.create_task(self._pipe(up_reader, writer))
        self._tasks.add(back)
        back.add_done_callback(self._tasks.discard)
        try:
            await self._pipe(reader, up_writer, watch=bytearray())
        finally:
            writer.transport.abort()  # a reset, not a polite close: both ends see it die
            back.cancel()

    def _until_cut(self, seen: bytearray, data: bytes) -> int | None:
        """How much of `data` passes before the cut (None: all of it, no cut)."""
        if self.cut:
            return None
        seen += data
        del seen[:-65536]
        start = seen.find(self.MARKER)
        if start < 0 or len(seen) - start < self.after:
            return None
        self._record_cut(bytes(seen[start : start + self.after]))
        return len(data) - (len(seen) - start - self.after)

    def _record_cut(self, request: bytes) -> None:
        self.cut = True
        head, _, body = request.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                self.declared = int(value)
        self.passed = len(body)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        watch: bytearray | None = None,
    ) -> None:
        """Copies one direction; `watch`ed (the browser's requests), up to the cut."""
        try:
            while data := await reader.read(16384):
                keep = None if watch is None else self._until_cut(watch, data)
                writer.write(data if keep is None else data[:keep])
                await writer.drain()
                if keep is not None:
                    break
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()
