"""The search mode of a Documents collection's text queries: "words", "meaning" or "both".

A segmented control of three exclusive buttons. It is enabled for Documents collections only; "words"
and "both" need the collection's BM25 field (`text_sparse`, made by ingestion since words search
exists), and "meaning" and "both" need multi-vector (MAX_SIM) search on the backend. Each disabled
button says why in its tooltip. The panel resets it to "meaning" (or the first mode that can be used)
when the collection changes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

from workbench.document_search import SPARSE_FIELD

MODES = ("words", "meaning", "both")  # in the order shown
DEFAULT_MODE = "meaning"
TIPS = {
    "words": "Documents that contain the query's words (BM25 full-text ranking; “parse” also finds "
             "“parsing”). No model is loaded.",
    "meaning": "Documents with a paragraph close in meaning to the query (the collection's text model, "
               "best paragraph per document).",
    "both": "Words and meaning (and PDF page images, when kept) fused into one ranking (RRF).",
}


def mode_reasons(info: Any, max_sim_reason: str | None) -> dict[str, str | None]:
    """Why each mode cannot be used for the collection `info` (a CollectionInfo or None); None: it can."""
    if info is None or info.schema is None:
        return dict.fromkeys(MODES, "Choose a collection first.")
    if info.kind != "documents":
        kind = {"images": "an Images", "pdfs": "a PDF documents", "products": "a Products"}.get(info.kind or "",
                                                                                             "a vector")
        why = (f"Search modes (words, meaning, both) are for Documents collections; {info.name!r} is {kind} "
               "collection, searched by its vectors.")
        return dict.fromkeys(MODES, why)
    from workbench.backends import bm25_fields

    words = None if SPARSE_FIELD in bm25_fields(info.description) else (
        f"{info.name!r} has no BM25 field ({SPARSE_FIELD}): it was made before words search existed, or on a "
        "backend without full-text search. Ingest its documents into a new collection to search by words.")
    meaning = f"Meaning search needs multi-vector (MAX_SIM) search: {max_sim_reason}" if max_sim_reason else None
    return {"words": words, "meaning": meaning, "both": words or meaning}


class SearchModeControl(QWidget):
    """Three exclusive buttons; `mode()` is the chosen one, `modeChanged` says when the user changes it."""

    modeChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchMode")
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        for m in MODES:
            b = QToolButton(self)
            b.setText(m)
            b.setCheckable(True)
            b.setObjectName(f"mode_{m}")
            b.setAutoRaise(False)
            self.group.addButton(b)
            self.buttons[m] = b
            lay.addWidget(b)
        self.buttons[DEFAULT_MODE].setChecked(True)
        self.reasons: dict[str, str | None] = dict.fromkeys(MODES, "Choose a collection first.")
        self.group.buttonToggled.connect(self._toggled)
        self.configure(self.reasons, reset=True)

    def _toggled(self, button: Any, checked: bool) -> None:
        if checked:
            self.modeChanged.emit(button.text())

    def mode(self) -> str:
        b = self.group.checkedButton()
        return b.text() if b is not None else DEFAULT_MODE

    def set_mode(self, mode: str) -> None:
        if mode not in self.buttons:
            raise ValueError(f"search mode {mode!r} is unknown; use one of {', '.join(MODES)}")
        self.buttons[mode].setChecked(True)

    def applies(self) -> bool:
        """Whether the mode means anything for the collection (a Documents one)."""
        return any(r is None for r in self.reasons.values())

    def configure(self, reasons: dict[str, str | None], reset: bool) -> None:
        """Enable each mode without a reason, disable the others with it as the tooltip; with `reset`
        (another collection), or when the chosen mode is now disabled, go back to "meaning"."""
        self.reasons = dict(reasons)
        for m, b in self.buttons.items():
            reason = reasons.get(m)
            b.setEnabled(reason is None)
            b.setToolTip(reason or TIPS[m])
        if reset or reasons.get(self.mode()) is not None:
            usable = [m for m in (DEFAULT_MODE, *MODES) if reasons.get(m) is None]
            self.buttons[usable[0] if usable else DEFAULT_MODE].setChecked(True)
        self.setEnabled(self.applies())
        self.setToolTip("" if self.applies() else next(iter(reasons.values())) or "")
