"""migration-operator: plain Job, hooks or GitOps mode; apps wait for the schema."""

from __future__ import annotations

from tests.chart.chart_support import (
    SERVICES,
    by_name,
    deployment,
    hook_events,
    is_hook,
    of_kind,
    pod_spec,
    render,
)


def test_default_bundled_db_runs_migrations_as_plain_job_and_apps_wait():
    objects = render()
    job = of_kind(objects, "Job")[0]
    assert not is_hook(job)
    assert job["metadata"]["name"].startswith("aiwfe-migration-operator-")
    spec = pod_spec(job)
    wait = spec["initContainers"][0]
    assert "until aiwfe-migrate current" in wait["command"][-1]
    migrate = spec["containers"][0]
    assert migrate["args"] == ["upgrade"]
    env = {e["name"]: e for e in migrate["env"]}
    assert env["AIWFE_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "aiwfe-admin"
    for component in SERVICES:
        init = pod_spec(deployment(objects, component))["initContainers"]
        assert [c["command"][-1] for c in init] == ["until aiwfe-migrate check; do sleep 3; done"]
    # nothing the Job needs is a hook (they are all release resources created together)
    assert not [o for o in objects if is_hook(o) and o["kind"] != "Pod"]


def test_external_db_runs_migrations_as_ordered_pre_install_hooks():
    objects = render(
        "prod",
        ("global.guardrails.allowGeneratedSecrets=true", "global.auth.admin.existingSecret="),
    )
    job = of_kind(objects, "Job")[0]
    assert job["metadata"]["name"] == "aiwfe-migration-operator-1"  # one per revision
    assert hook_events(job) == {"pre-install", "pre-upgrade"}
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    weight = int(ann["helm.sh/hook-weight"])
    # Everything the hook Job uses that the chart creates is itself an earlier hook.
    spec = pod_spec(job)
    sa = by_name(objects, "ServiceAccount", spec["serviceAccountName"])
    admin = by_name(objects, "Secret", "aiwfe-admin")
    for dependency in (sa, admin):
        assert hook_events(dependency) == {"pre-install", "pre-upgrade"}
        assert int(dependency["metadata"]["annotations"]["helm.sh/hook-weight"]) < weight
    assert int(admin["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        sa["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    # apps do not wait: the schema is at head before they roll
    for component in SERVICES:
        assert "initContainers" not in pod_spec(deployment(objects, component))
    # migrations talk to Postgres directly, the apps through the configured endpoint
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["AIWFE_DB_HOST"] == "aiwfe-db.prod.internal"
    assert spec["containers"][0]["args"] == ["upgrade"]


def test_bundled_db_upgrade_migrates_in_a_pre_upgrade_hook():
    """On upgrade the bundled database exists: migrate before the new pods roll."""
    objects = render("default", is_upgrade=True)
    job = of_kind(objects, "Job")[0]
    assert hook_events(job) == {"pre-upgrade"}
    assert job["metadata"]["name"] == "aiwfe-migration-operator-1"
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    # what it uses are ordinary release resources that exist since the install
    sa = by_name(objects, "ServiceAccount", pod_spec(job)["serviceAccountName"])
    assert not is_hook(sa)
    assert not [o for o in of_kind(objects, "Secret") if is_hook(o)]
    # the pod template of the apps does not depend on install vs upgrade (no spurious roll)
    install = render()
    for component in SERVICES:
        assert deployment(objects, component) == deployment(install, component)


def test_gitops_mode_has_no_hooks_and_apps_wait_for_the_schema():
    objects = render("prod", ("global.migrations.useHelmHooks=false",), is_upgrade=True)
    assert [o["metadata"]["name"] for o in objects if is_hook(o)] == ["aiwfe-smoke-test"]
    for component in SERVICES:
        init = pod_spec(deployment(objects, component))["initContainers"]
        assert "aiwfe-migrate check" in init[0]["command"][-1]


def test_migration_job_name_follows_its_inputs():
    """A plain Job's pod template is immutable: new image or settings -> new Job name."""
    base = of_kind(render(), "Job")[0]["metadata"]["name"]
    assert (
        of_kind(render("default", ("api-gateway.replicaCount=2",)), "Job")[0]["metadata"]["name"]
        == base
    )
    bumped = of_kind(render("default", ("migration-operator.image.tag=0.2.0",)), "Job")[0]
    assert bumped["metadata"]["name"] != base


def test_downgrade_path():
    job = of_kind(render("default", ("migration-operator.downgradeTo=0007",)), "Job")[0]
    migrate = pod_spec(job)["containers"][0]
    assert migrate["args"] == ["downgrade", "0007"]
    assert "AIWFE_ADMIN_PASSWORD" not in {e["name"] for e in migrate["env"]}
