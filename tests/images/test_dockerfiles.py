"""Static checks of images/ and of the build plan: no Docker needed."""

from __future__ import annotations

import json
import re

import pytest

from ci import pins
from ci.images import base as rootfs
from ci.images import plan as image_plan
from ci.images import report as report_module
from ci.images import sources

DOCKERFILES = sorted(image_plan.IMAGES_DIR.glob("*/Dockerfile"))
NAMES = [path.parent.name for path in DOCKERFILES]


def test_one_dockerfile_per_image_plus_the_shared_python_base():
    assert set(NAMES) == set(image_plan.ALL_IMAGES) | {"python-base"}


@pytest.mark.parametrize("path", DOCKERFILES, ids=NAMES)
def test_dockerfile_works_with_the_builtin_frontend_and_no_registry_assumptions(path):
    text = path.read_text()
    first = text.lstrip().splitlines()[0]
    assert not re.match(r"#\s*syntax\s*=", first), "a syntax line pulls a frontend image"
    assert "<<" not in text, "heredocs need a newer frontend"
    assert ":latest" not in text
    assert "HEALTHCHECK" not in text, "Kubernetes probes do the health checking"
    # Every FROM names an ARG, an earlier stage, or scratch: never a hard-coded upstream image.
    stages: set[str] = set()
    for match in re.finditer(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE):
        source, alias = match.groups()
        assert source == "scratch" or source.startswith("${") or source in stages, source
        if alias:
            stages.add(alias)
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)


@pytest.mark.parametrize("mode", ["online", "airgap"])
def test_every_build_arg_the_plan_passes_is_declared(mode):
    for build in image_plan.plan(mode, "debian:test", []):
        declared = set(re.findall(r"^ARG (\w+)", build.dockerfile.read_text(), re.MULTILINE))
        unused = set(build.args) - declared - {"GO_TOOLCHAIN"}
        assert not unused, f"{build.name}: build args not declared: {unused}"


def test_online_plan_uses_pinned_upstream_images_and_misses_nothing():
    data = pins.load()["images"]
    for build in image_plan.plan("online", data["debian"]["online_image"], []):
        assert not build.missing_parts
        for key, value in build.args.items():
            if key.endswith("_IMAGE") and key != "BASE_IMAGE":
                assert re.search(r":[\w.-]*\d", value), f"{key}={value} is not a pinned version"


def test_airgap_plan_names_qdrant_and_grafana_as_not_buildable():
    plan = {b.name: b for b in image_plan.plan("airgap", "aiwfe-base/debian:x", [])}
    assert set(plan["data-platform"].missing_parts) == {"qdrant"}
    assert plan["data-platform"].args["QDRANT_IMAGE"] == "qdrant-unavailable"
    assert "grafana" in plan["observability"].missing_parts
    assert plan["observability"].args["LOKI_IMAGE"] == "loki-from-source"
    assert plan["ai-inference"].args["OLLAMA_IMAGE"] == "ollama-from-source"
    for build in plan.values():
        if build.name != "python-base":
            for stage in build.args.values():
                if stage.endswith(("-unavailable", "-from-source")):
                    assert f" AS {stage}\n" in build.dockerfile.read_text()


def test_airgap_skip_switches_a_source_build_off(monkeypatch):
    monkeypatch.setenv("AIWFE_AIRGAP_SKIP", "ollama")
    plan = {b.name: b for b in image_plan.plan("airgap", "aiwfe-base/debian:x", [])}
    assert plan["ai-inference"].args["OLLAMA_IMAGE"] == "ollama-unavailable"
    assert "ollama" in plan["ai-inference"].missing_parts


def test_mode_detection_honours_flag_and_environment(monkeypatch):
    assert image_plan.detect_mode("online")[0] == "online"
    monkeypatch.setenv("AIWFE_AIRGAP", "1")
    assert image_plan.detect_mode(None) == ("airgap", "AIWFE_AIRGAP=1")
    monkeypatch.setenv("AIWFE_AIRGAP", "0")
    assert image_plan.detect_mode(None) == ("online", "AIWFE_AIRGAP=0")


def test_registry_host_of_image_references():
    assert image_plan.registry_host("debian:13.8-slim") == "registry-1.docker.io"
    assert image_plan.registry_host("grafana/loki:3.7.8") == "registry-1.docker.io"
    assert image_plan.registry_host("ghcr.io/org/x:1") == "ghcr.io"
    assert image_plan.registry_host("localhost:5000/x:1") == "localhost:5000"


