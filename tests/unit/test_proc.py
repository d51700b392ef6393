"""ci/proc.py: the harness's one door to subprocesses. run_logged's failure names the command,
its exit status and its log, and shows the log's last lines so CI output explains itself."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ci import proc


def script(body: str) -> list[str]:
    return [sys.executable, "-c", body]


def test_run_logged_appends_the_command_and_its_output_to_the_log(tmp_path: Path):
    log = tmp_path / "logs" / "step.log"
    proc.run_logged(script("print('first')"), log)
    proc.run_logged(script("import sys; print('second', file=sys.stderr)"), log)
    text = log.read_text()
    assert text.count("$ ") == 2, "each command is written before its output"
    assert "first" in text and "second" in text, "stdout and stderr both go to the log"


def test_a_failure_names_the_step_exit_status_log_and_its_last_lines(tmp_path: Path):
    log = tmp_path / "build.log"
    body = "import sys\nfor i in range(50): print(f'line {i}')\nsys.exit(3)"
    with pytest.raises(proc.CommandError) as caught:
        proc.run_logged(script(body), log, what="go build etcd", lines=5)
    message = str(caught.value)
    assert message.startswith("go build etcd failed (exit 3); see ")
    assert str(log) in message
    shown = message.split(":\n", 1)[1].splitlines()
    assert shown == [f"line {i}" for i in range(45, 50)], "the last 5 lines, in order"


def test_a_failure_raises_the_callers_error_type(tmp_path: Path):
    class ClusterError(RuntimeError):
        pass

    with pytest.raises(ClusterError, match="failed \\(exit 1\\)"):
        proc.run_logged(script("raise SystemExit(1)"), tmp_path / "x.log", error=ClusterError)


def test_without_a_name_the_message_shows_the_commands_first_words(tmp_path: Path):
    with pytest.raises(proc.CommandError) as caught:
        proc.run_logged([sys.executable, "-c", "raise SystemExit(2)", "a", "b"], tmp_path / "l")
    assert str(caught.value).startswith(f"{sys.executable} -c 'raise SystemExit(2)' a ...")


def test_input_reaches_the_command(tmp_path: Path):
    log = tmp_path / "stdin.log"
    proc.run_logged(script("import sys; print(sys.stdin.read().upper())"), log, input="kind")
    assert "KIND" in log.read_text()


def test_log_tail_of_a_missing_log_is_empty(tmp_path: Path):
    assert proc.log_tail(tmp_path / "never-written.log") == ""


def test_succeeds_tells_exit_zero_from_failure():
    assert proc.succeeds(script("pass"))
    assert not proc.succeeds(script("raise SystemExit(1)"))


def test_stop_ends_a_process_that_ignores_sigterm():
    stubborn = proc.spawn(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout.readline() == b"ready\n"  # the SIGTERM handler is set
    proc.stop(stubborn, grace=0.2)
    assert stubborn.returncode == -signal.SIGKILL
