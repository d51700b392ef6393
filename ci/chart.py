"""The chart's harness: lint, render, schema and docs generation, CRD schemas.

    python -m ci.chart lint       helm lint --strict (helm 3 and 4, every profile) + checkov
    python -m ci.chart template   render every profile to build/rendered/<profile>.yaml
    python -m ci.chart schema     (re)write values.schema.json of the umbrella and subcharts
    python -m ci.chart docs       (re)write docs/values.md from the annotated values.yaml files
    python -m ci.chart crds       (re)extract ci/crds/*.json from CRDs in the Go module cache

tests/chart uses `helm_template_cmd` and `PROFILES`, so the tests render exactly what the
sessions render.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ci import chart_schema, pins
from ci.paths import BUILD, CHART, REPO, VALUES_DIR, env_with_tools
from ci.proc import echo, run

RELEASE = "aiwfe"
NAMESPACE = "aiwfe"
RENDERED = BUILD / "rendered"
DOCS = REPO / "docs" / "values.md"
CRDS_DIR = REPO / "ci" / "crds"
CHECKOV_CONFIG = REPO / "ci" / "checkov.yaml"
SUBCHARTS = chart_schema.SUBCHARTS

# Profile name -> values files layered over the chart defaults. Each file is valid alone.
PROFILES: dict[str, tuple[str, ...]] = {
    "default": (),
    "dev": ("dev.yaml",),
    "staging": ("staging.yaml",),
    "prod": ("prod.yaml",),
    "gpu": ("gpu.yaml",),
    "kind": ("kind.yaml",),
    "airgap": ("airgap.yaml",),
    # The layerings the profile files recommend in their comments.
    "staging+gpu": ("staging.yaml", "gpu.yaml"),
    "dev+airgap": ("dev.yaml", "airgap.yaml"),
}


def kube_version() -> str:
    """Kubernetes version for offline renders: the local kind node's (Capabilities.KubeVersion).

    Helm built with plain `go install` defaults to v1.20, below the chart's kubeVersion.
    """
    return pins.kind_node_version().lstrip("v")


def helm_binary(name: str = "helm3") -> str:
    found = shutil.which(name, path=env_with_tools()["PATH"])
    if not found:
        raise SystemExit(f"{name} not found: run `nox -s tools` first")
    return found


def values_args(profile: str) -> list[str]:
    args: list[str] = []
    for name in PROFILES[profile]:
        args += ["-f", str(VALUES_DIR / name)]
    return args


def helm_template_cmd(
    profile: str = "default",
    *,
    helm: str = "helm3",
    sets: tuple[str, ...] = (),
    api_versions: tuple[str, ...] = (),
    extra_values: tuple[Path, ...] = (),
    show_only: str | None = None,
    is_upgrade: bool = False,
) -> list[str]:
    cmd = [
        helm_binary(helm),
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version(),
        *values_args(profile),
    ]
    for path in extra_values:
        cmd += ["-f", str(path)]
    for item in sets:
        cmd += ["--set", item]
    for api in api_versions:
        cmd += ["--api-versions", api]
    if show_only:
        cmd += ["--show-only", show_only]
    if is_upgrade:
        cmd.append("--is-upgrade")
    return cmd


def render_text(profile: str = "default", **kwargs: Any) -> str:
    result = subprocess.run(
        helm_template_cmd(profile, **kwargs),
        capture_output=True,
        text=True,
        env=env_with_tools(),
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    return result.stdout


class RenderError(RuntimeError):
    """helm template failed; the message is helm's stderr."""


def parse(text: str) -> list[dict]:
    return [doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc]


# --- template -----------------------------------------------------------------------------


def template(profiles: list[str] | None = None) -> dict[str, float]:
    RENDERED.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for profile in profiles or list(PROFILES):
        start = time.perf_counter()
        text = render_text(profile)
        timings[profile] = time.perf_counter() - start
        out = RENDERED / f"{profile}.yaml"
        out.write_text(text)
        kinds = sorted(doc["kind"] for doc in parse(text))
        shown = out.relative_to(REPO) if out.is_relative_to(REPO) else out
        echo(f"{profile}: {len(kinds)} objects in {timings[profile]:.2f}s -> {shown}")
    return timings


# --- lint ---------------------------------------------------------------------------------


def lint() -> int:
    failures: list[str] = []
    env = env_with_tools()
    for helm in ("helm3", "helm4"):
        binary = helm_binary(helm)
        for profile in PROFILES:
            cmd = [binary, "lint", "--strict", str(CHART), "--kube-version", kube_version()]
            cmd += values_args(profile)
            result = run(cmd, env=env, check=False, capture=True, quiet=True)
            status = "ok" if result.returncode == 0 else "FAILED"
            echo(f"{helm} lint --strict [{profile}]: {status}")
            if result.returncode != 0:
                failures.append(f"{helm}/{profile}")
                print(result.stdout + result.stderr, file=sys.stderr)
    template()
    failures += checkov()
    if failures:
        echo("lint failed: " + ", ".join(failures))
        return 1
    return 0


def checkov() -> list[str]:
    """Manifest security linter over build/rendered; exemptions live in ci/checkov.yaml."""
    binary = shutil.which("checkov")
    if binary is None:
        echo("checkov not installed (lint dependency group): security lint FAILED to run")
        return ["checkov-missing"]
    result = run(
        [
            binary,
            "--directory",
            str(RENDERED),
            "--framework",
            "kubernetes",
            "--config-file",
            str(CHECKOV_CONFIG),
            "--quiet",
            "--compact",
        ],
        check=False,
    )
    return [] if result.returncode == 0 else ["checkov"]


# --- schema -------------------------------------------------------------------------------


