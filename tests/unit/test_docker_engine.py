"""Engine detection and client choice: BuildKit builds need buildx or a pre-23 client."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ci.env import docker_engine


def fake_docker(path: Path, client: str, server: str | None, buildx: bool) -> Path:
    """A docker CLI double answering the three questions the bootstrap asks."""
    server_line = f'echo "{server}"; exit 0' if server else "echo 'Cannot connect' >&2; exit 1"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\n"
        'case "$1 $2 $3" in\n'
        f'  "version --format {{{{.Client.Version}}}}") echo "{client}";;\n'
        f'  "version --format {{{{.Server.Version}}}}") {server_line};;\n'
        f'  "buildx version "*) {"echo buildx v0.20" if buildx else "exit 1"};;\n'
        "esac\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v20.10.24", True),
        ("v22.06.0", True),
        ("v23.0.0", False),
        ("v28.2.2", False),
        (None, False),
    ],
)
def test_builtin_buildkit_only_before_23(version, expected):
    assert docker_engine.builtin_buildkit(version) is expected


def test_new_client_without_buildx_is_skipped_for_debians(tmp_path):
    new = fake_docker(tmp_path / "a" / "docker", "28.2.2", "20.10.24", buildx=False)
    old = fake_docker(tmp_path / "b" / "docker", "20.10.24", "20.10.24", buildx=False)
    client = docker_engine.pick_client([new, old])
    assert client.path == old
    assert client.env({})["DOCKER_BUILDKIT"] == "1"


def test_new_client_with_buildx_is_preferred(tmp_path):
    new = fake_docker(tmp_path / "a" / "docker", "28.2.2", "28.2.2", buildx=True)
    assert docker_engine.pick_client([new]).buildx is True


def test_no_buildkit_capable_client_says_what_to_install(tmp_path):
    new = fake_docker(tmp_path / "a" / "docker", "28.2.2", "28.2.2", buildx=False)
    with pytest.raises(docker_engine.EngineError, match=r"apt-get install docker\.io"):
        docker_engine.pick_client([new])


def test_engine_answers_reads_the_server_version(tmp_path):
    up = fake_docker(tmp_path / "up" / "docker", "20.10.24", "20.10.24", buildx=False)
    down = fake_docker(tmp_path / "down" / "docker", "20.10.24", None, buildx=False)
    assert docker_engine.engine_answers(up) is True
    assert docker_engine.engine_answers(down) is False


def test_without_root_no_engine_is_installed(tmp_path, monkeypatch):
    down = fake_docker(tmp_path / "down" / "docker", "20.10.24", None, buildx=False)
    monkeypatch.setattr(docker_engine, "candidate_clients", lambda: [down])
    monkeypatch.setattr(docker_engine, "is_root_on_debian", lambda: False)
    monkeypatch.setattr(
        docker_engine, "install_docker_io", lambda: pytest.fail("must not install docker")
    )
    with pytest.raises(docker_engine.EngineError, match="start Docker"):
        docker_engine.ensure_engine()


def test_running_engine_is_left_alone(tmp_path, monkeypatch):
    up = fake_docker(tmp_path / "up" / "docker", "20.10.24", "20.10.24", buildx=False)
    monkeypatch.setattr(docker_engine, "candidate_clients", lambda: [up])
    monkeypatch.setattr(docker_engine, "TOOLS_BIN", tmp_path / "tools-bin")
    monkeypatch.setattr(docker_engine, "start_dockerd", lambda *a: pytest.fail("must not start"))
    assert docker_engine.ensure_engine().path == up
    assert (tmp_path / "tools-bin" / "docker").resolve() == up


def test_the_kind_shim_is_never_chosen_as_the_client(tmp_path, monkeypatch):
    monkeypatch.setenv("AIWFE_CACHE_DIR", str(tmp_path / "cache"))
    shim = fake_docker(tmp_path / "cache" / "kind-docker-shim" / "docker", "20.10.24", "x", False)
    real = fake_docker(tmp_path / "real" / "docker", "20.10.24", "20.10.24", buildx=False)
    found = docker_engine.candidate_clients(f"{shim.parent}:{real.parent}")
    assert shim not in found and found[0] == real