def test_base_image_key_changes_with_the_pin():
    pin = rootfs.DebianPin.load()
    other = rootfs.DebianPin(**{**pin.__dict__, "release_date": "1999-01-01"})
    assert pin.key != other.key
    assert pin.tag.startswith("aiwfe-base/debian:trixie-")
    assert "trixie-security" in pin.sources()


def test_chart_version_is_a_version_not_latest():
    version = image_plan.chart_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[-+][\w.]+)?", version), version


def test_every_images_pin_says_why():
    data = pins.load()["images"]
    assert data["why"].strip()
    assert data["debian"]["why"].strip()
    for name, spec in data["upstream"].items():
        assert spec["why"].strip(), name
        assert ":" in spec["image"] and not spec["image"].endswith(":latest"), name


def test_dockerfile_defaults_match_the_pins():
    """People building by hand (docker build images/x) get the pinned versions too."""
    data = pins.load()["images"]
    expected = {
        "python-base": {
            "UV_VERSION": data["uv_version"],
            "DEBIAN_IMAGE": data["debian"]["online_image"],
        },
        "ai-inference": {
            "GGUF_VERSION": data["gguf_version"],
            "NUMPY_VERSION": data["numpy_version"],
            "GO_TOOLCHAIN": data["go_toolchain"],
            "OLLAMA_IMAGE": data["upstream"]["ollama"]["image"],
            "OLLAMA_MODULE": data["upstream"]["ollama"]["module"],
            "OLLAMA_VERSION": data["upstream"]["ollama"]["version"],
        },
        "observability": {
            "GO_TOOLCHAIN": data["go_toolchain"],
            "GRAFANA_IMAGE": data["upstream"]["grafana"]["image"],
        }
        | {
            f"{name.upper()}_{key.upper()}": data["upstream"][name][key]
            for name in ("loki", "jaeger")
            for key in ("image", "module", "version")
        },
        "data-platform": {"QDRANT_IMAGE": data["upstream"]["qdrant"]["image"]},
    }
    for name, args in expected.items():
        text = (image_plan.IMAGES_DIR / name / "Dockerfile").read_text()
        defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
        for key, value in args.items():
            assert defaults.get(key) == value, f"images/{name}/Dockerfile: ARG {key}"
    for name in image_plan.ALL_IMAGES:
        text = (image_plan.IMAGES_DIR / name / "Dockerfile").read_text()
        default = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE)).get("DEBIAN_IMAGE")
        assert default in (None, data["debian"]["online_image"]), name


def test_a_failed_source_build_switches_its_part_off_with_the_reason_when_allowed(tmp_path):
    allowed = (True, "AIWFE_ALLOW_DEGRADED_IMAGES=1")
    build = next(b for b in image_plan.plan("airgap", "base:x", []) if b.name == "observability")
    log = tmp_path / "loki.log"
    log.write_text("#7 12.3 go: downloading x\n#7 99.0 cmd/loki/main.go:3: error: undefined: Foo\n")
    ok = tmp_path / "jaeger.log"
    ok.write_text("done\n")
    jobs = [(build, "loki", "loki-from-source"), (build, "jaeger", "jaeger-from-source")]
    seconds = sources._apply_source_outcomes(jobs, [(1, 99.0, log), (0, 50.0, ok)], allowed)
    assert seconds == {"observability": {"loki": 99.0, "jaeger": 50.0}}
    assert build.args["LOKI_IMAGE"] == "loki-unavailable"
    assert build.args["JAEGER_IMAGE"] == "jaeger-from-source"
    assert "undefined: Foo" in build.missing_parts["loki"]
    assert "loki" not in build.source_parts and "jaeger" in build.source_parts
    timed_out = next(b for b in image_plan.plan("airgap", "base:x", []) if b.name == "ai-inference")
    sources._apply_source_outcomes(
        [(timed_out, "ollama", "ollama-from-source")], [(124, 1, ok)], allowed
    )
    assert "did not finish in time" in timed_out.missing_parts["ollama"]


def test_partial_builds_keep_the_other_images_in_the_report(tmp_path, monkeypatch):
    report = tmp_path / "report.json"
    monkeypatch.setattr(report_module, "REPORT", report)
    first = {"mode": "airgap", "images": [{"name": "data-platform", "status": "built"}]}
    report.write_text(json.dumps(first))
    second = {"mode": "airgap", "images": [{"name": "api-gateway", "status": "built"}]}
    merged = report_module.merge_report(second)
    assert [i["name"] for i in merged["images"]] == ["api-gateway", "data-platform"]
    other_mode = {"mode": "online", "images": [{"name": "api-gateway", "status": "built"}]}
    assert report_module.merge_report(other_mode) == other_mode
