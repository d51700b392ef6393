"""A `docker` for kind on hosts that refuse `docker run --privileged`.

Some CI hosts (ours included) lack CAP_SYS_RESOURCE, so docker cannot grant a container every
capability and `--privileged` fails ("unable to apply caps: operation not permitted"). kind
runs its node containers with `--privileged`. This shim sits first on kind's PATH, ONLY when
ci.cluster's probe has shown that `--privileged` is refused, and rewrites kind's calls before
running the real client (AIWFE_REAL_DOCKER):

- `run`/`create --privileged IMAGE` becomes every capability but SYS_RESOURCE, unconfined
  seccomp, AppArmor and system paths, a device cgroup rule allowing all devices and the
  host's /dev/kmsg (kubelet reads it; privileged containers see all host devices). kind's
  private cgroup namespace is kept, but docker mounts the cgroup hierarchies read-only for a
  container that is not privileged; so the image's entrypoint is wrapped in one shell line that
  remounts them read-write (bind remount: the mount's flag only) and then execs the image's own
  entrypoint and command, unchanged. kind puts the image last on its `docker run` line.
- `exec --privileged` drops the flag: an exec inherits the container's capabilities anyway.

Everything else passes through unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ci import proc
from ci.paths import cache_dir

REAL_DOCKER_ENV = "AIWFE_REAL_DOCKER"

# What --privileged means for a kind node, minus the capability this host cannot grant.
UNPRIVILEGED_EQUIVALENT = (
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
    "--security-opt=systempaths=unconfined",
    "--device-cgroup-rule=a *:* rwm",
    # a privileged container sees the host's devices; kubelet needs this one (its OOM watcher)
    "--device=/dev/kmsg",
)
# Run before the image's entrypoint: make the (namespaced) cgroup mounts writable, as they are
# for a privileged container, so systemd, kubelet and containerd can create cgroups.
REMOUNT_CGROUPS = (
    "for m in $(grep -E ' - cgroup2? ' /proc/self/mountinfo | cut -d' ' -f5); do "
    'mount -o remount,bind,rw "$m" || exit 1; done; exec "$@"'
)
# docker's global options that take a value (they may come before the subcommand).
GLOBAL_VALUE_OPTIONS = {"--config", "-c", "--context", "-H", "--host", "-l", "--log-level"}


def split_global(args: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(global options, subcommand, the rest) of a docker command line."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in GLOBAL_VALUE_OPTIONS:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return args[:i], arg, args[i + 1 :]
    return args, None, []


def image_command(real: str, image: str) -> list[str] | None:
    """The image's entrypoint + command, or None if `image` is not a local image."""
    fmt = "{{json .Config.Entrypoint}}|{{json .Config.Cmd}}"
    inspect = proc.run(
        [real, "image", "inspect", "--format", fmt, image], capture=True, check=False, quiet=True
    )
    if inspect.returncode != 0:
        return None
    entrypoint, cmd = (json.loads(part) or [] for part in inspect.stdout.strip().split("|", 1))
    return [*entrypoint, *cmd]


def rewrite(args: list[str], real: str | None = None) -> list[str]:
    """kind's docker arguments with `--privileged` replaced as described above."""
    head, command, rest = split_global(args)
    if command is None or "--privileged" not in rest:
        return args
    if command == "exec":
        return [*head, command, *[a for a in rest if a != "--privileged"]]
    if command not in ("run", "create"):
        return args
    options: list[str] = []
    for arg in rest[:-1]:
        options.extend(UNPRIVILEGED_EQUIVALENT if arg == "--privileged" else (arg,))
    image = rest[-1]
    if any(arg.startswith("--entrypoint") for arg in options):
        return [*head, command, *options, image]  # not kind's node: leave the command alone
    original = image_command(real, image) if real else None
    if not original:
        print(
            f"kind_docker_shim: {image!r} is not a local image; cgroups stay read-only",
            file=sys.stderr,
        )
        return [*head, command, *options, image]
    wrapped = ["--entrypoint", "/bin/sh", image, "-c", REMOUNT_CGROUPS, "sh", *original]
    return [*head, command, *options, *wrapped]


def wrapper_path() -> Path:
    """Where the `docker` wrapper that kind runs lives (written by write_wrapper)."""
    return cache_dir() / "kind-docker-shim" / "docker"


def write_wrapper(real_docker: Path, python: str = sys.executable) -> Path:
    """The `docker` executable kind finds first on PATH; returns its directory."""
    from ci.paths import REPO

    wrapper = wrapper_path()
    bindir = wrapper.parent
    bindir.mkdir(parents=True, exist_ok=True)
    text = (
        "#!/bin/sh\n"
        "# Written by ci/cluster/kind_docker_shim.py: docker for kind where --privileged fails.\n"
        f'export {REAL_DOCKER_ENV}="${{{REAL_DOCKER_ENV}:-{real_docker}}}"\n'
        f'export PYTHONPATH="{REPO}${{PYTHONPATH:+:$PYTHONPATH}}"\n'
        f'exec "{python}" -m ci.cluster.kind_docker_shim "$@"\n'
    )
    if not wrapper.exists() or wrapper.read_text() != text:
        tmp = wrapper.with_name("docker.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.rename(wrapper)
    return bindir


def main(argv: list[str]) -> int:
    real = os.environ.get(REAL_DOCKER_ENV)
    if not real:
        print(f"kind_docker_shim: {REAL_DOCKER_ENV} is not set", file=sys.stderr)
        return 2
    args = rewrite(argv, real)
    os.execv(real, [real, *args])  # noqa: S606 - the real docker client, by absolute path
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
