"""cognitive-services: the escape hatches (extra env, volumes, objects)."""

from __future__ import annotations

from tests.chart.chart_support import (
    by_name,
    deployment,
    pod_spec,
    render,
)


def test_extra_env_volumes_and_objects():
    objects = render(
        "default",
        (
            "cognitive-services.extraEnv[0].name=FEATURE_X",
            "cognitive-services.extraEnv[0].value=on",
            "cognitive-services.extraVolumes[0].name=cache",
            "cognitive-services.extraVolumes[0].emptyDir.medium=Memory",
            "cognitive-services.extraVolumeMounts[0].name=cache",
            "cognitive-services.extraVolumeMounts[0].mountPath=/var/cache/aiwfe",
            "extraObjects[0]=apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: {{ .Release.Name }}-extra\n"
            "  labels:\n    app.kubernetes.io/name: aiwfe\n    app.kubernetes.io/instance: aiwfe\n"
            "    app.kubernetes.io/part-of: aiwfe\ndata:\n  hello: world",
        ),
    )
    spec = pod_spec(deployment(objects, "cognitive-services"))
    main = spec["containers"][0]
    assert {"name": "FEATURE_X", "value": "on"} in main["env"]
    assert {"name": "cache", "mountPath": "/var/cache/aiwfe"} in main["volumeMounts"]
    assert {"name": "cache", "emptyDir": {"medium": "Memory"}} in spec["volumes"]
    assert by_name(objects, "ConfigMap", "aiwfe-extra")["data"] == {"hello": "world"}
