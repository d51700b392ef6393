"""`nox -s up` / `nox -s down`: the whole AIWFE stack on a local kind cluster, for humans.

up: build (or reuse) the images, create (or reuse) the kind cluster, load the images,
`helm upgrade --install` the chart with values/kind.yaml (plus any `-f FILE` given after
`--`), expose the gateway on http://127.0.0.1:30080 and print how to log in.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

from ci import components, proc, progress
from ci.cluster import kind as cluster
from ci.cluster.release import Release, ReleaseError
from ci.images.report import REPORT as IMAGES_REPORT
from ci.paths import TOOLS_BIN
from ci.proc import echo

RELEASE = "aiwfe"
NAMESPACE = "aiwfe"
GATEWAY_URL = f"http://127.0.0.1:{cluster.GATEWAY_NODE_PORT}"


def build_images() -> list[str]:
    """Run the image build (cached, so fast when nothing changed); the tags it built."""
    result = proc.run([sys.executable, "-m", "ci.images", "build"], check=False)
    report = json.loads(IMAGES_REPORT.read_text()) if IMAGES_REPORT.exists() else {"images": []}
    built = [i["image"] for i in report["images"] if i.get("status") == "built"]
    if result.returncode != 0:
        failed = [i["image"] for i in report["images"] if i.get("status") != "built"]
        raise SystemExit(f"image build failed for {', '.join(failed) or 'some images'}")
    return built


LOCAL_ACCESS = "aiwfe.io/local-access"


def expose_gateway(kubeconfig: Path, namespace: str, release: str, wait: float = 60) -> None:
    """A NodePort Service in front of the gateway, on the port kind maps to 127.0.0.1.

    One release at a time owns the port: our Services for other namespaces (left by an
    earlier `up` or test run) are removed first; ours is kept when it is already there.
    """
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    name = f"{release}-gateway-local"
    for old in core.list_service_for_all_namespaces(label_selector=f"{LOCAL_ACCESS}=true").items:
        if (old.metadata.namespace, old.metadata.name) == (namespace, name):
            return
        core.delete_namespaced_service(old.metadata.name, old.metadata.namespace)
    service = client.V1Service(
        metadata=client.V1ObjectMeta(
            name=name, labels={"app.kubernetes.io/part-of": "aiwfe", LOCAL_ACCESS: "true"}
        ),
        spec=client.V1ServiceSpec(
            type="NodePort",
            selector={
                "app.kubernetes.io/name": "api-gateway",
                "app.kubernetes.io/instance": release,
            },
            ports=[
                client.V1ServicePort(
                    name="http",
                    port=components.port("api-gateway"),
                    target_port="http",
                    node_port=cluster.GATEWAY_NODE_PORT,
                )
            ],
        ),
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            core.create_namespaced_service(namespace, service)
            return
        except ApiException as exc:
            if exc.status == 409:  # created meanwhile
                return
            # 422 "port already allocated": a deleted Service's port is freed a moment later
            if exc.status != 422 or time.monotonic() > deadline:
                raise
            time.sleep(2)


def admin_credentials(release: Release) -> tuple[str, str]:
    """(username, password) of the admin the migration Job created, from the release's values
    and Secret (the chart's generated one, or the user's existingSecret)."""
    from kubernetes import client, config

    values = json.loads(release.helm_json("get", "values", release.name, "--all"))
    admin = values["global"]["auth"]["admin"]
    name = admin.get("existingSecret") or f"{release.name}-admin"
    key = admin.get("key") if admin.get("existingSecret") else "password"
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(release.kubeconfig)))
    secret = core.read_namespaced_secret(name, release.namespace)
    return admin.get("username", "admin"), base64.b64decode(secret.data[key]).decode()


def install(release: Release, values: list[str | Path], label: str) -> str:
    """`helm upgrade --install --wait`, diagnostics collected if it fails, then the gateway
    exposed on 127.0.0.1:30080; returns helm's output (with NOTES)."""
    try:
        with progress.step(f"helm upgrade --install {release.name}", key=f"helm-install-{label}"):
            output = release.upgrade_install(values)
    except ReleaseError:
        release.diagnose(label)
        raise
    expose_gateway(release.kubeconfig, release.namespace, release.name)
    return output


def up(extra_values: list[str]) -> int:
    echo("nox -s up, step 1 of 4: images (ci/images/)")
    images = build_images()
    echo("nox -s up, step 2 of 4: kind cluster (node image built first when air-gapped)")
    kind = cluster.up()
    with progress.step(f"kind load of {len(images)} images", key="kind-load", k=3, n=4):
        for tag in images:
            kind.load_image(tag)
    release = Release(RELEASE, NAMESPACE, kind.kubeconfig, helm=str(TOOLS_BIN / "helm"))
    echo("nox -s up, step 4 of 4: helm upgrade --install")
    print(install(release, ["kind", *extra_values], "nox-up"))
    username, password = admin_credentials(release)
    print(f"\nAIWFE is up ({release.history[-1]:.0f}s for helm upgrade --install).")
    print(f"  web UI and API: {GATEWAY_URL}/")
    print(f"  kubeconfig:     export KUBECONFIG={kind.kubeconfig}")
    print(f"  log in as:      {username} / {password}")
    print("  remove it with: nox -s down")
    return 0


def down() -> int:
    cluster.down()
    echo("kind cluster removed (its volumes with it)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ci.cluster.stack", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up_cmd = sub.add_parser("up", help="build, create the cluster, install the chart")
    up_cmd.add_argument("-f", "--values", action="append", default=[], help="extra values file")
    sub.add_parser("down", help="delete the cluster")
    args = parser.parse_args(argv)
    return up(args.values) if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
