"""End-to-end fixtures: the real platform on loopback and headless Debian chromium.

The stack is the services' own: PostgreSQL+pgvector and Redis from ci/env/services/, the
schema migrated by `aiwfe-migrate upgrade` (which also creates the admin user), then
cognitive-services, config-manager, the gateway (serving the built UI from
AIWFE_STATIC_DIR) and the Celery worker, each as its real console script. The browser is
Debian's chromium driven by Playwright's Python client; nothing is downloaded and nothing
stands in for the gateway.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aiwfe.core.keyfiles import KeyFiles
from ci.env import services as services_env
from tests.services.support import Proc, script
from tests.ui.support import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CHROMIUM,
    CHROMIUM_ARGS,
    CONFIG,
    DESKTOP,
    DIST,
    PHONE,
    SCREENSHOTS,
    Platform,
    wait_ready,
)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A bare `pytest` without the `ui` group skips this directory; `python -m ci.ui test`
    (AIWFE_UI_E2E=1) never does, so a broken environment fails there instead of passing."""
    if os.environ.get("AIWFE_UI_E2E") != "1" and importlib.util.find_spec("playwright") is None:
        return True
    return None


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    if not (DIST / "index.html").is_file():
        pytest.fail(f"{DIST}/index.html is missing: run `python -m ci.ui build` first")
    workdir = tmp_path_factory.mktemp("aiwfe-ui")
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(CONFIG))
    keys = KeyFiles.create(workdir / "keys")  # the token keys, laid out as the chart mounts them
    backing = services_env.start()
    procs: dict[str, Proc] = {}
    try:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        ports = {name: services_env.free_port() for name in ("cognitive", "config", "gateway")}
        ports["worker"] = services_env.free_port()
        env = {
            **keep,
            **backing.env(),
            "AIWFE_HOST": "127.0.0.1",
            "AIWFE_ADMIN_USERNAME": ADMIN_USER,
            "AIWFE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "AIWFE_LLM_PROVIDER": "local",
            "AIWFE_EMBEDDING_PROVIDER": "local",
            "AIWFE_EMBEDDING_DIM": "256",
            "AIWFE_VECTOR_STORE": "pgvector",
            "AIWFE_CONFIG_FILE": str(config_file),
            "AIWFE_COGNITIVE_MODE": "consolidated",
            "AIWFE_COGNITIVE_URL": f"http://127.0.0.1:{ports['cognitive']}",
            "AIWFE_CONFIG_URL": f"http://127.0.0.1:{ports['config']}",
            "AIWFE_STATIC_DIR": str(DIST),
            # Every test logs in from 127.0.0.1: the default 10 logins a minute is too few.
            "AIWFE_LOGIN_RATE_LIMIT": "1000",
            "WORKER_CONCURRENCY": "2",
            "PYTHONUNBUFFERED": "1",
        }
        migrated = subprocess.run(
            [script("aiwfe-migrate"), "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        logdir = SCREENSHOTS / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        commands = {
            "cognitive": ([script("aiwfe-cognitive")], "/health"),
            "config": ([script("aiwfe-config")], "/health"),
            "gateway": ([script("aiwfe-gateway")], "/api/health"),
            "worker": ([script("aiwfe-worker")], "/health"),
        }
        for name, (argv, health) in commands.items():
            log = logdir / f"{name}.log"
            log.write_text("")
            port_env = {**env, **keys.env(name), "AIWFE_PORT": str(ports[name])}
            procs[name] = Proc(name, argv, port_env, log, ports[name], health)
            procs[name].start(wait=False)
        for p in procs.values():
            p.wait_healthy(180)
        platform = Platform(f"http://127.0.0.1:{ports['gateway']}", procs, env)
        wait_ready(platform)
        yield platform
    finally:
        for p in reversed(list(procs.values())):
            p.stop()
        backing.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium or set AIWFE_CHROMIUM")
    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh temporary --user-data-dir.
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _new_page(browser, platform: Platform, viewport: dict[str, int]):
    context = browser.new_context(base_url=platform.gateway, viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Script errors only: "Failed to load resource" lines are the browser logging HTTP error
    # answers (a 401 for a wrong password), which the tests provoke on purpose.
    errors: list[str] = []
    page.console_errors = errors  # type: ignore[attr-defined]

    def on_console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _close(request: pytest.FixtureRequest, context, page) -> None:
    """Keep what the browser showed when a test failed: build/ui/failures/<test>.png."""
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        failures = SCREENSHOTS / "failures"
        failures.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(failures / f"{request.node.name}.png"), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"no failure screenshot: {exc}")
    context.close()


@pytest.fixture
def page(browser, platform: Platform, request: pytest.FixtureRequest):
    context, page = _new_page(browser, platform, DESKTOP)
    yield page
    _close(request, context, page)


@pytest.fixture
def phone_page(browser, platform: Platform, request: pytest.FixtureRequest):
    context, page = _new_page(browser, platform, PHONE)
    yield page
    _close(request, context, page)
