"""Every nox session installs exactly what uv.lock pins, with or without uv on PATH."""

from __future__ import annotations

import re

from ci.env import lockinstall
from ci.paths import REPO


def test_with_uv_the_session_syncs_frozen_from_the_lock(tmp_path):
    steps = lockinstall.plan(tmp_path, ["services"], project=True, uv_finder=lambda: "/x/uv")
    assert [s.args for s in steps] == [
        ["/x/uv", "sync", "--frozen", "--no-default-groups", "--inexact", "--group=services"]
    ]
    assert steps[0].env == {"UV_PROJECT_ENVIRONMENT": str(tmp_path)}


def test_without_uv_the_session_brings_the_pinned_uv_and_still_syncs_from_the_lock(tmp_path):
    steps = lockinstall.plan(tmp_path, ["test", "lint"], uv_finder=lambda: None)
    pin = re.search(r"^uv==\S+", (REPO / "ci/requirements-harness.txt").read_text(), re.M)
    assert pin, "ci/requirements-harness.txt pins uv"
    first, second = steps
    assert first.args == [str(tmp_path / "bin/python"), "-m", "pip", "install", "-q", pin[0]]
    assert second.args[:3] == [str(tmp_path / "bin/uv"), "sync", "--frozen"]
    assert "--group=test" in second.args and "--group=lint" in second.args
    assert "--no-install-project" in second.args
    assert second.env == {"UV_PROJECT_ENVIRONMENT": str(tmp_path)}
    # nothing on this path installs from pyproject's version ranges
    assert not any("-e" in s.args or "." in s.args for s in steps)


def test_a_missing_uv_pin_is_an_error_naming_the_file(tmp_path):
    requirements = tmp_path / "req.txt"
    requirements.write_text("nox==1\n")
    try:
        lockinstall.harness_pin("uv", requirements)
    except LookupError as err:
        assert str(requirements) in str(err)
    else:
        raise AssertionError("no error for a missing pin")
