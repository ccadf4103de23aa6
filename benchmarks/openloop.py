"""Open-loop load at a constant rate, without coordinated omission. Run as its own process:

    python -m benchmarks.openloop --url URL --bodies FILE --rate 200 --duration 10 [--id-prefix P]

Request i is due at start + i/rate whatever happened to earlier ones; its latency is measured
from that intended time, so a server that stalls is charged for every request that waited
behind the stall (wrk, being closed-loop, would just send fewer). The generator checks itself:
how late it actually sent (send lag) and how busy its own CPU was. When it could not keep the
schedule, `sustained` is false and `problems` says why: the latencies then include the
generator's own delay and overstate the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import numpy as np
import uvloop

from benchmarks.bodies import decision_body, read_lines

# Sustained means: sent within MAX_P99_LAG_S of schedule (p99) and at >= 95% of the rate.
MAX_P99_LAG_S = 0.005
MIN_RATE_SHARE = 0.95
IDLE_S = 4.0  # reuse a keep-alive connection idle for less than this


def percentiles_ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values) * 1000
    q = np.percentile(a, [50, 90, 95, 99, 99.9])
    return {"p50": round(float(q[0]), 3), "p90": round(float(q[1]), 3),
            "p95": round(float(q[2]), 3), "p99": round(float(q[3]), 3),
            "p99_9": round(float(q[4]), 3), "mean": round(float(a.mean()), 3),
            "max": round(float(a.max()), 3)}


class _Connections:
    """Keep-alive HTTP/1.1 connections on raw asyncio streams (uvloop): a request is a
    pre-encoded byte string, an answer a status line, headers and a Content-Length body. An
    HTTP client library (httpx) cost the generator ~1 ms of CPU per request, enough to fall
    behind its own schedule on a 2-core machine shared with the server."""

    def __init__(self, host: str, port: int, most: int) -> None:
        self.host, self.port = host, port
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.slots = asyncio.Semaphore(most)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # A connection idle longer than the server keeps one (uvicorn: 5 s) may be closed
        # under us: dropped, as an HTTP client would, rather than counted as an error.
        while self.free:
            reader, writer, idle_since = self.free.pop()
            if time.monotonic() - idle_since < IDLE_S and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def post(self, request: bytes, timeout_s: float) -> int:
        async with self.slots:
            reader, writer = await self._connection()
            try:
                status = await asyncio.wait_for(self._exchange(reader, writer, request),
                                                timeout_s)
            except BaseException:
                writer.close()
                raise
            self.free.append((reader, writer, time.monotonic()))
            return status

    @staticmethod
    async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes) -> int:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        for _, writer, _ in self.free:
            writer.close()


def _request(parts: SplitResult, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"host: {parts.netloc}",
             f"content-length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def drive(url: str, bodies: list[bytes], rate: float, duration_s: float,
                connections: int, headers: dict[str, str], timeout_s: float) -> dict[str, Any]:
    parts = urlsplit(url)
    pool = _Connections(parts.hostname or "127.0.0.1", parts.port or 80, connections)
    requests = [_request(parts, b, headers) for b in bodies]
    total = int(rate * duration_s)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[str, int] = {}
    socket_errors: dict[str, int] = {}

    async def one(i: int, due: float) -> None:
        try:
            status = await pool.post(requests[i % len(requests)], timeout_s)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, ValueError) as exc:
            name = type(exc).__name__
            socket_errors[name] = socket_errors.get(name, 0) + 1
            return
        latencies.append(time.perf_counter() - due)
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    tasks = []
    cpu0, start = time.process_time(), time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.perf_counter() - due))
        tasks.append(asyncio.create_task(one(i, due)))
    sent_at = time.perf_counter()
    await asyncio.gather(*tasks)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    pool.close()
    send_window = max(sent_at - start, 1e-9)
    achieved = total / send_window if total else 0.0
    non_2xx = sum(n for code, n in statuses.items() if not code.startswith("2"))
    lag = percentiles_ms(lags)
    problems = []
    if lags and lag["p99"] > MAX_P99_LAG_S * 1000:
        problems.append(f"send lag p99 {lag['p99']} ms > {MAX_P99_LAG_S * 1000:g} ms")
    if achieved < MIN_RATE_SHARE * rate:
        problems.append(f"sent {achieved:.1f}/s, asked {rate:g}/s")
    return {
        "kind": "open_loop", "tool": "benchmarks.openloop (asyncio streams, uvloop)",
        "target_rate_per_s": rate, "achieved_send_rate_per_s": round(achieved, 1),
        "duration_s": duration_s, "requests": total, "connections_max": connections,
        "completed": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 1) if wall else 0.0,
        # Seconds from the last send to the last answer: long when the server fell behind.
        "drain_s": round(wall - send_window, 3),
        "latency_ms": percentiles_ms(latencies),  # from the intended send time
        "errors": {"non_2xx": non_2xx, "socket": sum(socket_errors.values()),
                   "by_status": statuses, "by_exception": socket_errors},
        "generator": {"send_lag_ms": lag, "cpu_share": round(cpu / wall, 3) if wall else 0.0},
        "sustained": not problems, "problems": problems,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--bodies", type=Path, required=True, help="one body per line")
    p.add_argument("--id-prefix", help="bodies are decision tails: give each a unique id")
    p.add_argument("--rate", type=float, required=True, help="requests per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds")
    p.add_argument("--connections", type=int, default=64, help="most requests in flight")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    args = p.parse_args(argv)
    lines = read_lines(args.bodies)
    if args.id_prefix:
        total = int(args.rate * args.duration)
        bodies = [decision_body(lines[i % len(lines)], f"{args.id_prefix}-{i}") for i in range(total)]
    else:
        bodies = [line.encode() for line in lines]
    headers = {"content-type": "application/json"}
    if os.environ.get("BENCH_AUTHORIZATION"):  # not an argument: `ps` would show it
        headers["authorization"] = os.environ["BENCH_AUTHORIZATION"]
    result = uvloop.run(drive(args.url, bodies, args.rate, args.duration, args.connections,
                               headers, args.timeout))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
