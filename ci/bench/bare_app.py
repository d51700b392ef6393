"""The practical ceiling for the gateway's /api/health: a bare FastAPI app with one route,
served by the very same function the gateway uses (aiwfe.core.web.serve), so uvicorn's
workers, event loop, HTTP implementation and flags are identical.

Run as `python -m ci.bench.bare_app` with AIWFE_PORT set.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    from aiwfe.core.settings import get_settings
    from aiwfe.core.web import serve

    serve(app, get_settings(), "gateway")


if __name__ == "__main__":
    main()
