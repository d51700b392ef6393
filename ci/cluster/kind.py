"""The local kind cluster: create or reuse, delete, status; stock online, air-gapped offline.

    python -m ci.cluster up | down | status | build-node-image | node-image

`node-image` provides the node image `up` will use (built air-gapped, pulled online) without
creating a cluster: `.ci/run` starts it at the beginning, in the background.

Online (a container registry answers), this is stock kind with the pinned stock node image.
Air-gapped (no registry answers, or AIWFE_AIRGAP=1), the node image is built locally by
ci/nodeimage and kind is pointed at it. Independently, when a probe shows that this host
refuses `docker run --privileged` (it lacks CAP_SYS_RESOURCE), kind runs through the docker
shim of ci/cluster/kind_docker_shim.py. The kubeconfig is written to <cache>/kubeconfig-<name>.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ci import pins, proc, progress, tools
from ci.cluster import kind_docker_shim
from ci.env import docker_engine
from ci.paths import TOOLS_BIN, cache_dir, env_with_tools, logs_dir
from ci.proc import echo

NAME = os.environ.get("AIWFE_CLUSTER_NAME", "aiwfe")
AIRGAP_ENV = "AIWFE_AIRGAP"  # "1" forces the air-gapped mode, "0" forces online
# Where the stock node image lives; reachable means "online".
REGISTRY_PROBE_URL = "https://registry-1.docker.io/v2/"
CREATE_WAIT = "5m"
GATEWAY_NODE_PORT = 30080


class ClusterError(RuntimeError):
    """The cluster could not be brought up; the message says what failed and where to look."""


# --------------------------------------------------------------------------- probes


def registry_reachable(url: str = REGISTRY_PROBE_URL, timeout: float = 5) -> bool:
    """True when a container registry answers at all (any HTTP status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - fixed https URL
            return True
    except urllib.error.HTTPError:
        return True  # 401 from a registry: it is there
    except (OSError, ValueError):
        return False


def airgapped() -> bool:
    forced = os.environ.get(AIRGAP_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    return not registry_reachable()


def real_docker(env: dict[str, str] | None = None) -> Path:
    """The docker client itself (never the shim, even when the shim is first on PATH)."""
    env = env if env is not None else env_with_tools()
    if env.get(kind_docker_shim.REAL_DOCKER_ENV):
        return Path(env[kind_docker_shim.REAL_DOCKER_ENV])
    shim = kind_docker_shim.wrapper_path().resolve()
    for directory in env.get("PATH", "").split(os.pathsep):
        found = shutil.which("docker", path=directory) if directory else None
        if found and Path(found).resolve() != shim:
            return Path(found).resolve()
    raise ClusterError("no docker client on PATH: run `nox -s integration` or install docker")


@cache
def privileged_refused(image: str, docker: str) -> bool:
    """Does this host refuse `docker run --privileged`? Tried with an image we already have,
    compared with the same container without the flag (so a broken image is not mistaken)."""
    base = [docker, "run", "--rm", "--entrypoint", "true"]
    plain = proc.run([*base, image], capture=True, check=False, quiet=True, timeout=120)
    if plain.returncode != 0:
        raise ClusterError(f"cannot run a container from {image}: {plain.stderr.strip()}")
    privileged = proc.run(
        [*base, "--privileged", image], capture=True, check=False, quiet=True, timeout=120
    )
    if privileged.returncode != 0:
        echo(f"docker run --privileged is refused here ({privileged.stderr.strip()[-120:]})")
    return privileged.returncode != 0


# --------------------------------------------------------------------------- the cluster


def kubeconfig_path(name: str = NAME) -> Path:
    return cache_dir() / f"kubeconfig-{name}"


def kind_binary(env: dict[str, str]) -> str:
    found = shutil.which("kind", path=env.get("PATH"))
    if found:
        return found
    from ci import tools

    return str(tools.ensure(pins.tool("kind")).path)


@dataclass
class Cluster:
    """A running kind cluster, as the tests and `nox -s up` use it."""

    name: str
    kubeconfig: Path
    image: str
    airgapped: bool
    shim: bool
    env: dict[str, str] = field(repr=False, default_factory=dict)
    created_seconds: float | None = None

    def kind(self, *args: str, capture: bool = False, timeout: float | None = None):
        cmd = [kind_binary(self.env), *args]
        return proc.run(cmd, env=self.env, capture=capture, timeout=timeout, quiet=True)

    def load_image(self, tag: str) -> None:
        """`kind load docker-image`: a locally built image into every node's containerd."""
        echo(f"kind load docker-image {tag} --name {self.name}")
        self.kind("load", "docker-image", tag, "--name", self.name, timeout=600)

    def nodes(self) -> list[str]:
        out = self.kind("get", "nodes", "--name", self.name, capture=True).stdout
        return out.split()


def base_env(env: dict[str, str] | None = None) -> dict[str, str]:
    return env_with_tools(env)


def cluster_env(image: str, env: dict[str, str] | None = None) -> tuple[dict[str, str], bool]:
    """kind's environment: the shim first on PATH only if --privileged is refused."""
    env = base_env(env)
    docker = real_docker(env)
    use_shim = privileged_refused(image, str(docker))
    if use_shim:
        shim_dir = kind_docker_shim.write_wrapper(docker)
        env["PATH"] = f"{shim_dir}{os.pathsep}{env['PATH']}"
        env[kind_docker_shim.REAL_DOCKER_ENV] = str(docker)
    return env, use_shim


def kind_config(image_is_airgapped: bool, shim: bool) -> str:
    """The kind config: one control-plane node; the air-gapped image runs etcd 3.5; under the
    shim, containerd must not lower oom_score_adj (that needs CAP_SYS_RESOURCE)."""
    lines = [
        "kind: Cluster",
        "apiVersion: kind.x-k8s.io/v1alpha4",
        "nodes:",
        "- role: control-plane",
        # The gateway's NodePort, published on the host's loopback only: `nox -s up` prints
        # http://127.0.0.1:30080 and the integration suite sends its load there.
        "  extraPortMappings:",
        f"  - containerPort: {GATEWAY_NODE_PORT}",
        f"    hostPort: {GATEWAY_NODE_PORT}",
        '    listenAddress: "127.0.0.1"',
    ]
    if image_is_airgapped:
        from ci.nodeimage.build import Plan

        lines += [
            "kubeadmConfigPatches:",
            "- |",
            "  kind: ClusterConfiguration",
            "  etcd:",
            "    local:",
            f'      imageTag: "{Plan.from_pins().etcd_tag}"',
        ]
    if shim:
        lines += [
            "containerdConfigPatches:",
            "- |-",
            '  [plugins."io.containerd.grpc.v1.cri"]',
            "    restrict_oom_score_adj = true",
        ]
    return "\n".join(lines) + "\n"


def build_node_image() -> str:
    """The air-gapped node image (ci/nodeimage), built once and cached, as one progress step.

    The step and the Go environment are set here, outside ci/nodeimage, on purpose: the node
    image's cache key hashes that folder's sources, so an edit there rebuilds a 40-minute
    image on every machine. The builder's Go runs inherit os.environ: the host's one Go
    module and build cache (tools.go_env) and -buildvcs=false, as its own defaults set."""
    from ci.nodeimage import build

    os.environ.update(tools.go_env(flags=("-buildvcs=false",)))
    plan = build.Plan.from_pins()
    cached = plan.tarball.exists()
    label = f"kind node image {plan.tag}: " + ("load from the cache" if cached else "build")
    with progress.step(label, key="nodeimage-load" if cached else "nodeimage-build"):
        return build.ensure(plan)


def node_image(offline: bool, env: dict[str, str]) -> str:
    if offline:
        os.environ["PATH"] = env["PATH"]  # the builder calls docker from PATH
        return build_node_image()
    # AIWFE_KIND_NODE_IMAGE picks another published node image online (the CI matrix).
    image = os.environ.get("AIWFE_KIND_NODE_IMAGE") or pins.load()["node_image"]["stock"]["image"]
    if not proc.succeeds(["docker", "image", "inspect", image], env=env):
        proc.run(["docker", "pull", image], env=env)
    return image


def existing_clusters(env: dict[str, str]) -> list[str]:
    out = proc.run([kind_binary(env), "get", "clusters"], env=env, capture=True, quiet=True)
    return out.stdout.split()


def node_container_image(name: str, env: dict[str, str]) -> str | None:
    inspect = proc.run(
        [
            "docker",
            "inspect",
            "--format",
            "{{.Config.Image}}|{{.State.Running}}",
            f"{name}-control-plane",
        ],
        env=env,
        capture=True,
        check=False,
        quiet=True,
    )
    if inspect.returncode != 0:
        return None
    image, running = inspect.stdout.strip().split("|")
    return image if running == "true" else None


def api_answers(name: str, env: dict[str, str]) -> bool:
    """Does the API server answer /readyz? Asked from inside the node (no host kubectl)."""
    cmd = ["docker", "exec", f"{name}-control-plane", "kubectl"]
    cmd += ["--kubeconfig=/etc/kubernetes/admin.conf", "get", "--raw", "/readyz"]
    try:
        return proc.succeeds(cmd, env=env, timeout=30)
    except proc.TimeoutExpired:
        return False


def gateway_port_published(name: str, env: dict[str, str]) -> bool:
    """Whether the node publishes the gateway's NodePort (clusters made before it did not)."""
    port = proc.run(
        ["docker", "port", f"{name}-control-plane", f"{GATEWAY_NODE_PORT}/tcp"],
        env=env,
        capture=True,
        check=False,
        quiet=True,
    )
    return port.returncode == 0 and f"127.0.0.1:{GATEWAY_NODE_PORT}" in port.stdout


def mode_key(offline: bool) -> str:
    return "airgap" if offline else "online"


def up(name: str = NAME, env: dict[str, str] | None = None) -> Cluster:
    """Create the cluster, or reuse it when it runs the wanted image and its API answers."""
    env = base_env(env)
    offline = airgapped()
    echo(f"mode: {'air-gapped (no container registry answers)' if offline else 'online'}")
    image = node_image(offline, env)
    env, use_shim = cluster_env(image, env)
    kubeconfig = kubeconfig_path(name)
    cluster = Cluster(name, kubeconfig, image, offline, use_shim, env)
    if name in existing_clusters(env):
        running = node_container_image(name, env)
        if running == image and gateway_port_published(name, env):
            cluster.kind("export", "kubeconfig", "--name", name, "--kubeconfig", str(kubeconfig))
            if api_answers(name, env):
                echo(f"reusing kind cluster {name!r} ({image})")
                return cluster
        echo(f"kind cluster {name!r} is stale (image {running}, or no gateway port); recreating")
        cluster.kind("delete", "cluster", "--name", name)
    log = logs_dir() / f"kind-create-{name}.log"
    cmd = [kind_binary(env), "create", "cluster", "--name", name, "--image", image]
    cmd += ["--kubeconfig", str(kubeconfig), "--wait", CREATE_WAIT, "--config", "-", "-v", "1"]
    echo(f"kind create cluster --name {name} --image {image} (shim: {use_shim}); log: {log}")
    started = time.monotonic()
    log.unlink(missing_ok=True)  # one log per attempt
    with progress.step(f"kind create cluster {name}", key=f"cluster-create-{mode_key(offline)}"):
        proc.run_logged(
            cmd,
            log,
            what="kind create cluster",
            error=ClusterError,
            lines=30,
            env=env,
            input=kind_config(offline, use_shim),
        )
    cluster.created_seconds = time.monotonic() - started
    echo(f"kind cluster {name!r} created in {cluster.created_seconds:.0f}s")
    return cluster


def down(name: str = NAME, env: dict[str, str] | None = None) -> None:
    env = base_env(env)
    if name in existing_clusters(env):
        # deleting needs no --privileged, so no shim
        proc.run([kind_binary(env), "delete", "cluster", "--name", name], env=env)
    kubeconfig_path(name).unlink(missing_ok=True)


def status(name: str = NAME, env: dict[str, str] | None = None) -> dict:
    env = base_env(env)
    exists = name in existing_clusters(env)
    return {
        "name": name,
        "exists": exists,
        "node_image": node_container_image(name, env) if exists else None,
        "kubeconfig": str(kubeconfig_path(name)),
        "airgapped": airgapped(),
    }


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("up", "down", "status", "build-node-image", "node-image"):
        print(__doc__, file=sys.stderr)
        return 2
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    # As the nox sessions do: an engine that answers, a BuildKit-capable client in .tools/bin.
    os.environ.update(docker_engine.ensure_engine().extra_env)
    command = argv[0]
    if command == "up":
        cluster = up()
        print(f"export KUBECONFIG={cluster.kubeconfig}")
    elif command == "down":
        down()
    elif command == "status":
        print(json.dumps(status(), indent=2))
    elif command == "node-image":
        print(node_image(airgapped(), base_env()))
    else:
        os.environ["PATH"] = base_env()["PATH"]
        print(build_node_image())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
