"""Load generators: Apache Bench for the seed's `ab -n 1000 -c 10`, and a lean asyncio
HTTP/1.1 keep-alive client for the mixed authenticated workload.

The asyncio client is hand-rolled on purpose: a full client library (httpx) costs a few
hundred microseconds of CPU per request on the same two cores the servers use, which would
blur the difference between the topologies. Every loop is bounded by a request count AND a
deadline, and connects to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci import proc
from ci.bench.stats import latency_summary, percentile

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Call:
    """One kind of request in a workload."""

    name: str
    method: str
    path: str
    body: Any = None
    expect: tuple[int, ...] = (200, 201)

    def encode(self, headers: dict[str, str]) -> bytes:
        payload = b"" if self.body is None else json.dumps(self.body).encode()
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {LOOPBACK}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.body is not None:
            lines.append("Content-Type: application/json")
        if payload or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection (Content-Length and chunked bodies)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(LOOPBACK, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        chunks = []
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


@dataclass
class LoadResult:
    """What a closed-loop run measured: one (call, latency, status) per completed request."""

    requests: int
    concurrency: int
    seconds: float
    samples: list[tuple[str, float, int]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    stopped_by_deadline: bool = False

    @property
    def completed(self) -> int:
        return len(self.samples)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        latencies = [lat for _, lat, _ in self.samples]
        out: dict[str, Any] = {
            "requests": self.requests,
            "completed": self.completed,
            "failed": self.failed,
            "errors": dict(self.errors),
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 4),
            "throughput_rps": round(self.completed / self.seconds, 2) if self.seconds else 0.0,
            "stopped_by_deadline": self.stopped_by_deadline,
        }
        if latencies:
            out.update(latency_summary(latencies))
        by_call: dict[str, list[float]] = {}
        for name, lat, _ in self.samples:
            by_call.setdefault(name, []).append(lat)
        out["by_call"] = {
            name: {"count": len(lats), **latency_summary(lats)} for name, lats in by_call.items()
        }
        return out


async def closed_loop(
    port: int | list[int],
    calls: list[Call],
    requests: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
    deadline_s: float = 120.0,
) -> LoadResult:
    """`concurrency` workers send `requests` requests in total, cycling through `calls` in
    order (request i is calls[i % len(calls)]), each on its own keep-alive connection.

    With a list of ports, worker k connects to ports[k % len(ports)] (replicas behind a
    connection-balancing Service)."""
    headers = {"Connection": "keep-alive", **(headers or {})}
    encoded = [(c, c.encode(headers)) for c in calls]
    result = LoadResult(requests=requests, concurrency=concurrency, seconds=0.0)
    counter = iter(range(requests))
    stop_at = time.monotonic() + deadline_s

    ports = port if isinstance(port, list) else [port]

    async def worker(k: int) -> None:
        conn = Connection(ports[k % len(ports)])
        try:
            for index in counter:
                if time.monotonic() > stop_at:
                    result.stopped_by_deadline = True
                    return
                call, raw = encoded[index % len(encoded)]
                started = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        conn.request(raw), max(0.1, stop_at - time.monotonic())
                    )
                except (OSError, asyncio.IncompleteReadError, HttpError, TimeoutError) as exc:
                    await conn.close()
                    key = f"{call.name}: {type(exc).__name__}"
                    result.errors[key] = result.errors.get(key, 0) + 1
                    continue
                elapsed = time.perf_counter() - started
                if status not in call.expect:
                    key = f"{call.name}: HTTP {status}"
                    result.errors[key] = result.errors.get(key, 0) + 1
                    continue
                result.samples.append((call.name, elapsed, status))
        finally:
            await conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    result.seconds = time.perf_counter() - began
    return result


def run_closed_loop(*args: Any, **kwargs: Any) -> LoadResult:
    return asyncio.run(closed_loop(*args, **kwargs))


async def fetch(port: int, call: Call, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; returns (status, decoded JSON or text)."""
    conn = Connection(port)
    try:
        status, body = await asyncio.wait_for(
            conn.request(call.encode({"Connection": "close", **(headers or {})})), 60
        )
    finally:
        await conn.close()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


