"""Build the Kubernetes binaries kind needs from the Go module proxy.

k8s.io/kubernetes is not meant to be used as a module: its go.mod points the k8s.io/* staging
modules at ./staging/src/..., and replace directives of a dependency are ignored. A wrapper
module that requires k8s.io/kubernetes at the pinned version and replaces every staging module
with its published v0.X.Y release builds the same code. The version is stamped with -ldflags
exactly like hack/lib/version.sh does, so `kubelet --version` says the pinned version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ci.proc import echo

# What kind needs: kubeadm/kubelet/kubectl on the node, the rest as control-plane images.
NODE_BINARIES = ("kubeadm", "kubelet", "kubectl")
IMAGE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
BINARIES = NODE_BINARIES + IMAGE_BINARIES
# The tags hack/lib/golang.sh uses for release builds.
BUILD_TAGS = "selinux,notest,grpcnotrace"
SOURCE_DATE = "2026-01-01T00:00:00Z"


class BuildError(RuntimeError):
    """A node-image component failed to build; the message names the log."""


def go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env.update(extra or {})
    return env


def module_dir(module: str, version: str) -> Path:
    """Download a module (or find it in the module cache) and return its directory."""
    go = shutil.which("go") or "go"
    out = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=go_env(),
        cwd="/",
    )
    match = re.search(r'"Dir":\s*"([^"]+)"', out.stdout)
    if out.returncode != 0 or not match:
        raise BuildError(f"go mod download {module}@{version} failed:\n{out.stdout}{out.stderr}")
    return Path(match.group(1))


def staging_modules(kubernetes_dir: Path) -> list[str]:
    """The k8s.io/* modules k8s.io/kubernetes replaces with ./staging/src/... ."""
    text = (kubernetes_dir / "go.mod").read_text()
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", text, re.M)))


def wrapper_gomod(version: str, staging: list[str]) -> str:
    """The wrapper go.mod: kubernetes at `version`, staging modules at v0.<minor>.<patch>."""
    _major, minor, patch = version.lstrip("v").split(".")
    published = f"v0.{minor}.{patch}"
    lines = [
        "module aiwfe.local/kubernetes-build",
        "",
        "go 1.24.0",
        "",
        "godebug default=go1.24",
        "",
        f"require k8s.io/kubernetes {version}",
        "",
        "replace (",
    ]
    lines += [f"\t{mod} => {mod} {published}" for mod in staging]
    lines += [")", ""]
    return "\n".join(lines)


def ldflags(version: str) -> str:
    """The -X flags of hack/lib/version.sh, for both version packages."""
    major, minor, _patch = version.lstrip("v").split(".")
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": SOURCE_DATE,
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X '{package}.{key}={value}'" for key, value in values.items()]
    return " ".join(flags)


def build(version: str, workdir: Path, outdir: Path, log: Path) -> list[Path]:
    """Build BINARIES into outdir (static, trimmed); returns their paths."""
    kubernetes_dir = module_dir("k8s.io/kubernetes", version)
    src = workdir / "kubernetes-wrapper"
    src.mkdir(parents=True, exist_ok=True)
    gomod = src / "go.mod"
    wanted = wrapper_gomod(version, staging_modules(kubernetes_dir))
    if not gomod.exists() or not gomod.read_text().startswith(wanted.split("replace (")[0]):
        gomod.write_text(wanted)
        (src / "go.sum").unlink(missing_ok=True)
    (src / "doc.go").write_text(
        "// Package build only pins modules for `go build`.\npackage build\n"
    )
    outdir.mkdir(parents=True, exist_ok=True)
    go = shutil.which("go") or "go"
    outputs = [outdir / name for name in BINARIES]
    stamp_file = outdir / "kubernetes.stamp"
    stamp = "\n".join([version, BUILD_TAGS, ldflags(version), wanted])
    if stamp_file.exists() and stamp_file.read_text() == stamp and all(map(Path.exists, outputs)):
        return outputs
    cmd = [
        go,
        "build",
        "-mod=mod",
        "-trimpath",
        f"-tags={BUILD_TAGS}",
        f"-ldflags={ldflags(version)}",
        "-o",
        f"{outdir}/",
        *[f"k8s.io/kubernetes/cmd/{name}" for name in BINARIES],
    ]
    env = go_env({"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64"})
    echo(f"building Kubernetes {version} ({', '.join(BINARIES)}); log: {log}")
    with log.open("a") as handle:
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, cwd=src, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise BuildError(f"building Kubernetes {version} failed; see {log}:\n{tail}")
    stamp_file.write_text(stamp)
    return outputs


if __name__ == "__main__":  # pragma: no cover - manual warm-up of the Go build cache
    import sys

    ver = sys.argv[1]
    work = Path(sys.argv[2])
    print(build(ver, work, work / "bin", work / "build.log"))
