"""Starts the first-party services as real processes (their console scripts) for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ci.services_env import free_port

BIN = Path(sys.executable).parent


def script(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{name} is not installed in {BIN}: install the aiwfe package")
    return str(path)


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    health: str | None = None
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 120, wait: bool = True) -> Proc:
        handle = open(self.log, "ab")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        if wait and self.health:
            self.wait_healthy(timeout)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            try:
                if httpx.get(self.url + self.health, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash: no graceful shutdown at all)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it does not exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self.process = None


@dataclass
class Stack:
    """gateway + cognitive (one process, or five in split mode) + worker + config-manager."""

    mode: str
    env: dict[str, str]
    logdir: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    cognitive_env: dict[str, str] = field(default_factory=dict)

    def _add(
        self,
        name: str,
        argv: list[str],
        health: str,
        extra: dict[str, str],
        port: int | None = None,
    ) -> Proc:
        port = port or free_port()
        env = {**self.env, **extra, "AIWFE_PORT": str(port)}
        proc = Proc(name, argv, env, self.logdir / f"{self.mode}-{name}.log", port, health)
        self.procs[name] = proc
        return proc

    def start(self) -> Stack:
        config_port = free_port()
        cognitive_env: dict[str, str] = {
            "AIWFE_COGNITIVE_MODE": self.mode,
            "AIWFE_CONFIG_URL": f"http://127.0.0.1:{config_port}",
        }
        if self.mode == "split":
            modules = ["coordination", "memory", "perception", "reasoning", "learning"]
            ports = {m: free_port() for m in modules}
            for m in modules:
                cognitive_env[f"AIWFE_COGNITIVE_{m.upper()}_URL"] = f"http://127.0.0.1:{ports[m]}"
            cognitive_env["AIWFE_COGNITIVE_URL"] = f"http://127.0.0.1:{ports['coordination']}"
            for m in modules:
                self._add(
                    f"cognitive-{m}",
                    [script("aiwfe-cognitive"), "--module", m],
                    "/health",
                    cognitive_env,
                    ports[m],
                )
        else:
            port = free_port()
            cognitive_env["AIWFE_COGNITIVE_URL"] = f"http://127.0.0.1:{port}"
            self._add("cognitive", [script("aiwfe-cognitive")], "/health", cognitive_env, port)
        self.cognitive_env = cognitive_env
        self._add("gateway", [script("aiwfe-gateway")], "/api/health", cognitive_env)
        self._add("config", [script("aiwfe-config")], "/health", {}, config_port)
        self._add("worker", [script("aiwfe-worker")], "/health", cognitive_env)
        # Start all, then wait for all: the imports overlap.
        for proc in self.procs.values():
            proc.start(wait=False)
        for proc in self.procs.values():
            proc.wait_healthy(120)
        return self

    def restart_worker(self) -> Proc:
        return self.restart("worker")

    def restart(self, name: str, *, wait: bool = True) -> Proc:
        """Stop a process (if running) and start the same program on the same port."""
        old = self.procs[name]
        old.stop()
        proc = Proc(name, old.argv, old.env, old.log, old.port, old.health)
        self.procs[name] = proc
        return proc.start(wait=wait)

    def __getitem__(self, name: str) -> Proc:
        return self.procs[name]

    @property
    def gateway(self) -> str:
        return self.procs["gateway"].url

    def stop(self) -> None:
        # SIGTERM everything first, then wait: shutdowns overlap instead of adding up.
        for proc in self.procs.values():
            if proc.process is not None and proc.process.poll() is None:
                try:
                    os.killpg(proc.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            proc.stop()
