"""Build AIWFE's eight container images, online or air-gapped.

    python -m ci.images build [--airgap | --online] [NAME ...]
    python -m ci.images plan  [--airgap | --online]       # what would be built, and from where

Online, Dockerfiles start from upstream images (debian:<point>-slim, qdrant/qdrant, ...).
Air-gapped (no container registry answers, or AIWFE_AIRGAP=1), the Debian base is made with
debootstrap (ci/rootfs.py) and third-party programs come from Debian packages, PyPI and the Go
module proxy; programs that cannot be built that way are listed with the reason and the image
ships without them (the role that would run them fails with a clear message), never with a
stand-in. Every image is tagged aiwfe/<name>:<appVersion of charts/aiwfe/Chart.yaml>.
Results go to build/images/report.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ci import pins, progress, rootfs
from ci.components import FIRST_PARTY, THIRD_PARTY
from ci.paths import BUILD, CHART, REPO, logs_dir
from ci.proc import echo

IMAGES_DIR = REPO / "images"
REPORT = BUILD / "images" / "report.json"
PYTHON_CONTEXT = BUILD / "images" / "context" / "python-base"
DEFAULT_VERSION = "0.1.0"
SOURCE_URL = "https://github.com/aiwfe/aiwfe"
REPOSITORY = "aiwfe"
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

ALL_IMAGES = FIRST_PARTY + THIRD_PARTY


@dataclass(frozen=True)
class Part:
    """A third-party program inside an image, with where each mode gets it from."""

    name: str
    image: str  # which aiwfe image carries it
    roles: tuple[str, ...]  # aiwfe-entrypoint roles that run it
    build_arg: str  # the Dockerfile ARG naming its source stage/image
    online: str  # source online
    airgap: str | None  # source air-gapped: a stage of the Dockerfile, or None
    airgap_source: str  # human description of the air-gapped source
    unavailable_reason: str = ""  # why airgap is None


def _upstream(name: str) -> dict:
    return pins.load()["images"]["upstream"][name]


def parts() -> list[Part]:
    """Third-party programs that are not plain Debian packages in both modes."""
    return [
        Part(
            name="qdrant",
            image="data-platform",
            roles=("qdrant",),
            build_arg="QDRANT_IMAGE",
            online=_upstream("qdrant")["image"],
            airgap=None,
            airgap_source="none",
            unavailable_reason=(
                "Qdrant's server is a Rust program published only as source on GitHub and as "
                "container images: it is not a crate on crates.io (only the client is), nor a "
                "Debian, PyPI or Go package. Use an external Qdrant or AIWFE_VECTOR_STORE=pgvector."
            ),
        ),
        Part(
            name="grafana",
            image="observability",
            roles=("grafana",),
            build_arg="GRAFANA_IMAGE",
            online=_upstream("grafana")["image"],
            airgap=None,
            airgap_source="none",
            unavailable_reason=(
                "The Go module proxy reachable here refuses github.com/grafana/grafana "
                "(403 'not available'), Grafana's server also needs its web frontend built from "
                "the repository, and Debian does not package Grafana."
            ),
        ),
        Part(
            name="loki",
            image="observability",
            roles=("loki",),
            build_arg="LOKI_IMAGE",
            online=_upstream("loki")["image"],
            airgap="loki-from-source",
            airgap_source=f"Go module proxy: {_upstream('loki')['module']}@"
            f"{_upstream('loki')['version']} ({_upstream('loki')['package']}), built in the image",
        ),
        Part(
            name="jaeger",
            image="observability",
            roles=("jaeger",),
            build_arg="JAEGER_IMAGE",
            online=_upstream("jaeger")["image"],
            airgap="jaeger-from-source",
            airgap_source=f"Go module proxy: {_upstream('jaeger')['module']}@"
            f"{_upstream('jaeger')['version']} ({_upstream('jaeger')['package']}), built in the "
            "image (UI assets are not in the module: the query API works, the UI page is "
            "Jaeger's placeholder)",
        ),
        Part(
            name="ollama",
            image="ai-inference",
            roles=("serve", "pull", "check"),
            build_arg="OLLAMA_IMAGE",
            online=_upstream("ollama")["image"],
            airgap="ollama-from-source",
            airgap_source=f"Go module proxy: {_upstream('ollama')['module']}@"
            f"{_upstream('ollama')['version']}, cgo CPU build with Debian's nlohmann-json, stb and "
            "miniaudio headers (the module zip drops llama.cpp's vendor/ folder)",
        ),
    ]


DEGRADED_ENV = "AIWFE_ALLOW_DEGRADED_IMAGES"


def degraded_allowed(env: dict[str, str] | None = None) -> tuple[bool, str]:
    """May an image whose source build failed still be built without that program?

    No by default and always under CI=true: a failed Loki, Jaeger or Ollama build fails the
    images tier, naming the log. Locally AIWFE_ALLOW_DEGRADED_IMAGES=1 opts in to the image
    without the program (labelled and reported as missing). Returns (allowed, why)."""
    env = os.environ if env is None else env
    opted = env.get(DEGRADED_ENV, "").strip().lower() in {"1", "true", "yes"}
    in_ci = env.get("CI", "").strip().lower() in {"1", "true", "yes"}
    if opted and in_ci:
        return False, f"{DEGRADED_ENV}=1 is ignored when CI=true: CI never ships a degraded image"
    if opted:
        return True, f"{DEGRADED_ENV}=1: the image is built without the program"
    return False, f"set {DEGRADED_ENV}=1 to build the image without it locally"


# Air-gapped parts that were tried and do not build; filled from AIWFE_AIRGAP_SKIP too
# (comma-separated part names) so a slow or broken source build can be switched off.
def airgap_skipped() -> dict[str, str]:
    skipped: dict[str, str] = {}
    for name in filter(None, os.environ.get("AIWFE_AIRGAP_SKIP", "").split(",")):
        skipped[name.strip()] = "switched off with AIWFE_AIRGAP_SKIP"
    return skipped


# --------------------------------------------------------------------------------------------
# versions, modes


def chart_version() -> str:
    """appVersion of the umbrella chart (the tag of every image); 0.1.0 until the chart exists."""
    chart = CHART / "Chart.yaml"
    if chart.exists():
        match = re.search(r"^appVersion:\s*['\"]?([^'\"\s]+)", chart.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    return DEFAULT_VERSION


def git_revision() -> str:
    proc = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "unknown"


def git_created() -> str:
    """Commit time of HEAD: a reproducible `created` label (not the wall clock)."""
    proc = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%cI"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip()


def registry_host(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "registry-1.docker.io"


def registry_answers(host: str, timeout: float = 6.0) -> bool:
    """True when https://<host>/v2/ answers like a registry (200, or 401 asking for a token)."""
    bundle = os.environ.get("SSL_CERT_FILE")
    context = ssl.create_default_context(
        cafile=bundle if bundle and Path(bundle).exists() else None
    )
    try:
        with urllib.request.urlopen(
            f"https://{host}/v2/", timeout=timeout, context=context
        ) as response:
            return response.status == 200
    except urllib.error.HTTPError as err:
        return err.code == 401
    except (OSError, ValueError):
        return False


