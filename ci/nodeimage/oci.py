"""Write OCI image archives (oci-layout tarballs) without any container engine.

The component images of the air-gapped node image (control plane, etcd, CoreDNS, pause,
kindnetd, local-path) are assembled here from built binaries and Debian trees, and imported
into the node's containerd with `ctr images import`. Layers are reproducible: sorted
entries, fixed mtime, root ownership.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MTIME = 1767225600  # 2026-01-01T00:00:00Z


@dataclass
class Layer:
    """Files for one layer: `trees` are (directory, prefix in image); `files` map image path to
    (source path or bytes, mode); `symlinks` map image path to target."""

    trees: list[tuple[Path, str]] = field(default_factory=list)
    files: dict[str, tuple[Path | bytes, int]] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)


def _info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = link
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _parents(names: list[str]) -> list[str]:
    dirs = set()
    for name in names:
        parts = name.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def _add_tree(tar: tarfile.TarFile, root: Path, prefix: str) -> None:
    """Add a directory tree (hard links, symlinks and devices kept) in sorted order."""
    seen: dict[tuple[int, int], str] = {}

    def add(path: Path) -> None:
        rel = path.relative_to(root).as_posix()
        name = "/".join(p for p in (prefix.strip("/"), "" if rel == "." else rel) if p)
        if not name:
            return
        st = path.lstat()
        if stat.S_ISSOCK(st.st_mode):
            return
        info = tar.gettarinfo(str(path), arcname=name)
        info.mtime = MTIME
        info.uname = info.gname = ""
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            ident = (st.st_dev, st.st_ino)
            if ident in seen:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, seen[ident], 0
                tar.addfile(info)
                return
            seen[ident] = name
        if info.isreg():
            with path.open("rb") as handle:
                tar.addfile(info, handle)
        else:
            tar.addfile(info)

    def walk(directory: Path) -> None:
        add(directory)
        for child in sorted(directory.iterdir(), key=lambda c: c.name):
            if child.is_dir() and not child.is_symlink():
                walk(child)
            else:
                add(child)

    walk(root)


def layer_tar(layer: Layer) -> bytes:
    """The uncompressed tar of one layer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, prefix in layer.trees:
            _add_tree(tar, root, prefix)
        loose = sorted([*layer.files, *layer.symlinks])
        for directory in _parents(loose):
            tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755))
        for name in loose:
            if name in layer.symlinks:
                tar.addfile(_info(name, tarfile.SYMTYPE, 0o777, link=layer.symlinks[name]))
                continue
            source, mode = layer.files[name]
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            tar.addfile(_info(name, tarfile.REGTYPE, mode, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"digest": digest, "size": len(data)}


@dataclass
class Image:
    name: str  # full reference, e.g. registry.k8s.io/pause:3.10.1
    layers: list[Layer]
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(
        default_factory=lambda: [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    )
    user: str = ""
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def write_archive(image: Image, dest: Path, layer_cache: dict[int, tuple[bytes, str]]) -> Path:
    """Write `image` as an OCI archive at dest. layer_cache shares compressed layers by id()."""
    blobs: dict[str, bytes] = {}
    layer_descs, diff_ids = [], []
    for layer in image.layers:
        cached = layer_cache.get(id(layer))
        if cached is None:
            raw = layer_tar(layer)
            diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
            compressed = gzip.compress(raw, compresslevel=1, mtime=0)
            cached = (compressed, diff_id)
            layer_cache[id(layer)] = cached
        compressed, diff_id = cached
        desc = _blob(blobs, compressed)
        desc["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        layer_descs.append(desc)
        diff_ids.append(diff_id)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {
            "Env": image.env,
            "Entrypoint": image.entrypoint or None,
            "Cmd": image.cmd or None,
            "User": image.user,
            "WorkingDir": image.workdir,
            "Labels": image.labels or None,
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "aiwfe ci/nodeimage"}],
    }
    config_desc = _blob(blobs, json.dumps(config, sort_keys=True).encode())
    config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layer_descs,
    }
    manifest_desc = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    manifest_desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    tag = image.name.rsplit(":", 1)[1]
    manifest_desc["annotations"] = {
        "io.containerd.image.name": image.name,
        "org.opencontainers.image.ref.name": tag,
    }
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
    index["manifests"] = [manifest_desc]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, data: bytes) -> None:
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))

        add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add("index.json", json.dumps(index, sort_keys=True).encode())
        for digest, data in sorted(blobs.items()):
            add("blobs/sha256/" + digest.split(":", 1)[1], data)
    tmp.rename(dest)
    return dest
