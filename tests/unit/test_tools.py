"""`nox -s tools` logic: reuse a matching binary, build otherwise, refuse wrong versions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ci import pins, tools

PIN = pins.ToolPin(
    name="demo",
    module="example.com/demo/cmd/demo",
    version="v1.2.3",
    ldflags="-X example.com/demo.version={version}",
    version_cmd=("version",),
    why="test pin",
)


def fake_binary(path: Path, prints: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{prints}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("AIWFE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tools, "TOOLS_BIN", tmp_path / "tools-bin")
    return tmp_path


def test_binary_on_path_with_pinned_version_is_reused(sandbox):
    fake_binary(sandbox / "bin" / "demo", "demo v1.2.3")
    found = tools.find_on_path(PIN, search_path=str(sandbox / "bin"))
    assert found == sandbox / "bin" / "demo"


def test_binary_on_path_with_other_version_is_ignored(sandbox):
    fake_binary(sandbox / "bin" / "demo", "demo v1.2.4")
    assert tools.find_on_path(PIN, search_path=str(sandbox / "bin")) is None


def test_cached_build_is_used_without_go(sandbox, monkeypatch):
    fake_binary(tools.cached_binary(PIN), "v1.2.3")
    monkeypatch.setenv("PATH", str(sandbox / "empty"))
    result = tools.ensure(PIN)
    assert result.source == "cache"
    assert (sandbox / "tools-bin" / "demo").resolve() == tools.cached_binary(PIN)


def test_missing_go_gives_an_actionable_error(sandbox, monkeypatch):
    monkeypatch.setenv("PATH", str(sandbox / "empty"))
    with pytest.raises(tools.ToolError, match="Go is not installed"):
        tools.ensure(PIN)


def test_failed_build_points_at_its_log(sandbox, monkeypatch):
    fake_go = fake_binary(sandbox / "gobin" / "go", "cannot find module example.com/demo")
    fake_go.write_text("#!/bin/sh\necho 'cannot find module example.com/demo' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", str(fake_go.parent))
    with pytest.raises(
        tools.ToolError, match=r"go install example.com/demo/cmd/demo@v1.2.3 failed"
    ):
        tools.ensure(PIN)
    assert (Path(os.environ["AIWFE_CACHE_DIR"]) / "logs" / "build-demo-v1.2.3.log").exists()


def test_build_reporting_another_version_is_refused(sandbox, monkeypatch):
    # A "go" that installs a binary reporting the wrong version into $GOBIN.
    fake_go = sandbox / "gobin" / "go"
    fake_go.parent.mkdir(parents=True)
    fake_go.write_text(
        "#!/bin/sh\n"
        'printf "#!/bin/sh\\necho v9.9.9\\n" > "$GOBIN/demo"\n'
        '/bin/chmod +x "$GOBIN/demo"\n'
    )
    fake_go.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_go.parent))
    with pytest.raises(tools.ToolError, match=r"reports version 'v9\.9\.9'"):
        tools.ensure(PIN)


def test_report_lists_every_tool_with_its_version():
    results = [tools.ToolResult("helm3", "v3.22.0", Path("/x/helm3"), "cache")]
    text = tools.report(results)
    assert "helm3" in text and "v3.22.0" in text and "cache" in text


def test_changing_ldflags_gets_a_fresh_build(sandbox):
    import dataclasses

    restamped = dataclasses.replace(PIN, ldflags=PIN.ldflags + " -X example.com/demo.k8s=37")
    assert tools.cached_binary(restamped) != tools.cached_binary(PIN)
    assert tools.cached_binary(restamped).name == "demo"


def test_every_host_go_build_shares_one_cache_under_the_machine_cache(sandbox, monkeypatch):
    from ci.cluster import kind
    from ci.nodeimage import build, kubernetes

    for name in ("GOCACHE", "GOMODCACHE", "GOFLAGS"):
        monkeypatch.setenv(name, "")  # so the teardown also undoes what build_node_image sets
        monkeypatch.delenv(name)
    cache = sandbox / "cache"
    tool_env = tools.go_env({"CGO_ENABLED": "0"}, flags=("-mod=mod",))
    assert tool_env["GOFLAGS"].split() == ["-modcacherw", "-mod=mod"]
    # The node image's builder inherits os.environ, set by ci.cluster before it runs (its
    # own sources stay untouched: they are part of the node image's cache key).
    seen = {}
    monkeypatch.setattr(build, "ensure", lambda plan: seen.update(kubernetes.go_env()) or "tag")
    assert kind.build_node_image() == "tag"
    for env in (tool_env, seen):
        assert env["GOCACHE"] == str(cache / "go" / "build")
        assert env["GOMODCACHE"] == str(cache / "go" / "mod")
        assert "-modcacherw" in env["GOFLAGS"].split()  # removable with rm -rf
    assert seen["GOFLAGS"].split() == ["-modcacherw", "-buildvcs=false"]


def test_a_go_cache_the_user_set_wins(sandbox, monkeypatch):
    monkeypatch.setenv("GOCACHE", "/mine/build")
    monkeypatch.setenv("GOMODCACHE", "/mine/mod")
    monkeypatch.setenv("GOFLAGS", "-mod=mod")
    env = tools.go_env(flags=("-mod=mod",))
    assert (env["GOCACHE"], env["GOMODCACHE"]) == ("/mine/build", "/mine/mod")
    assert env["GOFLAGS"].split() == ["-mod=mod", "-modcacherw"]
