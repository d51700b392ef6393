"""aiwfe-gateway: the API gateway on AIWFE_PORT (default 8080).

Settings come from the environment (AIWFE_*; see docs/contracts.md), never from arguments,
so the same image runs everywhere; --help works without any of them set.
"""

from __future__ import annotations

import argparse

from aiwfe.core.web import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="aiwfe-gateway", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.parse_args(argv)
    from aiwfe.core.settings import get_settings
    from aiwfe.gateway.app import create_app

    settings = get_settings()
    serve(create_app(settings), settings, "gateway")


if __name__ == "__main__":
    main()
