"""Baseline for bench.fanout: a bare ASGI app that, on POST /broadcast, sends the request
body as one text frame to every connected websocket with a plain for-loop. Nothing else."""

from typing import Any

clients: set[Any] = set()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        clients.add(send)
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            clients.discard(send)
    elif scope["type"] == "http":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        text = body.decode()
        for client in list(clients):
            await client({"type": "websocket.send", "text": text})
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
