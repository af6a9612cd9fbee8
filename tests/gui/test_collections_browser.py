"""Collections browser: the tree and its context actions, driven through the menu the user sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ui.shared.dialogs as dialogs
from tests.gui.conftest import wait_task
from ui.collections.collections_browser import CollectionsBrowser


@pytest.fixture
def browser(qtbot: Any, pics: Any) -> CollectionsBrowser:
    b = CollectionsBrowser(pics)
    qtbot.addWidget(b)
    b.rebuild()
    return b


def _child(item: Any, prefix: str) -> Any:
    for i in range(item.childCount()):
        if item.child(i).text(0).startswith(prefix):
            return item.child(i)
    raise AssertionError(f"no child {prefix!r} under {item.text(0)}")


def _trigger(browser: CollectionsBrowser, item: Any, text: str) -> None:
    menu = browser.menu_for(item)
    action = next((a for a in menu.actions() if a.text().startswith(text)), None)
    assert action is not None, [a.text() for a in menu.actions()]
    assert action.isEnabled()
    action.trigger()


def test_tree_shows_rows_state_partitions_fields_indexes(browser: CollectionsBrowser) -> None:
    db = browser.tree.topLevelItem(0)
    assert db.text(0) == "test.db" and db.text(1) == "1 collection"
    coll = browser.item_for("pics")
    assert coll.text(1) == "30 rows · loaded"
    parts = _child(coll, "Partitions")
    assert parts.child(0).text(0) == "_default"
    fields = _child(coll, "Fields")
    names = [fields.child(i).text(0) for i in range(fields.childCount())]
    assert names[:3] == ["id", "path", "file_name"] and "embedding" in names
    emb = _child(fields, "embedding")
    assert emb.text(1) == "FLOAT_VECTOR(16)"
    assert "primary key" in _child(fields, "id").text(1)
    idx = _child(coll, "Indexes")
    assert idx.child(0).text(0) == "embedding"
    assert "HNSW" in idx.child(0).text(1) and "COSINE" in idx.child(0).text(1) and "30/30" in idx.child(0).text(1)


def test_release_load_flush_compact(qtbot: Any, browser: CollectionsBrowser, pics: Any) -> None:
    coll = browser.item_for("pics")
    _trigger(browser, coll, "Release")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: "released" in browser.item_for("pics").text(1), timeout=10000)
    _trigger(browser, browser.item_for("pics"), "Load")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: "loaded" in browser.item_for("pics").text(1), timeout=10000)
    _trigger(browser, browser.item_for("pics"), "Flush")
    assert wait_task(qtbot, browser.last_task).state == "done"
    _trigger(browser, browser.item_for("pics"), "Compact")
    assert wait_task(qtbot, browser.last_task).state == "done"


def test_rename_and_drop_with_confirmation(qtbot: Any, browser: CollectionsBrowser, pics: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: "photos")
    _trigger(browser, browser.item_for("pics"), "Rename")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: browser.item_for("photos") is not None, timeout=10000)
    assert pics.current == "photos"
    from workbench.templates import meta_path

    assert meta_path(pics.db_path, "photos").is_file()  # the workbench's sidecar follows the rename

    asked: list[str] = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, text, *_a: asked.append(text) or False)
    _trigger(browser, browser.item_for("photos"), "Drop collection")
    assert asked and "30 rows" in asked[0]
    assert browser.item_for("photos") is not None  # declined: nothing happened
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    _trigger(browser, browser.item_for("photos"), "Drop collection")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: browser.item_for("photos") is None, timeout=10000)
    assert not pics.info.collections


def test_engine_errors_are_shown_in_plain_words(qtbot: Any, browser: CollectionsBrowser, pics: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[tuple[str, str]] = []
    pics.errorRaised.connect(lambda t, m: errors.append((t, m)))
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: "not a valid name!")
    _trigger(browser, browser.item_for("pics"), "Rename")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    title, message = errors[0]
    assert title.startswith("Rename")
    assert "letters, digits and underscores" in message and "<" not in message  # no exception repr


def test_partitions_and_export(qtbot: Any, browser: CollectionsBrowser, pics: Any, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: "archive")
    _trigger(browser, browser.item_for("pics"), "New partition")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: "archive" in pics.collection("pics").partitions, timeout=10000)
    part = _child(_child(browser.item_for("pics"), "Partitions"), "archive")
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    _trigger(browser, part, "Drop partition archive")
    wait_task(qtbot, browser.last_task)
    qtbot.waitUntil(lambda: "archive" not in pics.collection("pics").partitions, timeout=10000)
    default = _child(_child(browser.item_for("pics"), "Partitions"), "_default")
    drop_default = next(a for a in browser.menu_for(default).actions() if a.text().startswith("Drop partition"))
    assert not drop_default.isEnabled()

    dest = tmp_path / "out.parquet"
    monkeypatch.setattr(dialogs, "save_file", lambda *a, **k: str(dest))
    _trigger(browser, browser.item_for("pics"), "Export to Parquet")
    assert wait_task(qtbot, browser.last_task).state == "done"
    import pyarrow.parquet as pq

    assert pq.read_table(dest).num_rows == 30
