"""Python peers of the WebSocket echo benchmark (docs/benchmarks.md, "WebSocket echo"): every
text or binary message sent back as it came.

* `python ws_echo.py PORT` - the `websockets` library's own asyncio server, on uvloop when it is
  installed: `async for message in ws: await ws.send(message)`.
* `uvicorn ws_echo:app --app-dir benches/peers/python --port PORT --ws websockets --loop uvloop
  --no-access-log` - the same echo as an ASGI app (the seed's "ASGI: HTTP + WebSocket"), with
  uvicorn speaking WebSocket through the same library.

Compression is off in both (the load client offers no extension anyway), like the Rust servers.
"""

import asyncio
import sys


async def app(scope, receive, send):
    """ASGI echo: accept, then send back each message until the client disconnects."""
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        if event.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": event["bytes"]})
        else:
            await send({"type": "websocket.send", "text": event["text"]})


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(port):
    from websockets.asyncio.server import serve

    async with serve(echo, "127.0.0.1", port, compression=None, max_size=16 * 1024 * 1024) as server:
        print(f"ws_echo.py: listening on ws://127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    try:
        import uvloop

        uvloop.run(main(port))
    except ImportError:
        asyncio.run(main(port))