def detect_mode(requested: str | None) -> tuple[str, str]:
    """('online'|'airgap', why)."""
    if requested:
        return requested, f"--{requested} given"
    env = os.environ.get("AIWFE_AIRGAP", "").strip().lower()
    if env in {"1", "true", "yes"}:
        return "airgap", "AIWFE_AIRGAP=1"
    if env in {"0", "false", "no"}:
        return "online", "AIWFE_AIRGAP=0"
    host = registry_host(rootfs.DebianPin.load().online_image)
    if registry_answers(host):
        return "online", f"{host} answers"
    return "airgap", f"no container registry answers ({host}/v2/ unreachable)"


# --------------------------------------------------------------------------------------------
# plan


@dataclass
class Build:
    name: str
    dockerfile: Path
    context: Path
    args: dict[str, str]
    tag: str
    missing_parts: dict[str, str] = field(default_factory=dict)  # part -> reason
    source_parts: dict[str, str] = field(default_factory=dict)  # part -> from-source stage
    failed_parts: dict[str, str] = field(default_factory=dict)  # part -> why (image not built)


def stage_python_context() -> Path:
    """A minimal build context for images/python-base: pyproject, lock, README, src/."""
    ctx = PYTHON_CONTEXT
    ctx.mkdir(parents=True, exist_ok=True)
    wanted = {"pyproject.toml", "uv.lock", "README.md", "src"}
    for child in ctx.iterdir():
        if child.name not in wanted:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for name in ("pyproject.toml", "uv.lock"):
        _sync_file(REPO / name, ctx / name)
    readme = REPO / "README.md"
    if readme.exists():
        _sync_file(readme, ctx / "README.md")
    elif not (ctx / "README.md").exists():
        # pyproject names README.md as the package readme; the wheel build needs one.
        (ctx / "README.md").write_text("# AIWFE\n")
    _sync_tree(REPO / "src", ctx / "src")
    return ctx


