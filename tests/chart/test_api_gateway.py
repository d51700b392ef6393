"""api-gateway: the smoke test through it, Ingress, HTTPRoute and Certificate, its
secret references and topology spread."""

from __future__ import annotations

from ci import components
from tests.chart.chart_support import (
    by_name,
    deployment,
    hook_events,
    notes,
    of_kind,
    pod_annotations,
    pod_spec,
    render,
)

GATEWAY = components.port("api-gateway")


def test_helm_test_hook_logs_in_through_the_gateway():
    pod = by_name(render(), "Pod", "aiwfe-smoke-test")
    assert hook_events(pod) == {"test"}
    # kept after success so `helm test --logs` can read it; replaced by the next test run
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    c = pod["spec"]["containers"][0]
    assert c["command"] == ["aiwfe-smoke", "--url", f"http://aiwfe-api-gateway:{GATEWAY}"]
    env = {e["name"]: e for e in c["env"]}
    assert env["AIWFE_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "aiwfe-admin",
        "key": "password",
    }
    by_name(render(), "Service", "aiwfe-api-gateway")


def test_ingress_tls_with_cert_manager():
    ingress = of_kind(render("staging"), "Ingress")[0]
    assert (
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        == "letsencrypt-staging"
    )
    assert ingress["spec"]["tls"] == [
        {"hosts": ["aiwfe.staging.example.com"], "secretName": "aiwfe-api-gateway-tls"}
    ]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "aiwfe-api-gateway", "port": {"name": "http"}}


def test_gateway_api_httproute_and_certificate():
    objects = render(
        "default",
        (
            "api-gateway.httpRoute.enabled=true",
            "api-gateway.httpRoute.parentRefs[0].name=public",
            "api-gateway.httpRoute.parentRefs[0].namespace=gateway-system",
            "api-gateway.httpRoute.hostnames[0]=aiwfe.example.com",
            "api-gateway.certificate.enabled=true",
            "api-gateway.certificate.issuerRef.name=letsencrypt",
        ),
    )
    route = of_kind(objects, "HTTPRoute")[0]
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    assert route["spec"]["hostnames"] == ["aiwfe.example.com"]
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"name": "aiwfe-api-gateway", "port": GATEWAY}
    ]
    cert = of_kind(objects, "Certificate")[0]
    assert cert["spec"]["dnsNames"] == ["aiwfe.example.com"]
    assert cert["spec"]["issuerRef"]["name"] == "letsencrypt"
    assert "Gateway API HTTPRoute" in notes(
        "default",
        (
            "api-gateway.httpRoute.enabled=true",
            "api-gateway.httpRoute.parentRefs[0].name=public",
            "api-gateway.httpRoute.hostnames[0]=aiwfe.example.com",
        ),
    )


def test_secret_reference_change_rolls_pods():
    before = render()
    after = render(
        "default",
        (
            "global.auth.tokenKeys.existingSecret=my-keys",
            "global.auth.tokenKeys.publicKeysConfigMap=my-public-keys",
        ),
    )
    gw_before, gw_after = deployment(before, "api-gateway"), deployment(after, "api-gateway")
    assert (
        pod_annotations(gw_before)["checksum/settings"]
        != pod_annotations(gw_after)["checksum/settings"]
    )
    # user-managed Secrets are tracked by resourceVersion (looked up at upgrade time)
    assert (
        pod_annotations(gw_before)["checksum/secrets"]
        != pod_annotations(gw_after)["checksum/secrets"]
    )
    volumes = {v["name"]: v for v in pod_spec(gw_after)["volumes"]}
    assert volumes["token-signing-key"]["secret"]["secretName"] == "my-keys"
    names = {o["metadata"]["name"] for o in of_kind(after, "Secret")}
    assert "aiwfe-token-signing-key" not in names


def test_topology_spread_defaults_and_override():
    spec = pod_spec(deployment(render(), "api-gateway"))
    keys = [t["topologyKey"] for t in spec["topologySpreadConstraints"]]
    assert keys == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    custom = pod_spec(
        deployment(
            render(
                "default",
                (
                    "api-gateway.topologySpreadConstraints[0].maxSkew=2",
                    "api-gateway.topologySpreadConstraints[0].topologyKey=rack",
                    "api-gateway.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
                ),
            ),
            "api-gateway",
        )
    )
    assert [t["topologyKey"] for t in custom["topologySpreadConstraints"]] == ["rack"]
