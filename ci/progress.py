"""Progress of long steps: `step k of n`, elapsed time, and an estimate from the last time the
same step ran on this machine (recorded in the machine cache, <cache>/durations.json).

    with progress.step("building loki from source", key="source-loki", k=1, n=3):
        subprocess.run(...)

On a terminal one live line (redrawn every second) shows every running step; elsewhere (CI
logs) a heartbeat line per running step is written every AIWFE_PROGRESS_INTERVAL seconds
(default 60). A step that succeeds records its duration for the next estimate. One reporter
serves every thread, so steps running side by side (source builds) share the line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ci.paths import cache_dir

HEARTBEAT_ENV = "AIWFE_PROGRESS_INTERVAL"
DEFAULT_HEARTBEAT_S = 60.0
TTY_REFRESH_S = 1.0


def clock_text(seconds: float) -> str:
    """62 -> '1m02s', 3725 -> '1h02m05s', 7 -> '7s'."""
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Durations:
    """Recorded step durations on this machine: {key: seconds of its last successful run}."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path or cache_dir() / "durations.json"

    def _read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}

    def get(self, key: str) -> float | None:
        return self._read().get(key)

    def record(self, key: str, seconds: float) -> None:
        with self._lock:
            data = self._read()
            data[key] = round(seconds, 1)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
            tmp.replace(self.path)


@dataclass
class Step:
    label: str
    key: str
    k: int
    n: int
    started: float
    estimate: float | None

    def line(self, now: float) -> str:
        elapsed = now - self.started
        text = f"step {self.k} of {self.n}: {self.label}: {clock_text(elapsed)} elapsed"
        if self.estimate is None:
            return text + " (no earlier run recorded on this machine)"
        if elapsed <= self.estimate:
            left = clock_text(self.estimate - elapsed)
            return text + f", about {left} left (last run here took {clock_text(self.estimate)})"
        return text + f", over the {clock_text(self.estimate)} of the last run here"


class Reporter:
    """Writes progress for the running steps: live on a terminal, heartbeats otherwise."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
        tty: bool | None = None,
        durations: Durations | None = None,
    ) -> None:
        self._stream = stream
        self.clock = clock
        self._interval = interval
        self._tty = tty
        self.durations = durations or Durations()
        self._steps: list[Step] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    @property
    def tty(self) -> bool:
        if self._tty is not None:
            return self._tty
        return bool(getattr(self.stream, "isatty", lambda: False)())

    @property
    def interval(self) -> float:
        if self._interval is not None:
            return self._interval
        if self.tty:
            return TTY_REFRESH_S
        raw = os.environ.get(HEARTBEAT_ENV, "")
        try:
            return max(0.05, float(raw)) if raw else DEFAULT_HEARTBEAT_S
        except ValueError:
            raise ValueError(f"{HEARTBEAT_ENV}={raw!r}: give seconds, e.g. 60") from None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def tick(self) -> None:
        """Write the running steps' progress once (the thread calls this every interval)."""
        now = self.clock()
        with self._lock:
            lines = [s.line(now) for s in self._steps]
        if not lines:
            return
        if self.tty:
            self._write("\r\x1b[K[aiwfe] " + " | ".join(lines))
        else:
            self._write("".join(f"[aiwfe] {line}\n" for line in lines))

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                if not self._steps:
                    self._thread = None
                    return
            self.tick()

    @contextlib.contextmanager
    def step(self, label: str, *, key: str, k: int = 1, n: int = 1) -> Iterator[Step]:
        """A long step; its duration is recorded under `key` when it succeeds."""
        current = Step(label, key, k, n, self.clock(), self.durations.get(key))
        with self._lock:
            self._steps.append(current)
            if self._thread is None:
                self._wake.clear()
                self._thread = threading.Thread(target=self._loop, daemon=True)
                self._thread.start()
        self._write(f"{self._clear()}[aiwfe] {current.line(current.started)}\n")
        ok = False
        try:
            yield current
            ok = True
        finally:
            took = self.clock() - current.started
            with self._lock:
                self._steps.remove(current)
                if not self._steps:
                    self._wake.set()  # let the thread end now, not after an interval
            verdict = "done" if ok else "FAILED"
            self._write(
                f"{self._clear()}[aiwfe] step {k} of {n}: {label}: {verdict} in {clock_text(took)}"
                + (
                    f" (last run here took {clock_text(current.estimate)})"
                    if current.estimate is not None
                    else ""
                )
                + "\n"
            )
            if ok:
                self.durations.record(key, took)

    def _clear(self) -> str:
        return "\r\x1b[K" if self.tty else ""


_REPORTER: Reporter | None = None


def reporter() -> Reporter:
    global _REPORTER
    if _REPORTER is None:
        _REPORTER = Reporter()
    return _REPORTER


def step(label: str, *, key: str, k: int = 1, n: int = 1) -> contextlib.AbstractContextManager:
    """progress.step(...) with the process-wide reporter (stderr)."""
    return reporter().step(label, key=key, k=k, n=n)
