"""aiwfe-smoke --url URL: end-to-end check of a running gateway (the chart's `helm test`).

Logs in with AIWFE_ADMIN_USERNAME / AIWFE_ADMIN_PASSWORD, creates a one-step workflow,
waits (bounded) until it completes. Exit 0 on success; otherwise 1 with a message that says
which stage failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import httpx


class SmokeFailure(Exception):
    pass


def run(url: str, username: str, password: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url.rstrip("/"), timeout=10) as client:
        try:
            ready = client.get("/api/health")
        except httpx.HTTPError as exc:
            raise SmokeFailure(f"gateway unreachable at {url}: {exc}") from exc
        if ready.status_code != 200:
            raise SmokeFailure(f"/api/health answered {ready.status_code}")
        login = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        if login.status_code != 200:
            raise SmokeFailure(f"login as {username!r} failed: {login.status_code} {login.text}")
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        created = client.post(
            "/api/v1/workflows",
            json={
                "name": "helm-test-smoke",
                "steps": [{"type": "perceive"}],
                "input": {"text": "AIWFE smoke test. The gateway, worker and engine answer."},
            },
        )
        if created.status_code != 201:
            raise SmokeFailure(f"creating a workflow failed: {created.status_code} {created.text}")
        run_id = created.json()["id"]
        status = "queued"
        while time.monotonic() < deadline:
            response = client.get(f"/api/v1/workflows/{run_id}")
            if response.status_code != 200:
                raise SmokeFailure(f"reading run {run_id} failed: {response.status_code}")
            status = response.json()["status"]
            if status == "succeeded":
                return run_id
            if status in ("failed", "cancelled"):
                raise SmokeFailure(f"run {run_id} {status}: {response.json().get('error')}")
            time.sleep(1)
        raise SmokeFailure(f"run {run_id} still {status} after {timeout:.0f}s (is a worker up?)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiwfe-smoke", description=__doc__)
    parser.add_argument("--url", required=True, help="gateway base URL, e.g. http://host:8080")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the run")
    args = parser.parse_args(argv)
    username = os.environ.get("AIWFE_ADMIN_USERNAME", "admin")
    password = os.environ.get("AIWFE_ADMIN_PASSWORD", "")
    if not password:
        print("aiwfe-smoke: AIWFE_ADMIN_PASSWORD is not set", file=sys.stderr)
        return 2
    try:
        run_id = run(args.url, username, password, args.timeout)
    except SmokeFailure as exc:
        print(f"aiwfe-smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"aiwfe-smoke: OK: workflow run {run_id} succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
