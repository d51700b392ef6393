"""A failed Loki, Jaeger or Ollama source build fails the images tier unless a user building
locally opts in to the degraded image; CI never gets a degraded image."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.images import plan as image_plan
from ci.images import report, sources


@pytest.mark.parametrize(
    ("env", "allowed"),
    [
        ({}, False),
        ({"CI": "true"}, False),
        ({"AIWFE_ALLOW_DEGRADED_IMAGES": "1"}, True),
        ({"AIWFE_ALLOW_DEGRADED_IMAGES": "0"}, False),
        ({"AIWFE_ALLOW_DEGRADED_IMAGES": "1", "CI": "true"}, False),
    ],
)
def test_degraded_images_only_on_explicit_opt_in_outside_ci(env, allowed):
    ok, why = image_plan.degraded_allowed(env)
    assert ok is allowed
    assert "AIWFE_ALLOW_DEGRADED_IMAGES" in why  # the message names the setting


def observability_with_failed_loki(tmp_path: Path, policy: tuple[bool, str]) -> image_plan.Build:
    build = next(b for b in image_plan.plan("airgap", "base:x", []) if b.name == "observability")
    log = tmp_path / "loki.log"
    log.write_text("#7 99.0 cmd/loki/main.go:3: error: undefined: Foo\n")
    ok = tmp_path / "jaeger.log"
    ok.write_text("done\n")
    jobs = [(build, "loki", "loki-from-source"), (build, "jaeger", "jaeger-from-source")]
    sources._apply_source_outcomes(jobs, [(1, 99.0, log), (0, 50.0, ok)], policy)
    return build


def test_by_default_a_failed_source_build_fails_its_image_with_the_log(tmp_path):
    build = observability_with_failed_loki(tmp_path, image_plan.degraded_allowed({"CI": "true"}))
    assert build.args["LOKI_IMAGE"] == "loki-from-source"  # not swapped for the stand-in stage
    assert "loki" not in build.missing_parts
    why = build.failed_parts["loki"]
    assert "undefined: Foo" in why and str(tmp_path / "loki.log") in why
    result = sources.failed_source_result(build, "airgap", {"loki": 99.0})
    assert result["status"] == "failed"
    table = report.table([result], "airgap", "test")
    assert "source builds that failed" in table and "loki (in observability)" in table


def test_opted_in_a_failed_source_build_ships_the_image_without_it(tmp_path):
    policy = image_plan.degraded_allowed({"AIWFE_ALLOW_DEGRADED_IMAGES": "1"})
    build = observability_with_failed_loki(tmp_path, policy)
    assert build.args["LOKI_IMAGE"] == "loki-unavailable"
    assert "undefined: Foo" in build.missing_parts["loki"]
    assert not build.failed_parts
