"""Build the air-gapped kind node image: no container registry, only the Go module proxy and
Debian's archive.

    python -m ci.cluster build-node-image      # build (or reuse) and print the image tag

What goes in (versions in ci/pins.toml, [kind_node] and [node_image.*]):
- a Debian root filesystem from debootstrap with systemd, containerd, runc and the CNI plugins;
- kind's base-image files (entrypoint, systemd units, containerd config) read at build time
  from the kind module in the Go module cache, so node image and kind CLI stay in step;
- kubeadm, kubelet, kubectl built from k8s.io/kubernetes (see ci/nodeimage/kubernetes.py);
- preloaded into the node's containerd: kube-apiserver, kube-controller-manager,
  kube-scheduler, kube-proxy, etcd, CoreDNS, pause (from its C source), kindnetd and the
  local-path provisioner and helper, assembled as OCI archives by ci/nodeimage/oci.py.

The result is tagged aiwfe.local/kind-node:<k8s version>-<key>, where the key hashes the pins
and this builder's source, saved as a tarball in the cache dir and `docker load`ed from there on
later runs; it is rebuilt only when the key changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ci import pins
from ci.nodeimage import gobuild, kubernetes, oci, rootfs
from ci.paths import cache_dir, logs_dir
from ci.proc import echo

HERE = Path(__file__).resolve().parent
IMAGE_REPO = "aiwfe.local/kind-node"
REGISTRY = "registry.k8s.io"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class NodeImageError(RuntimeError):
    """The node image could not be built; the message says what failed and where the log is."""


def docker() -> str:
    found = shutil.which("docker")
    if found is None:
        raise NodeImageError("no docker client on PATH: run through nox (ensure_engine)")
    return found


def _run(cmd: list[str], log: Path, **kwargs) -> subprocess.CompletedProcess:
    with log.open("a") as handle:
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise NodeImageError(f"{' '.join(cmd[:4])} ... failed; see {log}:\n{tail}")
    return proc


def source_files() -> list[Path]:
    return sorted(
        p
        for p in HERE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


@dataclass(frozen=True)
class Plan:
    """What to build, from the pins; `key` changes whenever any input changes."""

    kubernetes_version: str
    kind_version: str
    node_pins: dict

    @classmethod
    def from_pins(cls) -> Plan:
        data = pins.load()
        return cls(
            kubernetes_version=pins.kind_node_version(),
            kind_version=pins.tool("kind").version,
            node_pins=data["node_image"],
        )

    @property
    def key(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.kubernetes_version.encode())
        digest.update(self.kind_version.encode())
        digest.update(json.dumps(self.node_pins, sort_keys=True).encode())
        for path in source_files():
            digest.update(path.relative_to(HERE).as_posix().encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPO}:{self.kubernetes_version}-{self.key}"

    @property
    def tarball(self) -> Path:
        return cache_dir() / "nodeimage" / f"kind-node-{self.kubernetes_version}-{self.key}.tar"

    def pin(self, name: str, field: str = "version") -> str:
        return self.node_pins[name][field]

    # Image references the node's containerd must hold (kubeadm looks them up by these names).
    def control_plane_image(self, name: str) -> str:
        return f"{REGISTRY}/{name}:{self.kubernetes_version}"

    @property
    def etcd_image(self) -> str:
        return f"{REGISTRY}/etcd:{self.etcd_tag}"

    @property
    def etcd_tag(self) -> str:
        return self.pin("etcd").lstrip("v") + "-0"

    @property
    def coredns_image(self) -> str:
        return f"{REGISTRY}/coredns/coredns:{self.pin('coredns')}"

    @property
    def pause_image(self) -> str:
        return f"{REGISTRY}/pause:{self.pin('pause')}"

    @property
    def kindnetd_image(self) -> str:
        return f"aiwfe.local/kindnetd:{self.key}"

    @property
    def provisioner_image(self) -> str:
        return f"aiwfe.local/local-path-provisioner:{self.pin('local_path_provisioner')}"

    @property
    def helper_image(self) -> str:
        return f"aiwfe.local/local-path-helper:{self.key}"

    @property
    def userland_image(self) -> str:
        """The Debian userland as a docker image: the base of the integration test image."""
        return f"aiwfe.local/airgap-userland:{self.key}"


def docker_has(tag: str) -> bool:
    proc = subprocess.run(
        [docker(), "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True
    )
    return proc.returncode == 0


def ensure(plan: Plan | None = None) -> str:
    """The node image tag, present in docker: loaded from the cache tarball or built."""
    plan = plan or Plan.from_pins()
    if docker_has(plan.tag):
        return plan.tag
    log = logs_dir() / f"nodeimage-{plan.key}.log"
    if plan.tarball.exists():
        echo(f"loading {plan.tag} from {plan.tarball}")
        _run([docker(), "load", "-i", str(plan.tarball)], log)
        if docker_has(plan.tag):
            return plan.tag
        echo(f"{plan.tarball} did not hold {plan.tag}; rebuilding")
    build(plan, log)
    return plan.tag


# --------------------------------------------------------------------------- binaries


def go_programs(plan: Plan) -> list[gobuild.GoProgram]:
    etcd = plan.node_pins["etcd"]
    coredns = plan.node_pins["coredns"]
    lpp = plan.node_pins["local_path_provisioner"]
    cri = plan.node_pins["cri_tools"]
    return [
        gobuild.GoProgram(
            name="etcd",
            module=etcd["module"],
            version=etcd["version"],
            package="",
            # etcd's own main package lives in a module with local replace directives; its
            # body is one call, repeated here so the published modules suffice.
            main_source=(
                'package main\n\nimport (\n\t"os"\n\n'
                '\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\n'
                "func main() { etcdmain.Main(os.Args) }\n"
            ),
        ),
        gobuild.GoProgram(
            name="coredns",
            module=coredns["module"],
            version=coredns["version"],
            package="",
            main_source=coredns_main(),
        ),
        gobuild.GoProgram(
            name="local-path-provisioner",
            module=lpp["module"],
            version=lpp["version"],
            package=lpp["module"],
            ldflags=f"-X main.VERSION={lpp['version']}",
        ),
        gobuild.GoProgram(
            name="crictl",
            module=cri["module"],
            version=cri["version"],
            package=f"{cri['module']}/cmd/crictl",
            ldflags=f"-X sigs.k8s.io/cri-tools/pkg/version.Version={cri['version']}",
        ),
        gobuild.GoProgram(
            name="kindnetd",
            module="aiwfe.local/kindnetd",
            version="local",
            package=".",
            source_dir=HERE / "kindnetd",
        ),
    ]


# The CoreDNS plugins a Kubernetes cluster's Corefile uses, in CoreDNS's own order
# (core/dnsserver/zdirectives.go). Leaving out the cloud-DNS plugins (route53, azure, clouddns)
# and the rest drops the AWS/Azure/GCP SDKs: a much shorter cold build, same server.
COREDNS_PLUGINS = (
    "metadata",
    "cancel",
    "timeouts",
    "reload",
    "bufsize",
    "bind",
    "debug",
    "ready",
    "health",
    "pprof",
    "prometheus",
    "errors",
    "log",
    "loadbalance",
    "cache",
    "rewrite",
    "header",
    "autopath",
    "minimal",
    "template",
    "hosts",
    "k8s_external",
    "kubernetes",
    "file",
    "loop",
    "forward",
    "whoami",
)


def coredns_main() -> str:
    """CoreDNS's documented way to pick plugins at compile time: its main plus plugin imports."""
    package = {"prometheus": "metrics"}  # directive name -> package, where they differ
    imports = "\n".join(
        f'\t_ "github.com/coredns/coredns/plugin/{package.get(p, p)}"' for p in COREDNS_PLUGINS
    )
    directives = "\n".join(f'\t\t"{p}",' for p in COREDNS_PLUGINS)
    return (
        "package main\n\nimport (\n"
        '\t"github.com/coredns/coredns/core/dnsserver"\n'
        '\t"github.com/coredns/coredns/coremain"\n'
        f"{imports}\n)\n\n"
        f"func init() {{\n\tdnsserver.Directives = []string{{\n{directives}\n\t}}\n}}\n\n"
        "func main() { coremain.Run() }\n"
    )