UI_CONTEXT = BUILD / "images" / "context" / "api-gateway"
# What the UI build needs from ui/ (not node_modules, not local build output).
UI_FILES = (
    "package.json",
    "package-lock.json",
    ".npmrc",
    "index.html",
    "tsconfig.json",
    "vite.config.ts",
    "src",
    "public",
)


def stage_ui_context() -> Path:
    """The api-gateway build context: ui/ sources for its Node stage, nothing else."""
    target = UI_CONTEXT / "ui"
    target.mkdir(parents=True, exist_ok=True)
    for child in target.iterdir():
        if child.name not in UI_FILES:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for name in UI_FILES:
        src = REPO / "ui" / name
        if src.is_dir():
            _sync_tree(src, target / name)
        elif src.exists():
            _sync_file(src, target / name)
    return UI_CONTEXT


def _sync_file(src: Path, dst: Path) -> None:
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return
    shutil.copy2(src, dst)


def _sync_tree(src: Path, dst: Path) -> None:
    """Mirror src into dst (no __pycache__), touching only what changed."""
    dst.mkdir(parents=True, exist_ok=True)
    keep = set()
    for path in src.rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel = path.relative_to(src)
        keep.add(rel)
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            _sync_file(path, target)
    for path in sorted(dst.rglob("*"), reverse=True):
        if path.relative_to(dst) not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def common_args(version: str) -> dict[str, str]:
    return {
        "VERSION": version,
        "REVISION": git_revision(),
        "SOURCE": SOURCE_URL,
        "CREATED": git_created(),
    }


def plan(mode: str, base_image: str, names: list[str]) -> list[Build]:
    version = chart_version()
    data = pins.load()["images"]
    common = common_args(version)
    skipped = airgap_skipped() if mode == "airgap" else {}
    builds: list[Build] = []
    wanted = set(names) if names else set(ALL_IMAGES)
    if wanted & set(FIRST_PARTY):
        builds.append(
            Build(
                name="python-base",
                dockerfile=IMAGES_DIR / "python-base" / "Dockerfile",
                context=PYTHON_CONTEXT,
                args={"DEBIAN_IMAGE": base_image, "UV_VERSION": data["uv_version"]},
                tag=f"{REPOSITORY}/python-base:{version}",
            )
        )
    for name in ALL_IMAGES:
        if name not in wanted:
            continue
        args = dict(common)
        missing: dict[str, str] = {}
        source_parts: dict[str, str] = {}
        context = IMAGES_DIR / name
        if name == "api-gateway":
            args["NODE_IMAGE"] = base_image  # the UI builds on the same Debian, online or not
            context = UI_CONTEXT
        if name in FIRST_PARTY:
            args["BASE_IMAGE"] = f"{REPOSITORY}/python-base:{version}"
        else:
            args["DEBIAN_IMAGE"] = base_image
            args["GO_TOOLCHAIN"] = data["go_toolchain"]
            if name == "ai-inference":
                args["GGUF_VERSION"] = data["gguf_version"]
                args["NUMPY_VERSION"] = data["numpy_version"]
            for part in parts():
                if part.image != name:
                    continue
                upstream = data["upstream"][part.name]
                if mode == "airgap" and "module" in upstream:
                    args[f"{part.name.upper()}_MODULE"] = upstream["module"]
                    args[f"{part.name.upper()}_VERSION"] = upstream["version"]
                if mode == "online":
                    args[part.build_arg] = part.online
                elif part.airgap is None or part.name in skipped:
                    args[part.build_arg] = f"{part.name}-unavailable"
                    missing[part.name] = part.unavailable_reason or skipped[part.name]
                else:
                    args[part.build_arg] = part.airgap
                    source_parts[part.name] = part.airgap
        builds.append(
            Build(
                name=name,
                dockerfile=IMAGES_DIR / name / "Dockerfile",
                context=context,
                args=args,
                tag=f"{REPOSITORY}/{name}:{version}",
                missing_parts=missing,
                source_parts=source_parts,
            )
        )
    return builds


