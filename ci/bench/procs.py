"""Starting the services under test as local processes, and measuring their trees.

RSS and CPU come from psutil, summed over each started process and all its descendants.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ci import proc
from ci.env.services import free_port, wait_for_port

LOG_DIR = Path("build/bench/logs")


@dataclass
class Service:
    """One started server process."""

    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    process: proc.Popen | None = None
    log_path: Path | None = None

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{self.name}.log"
        log = open(self.log_path, "ab")
        try:
            self.process = proc.spawn(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=proc.STDOUT,
                new_session=True,
            )
        finally:
            log.close()

    def wait_listening(self, timeout: float = 90) -> None:
        try:
            wait_for_port(self.port, timeout, self.process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{self.name} did not start: {exc}\n{self.log_tail()}") from exc

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except proc.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def tree(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def tree_totals(processes: list[psutil.Process]) -> dict[str, float]:
    """Summed RSS (bytes), CPU seconds (user + system) and process count of `processes`."""
    rss = 0
    cpu = 0.0
    count = 0
    for process in processes:
        try:
            with process.oneshot():
                rss += process.memory_info().rss
                times = process.cpu_times()
                cpu += times.user + times.system
                count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return {"rss_bytes": rss, "cpu_seconds": cpu, "processes": count}


@dataclass
class Group:
    """A set of services measured together (one topology, or the backing services)."""

    services: list[Service] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)

    def processes(self) -> list[psutil.Process]:
        found: list[psutil.Process] = []
        for service in self.services:
            found += service.tree()
        for pid in self.extra_pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(pid)
                found += [root, *root.children(recursive=True)]
        return found

    def totals(self) -> dict[str, float]:
        return tree_totals(self.processes())


class Sampler:
    """Samples the summed RSS of groups every `interval` seconds in a background thread,
    and the CPU seconds they used between start() and stop()."""

    def __init__(self, groups: dict[str, Group], interval: float = 0.2) -> None:
        self.groups = groups
        self.interval = interval
        self.rss: dict[str, list[int]] = {name: [] for name in groups}
        self.cpu_start: dict[str, float] = {}
        self.cpu_used: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        for name, group in self.groups.items():
            self.rss[name].append(int(group.totals()["rss_bytes"]))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self.cpu_start = {n: g.totals()["cpu_seconds"] for n, g in self.groups.items()}
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, dict[str, Any]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        out: dict[str, dict[str, Any]] = {}
        for name, group in self.groups.items():
            totals = group.totals()
            samples = self.rss[name]
            out[name] = {
                "cpu_seconds": round(totals["cpu_seconds"] - self.cpu_start[name], 4),
                "rss_peak_bytes": max(samples),
                "rss_mean_bytes": int(sum(samples) / len(samples)),
                "processes": int(totals["processes"]),
            }
        return out


def settle(seconds: float) -> None:
    time.sleep(seconds)


__all__ = ["Group", "Sampler", "Service", "free_port", "python_module", "tree_totals"]