# ---- Apache Bench ----------------------------------------------------------------------


def ab_binary() -> str | None:
    return shutil.which("ab")


def ensure_ab() -> str | None:
    """`ab` from Debian's apache2-utils; installed with apt when missing and we are root."""
    found = ab_binary()
    if found:
        return found
    import os

    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    for cmd in (["apt-get", "install", "-y", "-qq", "apache2-utils"],):
        done = proc.run(cmd, capture=True, check=False, timeout=300, quiet=True, text=False)
        if done.returncode != 0:
            proc.run(
                ["apt-get", "update", "-qq"],
                capture=True,
                timeout=300,
                check=False,
                quiet=True,
                text=False,
            )
            proc.run(cmd, capture=True, check=False, timeout=300, quiet=True, text=False)
    return ab_binary()


_AB_FIELDS = {
    "complete": re.compile(r"^Complete requests:\s+(\d+)", re.M),
    "failed": re.compile(r"^Failed requests:\s+(\d+)", re.M),
    "non_2xx": re.compile(r"^Non-2xx responses:\s+(\d+)", re.M),
    "seconds": re.compile(r"^Time taken for tests:\s+([\d.]+) seconds", re.M),
    "throughput_rps": re.compile(r"^Requests per second:\s+([\d.]+)", re.M),
}


def parse_ab(text: str, percentiles_csv: str | None = None) -> dict[str, Any]:
    """The figures of an `ab` report (its stdout) and, when given, of its `-e` CSV
    (percentage served, time in ms), which has sub-millisecond resolution."""
    out: dict[str, Any] = {}
    for key, pattern in _AB_FIELDS.items():
        match = pattern.search(text)
        if match:
            out[key] = float(match.group(1)) if "." in match.group(1) else int(match.group(1))
        elif key == "non_2xx":
            out[key] = 0
        else:
            raise ValueError(f"ab output lacks {key!r}")
    if percentiles_csv:
        table: dict[int, float] = {}
        for row in csv.reader(percentiles_csv.splitlines()):
            if len(row) == 2 and row[0].strip().isdigit():
                table[int(row[0])] = float(row[1])
        for pct in (50, 95, 99):
            if pct in table:
                out[f"p{pct}_ms"] = round(table[pct], 3)
    return out


def run_ab(port: int, path: str, requests: int, concurrency: int, timeout: float = 120) -> dict:
    """`ab -n N -c C http://127.0.0.1:PORT/path` (no keep-alive, as the seed ran it)."""
    binary = ab_binary()
    if binary is None:
        raise FileNotFoundError("ab (apache2-utils) is not installed")
    with tempfile.TemporaryDirectory(prefix="aiwfe-ab-") as tmp:
        csv_path = Path(tmp) / "pct.csv"
        done = proc.run(
            [
                binary,
                "-q",
                "-n",
                str(requests),
                "-c",
                str(concurrency),
                "-e",
                str(csv_path),
                f"http://{LOOPBACK}:{port}{path}",
            ],
            capture=True,
            timeout=timeout,
            check=False,
            quiet=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ab failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        pct = csv_path.read_text() if csv_path.exists() else None
    result = parse_ab(done.stdout, pct)
    result.update(tool="ab", requests=requests, concurrency=concurrency)
    return result


def health_load(port: int, requests: int, concurrency: int) -> dict[str, Any]:
    """/api/health with ab when installed, else with the asyncio client (noted in `tool`)."""
    if ab_binary():
        return run_ab(port, "/api/health", requests, concurrency)
    result = run_closed_loop(port, [Call("health", "GET", "/api/health")], requests, concurrency)
    summary = result.summary()
    return {
        "tool": "asyncio-keepalive (ab missing)",
        "complete": summary["completed"],
        "failed": summary["failed"],
        "non_2xx": 0,
        "seconds": summary["seconds"],
        "throughput_rps": summary["throughput_rps"],
        **{k: summary[k] for k in ("p50_ms", "p95_ms", "p99_ms") if k in summary},
        "requests": requests,
        "concurrency": concurrency,
    }


__all__ = ["Call", "LoadResult", "closed_loop", "fetch", "health_load", "percentile", "run_ab"]
