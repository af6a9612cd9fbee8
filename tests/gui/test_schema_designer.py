"""Schema designer: templates, live engine validation at each field, the code preview, and Create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import wait_task
from ui.schema.schema_designer import TEMPLATES, SchemaDesigner, build_schema, template_fields


@pytest.fixture
def designer(qtbot: Any, ctx: Any) -> SchemaDesigner:
    d = SchemaDesigner(ctx)
    qtbot.addWidget(d)
    d.resize(1100, 800)
    d.show()
    return d


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_are_valid_engine_schemas(name: str) -> None:
    fields = template_fields(name, 512)
    build_schema(fields, False, "").validate()
    assert sum(1 for f in fields if f.is_primary) == 1


def test_product_template_has_struct_sub_fields(designer: SchemaDesigner) -> None:
    designer.load_template("Product with multiple images")
    images = designer.item_for("images")
    assert images is not None and images.text(1) == "ARRAY<STRUCT>[16]"
    assert [images.child(i).text(0) for i in range(images.childCount())] == [
        "path", "embedding", "angle", "is_primary", "thumbnail", "sha256"]
    assert designer.create_button.isEnabled()
    assert "images_struct = MilvusClient.create_struct_field_schema()" in designer.code.toPlainText()
    assert "'images[embedding]'" in designer.code.toPlainText() and "MAX_SIM_COSINE" in designer.code.toPlainText()


def test_errors_appear_at_their_field_as_you_edit(qtbot: Any, designer: SchemaDesigner) -> None:
    designer.load_template("Product with multiple images")
    designer.select_path("images[embedding]")
    assert designer.editor.title() == "Sub-field of images"
    designer.f_dim.setValue(1)
    item = designer.item_for("images[embedding]")
    assert "dim 1 is out of range [2, 32768]" in item.text(2)
    assert designer.item_for("images").text(2) == ""
    assert designer.f_error.isVisible() and "out of range" in designer.f_error.text()
    assert not designer.create_button.isEnabled()
    assert designer.summary.text().startswith("1 problem.")
    designer.f_dim.setValue(64)
    assert item.text(2) == "" and designer.create_button.isEnabled()

    designer.select_path("name")
    designer.f_maxlen.setValue(70000)
    assert "max_length 70000 is out of range" in designer.item_for("name").text(2)
    designer.f_maxlen.setValue(100)
    designer.f_name.clear()
    qtbot.keyClicks(designer.f_name, "id")  # the same name as the primary key
    assert any("duplicate field name 'id'" in it.text(2) for it in designer._items())
    assert not designer.create_button.isEnabled()
    designer.f_name.clear()
    qtbot.keyClicks(designer.f_name, "title")
    assert designer.create_button.isEnabled()


def test_type_specific_editors_and_defaults(qtbot: Any, designer: SchemaDesigner) -> None:
    designer.load_template("Blank")
    d = designer.add_field()
    designer.f_type.setCurrentText("INT32")
    assert designer._form.isRowVisible(designer.f_default) and not designer._form.isRowVisible(designer.f_dim)
    qtbot.keyClicks(designer.f_default, "4000000000")
    assert "out of range for INT32" in designer.item_for(d.name).text(2)
    designer.f_default.clear()
    qtbot.keyClicks(designer.f_default, "abc")
    assert "default value" in designer.item_for(d.name).text(2)
    designer.f_default.clear()
    qtbot.keyClicks(designer.f_default, "7")
    assert designer.item_for(d.name).text(2) == ""
    designer.f_type.setCurrentText("ARRAY")
    assert designer._form.isRowVisible(designer.f_elem) and designer._form.isRowVisible(designer.f_cap)
    designer.f_type.setCurrentText("FLOAT_VECTOR")
    assert designer._form.isRowVisible(designer.f_dim) and not designer._form.isRowVisible(designer.f_nullable)
    designer.f_type.setCurrentText(designer.f_type.itemText(designer.f_type.count() - 1))  # ARRAY<STRUCT>
    assert designer.item_for(d.name).childCount() == 1  # a struct starts with an embedding sub-field
    assert designer.add_subfield() is not None


def test_primary_key_rules(designer: SchemaDesigner) -> None:
    designer.load_template("Blank")
    designer.select_path("id")
    designer.f_primary.setChecked(False)
    assert "exactly one primary key" in designer.summary.text() or "exactly one primary key" in \
        designer.item_for("id").text(2)
    designer.f_primary.setChecked(True)
    designer.f_type.setCurrentText("VARCHAR")
    assert not designer._form.isRowVisible(designer.f_auto)
    assert designer.create_button.isEnabled()


def test_code_preview_runs_against_the_engine(designer: SchemaDesigner, tmp_path: Path) -> None:
    designer.load_template("PDF documents")
    designer.name_edit.setText("docs")
    designer.partitions_edit.setText("a, b")
    designer.revalidate()
    code = designer.code.toPlainText()
    code = code.replace("from pymilvus import", "from engine import")
    code = code.replace('"milvus_demo.db"', repr(str(tmp_path / "preview.db")))
    scope: dict[str, Any] = {}
    exec(compile(code, "preview", "exec"), scope)
    client = scope["client"]
    assert client.list_partitions("docs") == ["_default", "a", "b"]
    assert "pages[image_vector]" in [client.describe_index("docs", n)["field_name"] for n in client.list_indexes("docs")]
    client.close()


def test_create_collection(qtbot: Any, designer: SchemaDesigner, ctx: Any) -> None:
    designer.load_template("Images")
    designer.name_edit.setText("")
    qtbot.keyClicks(designer.name_edit, "my new images")
    assert not designer.create_button.isEnabled() and "collection name" in designer.summary.text()
    designer.name_edit.setText("")
    qtbot.keyClicks(designer.name_edit, "made_here")
    designer.dynamic_check.setChecked(True)
    with qtbot.waitSignal(designer.created, timeout=10000):
        qtbot.mouseClick(designer.create_button, Qt.MouseButton.LeftButton)
    wait_task(qtbot, designer.last_task)
    qtbot.waitUntil(lambda: "made_here" in ctx.info.collections, timeout=10000)
    info = ctx.collection("made_here")
    assert info.schema.enable_dynamic_field and info.index_for("embedding") is not None


def test_new_field_switched_to_array_of_structs_and_back(qtbot: Any, designer: SchemaDesigner) -> None:
    """Issue 15 bug 1: a new field (VARCHAR, nullable) switched to ARRAY<STRUCT> kept its hidden nullable
    flag ("Array of Structs field ... cannot be nullable", with no control to fix it); switched back to
    VARCHAR it kept its sub-field."""
    designer.load_template("Images")
    d = designer.add_field()
    assert d.nullable
    designer.f_type.setCurrentText("ARRAY<STRUCT>")
    assert d.is_struct and not d.nullable and [s.name for s in d.subs] == ["embedding"]
    designer.revalidate()
    assert not any("nullable" in m for m in designer.errors.values()), designer.errors
    assert designer.create_button.isEnabled(), (designer.errors, designer.general)
    assert designer.item_for(d.name).childCount() == 1
    designer.f_type.setCurrentText("VARCHAR")
    assert d.subs == [] and designer.item_for(d.name).childCount() == 0
    assert not any(p.startswith(f"{d.name}[") for p in designer.errors), designer.errors
    assert designer.create_button.isEnabled(), (designer.errors, designer.general)
