"""The web UI: static files with single-page-app routing, and 404 for unknown API paths.
Included last: its catch-all paths would shadow every route after them."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from aiwfe.gateway.deps import Public

router = APIRouter(include_in_schema=False, dependencies=[Public])


@router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def api_not_found(rest: str) -> JSONResponse:
    return JSONResponse({"detail": f"no API route /api/{rest}"}, status_code=404)


@router.get("/{path:path}")
async def web_ui(path: str, request: Request) -> Response:
    """Static files; any other path gets index.html (single-page-app routing)."""
    root: Path = request.app.state.static_root
    candidate = (root / path).resolve() if path else root / "index.html"
    if candidate.is_relative_to(root) and candidate.is_file():
        immutable = "/assets/" in f"/{path}" or path.startswith("assets/")
        cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
        return FileResponse(candidate, headers={"Cache-Control": cache})
    index = root / "index.html"
    if not index.is_file():
        return JSONResponse({"detail": "web UI not installed"}, status_code=404)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})
