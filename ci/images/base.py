"""A Debian base image made with debootstrap, for builds where no container registry answers.

The pin lives in ci/pins.toml ([images.debian]). The root filesystem is built once per pin key
(suite, mirror, variant, packages, release date) and kept as a tarball under
~/.cache/aiwfe/rootfs/; `docker import` turns it into `aiwfe-base/debian:<suite>-<key>`.
Importing again would make a new image ID and invalidate every layer cached on top of it, so
an existing tag is always reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci import pins, proc
from ci.env import rootfs
from ci.paths import cache_dir, logs_dir

BASE_REPOSITORY = "aiwfe-base/debian"

# Same trims as Debian's official -slim images: no docs, man pages or translations.
DPKG_EXCLUDES = """\
# Written by ci/images/base.py, as in Debian's -slim images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""

APT_CONF = """\
# Written by ci/images/base.py: small images, no recommends, no stored package files.
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
"""


@dataclass(frozen=True)
class DebianPin:
    suite: str
    mirror: str
    security_mirror: str
    variant: str
    include: tuple[str, ...]
    release_date: str
    online_image: str

    @classmethod
    def load(cls, data: dict | None = None) -> DebianPin:
        spec = (data or pins.load())["images"]["debian"]
        return cls(
            suite=spec["suite"],
            mirror=spec["mirror"],
            security_mirror=spec["security_mirror"],
            variant=spec["variant"],
            include=tuple(spec.get("include", [])),
            release_date=spec["release_date"],
            online_image=spec["online_image"],
        )

    @property
    def key(self) -> str:
        """Changes whenever anything that shapes the root filesystem changes."""
        material = json.dumps(
            [self.suite, self.mirror, self.variant, sorted(self.include), self.release_date, 2],
            sort_keys=True,
        )
        return hashlib.sha256(material.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{BASE_REPOSITORY}:{self.suite}-{self.key}"

    def sources(self) -> str:
        """deb822 sources as in the official image: release, updates and security."""
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        return (
            f"Types: deb\nURIs: {self.mirror}\nSuites: {self.suite} {self.suite}-updates\n"
            f"Components: main\nSigned-By: {keyring}\n\n"
            f"Types: deb\nURIs: {self.security_mirror}\nSuites: {self.suite}-security\n"
            f"Components: main\nSigned-By: {keyring}\n"
        )


def image_exists(docker: Path | str, ref: str) -> bool:
    return proc.succeeds([docker, "image", "inspect", "--format", "{{.Id}}", ref])


def tarball(pin: DebianPin) -> Path:
    return cache_dir() / "rootfs" / f"debian-{pin.suite}-{pin.key}.tar"


def _tar(root: Path, target: Path) -> None:
    partial = target.with_suffix(".partial")
    proc.run(["tar", "--numeric-owner", "--xattrs", "-C", root, "-cf", partial, "."], quiet=True)
    partial.rename(target)


def debootstrap(pin: DebianPin, program: Sequence[str] = rootfs.DEBOOTSTRAP) -> Path:
    """Build the root filesystem tarball for `pin` (cached); returns its path."""
    spec = rootfs.Debootstrap(
        suite=pin.suite,
        mirror=pin.mirror,
        variant=pin.variant,
        include=pin.include,
        components="main",
        nice=10,
    )
    log = logs_dir() / f"debootstrap-{pin.suite}-{pin.key}.log"
    return rootfs.build(
        tarball(pin),
        spec,
        log,
        finish=lambda root: _trim(root, pin),
        commit=_tar,
        program=program,
    )


def _trim(root: Path, pin: DebianPin) -> None:
    """Make the tree look like an official slim image: sources, apt/dpkg config, no caches."""
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(pin.sources())
    (root / "etc/apt/apt.conf.d/90aiwfe").write_text(APT_CONF)
    (root / "etc/dpkg/dpkg.cfg.d/90aiwfe-slim").write_text(DPKG_EXCLUDES)
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*"):
        for path in root.glob(pattern):
            if path.is_file():
                path.unlink()
    for directory in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
        base = root / directory
        if not base.exists():
            continue
        for path in sorted(base.rglob("*"), reverse=True):
            if path.is_file() and path.name != "copyright":
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for path in (root / "var/log").rglob("*"):
        if path.is_file():
            path.write_bytes(b"")
    (root / "etc/hostname").write_text("localhost\n")
    # A fresh machine-id is made at first boot where one is needed; containers have none.
    (root / "etc/machine-id").write_text("")


def ensure_base(docker: Path | str, pin: DebianPin | None = None) -> str:
    """The imported base image's tag, building and importing it when missing."""
    pin = pin or DebianPin.load()
    if image_exists(docker, pin.tag):
        proc.echo(f"base image {pin.tag} present")
        return pin.tag
    tar = debootstrap(pin)
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
        f"LABEL org.opencontainers.image.title=debian-{pin.suite}-debootstrap",
        f"LABEL org.opencontainers.image.version={pin.suite}-{pin.release_date}",
        f"LABEL org.opencontainers.image.source={pin.mirror}",
    ]
    cmd: list[str | Path] = [docker, "import"]
    for change in changes:
        cmd += ["--change", change]
    cmd += ["--message", f"debootstrap {pin.suite} {pin.variant} key {pin.key}", tar, pin.tag]
    proc.run(cmd)
    return pin.tag
