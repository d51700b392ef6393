"""The machine cache's keys for the current pins, pinned: a change here makes CI rebuild a
40-minute node image, the debootstrapped bases or the services rootfs on every machine.

If you changed ci/pins.toml ([node_image], [images.debian], [rule_tools]) or a file under
ci/nodeimage/ on purpose (its key hashes its own sources), update the expected values in the
same commit and say so in its message; otherwise restore what changed the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.env.services import rootfs as services_rootfs
from ci.images import base
from ci.nodeimage import rootfs as node_rootfs
from ci.nodeimage.build import Plan


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIWFE_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_node_image_plan_key_tag_and_tarball(cache: Path):
    plan = Plan.from_pins()
    assert plan.key == "ec8044e2a9f8"
    assert plan.tag == "aiwfe.local/kind-node:v1.34.4-ec8044e2a9f8"
    assert plan.tarball == cache / "nodeimage/kind-node-v1.34.4-ec8044e2a9f8.tar"
    assert plan.userland_image == "aiwfe.local/airgap-userland:ec8044e2a9f8"


def test_node_image_rootfs_trees(cache: Path):
    suite = Plan.from_pins().pin("debian", "suite")
    assert suite == "trixie"
    assert node_rootfs.key(suite, node_rootfs.NODE_PACKAGES) == "a4ee23214ea3"
    assert node_rootfs.key(suite, node_rootfs.USERLAND_PACKAGES) == "8d9134e38594"


def test_images_debian_base_tarball_and_tag(cache: Path):
    pin = base.DebianPin.load()
    assert base.tarball(pin) == cache / "rootfs/debian-trixie-37898db1e0dd.tar"
    assert pin.tag == "aiwfe-base/debian:trixie-37898db1e0dd"


def test_services_rootfs_paths_and_recipes(cache: Path):
    assert services_rootfs.rootfs_dir() == cache / "services-rootfs/trixie"
    assert services_rootfs.RECIPE == (
        "v1 trixie postgresql-17 postgresql-17-pgvector redis-server pgbouncer "
        "promtool prometheus-alertmanager"
    )
    old = services_rootfs.OLD_SUITE
    assert services_rootfs.rootfs_dir(old) == cache / "services-rootfs/bookworm"
    recipe = services_rootfs._recipe(old, services_rootfs.OLD_PACKAGES)
    assert recipe == "v1 bookworm postgresql-15 redis-server"
