"""ci/chart.py's own logic: the values-docs parser and the profile table."""

from __future__ import annotations

from ci import chart


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
    assert chart.annotated_keys(text) == [
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
