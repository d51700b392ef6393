"""`nox -s tools`: put the pinned Go tools (helm 3, helm 4, kind, actionlint) into .tools/bin.

A binary already on PATH is reused when it reports the pinned version; otherwise the tool is
built once with `go install` from the Go module proxy into the machine-level cache
(<cache>/tools/<name>-<version>/) and linked into .tools/bin, so later runs only check
versions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci import pins, proc, progress
from ci.paths import TOOLS_BIN, cache_dir, logs_dir
from ci.proc import echo

# Names a tool may have on PATH, in order of preference.
PATH_NAMES = {"helm3": ("helm3", "helm"), "helm4": ("helm4", "helm")}
# `.tools/bin/helm` is Helm 3: the version most users' CI still runs.
DEFAULT_HELM = "helm3"


class ToolError(RuntimeError):
    """A tool could not be provided; the message says what to do."""


@dataclass(frozen=True)
class ToolResult:
    name: str
    version: str
    path: Path
    source: str  # "PATH", "cache" or "built"


def reported_version(binary: Path | str, pin: pins.ToolPin) -> str | None:
    """The version a binary reports for itself, or None if it does not run."""
    try:
        result = proc.run(
            [binary, *pin.version_cmd], capture=True, check=False, quiet=True, timeout=30
        )
    except (OSError, proc.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return pins.parse_version(result.stdout + result.stderr)


def cached_binary(pin: pins.ToolPin) -> Path:
    """<cache>/tools/<name>-<version>-<hash of module and ldflags>/<binary>: any pin change
    (not only the version) gets a fresh build."""
    binary = pin.module.rstrip("/").rsplit("/", 1)[-1]
    digest = hashlib.sha256(f"{pin.module} {pin.resolved_ldflags}".encode()).hexdigest()[:8]
    return cache_dir() / "tools" / f"{pin.name}-{pin.version}-{digest}" / binary


def find_on_path(pin: pins.ToolPin, search_path: str | None = None) -> Path | None:
    """A binary on PATH (outside .tools/bin) that reports exactly the pinned version."""
    path = search_path if search_path is not None else os.environ.get("PATH", "")
    dirs = [d for d in path.split(os.pathsep) if d and Path(d).resolve() != TOOLS_BIN.resolve()]
    for name in PATH_NAMES.get(pin.name, (pin.name,)):
        found = shutil.which(name, path=os.pathsep.join(dirs))
        if found and reported_version(found, pin) == pin.version:
            return Path(found)
    return None


def go_env(extra: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of every Go build on this host (the tools here, the node image's
    Kubernetes and helpers in ci/nodeimage): ONE module and build cache, under the machine
    cache (<cache>/go/mod, <cache>/go/build), so an empty AIWFE_CACHE_DIR is a cold start and
    the builds reuse each other's modules and packages. GOCACHE/GOMODCACHE set by the user
    win. Module files stay writable (-modcacherw) so the cache can be removed with rm -rf.
    `flags` are added to GOFLAGS; they change neither the binaries nor their cache keys."""
    env = dict(os.environ)
    env.setdefault("GOCACHE", str(cache_dir() / "go" / "build"))
    env.setdefault("GOMODCACHE", str(cache_dir() / "go" / "mod"))
    goflags = env.get("GOFLAGS", "").split()
    goflags += [flag for flag in ("-modcacherw", *flags) if flag not in goflags]
    env["GOFLAGS"] = " ".join(goflags)
    env.update(extra or {})
    return env


def go_build(pin: pins.ToolPin, target: Path, k: int = 1, n: int = 1) -> None:
    """`go install module@version` into target's folder; errors name the log to read."""
    go = shutil.which("go")
    if go is None:
        raise ToolError(
            f"{pin.name} {pin.version} is not on PATH and Go is not installed to build it: "
            "install Go >= 1.24 (Debian: apt-get install golang-go) or put "
            f"{pin.name} {pin.version} on PATH"
        )
    log = logs_dir() / f"build-{pin.name}-{pin.version}.log"
    with tempfile.TemporaryDirectory(prefix=f"gobin-{pin.name}-") as gobin:
        env = go_env({"GOBIN": gobin, "CGO_ENABLED": "0"}, flags=("-mod=mod",))
        ldflags = f"-s -w {pin.resolved_ldflags}".strip()
        cmd = [go, "install", "-trimpath", f"-ldflags={ldflags}", f"{pin.module}@{pin.version}"]
        echo(f"building {pin.name} {pin.version} with go install (log: {log})")
        log.unlink(missing_ok=True)  # one log per build
        what = f"go install {pin.module}@{pin.version}"
        label = f"go install {pin.name} {pin.version}"
        with progress.step(label, key=f"tool-{pin.name}", k=k, n=n):
            proc.run_logged(cmd, log, what=what, error=ToolError, lines=15, env=env)
        built = Path(gobin) / target.name
        if not built.exists():
            raise ToolError(f"{what} made no {built.name}; see {log}:\n{proc.log_tail(log, 15)}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), target)


def link(source: Path, name: str) -> Path:
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    dest = TOOLS_BIN / name
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    dest.symlink_to(source)
    return dest


def ensure(pin: pins.ToolPin, k: int = 1, n: int = 1) -> ToolResult:
    """Provide one pinned tool in .tools/bin, checking the version it reports (k of n tools,
    for the progress line of a build)."""
    found = find_on_path(pin)
    if found is not None:
        return ToolResult(pin.name, pin.version, link(found, pin.name), "PATH")
    target = cached_binary(pin)
    source = "cache"
    if reported_version(target, pin) != pin.version:
        go_build(pin, target, k, n)
        source = "built"
    version = reported_version(target, pin)
    if version != pin.version:
        raise ToolError(
            f"{target} reports version {version!r} but ci/pins.toml pins {pin.name} "
            f"{pin.version}; delete {target.parent} and rerun `nox -s tools`"
        )
    return ToolResult(pin.name, version, link(target, pin.name), source)


def ensure_all(names: list[str] | None = None) -> list[ToolResult]:
    wanted = pins.tools() if not names else [pins.tool(n) for n in names]
    results = [ensure(pin, k, len(wanted)) for k, pin in enumerate(wanted, 1)]
    if any(r.name == DEFAULT_HELM for r in results):
        link(TOOLS_BIN / DEFAULT_HELM, "helm")
    return results


def report(results: list[ToolResult]) -> str:
    lines = [f"{'tool':<12} {'version':<10} {'source':<6} path"]
    lines += [f"{r.name:<12} {r.version:<10} {r.source:<6} {r.path}" for r in results]
    return "\n".join(lines)
