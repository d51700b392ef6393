"""ci/pins.toml is the single source of versions: it must stay well-formed and honest."""

from __future__ import annotations

import copy

import pytest

from ci import pins


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v3.22.0", "v3.22.0"),
        ('version.BuildInfo{Version:"v3.22.0", GitCommit:""}', "v3.22.0"),
        ("kind v0.33.0 go1.26.8 linux/amd64", "v0.33.0"),
        ("v1.7.12\ninstalled by building from source", "v1.7.12"),
        ("4.3.1", "v4.3.1"),
        ("v1.34.4-rc.1+abc", "v1.34.4"),
        ("no version here", None),
    ],
)
def test_parse_version_reads_what_tools_print(text, expected):
    assert pins.parse_version(text) == expected


def test_every_tool_has_a_reason_and_a_semver():
    loaded = pins.tools()
    names = {pin.name for pin in loaded}
    assert {"helm3", "helm4", "kind", "actionlint"} <= names
    for pin in loaded:
        assert pins.parse_version(pin.version) == pin.version
        assert len(pin.why) > 20, f"{pin.name}: say why this version"


def test_helm_major_versions_match_their_names():
    assert pins.tool("helm3").version.startswith("v3.")
    assert pins.tool("helm4").version.startswith("v4.")


def test_ldflags_stamp_the_pinned_version():
    pin = pins.tool("helm3")
    assert pin.version in pin.resolved_ldflags


def test_supported_kubernetes_minors_cover_1_31_to_1_35():
    assert pins.kubernetes_minors() == ["1.31", "1.32", "1.33", "1.34", "1.35"]


def test_kind_node_stays_below_1_35_for_cgroup_v1_hosts():
    major, minor, _ = pins.kind_node_version().lstrip("v").split(".")
    assert (int(major), int(minor)) < (1, 35)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["tools"]["kind"].pop("why"), "tools.kind.why is required"),
        (lambda d: d["tools"]["kind"].update(version="0.33"), "tools.kind.version"),
        (lambda d: d["tools"]["helm3"].update(why="  "), "tools.helm3.why"),
        (lambda d: d.pop("tools"), "[tools] table"),
        (lambda d: d["kubernetes"].update(supported_minors=["v1.31"]), "supported_minors"),
    ],
)
def test_malformed_pins_name_the_key_to_fix(mutate, message):
    data = copy.deepcopy(pins.load())
    mutate(data)
    with pytest.raises(pins.PinError, match=message.replace("[", r"\[").replace(".", r"\.")):
        pins.validate(data)


def test_helm3_assumes_a_current_kubernetes_when_no_cluster_is_asked():
    # Without these ldflags helm 3 assumes Kubernetes 1.20 and refuses our kubeVersion >=1.31.
    flags = pins.tool("helm3").resolved_ldflags
    assert "pkg/chartutil.k8sVersionMinor=" in flags
    assert "pkg/lint/rules.k8sVersionMinor=" in flags
