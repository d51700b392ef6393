"""aiwfe-cognitive [--module NAME]: all five modules (consolidated) or one (split mode)."""

from __future__ import annotations

import argparse

from aiwfe.core.settings import MODULES, get_settings
from aiwfe.core.web import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="aiwfe-cognitive", description=__doc__)
    parser.add_argument("--module", choices=MODULES, help="run only this module (split mode)")
    parser.add_argument("--port", type=int, help="listen port (default AIWFE_PORT or 8081)")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.port:
        settings.port = args.port
    from aiwfe.cognitive.server import create_app

    app = create_app(settings, [args.module] if args.module else None)
    serve(app, settings, "cognitive")


if __name__ == "__main__":
    main()
