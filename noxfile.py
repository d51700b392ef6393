"""AIWFE's nox sessions. Thin on purpose: each session calls the harness in ci/ or pytest.

`nox` runs the fast tiers (lint, template, unit); `nox -l` lists every session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ci import tools
from ci.env import docker_engine, lockinstall
from ci.paths import TOOLS_BIN, env_with_tools

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "template", "unit"]
nox.options.reuse_venv = "yes"


def install(session: nox.Session, *groups: str, project: bool = False) -> None:
    """Install dependency groups (and the aiwfe package) exactly as pinned in uv.lock, with
    or without uv on PATH (ci/env/lockinstall.py)."""
    for step in lockinstall.plan(session.virtualenv.location, groups, project=project):
        session.run_install(*step.args, env=step.env, external=True)


def provide_tools(session: nox.Session, *names: str) -> dict[str, str]:
    """Pinned Go tools into .tools/bin; returns an env with them first on PATH."""
    results = tools.ensure_all(list(names) or None)
    session.log("\n" + tools.report(results))
    return env_with_tools()


# `tools` is the contract name; the function is tools_ so it does not shadow the module.
@nox.session(python=False, name="tools")
def tools_(session: nox.Session) -> None:
    """Build or reuse the pinned helm 3, helm 4, kind and actionlint in .tools/bin."""
    provide_tools(session)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, yamllint, helm lint --strict (helm 3 and 4, every profile), checkov, actionlint."""
    env = provide_tools(session)
    install(session, "lint", "test")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("yamllint", "--strict", "-c", "ci/yamllint.yaml", ".")
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.yml"))
    session.run(str(TOOLS_BIN / "actionlint"), *workflows, env=env, external=True)
    if Path("charts/aiwfe/Chart.yaml").exists():
        session.run("python", "-m", "ci.chart", "lint", env=env)


@nox.session
def template(session: nox.Session) -> None:
    """Render every values profile to build/rendered/<profile>.yaml."""
    env = provide_tools(session, "helm3")
    install(session, "test")
    session.run("python", "-m", "ci.chart", "template", env=env)


@nox.session
def unit(session: nox.Session) -> None:
    """Harness unit tests, chart render-and-assert tests, the bench's own maths (tests/unit,
    tests/chart, tests/bench)."""
    env = provide_tools(session, "helm3", "helm4")
    install(session, "test", "services", project=True)  # services: hypothesis, for tests/unit
    paths = [p for p in ("tests/unit", "tests/chart", "tests/bench") if Path(p).exists()]
    session.run("pytest", *paths, *session.posargs, env=env)


@nox.session
def services(session: nox.Session) -> None:
    """First-party services against real PostgreSQL and Redis started by the harness."""
    install(session, "services", project=True)
    session.run("pytest", "tests/services", *session.posargs)


@nox.session
def images(session: nox.Session) -> None:
    """Build the eight images (online or air-gapped), print the table, run tests/images."""
    env = provide_tools(session, "helm3")
    client = docker_engine.ensure_engine()
    env = client.env(env)
    install(session, "test")
    session.run("python", "-m", "ci.images", "build", *session.posargs, env=env)
    session.run("pytest", "tests/images", env=env)


@nox.session
def integration(session: nox.Session) -> None:
    """kind cluster (stock or air-gapped) and the tests/integration suite."""
    env = provide_tools(session, "helm3", "kind")
    client = docker_engine.ensure_engine()
    env = client.env(env)
    install(session, "integration")
    session.run("pytest", "tests/integration", *session.posargs, env=env)


@nox.session
def up(session: nox.Session) -> None:
    """Bring the whole stack up on a local kind cluster and print how to reach it."""
    env = provide_tools(session, "helm3", "kind")
    env = docker_engine.ensure_engine().env(env)
    install(session, "integration", "test")
    session.run("python", "-m", "ci.cluster.stack", "up", *session.posargs, env=env)


@nox.session
def down(session: nox.Session) -> None:
    """Delete the local kind cluster made by `nox -s up`."""
    env = provide_tools(session, "kind")
    env = docker_engine.ensure_engine().env(env)
    install(session, "integration")
    session.run("python", "-m", "ci.cluster.stack", "down", env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Consolidated vs split topology, gateway vs bare app, render and image budgets."""
    env = provide_tools(session, "helm3")
    install(session, "services", "bench", "test", project=True)
    session.run("python", "-m", "ci.bench", *session.posargs, env=env)


@nox.session
def ui(session: nox.Session) -> None:
    """Web UI: Vitest unit tests, Vite build, end-to-end in headless Chromium."""
    install(session, "services", "ui", project=True)
    session.run("python", "-m", "ci.ui", "test", *session.posargs)
