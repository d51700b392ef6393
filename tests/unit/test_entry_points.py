"""Every `python -m ci.…` that CI, nox, the docs or the harness itself names must exist: a
module path renamed without its callers breaks a tier nobody runs locally (images,
integration, bench) only in CI."""

from __future__ import annotations

import importlib.util
import re

from ci.paths import REPO

CALLERS = ["README.md", "noxfile.py", ".ci/run", "charts/aiwfe/README.md"]
CALLER_GLOBS = ["docs/*.md", ".github/workflows/*.yml", "ci/**/*.py", "tests/**/*.py"]
PATTERN = re.compile(r"""-m["',\s]+(ci(?:\.[a-z_]+)+)""")


def named_entry_points() -> dict[str, set[str]]:
    files = [REPO / name for name in CALLERS]
    for pattern in CALLER_GLOBS:
        files += sorted(REPO.glob(pattern))
    found: dict[str, set[str]] = {}
    for path in files:
        for module in PATTERN.findall(path.read_text()):
            found.setdefault(module, set()).add(str(path.relative_to(REPO)))
    return found


def test_the_callers_name_the_main_entry_points():
    named = named_entry_points()
    for module in ("ci.chart", "ci.images", "ci.cluster", "ci.cluster.stack", "ci.ui"):
        assert module in named, f"no caller names python -m {module} any more"


def test_every_named_entry_point_is_runnable():
    missing = {}
    for module, callers in named_entry_points().items():
        spec = importlib.util.find_spec(module)
        runnable = spec is not None and (
            spec.submodule_search_locations is None  # a module: runs as __main__
            or importlib.util.find_spec(f"{module}.__main__") is not None
        )
        if not runnable:
            missing[module] = sorted(callers)
    assert not missing, f"python -m targets that do not exist (module: callers): {missing}"
