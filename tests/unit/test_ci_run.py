"""`.ci/run` is what CI runs: its first command is the README's test command, it states the
time budget, and a failing tier fails it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ci.paths import REPO

CI_RUN = REPO / ".ci" / "run"


def readme_test_command() -> str:
    """The quick start's command commented `# run the tests`."""
    text = (REPO / "README.md").read_text()
    found = re.findall(r"^(\S[^#\n]*?)\s+# run the tests", text, re.MULTILINE)
    assert len(found) == 1, "README.md: one quick-start line ending in '# run the tests'"
    return found[0]


def test_ci_runs_the_readme_test_command_first():
    proc = subprocess.run(
        ["bash", str(CI_RUN), "--dry-run"], capture_output=True, text=True, check=True
    )
    commands = [line for line in proc.stdout.splitlines() if not line.startswith("#")]
    assert commands[0] == readme_test_command() == "python3 ci/bootstrap.py"
    assert commands[1:] == [
        f"python3 ci/bootstrap.py -s {s}" for s in ("services", "ui", "images", "integration")
    ]


def test_readme_and_ci_run_state_the_same_budget():
    script = CI_RUN.read_text()
    cold = int(re.search(r"BUDGET_COLD_S=\$\(\((\d+) \* 60\)\)", script)[1])
    warm = int(re.search(r"BUDGET_WARM_S=\$\(\((\d+) \* 60\)\)", script)[1])
    assert (cold, warm) == (75, 25)
    readme = (REPO / "README.md").read_text()
    assert f"under {cold} minutes" in readme and f"under {warm} minutes" in readme


def fake_checkout(tmp_path: Path, failing: str) -> Path:
    """A copy of .ci/run beside a ci/bootstrap.py that fails the tier named `failing` and a
    ci/cluster/kind.py for the background node image; both append what ran to ran.txt."""
    (tmp_path / ".ci").mkdir(parents=True)
    shutil.copy(CI_RUN, tmp_path / ".ci" / "run")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "__init__.py").write_text("")
    ran = str(tmp_path / "ran.txt")
    for name, what in (("bootstrap.py", "tier"), ("cluster.py", "node image")):
        (tmp_path / "ci" / name).write_text(
            "import sys\n"
            "args = ' '.join(sys.argv[1:])\n"
            f"open({ran!r}, 'a').write({what!r} + ' ' + args + '\\n')\n"
            f"sys.exit(1 if {failing!r} in {what!r} + ' ' + args else 0)\n"
        )
    return tmp_path


def run_ci(root: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIWFE_CACHE_DIR=str(cache))
    return subprocess.run(
        ["bash", str(root / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=300
    )


def test_a_failing_tier_fails_the_run_and_the_summary_counts_it(tmp_path):
    root = fake_checkout(tmp_path / "repo", failing="-s ui")
    proc = run_ci(root, tmp_path / "cache")
    assert proc.returncode == 1
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("ci: 4 tiers passed, 1 failed in "), last
    assert "cold budget of 4500 s" in last
    assert re.search(r"^ui\s+FAILED\s+\d+ s$", proc.stdout, re.MULTILINE)
    again = run_ci(root, tmp_path / "cache")  # the record of the first run makes it warm
    assert "warm budget of 1500 s" in again.stdout.splitlines()[-1]


def test_a_failed_images_tier_skips_integration_and_fails(tmp_path):
    root = fake_checkout(tmp_path / "repo", failing="-s images")
    proc = run_ci(root, tmp_path / "cache")
    assert proc.returncode == 1
    assert re.search(r"^integration\s+not run", proc.stdout, re.MULTILINE)
    assert proc.stdout.strip().splitlines()[-1].startswith("ci: 3 tiers passed, 2 failed")


def test_all_tiers_passing_passes_with_the_node_image_ready_before_integration(tmp_path):
    root = fake_checkout(tmp_path / "repo", failing="nothing")
    proc = run_ci(root, tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("ci: 5 tiers passed, 0 failed")
    ran = (root / "ran.txt").read_text().splitlines()
    assert ran.index("node image node-image") < ran.index("tier -s integration")
    assert re.search(r"^node image \(background\)\s+ready", proc.stdout, re.MULTILINE)


def test_a_failed_background_node_image_is_reported_and_left_to_integration(tmp_path):
    root = fake_checkout(tmp_path / "repo", failing="node image")
    proc = run_ci(root, tmp_path / "cache")
    assert re.search(r"^node image \(background\)\s+FAILED", proc.stdout, re.MULTILINE)
    assert "tier -s integration" in (root / "ran.txt").read_text()  # integration still runs
