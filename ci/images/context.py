"""The build contexts of the first-party images: the Python package and the web UI, staged
under build/images/context/ (only changed files are rewritten, so docker's cache holds)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ci.images.plan import PYTHON_CONTEXT, UI_CONTEXT
from ci.paths import REPO


def stage_python_context() -> Path:
    """A minimal build context for images/python-base: pyproject, lock, README, src/."""
    ctx = PYTHON_CONTEXT
    ctx.mkdir(parents=True, exist_ok=True)
    wanted = {"pyproject.toml", "uv.lock", "README.md", "src"}
    for child in ctx.iterdir():
        if child.name not in wanted:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for name in ("pyproject.toml", "uv.lock"):
        _sync_file(REPO / name, ctx / name)
    readme = REPO / "README.md"
    if readme.exists():
        _sync_file(readme, ctx / "README.md")
    elif not (ctx / "README.md").exists():
        # pyproject names README.md as the package readme; the wheel build needs one.
        (ctx / "README.md").write_text("# AIWFE\n")
    _sync_tree(REPO / "src", ctx / "src")
    return ctx


# What the UI build needs from ui/ (not node_modules, not local build output).
UI_FILES = (
    "package.json",
    "package-lock.json",
    ".npmrc",
    "index.html",
    "tsconfig.json",
    "vite.config.ts",
    "src",
    "public",
)


def stage_ui_context() -> Path:
    """The api-gateway build context: ui/ sources for its Node stage, nothing else."""
    target = UI_CONTEXT / "ui"
    target.mkdir(parents=True, exist_ok=True)
    for child in target.iterdir():
        if child.name not in UI_FILES:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for name in UI_FILES:
        src = REPO / "ui" / name
        if src.is_dir():
            _sync_tree(src, target / name)
        elif src.exists():
            _sync_file(src, target / name)
    return UI_CONTEXT


def _sync_file(src: Path, dst: Path) -> None:
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return
    shutil.copy2(src, dst)


def _sync_tree(src: Path, dst: Path) -> None:
    """Mirror src into dst (no __pycache__), touching only what changed."""
    dst.mkdir(parents=True, exist_ok=True)
    keep = set()
    for path in src.rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel = path.relative_to(src)
        keep.add(rel)
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            _sync_file(path, target)
    for path in sorted(dst.rglob("*"), reverse=True):
        if path.relative_to(dst) not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
