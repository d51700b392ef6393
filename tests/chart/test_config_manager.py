"""config-manager: its served config rolls only its own pods."""

from __future__ import annotations

from tests.chart.chart_support import (
    SERVICES,
    deployment,
    pod_annotations,
    render,
)


def test_checksums_roll_only_the_pods_whose_config_changed():
    before = render()
    after = render("default", ("config-manager.config.featureFlags.newFlag=true",))
    changed = {
        c
        for c in SERVICES
        if pod_annotations(deployment(before, c)) != pod_annotations(deployment(after, c))
    }
    assert changed == {"config-manager"}
