"""Read ci/pins.toml: the single source of tool and Kubernetes versions."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ci.paths import REPO

PINS_FILE = REPO / "ci" / "pins.toml"
_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?")


class PinError(ValueError):
    """ci/pins.toml is malformed; the message names the key to fix."""


@dataclass(frozen=True)
class ToolPin:
    name: str
    module: str
    version: str
    ldflags: str
    version_cmd: tuple[str, ...]
    why: str

    @property
    def resolved_ldflags(self) -> str:
        return self.ldflags.format(version=self.version)


def parse_version(text: str) -> str | None:
    """First semantic version in a tool's output, normalised to 'vX.Y.Z' (or None)."""
    match = _SEMVER.search(text)
    if not match:
        return None
    return "v{}.{}.{}".format(*match.groups())


@cache
def load(path: Path = PINS_FILE) -> dict:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    validate(data)
    return data


def validate(data: dict) -> None:
    tools = data.get("tools")
    if not isinstance(tools, dict) or not tools:
        raise PinError("ci/pins.toml: [tools] table is missing or empty")
    for name, spec in tools.items():
        for key in ("module", "version", "version_cmd", "why"):
            if key not in spec:
                raise PinError(f"ci/pins.toml: tools.{name}.{key} is required")
        if parse_version(spec["version"]) != spec["version"]:
            raise PinError(
                f"ci/pins.toml: tools.{name}.version must look like vX.Y.Z, got {spec['version']!r}"
            )
        if not spec["why"].strip():
            raise PinError(f"ci/pins.toml: tools.{name}.why must say why this version")
    minors = data.get("kubernetes", {}).get("supported_minors")
    if not minors or not all(re.fullmatch(r"1\.\d+", m) for m in minors):
        raise PinError("ci/pins.toml: kubernetes.supported_minors must list versions like '1.34'")


def tools(data: dict | None = None) -> list[ToolPin]:
    data = load() if data is None else data
    return [
        ToolPin(
            name=name,
            module=spec["module"],
            version=spec["version"],
            ldflags=spec.get("ldflags", ""),
            version_cmd=tuple(spec["version_cmd"]),
            why=spec["why"],
        )
        for name, spec in data["tools"].items()
    ]


def tool(name: str) -> ToolPin:
    for pin in tools():
        if pin.name == name:
            return pin
    raise PinError(f"ci/pins.toml: no tools.{name}")


def kubernetes_minors() -> list[str]:
    return list(load()["kubernetes"]["supported_minors"])


def kind_node_version() -> str:
    return load()["kind_node"]["kubernetes_version"]
