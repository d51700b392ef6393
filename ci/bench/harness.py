"""The harness's own speed: umbrella render time per profile, wall time of the chart test
tier, and image sizes against their budgets."""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import sys
import time
from typing import Any

from ci import proc
from ci.components import FIRST_PARTY, THIRD_PARTY
from ci.paths import BUILD, CHART, REPO, TOOLS_BIN, VALUES_DIR, env_with_tools

# Issue 5's budgets: each first-party image <= 250 MB, the data-platform image <= 600 MB.
MB = 1_000_000
BUDGETS_MB = {**dict.fromkeys(FIRST_PARTY, 250), "data-platform": 600}
IMAGES_REPORT = BUILD / "images" / "report.json"


def helm3() -> str | None:
    for candidate in (TOOLS_BIN / "helm3", TOOLS_BIN / "helm"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("helm")


def kube_version() -> str:
    """The local cluster's Kubernetes version from ci/pins.toml (what `nox -s template` and
    the kind cluster use), so helm renders as it would for the cluster."""
    import tomllib

    pins = tomllib.loads((REPO / "ci" / "pins.toml").read_text())
    return str(pins.get("kubernetes", {}).get("kubernetes_version", "v1.34.4")).lstrip("v")


def profiles() -> list[str]:
    return sorted(p.stem for p in VALUES_DIR.glob("*.yaml"))


def render_command(helm: str, profile: str) -> list[str]:
    return [
        helm,
        "template",
        "aiwfe",
        str(CHART),
        "--namespace",
        "aiwfe",
        "--kube-version",
        kube_version(),
        "-f",
        str(VALUES_DIR / f"{profile}.yaml"),
    ]


def render_times(repeats: int = 5) -> dict[str, Any]:
    """Wall time of `helm template` (helm 3) of the umbrella, per values profile: the median
    of `repeats` runs after one untimed run (which warms the page cache)."""
    helm = helm3()
    if helm is None or not (CHART / "Chart.yaml").exists():
        return {"skipped": "helm 3 or charts/aiwfe missing (run `nox -s tools`)"}
    out: dict[str, Any] = {
        "helm": helm,
        "kube_version": kube_version(),
        "seconds": {},
        "runs": {},
        "cpu_seconds": {},
        "errors": {},
        "objects": {},
    }
    for profile in profiles():
        cmd = render_command(helm, profile)
        first = proc.run(cmd, capture=True, check=False, timeout=120, quiet=True)
        if first.returncode != 0:
            out["errors"][profile] = first.stderr.strip()[-400:]
            continue
        out["objects"][profile] = first.stdout.count("\nkind: ") + first.stdout.startswith("kind: ")
        runs, cpu = [], []
        for _ in range(repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            proc.run(cmd, capture=True, check=True, timeout=120, quiet=True, text=False)
            runs.append(time.perf_counter() - began)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out["runs"][profile] = [round(r, 4) for r in runs]
        out["seconds"][profile] = round(statistics.median(runs), 4)
        # helm's own CPU time: what the wall time would be on an idle host (helm is
        # multi-threaded, so it can also exceed the wall time).
        out["cpu_seconds"][profile] = round(statistics.median(cpu), 4)
    return out


def chart_tests(timeout: float = 900) -> dict[str, Any]:
    """Wall time of the chart test tier (`pytest tests/chart`), when it exists."""
    tests = REPO / "tests" / "chart"
    if not tests.is_dir():
        return {"skipped": "tests/chart does not exist yet"}
    try:
        import kubernetes_validate  # noqa: F401
    except ImportError:
        return {"skipped": "the test group (kubernetes-validate) is not installed"}
    began = time.perf_counter()
    done = proc.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture=True,
        env=env_with_tools(),
        cwd=REPO,
        check=False,
        timeout=timeout,
        quiet=True,
    )
    seconds = time.perf_counter() - began
    tail = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    return {
        "seconds": round(seconds, 2),
        "exit_code": done.returncode,
        "summary": tail[0] if tail else done.stderr.strip()[-300:],
    }


COMPONENTS = (*FIRST_PARTY, *THIRD_PARTY, "python-base")


def _docker_sizes(names: tuple[str, ...], version: str) -> dict[str, int]:
    """Image sizes as the local engine reports them (`docker image inspect`), when one runs."""
    env = env_with_tools()
    docker = shutil.which("docker", path=env["PATH"])
    if not docker:
        return {}
    sizes: dict[str, int] = {}
    for name in names:
        try:
            done = proc.run(
                [docker, "image", "inspect", "--format", "{{.Size}}", f"aiwfe/{name}:{version}"],
                capture=True,
                check=False,
                timeout=30,
                env=env,
                quiet=True,
            )
        except (OSError, proc.TimeoutExpired):
            return sizes
        if done.returncode == 0 and done.stdout.strip().isdigit():
            sizes[name] = int(done.stdout.strip())
    return sizes


def chart_app_version() -> str | None:
    import re

    chart = CHART / "Chart.yaml"
    if not chart.exists():
        return None
    match = re.search(r"^appVersion:\s*[\"']?([^\"'\s]+)", chart.read_text(), re.M)
    return match.group(1) if match else None


def image_sizes() -> dict[str, Any]:
    """Sizes of the images at the chart's appVersion, each against its budget: from the
    local engine (`docker image inspect`) when it has them, else from the last
    `nox -s images` report (build/images/report.json)."""
    sizes: dict[str, int] = {}
    sources: dict[str, str] = {}
    if IMAGES_REPORT.exists():
        report = json.loads(IMAGES_REPORT.read_text())
        for image in report.get("images", []):
            if image.get("status") == "built" and image.get("size_bytes"):
                sizes[image["name"]] = int(image["size_bytes"])
                sources[image["name"]] = "build/images/report.json"
    version = chart_app_version()
    if version:
        for name, size in _docker_sizes(COMPONENTS, version).items():
            sizes[name] = size
            sources[name] = "docker image inspect"
    if not sizes:
        return {"skipped": "no images built (run `nox -s images`)"}
    rows = {}
    for name, size in sorted(sizes.items()):
        budget = BUDGETS_MB.get(name)
        rows[name] = {
            "size_mb": round(size / MB, 1),
            "budget_mb": budget,
            "within_budget": None if budget is None else size <= budget * MB,
            "source": sources[name],
        }
    return {"version": version, "images": rows}
