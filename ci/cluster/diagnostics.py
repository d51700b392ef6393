"""Collect what a person needs after a failed install or test: pod logs, events, helm status.

Everything goes to <cache>/failures/<timestamp>-<label>/ and the folder is printed, so a CI
log shows where to look (the GitHub workflow uploads the folder as an artifact).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from ci import proc
from ci.paths import cache_dir
from ci.proc import echo


def failure_dir(label: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")[:80] or "failure"
    path = cache_dir() / "failures" / f"{stamp}-{safe}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def collect(
    label: str,
    *,
    namespace: str,
    kubeconfig: str | Path,
    release: str | None = None,
    helm: str = "helm",
) -> Path:
    """Dump pods (describe-like JSON), every container's logs (and previous), events, helm."""
    from kubernetes import client, config  # imported here: only integration venvs have it

    out = failure_dir(label)
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api_client)
    try:
        pods = core.list_namespaced_pod(namespace).items
    except Exception as exc:  # the cluster itself may be the failure
        _write(out / "error.txt", f"listing pods in {namespace} failed: {exc}\n")
        pods = []
    summary = []
    for pod in pods:
        name = pod.metadata.name
        _write(
            out / "pods" / f"{name}.json",
            json.dumps(api_client.sanitize_for_serialization(pod), indent=1),
        )
        statuses = (pod.status.container_statuses or []) + (
            pod.status.init_container_statuses or []
        )
        for status in statuses:
            summary.append(
                f"{name}/{status.name}: ready={status.ready} restarts={status.restart_count} "
                f"state={_state(status)}"
            )
            for previous in (False, True):
                try:
                    text = core.read_namespaced_pod_log(
                        name, namespace, container=status.name, previous=previous, tail_lines=2000
                    )
                except Exception:  # noqa: S112 - no previous container, or not started yet
                    continue
                suffix = ".previous.log" if previous else ".log"
                _write(out / "logs" / f"{name}_{status.name}{suffix}", text)
    try:
        events = core.list_namespaced_event(namespace).items
        lines = [
            f"{e.last_timestamp or e.event_time} {e.type} {e.reason} "
            f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}"
            for e in sorted(events, key=lambda e: str(e.last_timestamp or e.event_time))
        ]
        _write(out / "events.txt", "\n".join(lines) + "\n")
    except Exception as exc:
        _write(out / "events.txt", f"listing events failed: {exc}\n")
    _write(out / "pods.txt", "\n".join(summary) + "\n")
    if release:
        for what in (
            ["status", release],
            ["history", release],
            ["get", "values", release, "--all"],
        ):
            result = proc.run(
                [helm, *what, "-n", namespace, "--kubeconfig", str(kubeconfig)],
                capture=True,
                check=False,
                quiet=True,
            )
            _write(out / f"helm-{what[0]}.txt", result.stdout + result.stderr)
    echo(f"diagnostics for {label!r} collected in {out}")
    return out


def _state(status) -> str:
    state = status.state
    if state is None:
        return "unknown"
    if state.running:
        return "running"
    if state.waiting:
        return f"waiting({state.waiting.reason})"
    if state.terminated:
        return f"terminated({state.terminated.reason}, exit {state.terminated.exit_code})"
    return "unknown"