def schema(check: bool = False) -> list[str]:
    """Write (or with check=True, compare) every values.schema.json; returns drifted paths."""
    drifted = []
    for rel, sch in chart_schema.all_schemas().items():
        path = CHART / rel
        text = chart_schema.dumps(sch)
        if path.exists() and path.read_text() == text:
            continue
        drifted.append(str(path.relative_to(REPO)))
        if not check:
            path.write_text(text)
    return drifted


# --- docs ---------------------------------------------------------------------------------

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-]+|\"[^\"]+\"):(?P<rest>.*)$")


def annotated_keys(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) for every key preceded by a `# --` comment (helm-docs style)."""
    out: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped.lstrip("#").strip())
            continue
        if not stripped:
            pending = None
            continue
        match = _KEY.match(line)
        if not match or stripped.startswith("- "):
            pending = None
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = match["key"].strip('"')
        stack.append((indent, key))
        if pending is not None:
            out.append((".".join(k for _, k in stack), " ".join(pending).strip()))
            pending = None
    return out


def _lookup(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        node = node[part]
    return node


def _type_name(value: Any) -> str:
    return {
        bool: "bool",
        int: "int",
        float: "float",
        str: "string",
        list: "list",
        dict: "object",
        type(None): "null",
    }[type(value)]


def docs_text() -> str:
    sections = [("aiwfe (umbrella)", CHART / "values.yaml", "")]
    sections += [(name, CHART / "charts" / name / "values.yaml", f"{name}.") for name in SUBCHARTS]
    lines = [
        "# Values reference",
        "",
        "Generated by `python -m ci.chart docs` from the `# --` comments of",
        "`charts/aiwfe/values.yaml` and `charts/aiwfe/charts/*/values.yaml`; a test fails when",
        "this file and the values drift apart. Subchart keys are set under the subchart's name",
        "in the umbrella values (e.g. `api-gateway.replicaCount`). `global.*` reaches every",
        "subchart: image settings in all of them; postgres, redis, qdrant, vectorStore, llm,",
        "embeddings, tracing, auth, cognitiveMode and logLevel in the first-party services and",
        "migration-operator (as AIWFE_* settings, docs/contracts.md); postgres/redis/qdrant",
        "`external` also decide what data-platform runs; grafana in observability; guardrails",
        "and migrations in the umbrella's validations and in every app pod.",
        "",
    ]
    for title, path, prefix in sections:
        text = path.read_text()
        data = yaml.safe_load(text) or {}
        lines += [f"## {title}", "", "| Key | Type | Default | Description |", "|---|---|---|---|"]
        for key, description in annotated_keys(text):
            value = _lookup(data, key)
            default = json.dumps(value, separators=(", ", ": "))
            row = f"| `{prefix}{key}` | {_type_name(value)} | `{default}` | {description} |"
            lines.append(row.replace("\n", " "))
        lines.append("")
    return "\n".join(lines)


def docs(check: bool = False) -> bool:
    """Write docs/values.md (or compare with check=True); returns True when it drifted."""
    text = docs_text()
    drifted = not DOCS.exists() or DOCS.read_text() != text
    if drifted and not check:
        DOCS.write_text(text)
    return drifted


# --- CRD schemas --------------------------------------------------------------------------

# module, version, CRD file inside the module, kind, served version.
CRD_SOURCES = [
    (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    ),
    (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
    ("github.com/kedacore/keda/v2", "v2.21.0", "config/crd/bases/keda.sh_scaledobjects.yaml"),
    (
        "github.com/kedacore/keda/v2",
        "v2.21.0",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ),
    (
        "sigs.k8s.io/gateway-api",
        "v1.6.0",
        "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
    ),
    (
        "github.com/cert-manager/cert-manager",
        "v1.21.2",
        "deploy/crds/cert-manager.io_certificates.yaml",
    ),
]


def crd_file_name(group: str, kind: str, version: str) -> str:
    return f"{group}_{kind.lower()}_{version}.json"


def crds() -> None:
    """Extract each served version's openAPIV3Schema (strict: unknown fields are errors)."""
    CRDS_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    for module, version, rel in CRD_SOURCES:
        info = json.loads(
            subprocess.run(
                ["go", "mod", "download", "-json", f"{module}@{version}"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=BUILD if BUILD.exists() else REPO,
            ).stdout
        )
        crd = yaml.safe_load((Path(info["Dir"]) / rel).read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for ver in crd["spec"]["versions"]:
            if not ver.get("served"):
                continue
            sch = ver["schema"]["openAPIV3Schema"]
            out = CRDS_DIR / crd_file_name(group, kind, ver["name"])
            payload = {"source": f"{module}@{version}/{rel}", "schema": sch}
            out.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
            echo(f"{out.relative_to(REPO)} <- {module}@{version}")


# --- CLI ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.chart", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lint")
    tpl = sub.add_parser("template")
    tpl.add_argument("profiles", nargs="*", choices=[*PROFILES, []])
    for name in ("schema", "docs"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--check", action="store_true", help="fail on drift instead of writing")
    sub.add_parser("crds")
    args = parser.parse_args(argv)
    if args.command == "lint":
        return lint()
    if args.command == "template":
        template(args.profiles or None)
        return 0
    if args.command == "schema":
        drifted = schema(check=args.check)
        for path in drifted:
            echo(("drifted: " if args.check else "wrote ") + path)
        return 1 if (args.check and drifted) else 0
    if args.command == "docs":
        drifted = docs(check=args.check)
        echo(("drifted: " if args.check else "wrote ") + str(DOCS.relative_to(REPO)))
        return 1 if (args.check and drifted) else 0
    if args.command == "crds":
        crds()
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
