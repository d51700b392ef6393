"""The load generators: the asyncio keep-alive client against a real local server, and the
parser of Apache Bench's report."""

from __future__ import annotations

import asyncio
import json

from ci.bench import load

AB_OUTPUT = """\
Server Software:
Server Hostname:        127.0.0.1
Server Port:            8080

Document Path:          /api/health
Document Length:        15 bytes

Concurrency Level:      10
Time taken for tests:   0.512 seconds
Complete requests:      1000
Failed requests:        0
Non-2xx responses:      3
Total transferred:      171000 bytes
Requests per second:    1953.12 [#/sec] (mean)
Time per request:       5.120 [ms] (mean)
"""
AB_CSV = "Percentage served,Time in ms\n0,0.900\n50,4.125\n95,9.500\n99,12.750\n100,20.100\n"


def test_parse_ab_reads_the_report_and_the_percentile_csv() -> None:
    parsed = load.parse_ab(AB_OUTPUT, AB_CSV)
    assert parsed["complete"] == 1000
    assert parsed["failed"] == 0
    assert parsed["non_2xx"] == 3
    assert parsed["seconds"] == 0.512
    assert parsed["throughput_rps"] == 1953.12
    assert (parsed["p50_ms"], parsed["p95_ms"], parsed["p99_ms"]) == (4.125, 9.5, 12.75)


def test_parse_ab_refuses_a_truncated_report() -> None:
    try:
        load.parse_ab("Complete requests: 10\n")
    except ValueError as exc:
        assert "Failed" in str(exc) or "failed" in str(exc)
    else:
        raise AssertionError("a report without its figures must not parse")


def test_call_encodes_a_valid_request() -> None:
    raw = load.Call("x", "POST", "/api/v1/things", {"a": 1}).encode({"Authorization": "Bearer t"})
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/v1/things HTTP/1.1"
    assert "Authorization: Bearer t" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {"a": 1}


async def _serve(handler_log: list[str]) -> tuple[asyncio.AbstractServer, int]:
    """A tiny HTTP/1.1 keep-alive server: /ok (Content-Length), /chunked, /fail (500)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":")[1])
                if length:
                    await reader.readexactly(length)
                path = lines[0].split()[1]
                handler_log.append(path)
                if path == "/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                    )
                elif path == "/fail":
                    writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno")
                else:
                    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"ok": true}')
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_closed_loop_counts_requests_calls_and_errors() -> None:
    async def scenario() -> tuple[load.LoadResult, list[str], tuple[int, object]]:
        seen: list[str] = []
        server, port = await _serve(seen)
        async with server:
            calls = [
                load.Call("ok", "GET", "/ok", expect=(200,)),
                load.Call("chunked", "POST", "/chunked", {"x": 1}, expect=(200,)),
                load.Call("fail", "GET", "/fail", expect=(200,)),
            ]
            result = await load.closed_loop(port, calls, requests=90, concurrency=4)
            single = await load.fetch(port, load.Call("ok", "GET", "/ok"))
        return result, seen, single

    result, seen, single = asyncio.run(scenario())
    assert len(seen) == 91  # every request reached the server exactly once (+ the fetch)
    assert result.completed == 60 and result.failed == 30
    assert result.errors == {"fail: HTTP 500": 30}
    summary = result.summary()
    assert summary["by_call"]["ok"]["count"] == 30
    assert summary["by_call"]["chunked"]["count"] == 30
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["throughput_rps"] > 0 and not summary["stopped_by_deadline"]
    assert single == (200, {"ok": True})


def test_closed_loop_stops_at_its_deadline() -> None:
    async def scenario() -> load.LoadResult:
        async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(5)
            writer.close()

        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await load.closed_loop(
                port,
                [load.Call("slow", "GET", "/")],
                requests=1000,
                concurrency=2,
                deadline_s=0.3,
            )

    result = asyncio.run(scenario())
    assert result.completed == 0
    assert result.seconds < 3
    assert result.failed + result.completed < 1000
