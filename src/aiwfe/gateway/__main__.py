"""aiwfe-gateway: the API gateway on AIWFE_PORT (default 8080)."""

from __future__ import annotations

from aiwfe.core.settings import get_settings
from aiwfe.core.web import serve


def main() -> None:
    settings = get_settings()
    from aiwfe.gateway.app import create_app

    serve(create_app(settings), settings, "gateway")


if __name__ == "__main__":
    main()
