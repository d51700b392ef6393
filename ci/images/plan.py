"""The image build plan: which images, from which sources (online or air-gapped), with which
build args and tags. Pure decisions: nothing here runs docker."""

from __future__ import annotations

import os
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ci import pins, proc
from ci.components import FIRST_PARTY, THIRD_PARTY
from ci.images import base as rootfs
from ci.paths import BUILD, CHART, REPO

IMAGES_DIR = REPO / "images"
PYTHON_CONTEXT = BUILD / "images" / "context" / "python-base"
UI_CONTEXT = BUILD / "images" / "context" / "api-gateway"
DEFAULT_VERSION = "0.1.0"
SOURCE_URL = "https://github.com/aiwfe/aiwfe"
REPOSITORY = "aiwfe"

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
    result = proc.run(
        ["git", "-C", REPO, "rev-parse", "HEAD"], capture=True, check=False, quiet=True
    )
    return result.stdout.strip() or "unknown"


def git_created() -> str:
    """Commit time of HEAD: a reproducible `created` label (not the wall clock)."""
    result = proc.run(
        ["git", "-C", REPO, "log", "-1", "--format=%cI"], capture=True, check=False, quiet=True
    )
    return result.stdout.strip()


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
