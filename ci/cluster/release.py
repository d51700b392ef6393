"""Helm release operations on a cluster: install/upgrade, test, rollback, uninstall.

Used by `nox -s up` (ci/cluster/stack.py) and the integration suite, so both drive the chart the way
a user does: `helm upgrade --install ./charts/aiwfe -f values/<profile>.yaml`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ci import proc
from ci.cluster import diagnostics
from ci.paths import CHART, VALUES_DIR


class ReleaseError(RuntimeError):
    """A helm command failed; carries its output."""

    def __init__(self, cmd: Sequence[str], output: str) -> None:
        super().__init__(f"{' '.join(cmd[:3])} failed:\n{output.strip()}")
        self.output = output


@dataclass
class Release:
    name: str
    namespace: str
    kubeconfig: Path
    helm: str = "helm"
    chart: Path = CHART
    history: list[float] = field(default_factory=list)  # seconds of each install/upgrade

    def _helm(self, *args: str, timeout: float = 900) -> str:
        cmd = [self.helm, *args, "-n", self.namespace, "--kubeconfig", str(self.kubeconfig)]
        result = proc.run(cmd, capture=True, check=False, timeout=timeout)
        if result.returncode != 0:
            raise ReleaseError(cmd, result.stdout + result.stderr)
        return result.stdout

    def upgrade_install(
        self,
        values: Sequence[str | Path] = (),
        sets: Sequence[str] = (),
        *,
        wait_timeout: str = "10m",
    ) -> str:
        """`helm upgrade --install --wait`; values name profiles (values/<name>.yaml) or files."""
        args = ["upgrade", "--install", self.name, str(self.chart), "--create-namespace"]
        for value in values:
            path = Path(value)
            if not path.suffix:
                path = VALUES_DIR / f"{value}.yaml"
            args += ["-f", str(path)]
        for item in sets:
            args += ["--set", item]
        args += ["--wait", "--wait-for-jobs", "--timeout", wait_timeout]
        start = time.monotonic()
        out = self._helm(*args)
        self.history.append(time.monotonic() - start)
        return out

    def test(self, timeout: str = "5m") -> str:
        return self._helm("test", self.name, "--logs", "--timeout", timeout)

    def rollback(self, revision: int, timeout: str = "10m") -> str:
        return self._helm("rollback", self.name, str(revision), "--wait", "--timeout", timeout)

    def uninstall(self, timeout: str = "5m") -> str:
        return self._helm("uninstall", self.name, "--wait", "--timeout", timeout)

    def diagnose(self, label: str) -> Path:
        """Pod logs, events and helm status of this release into the cache's failures/."""
        return diagnostics.collect(
            label,
            namespace=self.namespace,
            kubeconfig=self.kubeconfig,
            release=self.name,
            helm=self.helm,
        )

    def helm_json(self, *args: str) -> str:
        """A read-only helm command's JSON output."""
        return self._helm(*args, "-o", "json")

    def status(self) -> dict:
        return json.loads(self._helm("status", self.name, "-o", "json"))

    def revisions(self) -> list[dict]:
        return json.loads(self._helm("history", self.name, "-o", "json"))
