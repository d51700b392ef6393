"""aiwfe-config: config-manager on AIWFE_PORT (default 8082)."""

from __future__ import annotations

from aiwfe.core.settings import get_settings
from aiwfe.core.web import serve


def main() -> None:
    settings = get_settings()
    from aiwfe.config_manager.app import create_app

    serve(create_app(settings), settings, "config")


if __name__ == "__main__":
    main()
