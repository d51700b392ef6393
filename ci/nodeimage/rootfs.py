"""Debian root filesystems made with debootstrap (no container registry involved).

Two trees are made, each cached by a key of its suite and package list:
- the node: systemd, containerd, runc, CNI plugins and the tools kind's base image installs;
- the userland: a small shell + iptables/nftables/conntrack + busybox layer shared by the
  kube-proxy, kindnetd and local-path helper images and by the integration test image.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ci.proc import echo

MIRROR = "http://deb.debian.org/debian"

# The packages kind's images/base/Dockerfile installs, minus those for networked storage and
# rootless mode, plus the container runtime (containerd, runc, CNI plugins) from Debian.
NODE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "util-linux",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "e2fsprogs",
    "bash",
    "ca-certificates",
    "curl",
    "jq",
    "procps",
    "containerd",
    "runc",
    "containernetworking-plugins",
)
USERLAND_PACKAGES = (
    "iptables",
    "nftables",
    "conntrack",
    "iproute2",
    "kmod",
    "busybox-static",
    "ca-certificates",
)
# Removed after install: documentation, caches and logs (as kind's clean-install does).
PRUNE = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/cache/debconf",
    "var/log",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "tmp",
    "var/tmp",
)


class RootfsError(RuntimeError):
    """debootstrap failed; the message names the log."""


def key(suite: str, packages: tuple[str, ...]) -> str:
    text = "\n".join([suite, MIRROR, *packages])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def prune(root: Path) -> None:
    for rel in PRUNE:
        path = root / rel
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()


def debootstrap(name: str, suite: str, packages: tuple[str, ...], base: Path, log: Path) -> Path:
    """A cached debootstrap --variant=minbase tree with `packages`; returns its directory."""
    target = base / f"rootfs-{name}-{suite}-{key(suite, packages)}"
    done = target.with_suffix(".done")
    if done.exists() and target.is_dir():
        return target
    if target.exists():
        shutil.rmtree(target)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        suite,
        str(tmp),
        MIRROR,
    ]
    echo(f"debootstrap {name} rootfs ({suite}); log: {log}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with log.open("a") as handle:
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RootfsError(f"debootstrap of the {name} rootfs failed; see {log}:\n{tail}")
    prune(tmp)
    tmp.rename(target)
    done.write_text("\n".join(packages) + "\n")
    return target


def package_versions(root: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of `names` in a rootfs, read from its dpkg status file."""
    versions: dict[str, str] = {}
    current = None
    for line in (root / "var/lib/dpkg/status").read_text().splitlines():
        if line.startswith("Package: "):
            current = line.split(": ", 1)[1]
        elif line.startswith("Version: ") and current in names:
            versions[current] = line.split(": ", 1)[1]
    return versions
