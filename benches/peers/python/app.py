"""uvicorn + FastAPI peer. Run by the harness as
`uvicorn app:app --app-dir benches/peers/python --host 127.0.0.1 --port P --workers 1
 --loop uvloop --http httptools --no-access-log`. uvicorn adds `date` and `server` itself."""

import asyncio

from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return "Hello, World!"


@app.get("/json")
async def json():
    return {"message": "Hello, World!"}


@app.get("/sleep")
async def sleep(ms: int = 0):
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


@app.get("/users/{user_id}")
async def user(
    user_id: int,
    limit: int = Query(10, ge=1, le=100),
    q: str | None = Query(None, max_length=50),
):
    return {"user_id": user_id, "limit": limit, "q": q}
