"""Long steps show step k of n, elapsed time and an estimate from the last run on this
machine: a heartbeat line in logs, a live line on a terminal."""

from __future__ import annotations

import io
import threading
import time

import pytest

from ci import progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stream(io.StringIO):
    """A log stream whose writes can be waited for (with a deadline)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Condition()

    def write(self, text: str) -> int:
        with self.written:
            count = super().write(text)
            self.written.notify_all()
            return count

    def wait_for(self, predicate, deadline_s: float = 5.0) -> str:
        end = time.monotonic() + deadline_s
        with self.written:
            while not predicate(self.getvalue()):
                left = end - time.monotonic()
                assert left > 0, f"not written within {deadline_s}s:\n{self.getvalue()}"
                self.written.wait(left)
        return self.getvalue()


@pytest.fixture
def durations(tmp_path):
    return progress.Durations(tmp_path / "durations.json")


def test_the_estimate_comes_from_the_last_recorded_run(durations):
    durations.record("node-image", 2400)
    clock, out = FakeClock(), Stream()
    reporter = progress.Reporter(out, clock=clock, interval=3600, tty=False, durations=durations)
    with reporter.step("node image: Kubernetes", key="node-image", k=3, n=8):
        clock.now += 600
        reporter.tick()
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "[aiwfe] step 3 of 8: node image: Kubernetes: 0s elapsed, about 40m00s left "
        "(last run here took 40m00s)"
    )
    assert lines[1] == (
        "[aiwfe] step 3 of 8: node image: Kubernetes: 10m00s elapsed, about 30m00s left "
        "(last run here took 40m00s)"
    )
    assert lines[2].endswith("done in 10m00s (last run here took 40m00s)")
    assert durations.get("node-image") == 600  # the next estimate is this run


def test_heartbeats_come_every_interval_without_a_terminal(durations):
    out = Stream()
    reporter = progress.Reporter(out, interval=0.02, tty=False, durations=durations)
    with reporter.step("building loki from source", key="source-loki", k=1, n=3):
        text = out.wait_for(lambda t: t.count("step 1 of 3: building loki") >= 3)
    assert "(no earlier run recorded on this machine)" in text
    assert "\r" not in text  # plain lines in CI logs
    assert durations.get("source-loki") is not None


def test_a_terminal_gets_one_live_line_for_the_steps_running_side_by_side(durations):
    durations.record("source-jaeger", 1400)
    clock, out = FakeClock(), Stream()
    reporter = progress.Reporter(out, clock=clock, interval=3600, tty=True, durations=durations)
    with reporter.step("loki", key="source-loki", k=1, n=2):
        with reporter.step("jaeger", key="source-jaeger", k=2, n=2):
            clock.now += 1500
            reporter.tick()
    live = out.getvalue().split("\r\x1b[K")[-3]  # the tick, before the two "done" lines
    assert live.startswith("[aiwfe] step 1 of 2: loki: 25m00s elapsed")
    assert " | step 2 of 2: jaeger: 25m00s elapsed, over the 23m20s of the last run here" in live
    assert "\n" not in live


def test_a_failed_step_is_reported_and_not_recorded(durations):
    durations.record("cluster-create", 90)
    out = Stream()
    reporter = progress.Reporter(out, interval=3600, tty=False, durations=durations)
    with pytest.raises(RuntimeError), reporter.step("kind create cluster", key="cluster-create"):
        raise RuntimeError("boom")
    assert "kind create cluster: FAILED in" in out.getvalue()
    assert durations.get("cluster-create") == 90


def test_the_heartbeat_interval_setting_is_checked(monkeypatch):
    monkeypatch.setenv(progress.HEARTBEAT_ENV, "soon")
    with pytest.raises(ValueError, match="AIWFE_PROGRESS_INTERVAL"):
        _ = progress.Reporter(io.StringIO(), tty=False).interval
    monkeypatch.delenv(progress.HEARTBEAT_ENV)
    assert progress.Reporter(io.StringIO(), tty=False).interval == 60  # at least once a minute
