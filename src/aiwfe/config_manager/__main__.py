"""aiwfe-config: config-manager on AIWFE_PORT (default 8082).

Serves per-component config and feature flags from AIWFE_CONFIG_FILE plus runtime overrides
kept in Postgres. Settings come from the environment (AIWFE_*; see docs/contracts.md).
"""

from __future__ import annotations

import argparse

from aiwfe.core.web import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="aiwfe-config", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.parse_args(argv)
    from aiwfe.config_manager.app import create_app
    from aiwfe.core.settings import get_settings

    settings = get_settings()
    serve(create_app(settings), settings, "config")


if __name__ == "__main__":
    main()
