"""The chart harness's own logic: the schema/docs generator (ci/chart/schema.py) and the
profile table (ci/chart/chart.py)."""

from __future__ import annotations

import pytest

from ci.chart import chart
from ci.chart import schema as chart_schema


def test_annotated_keys_follow_nesting_and_continuations():
    text = """\
# file header, not a key description
global:
  # -- Registry.
  imageRegistry: ""
  nested:
    # -- Long description
    # continued here.
    leaf: 1
  # plain comment: no description
  undocumented: 2
# -- Top level.
top: {}
list:
  - name: x
# -- After a list.
after: true
"""
    assert chart_schema.annotated_keys(text) == [
        ("global.imageRegistry", "Registry."),
        ("global.nested.leaf", "Long description continued here."),
        ("top", "Top level."),
        ("after", "After a list."),
    ]


def test_every_profile_file_exists_and_is_rendered_by_template(tmp_path, monkeypatch):
    for files in chart.PROFILES.values():
        for name in files:
            assert (chart.VALUES_DIR / name).is_file(), name
    on_disk = {p.name for p in chart.VALUES_DIR.glob("*.yaml")}
    assert on_disk == {f for files in chart.PROFILES.values() for f in files}
    monkeypatch.setattr(chart, "RENDERED", tmp_path)
    timings = chart.template(["kind"])
    assert set(timings) == {"kind"}
    assert "kind: Deployment" in (tmp_path / "kind.yaml").read_text()


def _sources(tmp_path, monkeypatch, fragments: str, source: str):
    (tmp_path / "frag.yaml").write_text(fragments)
    (tmp_path / "values.schema.yaml").write_text(source)
    monkeypatch.setattr(chart_schema, "FRAGMENTS", tmp_path / "frag.yaml")
    chart_schema._load.cache_clear()
    return tmp_path


FRAGMENTS = """\
labels: {type: object, additionalProperties: {type: string}}
base:
  type: object
  additionalProperties: false
  properties:
    enabled: {type: boolean}
    podLabels: {$ref: "#/labels"}
    spread: {type: array}
"""


def test_schema_source_inlines_refs_and_merges_properties_in_place(tmp_path, monkeypatch):
    chart_dir = _sources(
        tmp_path,
        monkeypatch,
        FRAGMENTS,
        """\
$schema: http://json-schema.org/draft-07/schema#
title: demo
$ref: common#/base
$drop: [spread]
properties:
  enabled: {type: boolean, description: replaced in place}
  port: {$ref: "#/definitions/port"}
definitions:
  port: {type: integer, minimum: 1}
""",
    )
    schema = chart_schema.schema_of(chart_dir)
    assert list(schema) == ["$schema", "title", "type", "additionalProperties", "properties"]
    assert schema["properties"] == {
        "enabled": {"type": "boolean", "description": "replaced in place"},
        "podLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "port": {"type": "integer", "minimum": 1},
    }
    assert list(schema["properties"]) == ["enabled", "podLabels", "port"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("$ref: common#/nope\n", "$ref 'common#/nope': no 'nope' in frag.yaml"),
        ("$ref: other.yaml#/base\n", "neither '#/name' nor 'common#/name'"),
        ("$drop: [enabled]\ntype: object\n", "$drop needs a $ref beside it"),
        ("$ref: common#/base\n$drop: [missing]\n", "$drop 'missing': not a property"),
        ("x: {$ref: '#/x'}\n", "refers to itself"),
    ],
)
def test_schema_source_errors_name_the_file_and_what_to_fix(tmp_path, monkeypatch, source, message):
    chart_dir = _sources(tmp_path, monkeypatch, FRAGMENTS, source)
    with pytest.raises(chart_schema.SchemaSourceError) as error:
        chart_schema.schema_of(chart_dir)
    assert message in str(error.value)
    assert str(chart_dir / "values.schema.yaml") in str(error.value)


def test_every_chart_has_its_schema_source_beside_its_values():
    for chart_dir in chart_schema.chart_dirs():
        assert (chart_dir / "values.yaml").is_file(), chart_dir
        assert (chart_dir / "values.schema.yaml").is_file(), chart_dir
    umbrella = chart_schema.all_schemas()["values.schema.json"]
    subcharts = [k for k in umbrella["properties"] if k in chart.SUBCHARTS]
    assert subcharts == list(chart.SUBCHARTS), "umbrella schema lists every component"