def build_pause(plan: Plan, workdir: Path, log: Path) -> Path:
    """pause from the C source in the Kubernetes module, as build/pause/Makefile does."""
    source = kubernetes.module_dir("k8s.io/kubernetes", plan.kubernetes_version)
    source = source / "build" / "pause" / "linux" / "pause.c"
    out = workdir / "bin" / "pause"
    stamp = hashlib.sha256(source.read_bytes() + plan.pin("pause").encode()).hexdigest()
    stamp_file = out.with_name("pause.stamp")
    if out.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise NodeImageError("no C compiler for pause.c: apt-get install gcc libc6-dev")
    out.parent.mkdir(parents=True, exist_ok=True)
    version = f'-DVERSION="v{plan.pin("pause")}"'
    _run([cc, "-Os", "-Wall", "-Werror", "-static", version, "-o", str(out), str(source)], log)
    _run(["strip", str(out)], log)
    stamp_file.write_text(stamp)
    return out


# --------------------------------------------------------------------------- manifests


def kind_go_string(source: str, const: str, values: dict[str, str]) -> str:
    """A Go string constant from kind's source: raw strings joined by `+ name +`, with each
    name replaced from `values`."""
    match = re.search(rf"const {const} = ", source)
    if not match:
        raise NodeImageError(f"kind's source has no const {const}: update ci/nodeimage")
    pos, parts = match.end(), []
    piece = re.compile(r"`([^`]*)`(?:\s*\+\s*(\w+)\s*\+\s*)?")
    while m := piece.match(source, pos):
        parts.append(m.group(1))
        pos = m.end()
        if m.group(2) is None:
            break
        if m.group(2) not in values:
            raise NodeImageError(f"kind's {const} uses {m.group(2)}, unknown to ci/nodeimage")
        parts.append(values[m.group(2)])
    return "".join(parts)


