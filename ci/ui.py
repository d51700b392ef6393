"""Build and test the web UI: `python -m ci.ui build|test`.

build: `npm ci` (skipped when ui/node_modules already matches package-lock.json), the Vitest
       unit tests, then the type check and `vite build` into build/ui/dist.
test:  build, make sure a Chromium is installed (Debian's `chromium` package via apt when
       root; Playwright never downloads a browser here), then run the end-to-end suite in
       tests/ui: it starts real PostgreSQL and Redis (ci/env/services/) and the gateway,
       worker, cognitive-services and config-manager on loopback with
       AIWFE_STATIC_DIR=build/ui/dist, drives headless Chromium through Playwright and saves
       a screenshot of every page to build/ui/*.png.

Environment: AIWFE_CHROMIUM (a Chromium/Chrome executable, default /usr/bin/chromium),
AIWFE_UI_SKIP_BUILD=1 (test an existing build/ui/dist as is).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

from ci import proc
from ci.paths import BUILD, REPO

UI = REPO / "ui"
DIST = BUILD / "ui" / "dist"
SCREENSHOTS = BUILD / "ui"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
MIN_NODE = (20, 19)
LOCK_MARKER = UI / "node_modules" / ".aiwfe-lock-sha256"


def _node_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CI", "1")  # Vitest: no watch mode, no interactive output
    env["AIWFE_UI_OUT_DIR"] = str(DIST)
    return env


def check_node() -> str:
    """Node >= 20.19 (Vite 8's floor) and npm must be on PATH; returns `node --version`."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise SystemExit(
            "node and npm are needed to build the UI: apt-get install nodejs npm "
            "(Debian trixie has Node 20.19), or install Node >= 20.19 from nodejs.org"
        )
    version = proc.output([node, "--version"])
    match = re.match(r"v(\d+)\.(\d+)", version)
    if not match or (int(match[1]), int(match[2])) < MIN_NODE:
        raise SystemExit(f"Node {version} is too old for the UI build: it needs >= 20.19")
    return version


def npm_ci() -> None:
    """`npm ci` unless node_modules was installed from this exact package-lock.json."""
    digest = hashlib.sha256((UI / "package-lock.json").read_bytes()).hexdigest()
    if LOCK_MARKER.is_file() and LOCK_MARKER.read_text().strip() == digest:
        proc.echo("ui/node_modules matches package-lock.json: npm ci skipped")
        return
    proc.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=UI, env=_node_env())
    LOCK_MARKER.write_text(digest + "\n")


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build() -> None:
    started = time.monotonic()
    proc.echo(f"node {check_node()}")
    npm_ci()
    proc.run(["npm", "test"], cwd=UI, env=_node_env())
    proc.run(["npm", "run", "build"], cwd=UI, env=_node_env())
    index = DIST / "index.html"
    if not index.is_file():
        raise SystemExit(f"vite build wrote no {index}")
    assets = sorted((DIST / "assets").glob("*"))
    for asset in assets:
        proc.echo(f"  {asset.relative_to(REPO)}  {asset.stat().st_size / 1024:.1f} KiB")
    proc.echo(
        f"UI built in {time.monotonic() - started:.1f}s: {DIST.relative_to(REPO)} "
        f"{dir_size(DIST) / 1024:.1f} KiB in {sum(1 for _ in DIST.rglob('*'))} files"
    )


def ensure_chromium() -> str:
    """The Chromium the e2e suite drives; installs Debian's package when root and missing."""
    wanted = os.environ.get("AIWFE_CHROMIUM", DEFAULT_CHROMIUM)
    path = shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)
    if path:
        return path
    if wanted != DEFAULT_CHROMIUM or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            f"no Chromium at {wanted}: install Debian's `chromium` package "
            "(apt-get install chromium) or set AIWFE_CHROMIUM to a Chromium/Chrome executable"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc.run(["apt-get", "update", "-qq"], env=env)
    proc.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)
    if not Path(DEFAULT_CHROMIUM).is_file():
        raise SystemExit("apt-get installed chromium but /usr/bin/chromium is missing")
    return DEFAULT_CHROMIUM


def test(pytest_args: list[str]) -> int:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"the e2e suite needs the `ui` dependency group (playwright): {exc}"
        ) from exc
    if os.environ.get("AIWFE_UI_SKIP_BUILD") != "1":
        build()
    elif not (DIST / "index.html").is_file():
        raise SystemExit(f"AIWFE_UI_SKIP_BUILD=1 but {DIST}/index.html is missing")
    chromium = ensure_chromium()
    proc.echo(f"browser: {proc.output([chromium, '--version'])}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in [*SCREENSHOTS.glob("*.png"), *SCREENSHOTS.glob("failures/*.png")]:
        old.unlink()
    env = {
        **os.environ,
        "AIWFE_UI_E2E": "1",
        "AIWFE_CHROMIUM": chromium,
        "AIWFE_UI_DIST": str(DIST),
        "AIWFE_UI_SCREENSHOTS": str(SCREENSHOTS),
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    }
    cmd = [sys.executable, "-m", "pytest", "tests/ui", *pytest_args]
    result = proc.run(cmd, cwd=REPO, env=env, check=False)
    shots = sorted(SCREENSHOTS.glob("*.png"))
    proc.echo(f"{len(shots)} screenshots in {SCREENSHOTS.relative_to(REPO)}/")
    for shot in shots:
        proc.echo(f"  {shot.relative_to(REPO)}")
    failures = sorted(SCREENSHOTS.glob("failures/*.png"))
    if failures:
        where = (SCREENSHOTS / "failures").relative_to(REPO)
        proc.echo(f"{len(failures)} screenshots of failed tests in {where}/")
    proc.echo(f"service logs: {(SCREENSHOTS / 'logs').relative_to(REPO)}/")
    return result.returncode


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("test", [])
    try:
        if command == "build":
            build()
            return 0
        if command == "test":
            return test(rest)
    except proc.CalledProcessError as exc:
        proc.echo(f"failed ({exc.returncode}): {' '.join(map(str, exc.cmd))}")
        return exc.returncode or 1
    print(f"usage: python -m ci.ui build|test [pytest args], not {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
