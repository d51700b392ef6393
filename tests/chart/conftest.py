"""Chart tests need helm 3 and 4 from .tools/bin (`nox -s tools`); skip cleanly without them."""

from __future__ import annotations

import shutil

import pytest

from ci.paths import env_with_tools


def pytest_collection_modifyitems(config, items):
    path = env_with_tools()["PATH"]
    missing = [name for name in ("helm3", "helm4") if shutil.which(name, path=path) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"{', '.join(missing)} missing: run `nox -s tools`")
    for item in items:
        if "tests/chart/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)