def kind_manifests(plan: Plan, kind_dir: Path) -> dict[str, str]:
    """kind's default CNI and storage manifests, pointing at our images."""
    src = kind_dir / "pkg" / "build" / "nodeimage"
    values = {
        "kindnetdImage": plan.kindnetd_image,
        "storageProvisionerImage": plan.provisioner_image,
        "storageHelperImage": plan.helper_image,
    }
    cni = kind_go_string((src / "const_cni.go").read_text(), "defaultCNIManifest", values)
    storage = (src / "const_storage.go").read_text()
    return {
        "default-cni.yaml": cni,
        "default-storage.yaml": kind_go_string(storage, "defaultStorageManifest", values),
    }


# --------------------------------------------------------------------------- images


def component_images(
    plan: Plan, bins: dict[str, Path], userland: Path, files: Path
) -> list[oci.Image]:
    base = oci.Layer(trees=[(userland, "")])
    # Files every image gets: /etc/passwd entries for the nonroot users of the manifests.
    etc = oci.Layer(
        files={
            "/etc/passwd": (
                b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/:\n",
                0o644,
            ),
            "/etc/group": (b"root:x:0:\nnonroot:x:65532:\n", 0o644),
            "/tmp/.keep": (b"", 0o644),  # noqa: S108 - an empty /tmp in the image
        }
    )

    def static(name: str, ref: str, binary: str, entry: list[str], path: str) -> oci.Image:
        layer = oci.Layer(files={path: (bins[binary], 0o755)})
        return oci.Image(ref, [etc, layer], entrypoint=entry)

    images = [
        static(
            name,
            plan.control_plane_image(name),
            name,
            [f"/usr/local/bin/{name}"],
            f"/usr/local/bin/{name}",
        )
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    wrapper = {
        f"/usr/local/sbin/{tool}": "/usr/local/sbin/iptables-wrapper"
        for tool in (
            "iptables",
            "iptables-save",
            "iptables-restore",
            "ip6tables",
            "ip6tables-save",
            "ip6tables-restore",
        )
    }
    proxy = oci.Layer(
        files={
            "/usr/local/bin/kube-proxy": (bins["kube-proxy"], 0o755),
            "/usr/local/sbin/iptables-wrapper": (files / "iptables-wrapper", 0o755),
        },
        symlinks=wrapper,
    )
    images.append(
        oci.Image(
            plan.control_plane_image("kube-proxy"),
            [base, proxy],
            entrypoint=["/usr/local/bin/kube-proxy"],
        )
    )
    images.append(
        static("etcd", plan.etcd_image, "etcd", ["/usr/local/bin/etcd"], "/usr/local/bin/etcd")
    )
    images.append(static("coredns", plan.coredns_image, "coredns", ["/coredns"], "/coredns"))
    images.append(static("pause", plan.pause_image, "pause", ["/pause"], "/pause"))
    images.append(
        oci.Image(
            plan.kindnetd_image,
            [base, oci.Layer(files={"/bin/kindnetd": (bins["kindnetd"], 0o755)})],
            entrypoint=["/bin/kindnetd"],
        )
    )
    images.append(
        static(
            "local-path-provisioner",
            plan.provisioner_image,
            "local-path-provisioner",
            ["/usr/local/bin/local-path-provisioner"],
            "/usr/local/bin/local-path-provisioner",
        )
    )
    images.append(oci.Image(plan.helper_image, [base]))
    return images


# --------------------------------------------------------------------------- node rootfs


def install_kind_files(kind_dir: Path, root: Path) -> None:
    """images/base/files of the kind module, with the modes kind's Dockerfile gives them."""
    files = kind_dir / "images" / "base" / "files"
    for src in sorted(files.rglob("*")):
        rel = src.relative_to(files)
        dest = root / rel
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            dest.chmod(0o755)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() or dest.is_symlink():
            dest.unlink()
        shutil.copyfile(src, dest)
        executable = rel.parts[:3] == ("usr", "local", "bin") or rel.parts[:2] == ("kind", "bin")
        dest.chmod(0o755 if executable else 0o644)


def systemd_setup(root: Path, log: Path) -> None:
    """The service clean-up and enablement of kind's Dockerfile, done in a chroot."""
    for pattern in (
        "lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
        "lib/systemd/system/multi-user.target.wants/*",
        "etc/systemd/system/*.wants/*",
        "lib/systemd/system/local-fs.target.wants/*",
        "lib/systemd/system/sockets.target.wants/*udev*",
        "lib/systemd/system/sockets.target.wants/*initctl*",
        "lib/systemd/system/basic.target.wants/*",
    ):
        for path in root.glob(pattern):
            if path.is_symlink() or path.is_file():
                path.unlink()
    journald = root / "etc/systemd/journald.conf"
    journald.write_text(journald.read_text() + "ReadKMsg=no\n")
    init = root / "sbin/init"
    if not init.exists():
        init.symlink_to("/usr/lib/systemd/systemd")
    chroot = ["chroot", str(root)]
    _run([*chroot, "systemctl", "enable", "kubelet.service", "containerd.service"], log)
    _run([*chroot, "systemctl", "enable", "undo-mount-hacks.service"], log)
    _run([*chroot, "systemctl", "mask", "systemd-binfmt.service"], log)


def containerd_setup(plan: Plan, root: Path, log: Path) -> None:
    """kind expects containerd in /usr/local/bin and runc in PATH; Debian's live in /usr/bin."""
    for name in ("containerd", "ctr", "containerd-shim-runc-v2"):
        link = root / "usr/local/bin" / name
        if not link.exists():
            link.symlink_to(f"/usr/bin/{name}")
    config = root / "etc/containerd/config.toml"
    text = re.sub(
        r'sandbox_image = "[^"]+"', f'sandbox_image = "{plan.pause_image}"', config.read_text()
    )
    config.write_text(text)
    # cri-base.json as kind makes it: ctr's default spec + the product-files hook, no rlimits
    # (raising RLIMIT_NOFILE needs CAP_SYS_RESOURCE, which our CI hosts do not grant).
    spec = subprocess.run(
        ["chroot", str(root), "ctr", "oci", "spec"], capture_output=True, text=True
    )
    if spec.returncode != 0:
        raise NodeImageError(f"ctr oci spec failed in the node rootfs: {spec.stderr}")
    data = json.loads(spec.stdout)
    hooks = data.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    data["process"].pop("rlimits", None)
    (root / "etc/containerd/cri-base.json").write_text(json.dumps(data, indent=4) + "\n")
    cni_bin = root / "opt/cni/bin"
    cni_bin.mkdir(parents=True, exist_ok=True)
    for plugin in sorted((root / "usr/lib/cni").iterdir()):
        link = cni_bin / plugin.name
        if not link.exists():
            link.symlink_to(f"/usr/lib/cni/{plugin.name}")
    (root / "etc/kubernetes/manifests").mkdir(parents=True, exist_ok=True)


def assemble_node_rootfs(
    plan: Plan, node_rootfs: Path, kind_dir: Path, bins: dict[str, Path], stage: Path, log: Path
) -> dict:
    if stage.exists():
        shutil.rmtree(stage)
    _run(["cp", "-a", str(node_rootfs), str(stage)], log)
    install_kind_files(kind_dir, stage)
    systemd_setup(stage, log)
    containerd_setup(plan, stage, log)
    for name in kubernetes.NODE_BINARIES:
        shutil.copyfile(bins[name], stage / "usr/bin" / name)
        (stage / "usr/bin" / name).chmod(0o755)
    shutil.copyfile(bins["crictl"], stage / "usr/local/bin/crictl")
    (stage / "usr/local/bin/crictl").chmod(0o755)
    (stage / "kind/version").write_text(plan.kubernetes_version)
    manifests = stage / "kind" / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    for name, text in kind_manifests(plan, kind_dir).items():
        (manifests / name).write_text(text)
    debian = rootfs.package_versions(
        stage, ("containerd", "runc", "containernetworking-plugins", "systemd", "iptables")
    )
    record = {
        "image": plan.tag,
        "kubernetes": plan.kubernetes_version,
        "kind": plan.kind_version,
        "debian_suite": plan.pin("debian", "suite"),
        "debian_packages": debian,
        "images": {},
        "go": {p.name: f"{p.module}@{p.version}" for p in go_programs(plan)},
    }
    return record


# --------------------------------------------------------------------------- the build


def build(plan: Plan, log: Path) -> None:
    started = time.monotonic()
    workdir = cache_dir() / "nodeimage"
    workdir.mkdir(parents=True, exist_ok=True)
    echo(f"building the air-gapped node image {plan.tag} (log: {log})")
    kind_dir = kubernetes.module_dir("sigs.k8s.io/kind", plan.kind_version)

    suite = plan.pin("debian", "suite")
    userland = rootfs.debootstrap("userland", suite, rootfs.USERLAND_PACKAGES, workdir, log)
    node_rootfs = rootfs.debootstrap("node", suite, rootfs.NODE_PACKAGES, workdir, log)

    k8s_dir = workdir / f"kubernetes-{plan.kubernetes_version}"
    bins = {
        p.name: p for p in kubernetes.build(plan.kubernetes_version, k8s_dir, k8s_dir / "bin", log)
    }
    for program in go_programs(plan):
        bins[program.name] = gobuild.build(program, workdir / "go", log)
    bins["pause"] = build_pause(plan, workdir / "go", log)
    echo(f"binaries ready after {time.monotonic() - started:.0f}s")

    images_dir = workdir / f"images-{plan.key}"
    images_dir.mkdir(parents=True, exist_ok=True)
    archives = []
    layer_cache: dict[int, tuple[bytes, str]] = {}
    for image in component_images(plan, bins, userland, HERE / "files"):
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", image.name) + ".tar"
        archives.append((image.name, oci.write_archive(image, images_dir / name, layer_cache)))
    echo(f"component images ready after {time.monotonic() - started:.0f}s")

    stage = workdir / f"stage-{plan.key}"
    record = assemble_node_rootfs(plan, node_rootfs, kind_dir, bins, stage, log)
    record["images"] = {name: path.name for name, path in archives}
    (stage / "kind/aiwfe-node-image.json").write_text(json.dumps(record, indent=2) + "\n")
    base_tag = f"{IMAGE_REPO}-base:{plan.key}"
    import_rootfs(stage, base_tag, log)
    shutil.rmtree(stage)
    preload(plan, base_tag, archives, log)
    _run([docker(), "rmi", base_tag], log)
    import_userland(plan, userland, log)
    echo(f"saving {plan.tag} to {plan.tarball}")
    tmp = plan.tarball.with_name(plan.tarball.name + ".tmp")
    _run([docker(), "save", "-o", str(tmp), plan.tag], log)
    tmp.rename(plan.tarball)
    for old in plan.tarball.parent.glob("kind-node-*.tar"):
        if old != plan.tarball:
            old.unlink()
    shutil.rmtree(images_dir)
    remove_stale_images(plan)
    echo(f"node image {plan.tag} built in {time.monotonic() - started:.0f}s")


def remove_stale_images(plan: Plan) -> None:
    """Best effort: drop node and userland images of older keys (not those still in use)."""
    keep = {plan.tag, plan.userland_image}
    for repo in (IMAGE_REPO, plan.userland_image.rsplit(":", 1)[0]):
        out = subprocess.run(
            [docker(), "images", "--format", "{{.Repository}}:{{.Tag}}", repo],
            capture_output=True,
            text=True,
        ).stdout.split()
        for tag in out:
            if tag not in keep:
                subprocess.run([docker(), "rmi", tag], capture_output=True)


def _tar_into_docker(root: Path, cmd: list[str], log: Path) -> None:
    with log.open("a") as handle:
        handle.write(f"$ tar -C {root} -c . | {' '.join(cmd)}\n")
        handle.flush()
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE
        )
        proc = subprocess.run(cmd, stdin=tar.stdout, stdout=handle, stderr=subprocess.STDOUT)
        tar.stdout.close()
        tar.wait()
    if proc.returncode != 0 or tar.returncode != 0:
        raise NodeImageError(f"{' '.join(cmd[:3])} failed; see {log}")


