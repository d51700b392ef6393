"""ci/env/rootfs.py, the one debootstrap builder, driven by a fake debootstrap (a script that
records its arguments and makes a tree): built once, reused after, the caller's ready check
runs under the lock, a failure leaves no staging tree and names the log with its tail."""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

import pytest

from ci.env import rootfs

FAKE = """
import pathlib, sys
root = pathlib.Path(sys.argv[-2])
calls = pathlib.Path(sys.argv[1])
calls.write_text(calls.read_text() + " ".join(sys.argv[2:]) + "\\n" if calls.exists() else
                 " ".join(sys.argv[2:]) + "\\n")
if "--variant=broken" in sys.argv:
    print("E: Couldn't download packages: postgresql-17")
    sys.exit(1)
(root / "etc").mkdir(parents=True)
(root / "etc" / "os-release").write_text("ID=debian\\n")
"""


@pytest.fixture
def fake(tmp_path: Path) -> tuple[list[str], Path]:
    program = tmp_path / "fake_debootstrap.py"
    program.write_text(FAKE)
    calls = tmp_path / "calls.txt"
    return [sys.executable, str(program), str(calls)], calls


SPEC = rootfs.Debootstrap(suite="trixie", mirror="http://mirror.invalid/debian", include=("a", "b"))


def test_argv_is_debootstraps_own_command_line():
    spec = rootfs.Debootstrap("trixie", "http://m/debian", "minbase", ("x", "y"), "main", 10)
    assert spec.argv(Path("/r")) == [
        "nice", "-n", "10", "debootstrap", "--variant=minbase", "--components=main",
        "--include=x,y", "trixie", "/r", "http://m/debian",
    ]  # fmt: skip


def test_builds_once_then_reuses_the_target(tmp_path: Path, fake):
    program, calls = fake
    target = tmp_path / "cache" / "services-rootfs" / "trixie"
    finished = []
    built = rootfs.build(target, SPEC, tmp_path / "log", finish=finished.append, program=program)
    assert built == target
    assert (target / "etc/os-release").read_text() == "ID=debian\n"
    assert len(finished) == 1 and finished[0] != target, "finish sees the staging tree"
    assert calls.read_text().splitlines() == [
        f"--variant=minbase --include=a,b trixie {finished[0]} http://mirror.invalid/debian"
    ]
    rootfs.build(target, SPEC, tmp_path / "log", finish=finished.append, program=program)
    assert len(calls.read_text().splitlines()) == 1, "an existing target is reused"
    assert sorted(p.name for p in target.parent.iterdir()) == [".trixie.lock", "trixie"]


def test_ready_runs_under_the_lock_and_may_refuse_an_old_tree(tmp_path: Path, fake):
    program, _ = fake
    target = tmp_path / "rootfs" / "bookworm"
    (target / "stale").mkdir(parents=True)
    seen = []

    def ready(path: Path) -> bool:
        with open(rootfs.lock_path(path), "w") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the builder
        seen.append(path)
        return False

    rootfs.build(target, SPEC, tmp_path / "log", ready=ready, program=program)
    assert seen == [target]
    assert not (target / "stale").exists(), "a tree that is not ready is replaced"
    assert (target / "etc/os-release").exists()


def test_a_custom_commit_makes_a_tarball_path(tmp_path: Path, fake):
    program, _ = fake
    target = tmp_path / "rootfs" / "debian-trixie-abc.tar"

    def commit(staging: Path, dest: Path) -> None:
        dest.write_text("\n".join(sorted(p.name for p in staging.rglob("*"))))

    rootfs.build(target, SPEC, tmp_path / "log", commit=commit, program=program)
    assert target.read_text() == "etc\nos-release"
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".debian")] == [
        ".debian-trixie-abc.tar.lock"
    ], "no staging tree is left beside the target"


def test_a_failed_debootstrap_names_the_log_shows_its_tail_and_cleans_up(tmp_path: Path, fake):
    program, _ = fake
    target = tmp_path / "rootfs" / "trixie"
    log = tmp_path / "debootstrap.log"
    broken = rootfs.Debootstrap(suite="trixie", mirror="http://m/debian", variant="broken")
    with pytest.raises(rootfs.RootfsError) as caught:
        rootfs.build(target, broken, log, program=program)
    message = str(caught.value)
    assert message.startswith(f"debootstrap trixie failed (exit 1); see {log}:")
    assert "Couldn't download packages: postgresql-17" in message
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == [".trixie.lock"], "staging removed"
