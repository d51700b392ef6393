"""The one generator of the chart's derived files: values.schema.json and docs/values.md.

The sources sit beside the values they describe:

- `charts/aiwfe/values.schema.yaml` and `charts/aiwfe/charts/<component>/values.schema.yaml`
  (JSON Schema in YAML), sharing fragments of `charts/aiwfe/charts/common/schema-fragments.yaml`
  through `$ref: common#/name` (the fragments file's header documents `$ref` and `$drop`);
- the `# --` comments above each key of every values.yaml (helm-docs style) and the defaults.

`python -m ci.chart schema` / `docs` write the files; tests/chart fails when they drift.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ci.components import SUBCHARTS
from ci.paths import CHART

Schema = dict[str, Any]

FRAGMENTS = CHART / "charts" / "common" / "schema-fragments.yaml"
SOURCE_NAME = "values.schema.yaml"
# Keys of the source language; none reaches values.schema.json.
_REF, _DROP, _LOCAL = "$ref", "$drop", "definitions"


class SchemaSourceError(ValueError):
    """A values.schema.yaml (or the fragments file) cannot be resolved; names file and key."""


def chart_dirs() -> list[Path]:
    """The umbrella first, then every subchart in the component table's order."""
    return [CHART, *(CHART / "charts" / name for name in SUBCHARTS)]


@cache
def _load(path: Path) -> Schema:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SchemaSourceError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise SchemaSourceError(f"{path}: the top level must be a mapping")
    return data


def _target(ref: str, here: Path) -> tuple[Any, Path]:
    """`common#/a/b` (fragments file) or `#/a/b` (this file) -> (node, its file)."""
    file_part, sep, pointer = ref.partition("#")
    if not sep or file_part not in ("", "common") or not pointer.startswith("/"):
        raise SchemaSourceError(f"{here}: $ref {ref!r} is neither '#/name' nor 'common#/name'")
    path = FRAGMENTS if file_part == "common" else here
    node: Any = _load(path)
    for part in pointer.lstrip("/").split("/"):
        if not isinstance(node, dict) or part not in node:
            raise SchemaSourceError(f"{here}: $ref {ref!r}: no {part!r} in {path.name}")
        node = node[part]
    return node, path


def resolve(node: Any, here: Path, seen: tuple[str, ...] = ()) -> Any:
    """Inline every $ref (keys beside it extend the fragment; properties merge key by key)."""
    if isinstance(node, list):
        return [resolve(item, here, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if _DROP in node and _REF not in node:
        raise SchemaSourceError(f"{here}: $drop needs a $ref beside it")
    if _REF not in node:
        return {key: resolve(value, here, seen) for key, value in node.items()}
    ref = node[_REF]
    key_of_ref = f"{here}:{ref}"
    if key_of_ref in seen:
        raise SchemaSourceError(f"{here}: $ref {ref!r} refers to itself")
    target, there = _target(ref, here)
    base = resolve(copy.deepcopy(target), there, (*seen, key_of_ref))
    out: Schema = {}
    for key, value in node.items():
        if key == _REF:
            for base_key, base_value in base.items():
                if base_key == "properties" and "properties" in node:
                    out[base_key] = {**base_value, **resolve(node["properties"], here, seen)}
                elif base_key in node:
                    out[base_key] = resolve(node[base_key], here, seen)
                else:
                    out[base_key] = base_value
        elif key != _DROP and key not in base:
            out[key] = resolve(value, here, seen)
    for name in node.get(_DROP, []):
        if name not in out.get("properties", {}):
            raise SchemaSourceError(f"{here}: $drop {name!r}: not a property of {ref!r}")
        del out["properties"][name]
    return out


def schema_of(chart_dir: Path) -> Schema:
    """The values.schema.json content of one chart, from its values.schema.yaml."""
    source = chart_dir / SOURCE_NAME
    if not source.exists():
        raise SchemaSourceError(f"{source} is missing: every chart's schema source lives there")
    data = {key: value for key, value in _load(source).items() if key != _LOCAL}
    return resolve(data, source)


def all_schemas() -> dict[str, Schema]:
    """Path relative to charts/aiwfe -> schema."""
    _load.cache_clear()
    return {
        str((chart_dir / "values.schema.json").relative_to(CHART)): schema_of(chart_dir)
        for chart_dir in chart_dirs()
    }


def dumps(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


# --- docs/values.md -----------------------------------------------------------------------

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-]+|\"[^\"]+\"):(?P<rest>.*)$")


def annotated_keys(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) for every key preceded by a `# --` comment (helm-docs style)."""
    out: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped.lstrip("#").strip())
            continue
        if not stripped:
            pending = None
            continue
        match = _KEY.match(line)
        if not match or stripped.startswith("- "):
            pending = None
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = match["key"].strip('"')
        stack.append((indent, key))
        if pending is not None:
            out.append((".".join(k for _, k in stack), " ".join(pending).strip()))
            pending = None
    return out


def _lookup(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        node = node[part]
    return node


def _type_name(value: Any) -> str:
    return {
        bool: "bool",
        int: "int",
        float: "float",
        str: "string",
        list: "list",
        dict: "object",
        type(None): "null",
    }[type(value)]


DOCS_INTRO = [
    "# Values reference",
    "",
    "Generated by `python -m ci.chart docs` from the `# --` comments of",
    "`charts/aiwfe/values.yaml` and `charts/aiwfe/charts/*/values.yaml`; a test fails when",
    "this file and the values drift apart. Subchart keys are set under the subchart's name",
    "in the umbrella values (e.g. `api-gateway.replicaCount`). `global.*` reaches every",
    "subchart: image settings in all of them; postgres, redis, qdrant, vectorStore, llm,",
    "embeddings, tracing, auth, cognitiveMode and logLevel in the first-party services and",
    "migration-operator (as AIWFE_* settings, docs/contracts.md); postgres/redis/qdrant",
    "`external` also decide what data-platform runs; grafana in observability; guardrails",
    "and migrations in the umbrella's validations and in every app pod.",
    "",
]


def docs_text() -> str:
    lines = list(DOCS_INTRO)
    for chart_dir in chart_dirs():
        umbrella = chart_dir == CHART
        title = "aiwfe (umbrella)" if umbrella else chart_dir.name
        prefix = "" if umbrella else f"{chart_dir.name}."
        text = (chart_dir / "values.yaml").read_text()
        data = yaml.safe_load(text) or {}
        lines += [f"## {title}", "", "| Key | Type | Default | Description |", "|---|---|---|---|"]
        for key, description in annotated_keys(text):
            value = _lookup(data, key)
            default = json.dumps(value, separators=(", ", ": "))
            row = f"| `{prefix}{key}` | {_type_name(value)} | `{default}` | {description} |"
            lines.append(row.replace("\n", " "))
        lines.append("")
    return "\n".join(lines)