def import_rootfs(stage: Path, tag: str, log: Path) -> None:
    changes = [
        "ENV container=docker",
        f"ENV {PATH_ENV}",
        'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
    ]
    cmd = [docker(), "import"]
    for change in changes:
        cmd += ["--change", change]
    _tar_into_docker(stage, [*cmd, "-", tag], log)


def import_userland(plan: Plan, userland: Path, log: Path) -> None:
    """The userland tree as a docker image, for images (tests) built on top of it."""
    if docker_has(plan.userland_image):
        return
    cmd = [docker(), "import", "--change", f"ENV {PATH_ENV}", "-", plan.userland_image]
    _tar_into_docker(userland, cmd, log)


def ensure_userland_image(env: dict[str, str] | None = None) -> str:
    """The debootstrapped userland (shell, busybox, iptables) as a docker image: a base for
    small local images that needs no registry, online or air-gapped. Returns its tag."""
    if env is not None:
        os.environ["PATH"] = env.get("PATH", os.environ.get("PATH", ""))
    plan = Plan.from_pins()
    log = logs_dir() / f"nodeimage-{plan.key}.log"
    suite = plan.pin("debian", "suite")
    workdir = cache_dir() / "nodeimage"
    userland = rootfs.debootstrap("userland", suite, rootfs.USERLAND_PACKAGES, workdir, log)
    import_userland(plan, userland, log)
    return plan.userland_image


