"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from aiwfe.core.settings import MODULES
from aiwfe.gateway.deps import Public, Rt
from aiwfe.gateway.schemas import Problem

router = APIRouter(prefix="/api", tags=["health"], dependencies=[Public])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. No I/O."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"model": Problem}})
async def ready(rt: Rt) -> Any:
    """Readiness is what this pod needs to serve (the database: login, runs, the UI's data).
    Redis or cognitive-services down leaves it ready but `degraded`: the checks name them,
    and only the features needing them answer 503."""
    checks: dict[str, str] = {}

    async def check(name: str, probe: Any) -> None:
        try:
            await asyncio.wait_for(probe(), timeout=3)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"

    async def db_probe() -> None:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def cognitive_probe() -> None:
        client = rt.cognitive.client
        urls = {rt.settings.module_url(m) for m in MODULES}
        for url in sorted(urls):
            response = await client.get(f"{url}/health")
            response.raise_for_status()

    await asyncio.gather(
        check("database", db_probe),
        check("redis", rt.redis.ping),
        check("cognitive", cognitive_probe),
    )
    failed = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
    if checks["database"] != "ok":
        return JSONResponse({"detail": f"not ready: {failed}", "checks": checks}, status_code=503)
    if failed:
        return {"status": "degraded", "detail": f"degraded: {failed}", "checks": checks}
    return {"status": "ready", "checks": checks}
