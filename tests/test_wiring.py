"""The root wires children only through root parameters and sibling outputs, completely."""

from __future__ import annotations

from templates_src import render
from templates_src.root import CHILDREN


def _children(built):
    return {c.logical_id: (c, built[c.name]) for c in CHILDREN}


def test_every_child_parameter_is_supplied_and_nothing_extra(built):
    for logical_id, (child, tpl) in _children(built).items():
        supplied = built.props("root", logical_id)["Parameters"]
        assert sorted(supplied) == sorted(tpl["Parameters"]), child.name


def test_every_output_the_root_reads_exists_in_that_child(built):
    children = _children(built)
    reads = []

    def walk(node):
        if isinstance(node, dict):
            if "Fn::GetAtt" in node:
                target, attr = node["Fn::GetAtt"]
                reads.append((target, attr))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(built["root"])
    assert reads
    for target, attr in reads:
        assert attr.startswith("Outputs."), (target, attr)
        assert attr.removeprefix("Outputs.") in children[target][1]["Outputs"], (target, attr)


def test_no_root_parameter_is_unused(built):
    text = str(built["root"]["Resources"]) + str(built["root"]["Conditions"]) + str(built["root"].get("Rules", {}))
    for name in built["root"]["Parameters"]:
        assert f"'Ref': '{name}'" in text or "${" + name + "}" in text, name


def test_no_exports_or_imports_between_siblings(built):
    for stem, tpl in built.by_stem.items():
        assert "Fn::ImportValue" not in str(tpl), stem
        assert all("Export" not in o for o in tpl.get("Outputs", {}).values()), stem


def test_template_urls_come_from_bucket_and_prefix_parameters_and_content_hashes(built):
    for child in CHILDREN:
        url = built.props("root", child.logical_id)["TemplateURL"]["Fn::Sub"]
        assert url.startswith("https://${TemplatesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesKeyPrefix}")
        file_name = url.rsplit("}", 1)[1]
        assert file_name in built.files and file_name.startswith(child.name + "-")


def test_an_unchanged_child_keeps_its_file_name_when_a_sibling_changes(monkeypatch):
    before = render.render()
    from templates_src import services

    monkeypatch.setattr(services, "HEALTH_CHECK_GRACE_SECONDS", 61)
    after = render.render()
    changed = sorted(set(before) ^ set(after))
    assert [n.split("-")[0] for n in changed] == ["services", "services"]
    assert before["root.json"] != after["root.json"]


def test_every_parameter_of_every_template_is_described_typed_and_constrained(built):
    for stem, tpl in built.by_stem.items():
        for name, spec in tpl["Parameters"].items():
            where = f"{stem}.{name}"
            assert spec.get("Description") and spec.get("Type"), where
            if spec["Type"] == "String":
                assert "AllowedPattern" in spec or "AllowedValues" in spec, where
            elif spec["Type"] == "Number":
                assert ("MinValue" in spec and "MaxValue" in spec) or "AllowedValues" in spec, where
