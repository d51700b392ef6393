"""A reverse proxy for the services tier, run as its own process on loopback:

    python -m tests.services.forwarding_proxy --port P --upstream http://127.0.0.1:G [--proto https]

Like an ingress controller it answers clients on its port, forwards each request to the
upstream over a fresh connection from its own address, appends the client's address to
X-Forwarded-For (nginx's $proxy_add_x_forwarded_for) and sets X-Forwarded-Proto (`--proto
https`: what a TLS-terminating ingress sends). /healthz answers the proxy itself."""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import uvicorn

HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
    b"host",
    b"content-length",
}


def create_proxy(upstream: str, proto: str | None) -> Any:
    client = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        peer = scope["client"][0]
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        forwarded = [v.decode("latin1") for k, v in headers if k == b"x-forwarded-for"]
        headers = [
            (k, v) for k, v in headers if k not in (b"x-forwarded-for", b"x-forwarded-proto")
        ]
        headers.append((b"x-forwarded-for", ", ".join([*forwarded, peer]).encode()))
        headers.append((b"x-forwarded-proto", (proto or scope["scheme"]).encode()))
        path = scope["raw_path"].decode("latin1")
        if scope["query_string"]:
            path += "?" + scope["query_string"].decode("latin1")
        response = await client.request(scope["method"], path, headers=headers, content=body)
        out = [
            (k.encode("latin1"), v.encode("latin1"))
            for k, v in response.headers.multi_items()
            if k.lower().encode() not in HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        content = response.content
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--proto", choices=["http", "https"])
    args = parser.parse_args()
    uvicorn.run(
        create_proxy(args.upstream, args.proto),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        proxy_headers=False,  # a client's own X-Forwarded-For is appended to, not believed
    )


if __name__ == "__main__":
    main()