def preload(plan: Plan, base_tag: str, archives: list[tuple[str, Path]], log: Path) -> None:
    """Import the component images into the node's containerd (as kind's builder does) and
    commit the result as the node image."""
    name = f"aiwfe-nodeimage-build-{plan.key}"
    subprocess.run([docker(), "rm", "-f", "-v", name], capture_output=True)
    run_cmd = [docker(), "run", "-d", "--name", name, "--entrypoint", "sleep"]
    _run([*run_cmd, "--security-opt", "seccomp=unconfined", base_tag, "infinity"], log)
    try:
        exec_cmd = [docker(), "exec", name]
        _run(
            [*exec_cmd, "bash", "-c", "nohup containerd > /var/log/containerd-build.log 2>&1 &"],
            log,
        )
        wait = (
            "for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1"
        )
        _run([*exec_cmd, "bash", "-c", wait], log)
        importer = [
            docker(),
            "exec",
            "-i",
            name,
            "ctr",
            "--namespace=k8s.io",
            "images",
            "import",
            "--label=io.cri-containerd.pinned=pinned",
            "--all-platforms",
            "--no-unpack",
            "--digests",
            "-",
        ]
        for _ref, archive in archives:
            with archive.open("rb") as handle:
                _run(importer, log, stdin=handle)
        listed = subprocess.run(
            [*exec_cmd, "ctr", "--namespace=k8s.io", "images", "list", "-q"],
            capture_output=True,
            text=True,
        ).stdout.split()
        missing = [ref for ref, _ in archives if ref not in listed]
        if missing:
            raise NodeImageError(f"containerd in the node image lacks {missing}; see {log}")
        _run(
            [
                *exec_cmd,
                "bash",
                "-c",
                "pkill containerd; sleep 2; rm -f /var/log/containerd-build.log",
            ],
            log,
        )
        changes = [
            'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
            "CMD []",
            "LABEL io.x-k8s.kind.cluster-image=aiwfe-airgap",
        ]
        commit = [docker(), "commit"]
        for change in changes:
            commit += ["--change", change]
        committed = f"{IMAGE_REPO}-commit:{plan.key}"
        _run([*commit, name, committed], log)
    finally:
        subprocess.run([docker(), "rm", "-f", "-v", name], capture_output=True)
    # systemd stops on SIGRTMIN+3; `docker import`/`commit` cannot set STOPSIGNAL, a build can.
    dockerfile = f"FROM {committed}\nSTOPSIGNAL SIGRTMIN+3\n"
    _run([docker(), "build", "-q", "-t", plan.tag, "-"], log, input=dockerfile.encode())
    _run([docker(), "rmi", committed], log)


def main() -> int:
    plan = Plan.from_pins()
    started = time.monotonic()
    tag = ensure(plan)
    echo(f"node image {tag} ready in {time.monotonic() - started:.0f}s")
    print(tag)
    return 0


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("DOCKER_BUILDKIT", "1")
    raise SystemExit(main())