# --------------------------------------------------------------------------------------------
# build


def ca_bundle() -> str | None:
    for candidate in (os.environ.get("SSL_CERT_FILE"), *CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def docker_client() -> Path:
    from ci.docker_engine import ensure_engine

    return ensure_engine().path


def docker_build(
    docker: Path,
    build: Build,
    log: Path,
    extra: list[str],
    timeout: float | None = None,
    step: tuple[str, str, int, int] | None = None,
) -> tuple[int, float]:
    """Run one BuildKit build (niced, log to file); returns (exit code, seconds).
    `step` = (label, key, k, n) shows its progress (ci/progress.py)."""
    cmd = [str(docker), "build", "--progress=plain", "-f", str(build.dockerfile), *extra]
    for key, value in build.args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    bundle = ca_bundle()
    if bundle:
        cmd += ["--secret", f"id=ca-bundle,src={bundle}"]
    cmd.append(str(build.context))
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    started = time.monotonic()
    label, key, k, n = step or (f"docker build {build.tag}", f"image-{build.name}", 1, 1)
    with log.open("w") as handle, progress.step(label, key=key, k=k, n=n):
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        try:
            proc = subprocess.run(
                ["nice", "-n", "10", *cmd],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
                timeout=timeout,
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            handle.write(f"\n[aiwfe] timed out after {timeout:.0f}s\n")
            code = 124
    return code, round(time.monotonic() - started, 1)


def source_build_timeout() -> float:
    return float(os.environ.get("AIWFE_SOURCE_BUILD_TIMEOUT", "5400"))


def source_jobs() -> int:
    return max(1, int(os.environ.get("AIWFE_SOURCE_BUILD_JOBS", "3")))


def build_sources(docker: Path, builds: list[Build]) -> Callable[[], dict[str, dict[str, float]]]:
    """Start the source builds in the background; returns a function that waits for them
    and returns {image: {part: seconds}}.

    Air-gapped: build every program's from-source stage first, several at once (they are
    independent and mostly waiting on one another's compilers). A stage that fails or runs out
    of time fails its image (and the tier) unless degraded images are allowed (see
    degraded_allowed): then it is switched to its `<part>-unavailable` stage and recorded
    with the reason, so its image still builds with everything else and says what it lacks."""
    jobs = [(build, part, stage) for build in builds for part, stage in build.source_parts.items()]
    if not jobs:
        return dict

    def one(job: tuple[Build, str, str]) -> tuple[int, float, Path]:
        build, part, stage = job
        log = logs_dir() / f"image-{build.name}-{part}.log"
        echo(f"building {part} from source for {build.name} (stage {stage}; log: {log})")
        k = jobs.index(job) + 1
        step = (f"source build of {part}", f"source-{part}", k, len(jobs))
        code, took = docker_build(
            docker, build, log, ["--target", stage], timeout=source_build_timeout(), step=step
        )
        echo(f"{part}: {'built' if code == 0 else 'FAILED'} from source in {took:.0f}s")
        return code, took, log

    pool = ThreadPoolExecutor(max_workers=source_jobs())
    futures = [pool.submit(one, job) for job in jobs]
    pool.shutdown(wait=False)

    def collect() -> dict[str, dict[str, float]]:
        return _apply_source_outcomes(jobs, [f.result() for f in futures])

    return collect


def _apply_source_outcomes(
    jobs: list[tuple[Build, str, str]],
    outcomes: list[tuple[int, float, Path]],
    policy: tuple[bool, str] | None = None,
) -> dict[str, dict[str, float]]:
    allowed, policy_why = degraded_allowed() if policy is None else policy
    seconds: dict[str, dict[str, float]] = {}
    for (build, part, _stage), (code, took, log) in zip(jobs, outcomes, strict=True):
        seconds.setdefault(build.name, {})[part] = took
        if code == 0:
            continue
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()] or lines
        why = "did not finish in time" if code == 124 else f"failed: {errors[-1].strip()[:300]}"
        why = f"air-gapped source build {why} (log: {log})"
        if not allowed:
            build.failed_parts[part] = f"{why}; {policy_why}"
            echo(f"{part}: {build.failed_parts[part]}")
            continue
        arg = next(p.build_arg for p in parts() if p.name == part)
        build.args[arg] = f"{part}-unavailable"
        del build.source_parts[part]
        build.missing_parts[part] = why
        echo(f"{part}: {why}; {policy_why}")
    return seconds


def failed_source_result(build: Build, mode: str, source_seconds: dict[str, float]) -> dict:
    """The report entry of an image not built because a source build of it failed."""
    return {
        "image": build.tag,
        "name": build.name,
        "mode": mode,
        "seconds": None,
        "status": "failed",
        "missing_parts": build.missing_parts,
        "failed_parts": build.failed_parts,
        "source_seconds": source_seconds,
        "error_tail": [f"{part}: {why}" for part, why in build.failed_parts.items()],
    }


def build_one(
    docker: Path,
    build: Build,
    mode: str,
    source_seconds: dict[str, float] | None = None,
    k: int = 1,
    n: int = 1,
) -> dict:
    started = time.monotonic()
    source_seconds = source_seconds or {}
    log = logs_dir() / f"image-{build.name}.log"
    echo(f"building {build.tag} ({mode}; log: {log})")
    extra = ["-t", build.tag, "--label", f"io.aiwfe.source-mode={mode}"]
    for part in build.missing_parts:
        extra += ["--label", f"io.aiwfe.missing.{part}=not buildable {mode}"]
    step = (f"image {build.tag}", f"image-{build.name}-{mode}", k, n)
    code, _ = docker_build(docker, build, log, extra, step=step)
    seconds = round(time.monotonic() - started, 1)
    result = {
        "image": build.tag,
        "name": build.name,
        "mode": mode,
        "seconds": seconds,
        "status": "built" if code == 0 else "failed",
        "log": str(log),
        "missing_parts": build.missing_parts,
        "built_from_source": sorted(build.source_parts),
        "source_seconds": source_seconds,  # wall time of each source stage (run in parallel)
        "build_args": build.args,
    }
    if code == 0:
        result["size_bytes"] = image_size(docker, build.tag)
    else:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        result["error_tail"] = tail
        echo(f"FAILED {build.tag} after {seconds}s; last lines of {log}:\n" + "\n".join(tail))
    return result


def image_size(docker: Path, ref: str) -> int:
    out = subprocess.run(
        [str(docker), "image", "inspect", "--format", "{{.Size}}", ref],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip())


def human_size(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.0f} MB"


def build_time(item: dict) -> str:
    if item.get("seconds") is None:
        return "-"
    text = f"{item['seconds']:.0f}s"
    sources = item.get("source_seconds") or {}
    if sources:
        text += " + source " + ", ".join(f"{p} {s:.0f}s" for p, s in sorted(sources.items()))
    return text


def table(results: list[dict], mode: str, reason: str) -> str:
    rows = [("image", "status", "size", "build time", "source mode")]
    for item in results:
        rows.append(
            (
                item["image"],
                item["status"],
                human_size(item.get("size_bytes")),
                build_time(item),
                "online" if item["mode"] == "online" else "air-gapped",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"source mode: {mode} ({reason})", ""]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    missing = [
        (item["name"], p, why) for item in results for p, why in item["missing_parts"].items()
    ]
    if missing:
        lines += ["", "not buildable in this mode (the image ships without it; its role fails):"]
        for image, part, why in missing:
            lines.append(f"  - {part} (in {image}): {why}")
    failed = [
        (item["name"], p, why)
        for item in results
        for p, why in (item.get("failed_parts") or {}).items()
    ]
    if failed:
        lines += ["", "source builds that failed (their images were not built):"]
        for image, part, why in failed:
            lines.append(f"  - {part} (in {image}): {why}")
    return "\n".join(lines)


def merge_report(report: dict) -> dict:
    """A partial build (some names) keeps the other images' entries of the same mode."""
    if not REPORT.exists():
        return report
    try:
        previous = json.loads(REPORT.read_text())
    except ValueError:
        return report
    if previous.get("mode") != report["mode"]:
        return report
    built = {item["name"] for item in report["images"]}
    kept = [item for item in previous.get("images", []) if item["name"] not in built]
    order = {name: i for i, name in enumerate(("python-base", *ALL_IMAGES))}
    merged = dict(report, images=sorted(kept + report["images"], key=lambda i: order[i["name"]]))
    return merged


def cmd_build(mode_flag: str | None, names: list[str]) -> int:
    unknown = [n for n in names if n not in ALL_IMAGES and n != "python-base"]
    if unknown:
        print(f"unknown image(s): {', '.join(unknown)}; known: {', '.join(ALL_IMAGES)}")
        return 2
    mode, reason = detect_mode(mode_flag)
    echo(f"source mode: {mode} ({reason})")
    docker = docker_client()
    started = time.monotonic()
    if mode == "airgap":
        base_image = rootfs.ensure_base(docker)
    else:
        base_image = rootfs.DebianPin.load().online_image
    base_seconds = round(time.monotonic() - started, 1)
    builds = plan(mode, base_image, [n for n in names if n != "python-base"])
    if any(b.name == "python-base" for b in builds):
        stage_python_context()
    if any(b.name == "api-gateway" for b in builds):
        stage_ui_context()
    # Source builds (Go, cgo) run in the background while the images without any build;
    # the images that use them are built once they are done.
    waiting = [b for b in builds if b.source_parts]
    ready = [b for b in builds if not b.source_parts]
    wait_for_sources = build_sources(docker, waiting)
    results = []
    failed_base = False
    for build in ready:
        if failed_base and build.name in FIRST_PARTY:
            results.append(
                {
                    "image": build.tag,
                    "name": build.name,
                    "mode": mode,
                    "seconds": None,
                    "status": "failed",
                    "missing_parts": {},
                    "error_tail": ["python-base failed"],
                }
            )
            continue
        result = build_one(docker, build, mode, k=len(results) + 1, n=len(builds))
        results.append(result)
        if build.name == "python-base" and result["status"] != "built":
            failed_base = True
    source_seconds = wait_for_sources()
    for build in waiting:
        if build.failed_parts:
            results.append(failed_source_result(build, mode, source_seconds.get(build.name, {})))
            continue
        step = {"k": len(results) + 1, "n": len(builds)}
        results.append(build_one(docker, build, mode, source_seconds.get(build.name), **step))
    order = {name: i for i, name in enumerate(("python-base", *ALL_IMAGES))}
    results.sort(key=lambda item: order[item["name"]])
    total = round(time.monotonic() - started, 1)
    report = {
        "mode": mode,
        "mode_reason": reason,
        "base_image": base_image,
        "base_seconds": base_seconds,
        "total_seconds": total,
        "version": chart_version(),
        "images": results,
        "parts": [asdict(p) for p in parts()],
    }
    merged = merge_report(report)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(merged, indent=2) + "\n")
    print(table(results, mode, reason))
    print(f"\ntotal {total:.0f}s (base {base_seconds:.0f}s); report: {REPORT}")
    return 0 if all(r["status"] == "built" for r in results) else 1


def cmd_plan(mode_flag: str | None) -> int:
    mode, reason = detect_mode(mode_flag)
    base = "aiwfe-base/debian (debootstrap)" if mode == "airgap" else "online"
    for build in plan(mode, base, []):
        print(f"{build.tag}: {json.dumps(build.args)}")
        for part, why in build.missing_parts.items():
            print(f"    without {part}: {why}")
    print(f"mode: {mode} ({reason})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.images", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "plan"):
        cmd = sub.add_parser(name)
        group = cmd.add_mutually_exclusive_group()
        group.add_argument("--airgap", dest="mode", action="store_const", const="airgap")
        group.add_argument("--online", dest="mode", action="store_const", const="online")
        if name == "build":
            cmd.add_argument("names", nargs="*", help=f"subset of: {', '.join(ALL_IMAGES)}")
    args = parser.parse_args(argv)
    if args.command == "build":
        return cmd_build(args.mode, args.names)
    return cmd_plan(args.mode)


if __name__ == "__main__":
    sys.exit(main())
