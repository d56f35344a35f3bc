"""A small OpenAI-compatible server with a fixed artificial latency per request, for benchmarks and tests.

It answers ``POST /v1/chat/completions`` after ``latency_s`` with a valid reply: when the request carries a JSON
schema (``response_format``) the reply is an object derived from it (every property present, enums and consts
respected, strings of a few random words within maxLength, booleans false, numbers at their minimum), so the
simulator's structured calls parse; otherwise a short sentence. With ``capacity`` set, requests beyond that many
in flight get HTTP 429, like a saturated provider. ``GET /stats`` gives its counters, ``POST /reset`` zeroes
them. It binds 127.0.0.1 only and refuses bodies over 1 MB.

    python benchmarks/latency_server.py --latency 0.5 [--capacity 64] [--port 8077]
"""

import argparse
import asyncio
import json
import random
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_BODY = 1_000_000
WORDS = ("feel", "work", "sleep", "friend", "worried", "lately", "family", "tired", "talk", "help", "week", "hard",
         "really", "think", "maybe", "home", "exam", "job", "partner", "alone", "better", "today", "stress", "time")


def instance(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any] | None = None) -> Any:
    """A small valid value of a JSON schema (the subset pydantic emits)."""
    defs = schema.get("$defs", defs or {})
    if "$ref" in schema:
        return instance(defs[schema["$ref"].rsplit("/", 1)[-1]], rng, defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance(options[0], rng, defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: instance(sub, rng, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance(schema.get("items", {}), rng, defs) for _ in range(max(1, schema.get("minItems", 0)))]
    if kind == "string":
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))).capitalize() + "."
        longest = schema.get("maxLength", len(text))
        return text[:longest].ljust(schema.get("minLength", 0), "x")
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    if kind == "boolean":
        return False
    return None


class LatencyServer:
    """The server in a background thread (``with LatencyServer(0.2) as s: s.base_url``)."""

    def __init__(self, latency_s: float, capacity: int | None = None, port: int = 0) -> None:
        self.latency_s, self.capacity = latency_s, capacity
        self.requests = 0
        self.rejected = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []  # time.monotonic() of each accepted request
        self._rng = random.Random(0)
        app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"]),
                                Route("/v1/models", self._models, methods=["GET"]),
                                Route("/stats", self._stats, methods=["GET"]),
                                Route("/reset", self._reset, methods=["POST"])])
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", backlog=4096))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    async def _models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "latency-server", "object": "model"}]})

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse({"requests": self.requests, "rejected": self.rejected, "in_flight": self.in_flight,
                             "max_in_flight": self.max_in_flight})

    async def _reset(self, request: Request) -> JSONResponse:
        self.requests = self.rejected = self.max_in_flight = 0
        self.arrivals.clear()
        return await self._stats(request)

    async def _complete(self, request: Request) -> JSONResponse:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": {"message": "request body over 1 MB"}}, status_code=413)
        body = json.loads(raw)
        if self.capacity is not None and self.in_flight >= self.capacity:
            self.rejected += 1
            return JSONResponse({"error": {"message": "rate limited"}}, status_code=429,
                                headers={"Retry-After": "0"})
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.arrivals.append(time.monotonic())
        try:
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        fmt = body.get("response_format") or {}
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        content = json.dumps(instance(schema, self._rng)) if schema else "I hear you, tell me more."
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        return JSONResponse({
            "id": f"cmpl-{self.requests}", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(content) // 4 + 1},
        })

    def __enter__(self) -> "LatencyServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("latency server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--capacity", type=int, default=None, help="requests in flight before answering 429")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    args = parser.parse_args()
    with LatencyServer(args.latency, args.capacity, args.port) as server:
        print(server.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
