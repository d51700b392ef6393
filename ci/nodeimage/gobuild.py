"""Build Go programs for the node image from the Go module proxy.

Each program is built in a small wrapper module (under the cache dir) that requires the
upstream module at its pinned version, so nothing but the module proxy is needed. Outputs are
cached by a stamp of everything that went into them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ci.proc import echo


class GoBuildError(RuntimeError):
    """A Go build failed; the message names the log."""


@dataclass(frozen=True)
class GoProgram:
    """One binary: `package` (a main package) from `module`@`version`.

    `main_source` (optional) is the text of a main.go written into the wrapper module, for
    upstream programs whose main package lives in a module with local replace directives.
    `source_dir` (optional) builds a module in this repository instead of a wrapper.
    """

    name: str
    module: str
    version: str
    package: str
    ldflags: str = ""
    main_source: str = ""
    source_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def stamp(self) -> str:
        parts = [self.name, self.module, self.version, self.package, self.ldflags, self.main_source]
        parts += [f"{k}={v}" for k, v in sorted(self.env.items())]
        if self.source_dir is not None:
            for path in sorted(self.source_dir.rglob("*")):
                if path.is_file():
                    parts.append(f"{path.relative_to(self.source_dir)}:{path.read_bytes().hex()}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def go() -> str:
    found = shutil.which("go")
    if found is None:
        raise GoBuildError("Go is not installed: the air-gapped node image is built with it")
    return found


def _wrapper(program: GoProgram, workdir: Path) -> Path:
    src = workdir / f"src-{program.name}"
    src.mkdir(parents=True, exist_ok=True)
    gomod = (
        f"module aiwfe.local/build/{program.name}\n\ngo 1.24.0\n\n"
        f"require {program.module} {program.version}\n"
    )
    if not (src / "go.mod").exists() or (src / "go.mod").read_text() != gomod:
        (src / "go.mod").write_text(gomod)
        (src / "go.sum").unlink(missing_ok=True)
    main_go, doc_go = src / "main.go", src / "doc.go"
    if program.main_source:
        doc_go.unlink(missing_ok=True)
        main_go.write_text(program.main_source)
    else:
        main_go.unlink(missing_ok=True)
        doc_go.write_text("// Package build only pins modules for `go build`.\npackage build\n")
    return src


def build(program: GoProgram, workdir: Path, log: Path) -> Path:
    """The built binary at <workdir>/bin/<name>, rebuilt only when its stamp changes."""
    out = workdir / "bin" / program.name
    stamp_file = out.with_name(program.name + ".stamp")
    stamp = program.stamp()
    if out.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    if program.source_dir is not None:
        cwd, target = program.source_dir, "."
    else:
        cwd = _wrapper(program, workdir)
        target = "." if program.main_source else program.package
    env = dict(os.environ, CGO_ENABLED="0", GOOS="linux", GOARCH="amd64")
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env.update(program.env)
    ldflags = f"-s -w {program.ldflags}".strip()
    cmd = [go(), "build", "-mod=mod", "-trimpath", f"-ldflags={ldflags}", "-o", str(out), target]
    echo(f"building {program.name} ({program.module} {program.version}); log: {log}")
    with log.open("a") as handle:
        handle.write(f"$ (cd {cwd}) " + " ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise GoBuildError(f"building {program.name} failed; see {log}:\n{tail}")
    stamp_file.write_text(stamp)
    return out


def describe(programs: list[GoProgram]) -> str:
    return json.dumps({p.name: f"{p.module}@{p.version}" for p in programs}, indent=2)
