"""Issue 14, the app side of document search: the search panel searches Documents collections through
`workbench.document_search` (words, meaning, both), shows document hits with their best paragraphs and
the query's words highlighted, and the views that read columns by name leave BM25 outputs out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from doc_corpus import CORPUS
from text_fixtures import minilm

from workbench.collection_ops import SearchHit
from workbench.ingest import IngestOptions, ingest

OPTS = IngestOptions(kind="documents", chunk_tokens=40, chunk_overlap=8)


def write_docs(folder: Path, names: tuple[str, ...] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, paras, _q) in CORPUS.items():
        if names is None or name in names:
            (folder / f"{name}.md").write_text(f"# {title}\n\n" + "\n\n".join(paras) + "\n")
    return folder


@pytest.fixture
def docs(qtbot: Any, ctx: Any, tmp_path: Path) -> Any:
    """ctx with a Documents collection 'docs' (the real packaged text model), current."""
    ctx.provider._text_factory = lambda _db, _coll: minilm()
    ingest([write_docs(tmp_path / "docs")], ctx.db_path, "docs", text_embedder=minilm(), options=OPTS)
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("docs")
    return ctx


@pytest.fixture
def panel(qtbot: Any, docs: Any) -> Any:
    from ui.search.search_panel import SearchPanel

    p = SearchPanel(docs)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    return p


def search(qtbot: Any, panel: Any, text: str, mode: str) -> Any:
    from tests.gui.conftest import wait_task

    panel.mode_control.set_mode(mode)
    panel.text_edit.setText(text)
    task = wait_task(qtbot, panel.search_text())
    assert task.state == "done", panel.error_label.text()
    return panel.result


# --- the HTML of a passage ------------------------------------------------------------------

def test_highlight_wraps_each_match_and_escapes_the_text() -> None:
    from ui.search.document_results import MARK_STYLE, highlight_html

    text = "Parsing <b>tables</b> & parse trees"
    got = highlight_html(text, [[0, 7], [text.index("parse "), text.index("parse ") + 5]])
    assert got.startswith(f'<span style="{MARK_STYLE}">Parsing</span>')
    assert f'<span style="{MARK_STYLE}">parse</span> trees' in got
    assert "&lt;b&gt;tables&lt;/b&gt; &amp; " in got and "<b>" not in got
    # a span that is out of range or overlaps an earlier one is clipped, not doubled
    assert highlight_html("abc", [[0, 2], [1, 3], [2, 99]]).count("<span") == 2


def test_passage_shows_its_page_and_a_long_passage_is_cut_around_the_match() -> None:
    from ui.search.document_results import passage_html

    html = passage_html({"text": "Tides rise.", "page": 3, "matches": [[0, 5]]})
    assert "p.&nbsp;3" in html and ">Tides</span>" in html
    assert "p.&nbsp;" not in passage_html({"text": "Tides rise.", "page": 0, "matches": []})
    long = "x " * 400 + "needle" + " y" * 400
    start = long.index("needle")
    cut = passage_html({"text": long, "page": 1, "matches": [[start, start + 6]]})
    assert ">needle</span>" in cut and cut.count("x") < 400 and "…" in cut


# --- the search panel on a Documents collection -----------------------------------------------

def test_words_search_shows_documents_with_the_words_highlighted(qtbot: Any, panel: Any) -> None:
    res = search(qtbot, panel, "chloroplasts", "words")
    assert res.request.mode == "words" and res.anns_field == "text_sparse" and res.metric == "BM25"
    assert panel.results_stack.currentWidget() is panel.doc_results
    top = res.hits[0]
    assert Path(top.fields["path"]).stem == "photosynthesis"
    from ui.search.document_results import MARK_STYLE, hit_html

    html = hit_html(top)
    assert f'<span style="{MARK_STYLE}">chloroplasts</span>'.lower() in html.lower()
    assert "photosynthesis.md" in html
    # every hit has the query word: words mode finds nothing else, and shows only the passages with it
    assert all(any(p["matches"] for p in h.passages) for h in res.hits)
    from ui.search.document_results import shown_passages

    assert all(p["matches"] for h in res.hits for p in shown_passages(h))
    top.extra["mode"] = "meaning"  # meaning shows the best chunks whatever their words
    assert len(shown_passages(top)) == len(top.passages)


def test_meaning_and_both_modes_search_through_workbench(qtbot: Any, panel: Any) -> None:
    res = search(qtbot, panel, "the moon pulls the ocean", "meaning")
    assert res.request.mode == "meaning" and res.metric == "MAX_SIM_COSINE"
    assert Path(res.hits[0].fields["path"]).stem == "tides" and res.hits[0].passages
    res = search(qtbot, panel, "gravitational pull of the Moon", "both")
    assert res.metric == "RRF" and Path(res.hits[0].fields["path"]).stem == "tides"
    assert any(p["matches"] for p in res.hits[0].passages)


def test_an_image_query_without_page_images_is_refused_plainly(qtbot: Any, panel: Any, tmp_path: Path) -> None:
    from tests.gui.conftest import make_images, wait_task

    img = make_images(tmp_path / "q", 1)[0]
    panel.well.set_path(str(img))
    task = wait_task(qtbot, panel.search_image())
    assert task.state == "failed"
    assert "keeps no PDF page images" in panel.error_label.text()


def test_words_mode_disables_the_field_and_ef(qtbot: Any, panel: Any) -> None:
    panel.mode_control.set_mode("words")
    assert not panel.field_combo.isEnabled() and not panel.ef_spin.isEnabled()
    assert "words mode" in panel.field_combo.toolTip()
    panel.mode_control.set_mode("meaning")
    assert panel.field_combo.isEnabled()
    # text_sparse is searched by the words mode, never offered as a vector field
    assert panel.field_combo.findData("text_sparse") < 0 and panel.field_combo.findData("chunks[emb]") >= 0


def test_changing_the_mode_searches_again(qtbot: Any, panel: Any) -> None:
    search(qtbot, panel, "inverter", "meaning")
    with qtbot.waitSignal(panel.searchFinished, timeout=60000) as sig:
        panel.mode_control.set_mode("words")
    assert sig.args[0].request.mode == "words"


def test_mode_is_disabled_for_an_image_collection_and_resets_on_switch(qtbot: Any, panel: Any, tmp_path: Path
                                                                       ) -> None:
    from tests.gui.conftest import ingest_now, make_images

    ctx = panel.ctx
    make_images(tmp_path / "pics", 4)
    ingest_now(ctx, tmp_path / "pics")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    panel.mode_control.set_mode("both")
    assert panel.mode_control.isEnabled() and panel.mode_control.mode() == "both"
    ctx.set_current("pics")
    assert not panel.mode_control.isEnabled()
    assert all(not b.isEnabled() for b in panel.mode_control.buttons.values())
    assert "for Documents collections" in panel.mode_control.buttons["words"].toolTip()
    assert panel.mode_control.mode() == "meaning"
    assert panel.text_mode() is None  # an image collection's text query carries no mode
    from ui.search.search_backend import SearchRequest, run_search
    from workbench.settings import InputError

    with pytest.raises(InputError, match="applies to text queries of Documents collections"):
        run_search(ctx.backend, ctx.provider, SearchRequest("pics", text="a red square", mode="words"))
    ctx.set_current("docs")
    assert panel.mode_control.isEnabled() and panel.mode_control.mode() == "meaning"
    panel.mode_control.set_mode("words")
    ctx.set_current("pics")
    ctx.set_current("docs")
    assert panel.mode_control.mode() == "meaning"  # switching collection resets it


def test_old_documents_collection_offers_meaning_only(qtbot: Any, docs: Any, tmp_path: Path) -> None:
    from ui.search.search_panel import SearchPanel
    from workbench.document_template import documents_template
    from workbench.targets import open_target
    from workbench.template_schema import template_schema

    with open_target(docs.db_path) as b:  # as collections were made before the BM25 field existed
        schema, indexes = template_schema(documents_template(full_text=False), minilm().dim, b.capabilities)
        b.create_collection("old", schema, indexes)
    ingest([write_docs(tmp_path / "old", ("tides",))], docs.db_path, "old", text_embedder=minilm(), options=OPTS)
    with qtbot.waitSignal(docs.infoChanged, timeout=30000):
        docs.refresh()
    panel = SearchPanel(docs)
    qtbot.addWidget(panel)
    docs.set_current("old")
    b = panel.mode_control.buttons
    assert b["meaning"].isEnabled() and not b["words"].isEnabled() and not b["both"].isEnabled()
    assert "no BM25 field" in b["words"].toolTip() and "no BM25 field" in b["both"].toolTip()
    assert panel.mode_control.mode() == "meaning"


def test_double_click_opens_a_pdf_hit_at_its_passage_page(qtbot: Any, panel: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.search.search_panel as sp

    opened: list[tuple[str, Any]] = []
    monkeypatch.setattr(sp, "open_file", lambda path, page=None: opened.append((path, page)) or "opened")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    hit = SearchHit(id=7, score=0.5, fields={"path": str(pdf), "title": "Report"}, page=3,
                    passages=[{"text": "tides on page three", "page": 3, "position": 4, "score": 1.0,
                               "matches": [[0, 5]]}])
    panel.results_model.set_hits([hit])
    panel.results_stack.setCurrentWidget(panel.doc_results)
    index = panel.doc_results.model().index(0, 0)
    rect = panel.doc_results.visualRect(index)
    assert rect.height() > 40  # the row is as tall as its passage, not a one-line item
    from PySide6.QtCore import Qt

    qtbot.mouseClick(panel.doc_results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.doc_results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == [(str(pdf), 3)]


# --- views that read columns by name -----------------------------------------------------------

def test_function_outputs_are_known_and_left_out_of_the_views(qtbot: Any, docs: Any) -> None:
    from ui.data.entity_model import columns_for

    info = docs.collection("docs")
    assert info.error is None and info.schema is not None  # the snapshot reads a schema with a BM25 function
    assert info.function_outputs == {"text_sparse"}
    assert "text_sparse" in info.vector_paths and "text_sparse" not in info.stored_vector_paths
    cols = columns_for(info.schema, info.kind)
    names = [c.name for c in cols]
    assert "text_sparse" not in names and "text" in names and "chunks" in names
    # asking for every column by name works (text_sparse would be refused by the engine)
    outputs = [o for c in cols for o in c.outputs]
    rows = docs.backend.query("docs", filter="", output_fields=outputs, limit=2)
    assert rows and "text" in rows[0]


def test_data_view_shows_every_column_of_a_documents_collection(qtbot: Any, docs: Any) -> None:
    from ui.data.data_view import DataView

    view = DataView(docs)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    view.show_collection("docs")
    model = view.model
    qtbot.waitUntil(lambda: model.rowCount() == len(CORPUS), timeout=30000)
    model.set_visible([c.name for c in model.all_columns])  # vectors too: every column asked for by name
    assert "embedding" in model.outputs() and "text_sparse" not in model.outputs()
    model.data(model.index(0, 0))  # asks for the first page
    qtbot.waitUntil(lambda: bool(model.error) or 0 in model.loaded_pages(), timeout=30000)
    assert model.error == ""
    assert model.data(model.index(0, [c.name for c in model.columns].index("text"))), "the text column is read"
    # pytest-qt deletes the view now, its finished tasks' deleteLater pending: that crashed in ~QObject
    # about one run in five until Task._finish cut its worker's connections (tests/gui/test_task_crash.py).


def test_recall_explorer_leaves_the_bm25_output_out(qtbot: Any, docs: Any) -> None:
    from ui.inspector.recall_explorer import RecallExplorer

    r = RecallExplorer(docs)
    qtbot.addWidget(r)
    r.fill_fields(docs.collection("docs"))
    fields = [r.recall_field.itemData(i) for i in range(r.recall_field.count())]
    assert "chunks[emb]" in fields and "text_sparse" not in fields
