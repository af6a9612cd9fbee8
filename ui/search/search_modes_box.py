"""The search panel's "More" section: hybrid, grouping and range search (collapsed until asked for).

Each row sets one part of a `workbench.search_modes.SearchModes`, the same object `workbench search`'s
flags build. The defaults change nothing (one query, no grouping, no range), so a closed section is a
plain search; while any mode is on, the header says which. Rows the open backend cannot run are
disabled with the reason (`Capabilities.why_not`). Another search option (a "words / meaning / both"
text mode, say) is one more row: `add_row(label, widget)`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.shared.capabilities import explain
from ui.shared.text import plural
from workbench.search_modes import (
    Fusion,
    Grouping,
    ScoreRange,
    SearchModes,
    describe_range,
    group_fields,
    larger_is_closer,
    parse_weights,
    range_kept,
)


def mode_note(res: Any) -> str:
    """What the modes of a `SearchResult` did, for the status line: groups found, the range kept."""
    modes = res.request.modes
    bits = []
    if modes.group is not None:
        groups = len({repr(h.group) for h in res.hits})
        bits.append(f"{plural(groups, 'group')} of {modes.group.field}, up to {modes.group.size} each")
    if modes.ranged and res.parts:
        metric = res.parts[0][2]
        sign = "larger is closer" if larger_is_closer(metric) else "smaller is closer"
        bits.append(f"Kept {range_kept(metric, modes.score_range)} ({metric}: {sign})" if len(res.parts) == 1
                    else "The score range applied to each request before fusion")
    return (". " + "; ".join(bits)) if bits else ""


OFF = -1e9  # the spin boxes' "off" value (shown as "off")


class ScoreSpin(QDoubleSpinBox):
    """A score bound that may be "off" (its lowest value). An arrow or a wheel step from "off" starts at
    `start`, not a step above -1e9; typing "off" (or clearing the box) turns it off again."""

    def __init__(self, start: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start = start

    def stepBy(self, steps: int) -> None:
        if self.value() <= OFF:
            if steps > 0:
                self.setValue(self.start)
            return
        super().stepBy(steps)

    def validate(self, text: str, pos: int) -> Any:
        t = text.strip().lower()
        if t in ("", "off"):
            return QValidator.State.Acceptable, text, pos
        if "off".startswith(t):
            return QValidator.State.Intermediate, text, pos
        return super().validate(text, pos)

    def valueFromText(self, text: str) -> float:
        if text.strip().lower() in ("", "off"):
            return OFF
        return float(super().valueFromText(text))


class SearchModesBox(QWidget):
    """Hybrid (combine text and image, more fields, ranker), grouping and score-range controls."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metric_name = "COSINE"  # not `metric`: that is a QWidget method Qt calls
        self.toggle = QToolButton(self)
        self.toggle.setObjectName("modesToggle")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setText("More: hybrid, group by, score range")
        self.toggle.toggled.connect(self._toggled)
        self.summary = QLabel("", self)
        self.summary.setObjectName("hint")
        self.body = QWidget(self)
        self.body.setObjectName("modesBody")

        self.combine = QCheckBox("Combine the text and the image", self.body)
        self.combine.setToolTip("Hybrid search: search with the text and with the image in the well, and fuse the "
                                "two hit lists")
        self.fields_button = QToolButton(self.body)
        self.fields_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.fields_menu = QMenu(self.fields_button)
        self.fields_button.setMenu(self.fields_menu)
        self.fields_button.setToolTip("Hybrid search of several vector fields: the query is searched on each one "
                                      "checked, and the hit lists are fused")
        self.ranker = QComboBox(self.body)
        self.ranker.addItem("RRF", "rrf")
        self.ranker.addItem("Weighted", "weighted")
        self.ranker.setToolTip("RRF: score Σ 1/(k + rank), robust to scores on different scales. Weighted: "
                               "Σ weight × normalised similarity, one weight (0 to 1) per request")
        self.rrf_k = QSpinBox(self.body)
        self.rrf_k.setRange(1, 16383)
        self.rrf_k.setValue(60)
        self.rrf_k.setPrefix("k ")
        self.weights = QLineEdit(self.body)
        self.weights.setPlaceholderText("weights, e.g. 0.7,0.3")
        self.weights.setToolTip("One weight (0 to 1) per request: the text on each field, then the image on each "
                                "field")
        self.weights.hide()
        self._auto_weights = ""  # the equal weights last filled in (replaced while the user has typed none)

        self.group_combo = QComboBox(self.body)
        self.group_combo.setObjectName("groupCombo")
        self.group_size = QSpinBox(self.body)
        self.group_size.setRange(1, 10)
        self.group_size.setPrefix("up to ")
        self.group_size.setSuffix(" per group")
        self.strict = QCheckBox("only full groups", self.body)
        self.strict.setToolTip("Strict group size: leave out groups with fewer hits than asked for")

        self.min_score = self._score_spin("Keep hits with a score above this (COSINE, IP) or a distance of at "
                                          "least this (L2). Empty or off: no bound", start=0.0)
        self.max_score = self._score_spin("Keep hits with a score of at most this (COSINE, IP) or a distance below "
                                          "this (L2). Empty or off: no bound", start=1.0)
        self.range_hint = QLabel("", self.body)
        self.range_hint.setObjectName("hint")
        self.range_hint.setWordWrap(True)

        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(18, 2, 0, 2)
        self._hybrid_row = self.add_row("Hybrid", self.combine, self.fields_button, self.ranker, self.rrf_k,
                                        self.weights)
        self._group_row = self.add_row("Group by", self.group_combo, self.group_size, self.strict)
        self._range_row = self.add_row("Score range", QLabel("min", self.body), self.min_score,
                                       QLabel("max", self.body), self.max_score)
        self.grid.addWidget(self.range_hint, self.grid.rowCount(), 1)
        self.body.hide()
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.toggle)
        head.addWidget(self.summary, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.body)

        self.ranker.currentIndexChanged.connect(self._ranker_changed)
        for sig in (self.combine.toggled, self.ranker.currentIndexChanged, self.rrf_k.valueChanged,
                    self.weights.textChanged, self.group_combo.currentIndexChanged, self.group_size.valueChanged,
                    self.strict.toggled, self.min_score.valueChanged, self.max_score.valueChanged):
            sig.connect(self._update)
        self._update()

    def _score_spin(self, tip: str, start: float) -> QDoubleSpinBox:
        s = ScoreSpin(start, self.body)
        s.setDecimals(3)
        s.setRange(OFF, 1e9)
        s.setSingleStep(0.05)
        s.setSpecialValueText("off")
        s.setValue(OFF)
        s.setToolTip(tip)
        return s

    def add_row(self, label: str, *widgets: QWidget) -> QWidget:
        """One more labelled row of controls in the section; returns the row (to enable or explain it)."""
        row = QWidget(self.body)
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            h.addWidget(w)
        h.addStretch(1)
        r = self.grid.rowCount()
        self.grid.addWidget(QLabel(label, self.body), r, 0)
        self.grid.addWidget(row, r, 1)
        return row

    # --- binding -------------------------------------------------------------------------------------
    def set_collection(self, fields: dict[str, Any] | None, vector_paths: list[str], why_not: Any) -> None:
        """Offer this collection's fields, all modes off; rows the backend cannot run are disabled with the
        reason. `why_not(feature)` is the open backend's `Capabilities.why_not`."""
        self.reset()
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItem("(no grouping)", None)
        for name in group_fields(fields or {}):
            self.group_combo.addItem(name, name)
        self.group_combo.blockSignals(False)
        self.fields_menu.clear()
        tops = [p for p in vector_paths if "[" not in p]  # Milvus fuses no EmbeddingList (MAX_SIM) request
        for path in tops:
            a = self.fields_menu.addAction(path)
            a.setCheckable(True)
            a.toggled.connect(self._update)
        explain(self.fields_button, None if len(tops) > 1 else
                "This collection has one top-level vector field: nothing to combine it with (Milvus has no "
                "hybrid search with MAX_SIM fields such as views[embedding])",
                tip="Hybrid search of several vector fields: the query is searched on each one checked, and the "
                    "hit lists are fused")
        explain(self._hybrid_row, why_not("multi_vector"))
        explain(self._group_row, why_not("group_by"))
        explain(self._range_row, why_not("range_search"))
        self._update()

    def set_metric(self, metric: str) -> None:
        """The metric of the field searched: what a score range means (larger or smaller is closer)."""
        self.metric_name = metric or "COSINE"
        self._update()

    def reset(self) -> None:
        """Every mode off (the section's defaults)."""
        for w in (self.combine, self.strict):
            w.setChecked(False)
        for a in self.fields_menu.actions():
            a.setChecked(False)
        self.ranker.setCurrentIndex(0)
        self.rrf_k.setValue(60)
        self.weights.clear()
        self._auto_weights = ""
        self.group_combo.setCurrentIndex(0)
        self.group_size.setValue(1)
        self.min_score.setValue(OFF)
        self.max_score.setValue(OFF)

    # --- reading -------------------------------------------------------------------------------------
    def extra_fields(self) -> list[str]:
        """The vector fields checked for a hybrid search of several fields."""
        return [a.text() for a in self.fields_menu.actions() if a.isChecked()]

    def combining(self) -> bool:
        return self.combine.isChecked() and self.combine.isEnabled() and self._hybrid_row.isEnabled()

    def modes(self) -> SearchModes:
        """The `SearchModes` the controls describe (InputError for weights that are not numbers)."""
        group = None
        if self.group_combo.currentData() and self._group_row.isEnabled():
            group = Grouping(str(self.group_combo.currentData()), self.group_size.value(), self.strict.isChecked())
        lo, hi = self._bound(self.min_score), self._bound(self.max_score)
        rng = ScoreRange(lo, hi) if (lo is not None or hi is not None) and self._range_row.isEnabled() else None
        kind = str(self.ranker.currentData())
        weights = parse_weights(self.weights.text()) if kind == "weighted" else ()
        return SearchModes(group=group, score_range=rng, fusion=Fusion(kind, self.rrf_k.value(), weights))

    @staticmethod
    def _bound(spin: QDoubleSpinBox) -> float | None:
        return None if spin.value() <= OFF else float(spin.value())

    # --- updates -------------------------------------------------------------------------------------
    def _toggled(self, on: bool) -> None:
        self.body.setVisible(on)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _ranker_changed(self) -> None:
        weighted = self.ranker.currentData() == "weighted"
        self.weights.setVisible(weighted)
        self.rrf_k.setVisible(not weighted)
        self._default_weights()

    def request_count(self) -> int:
        """How many requests a hybrid search makes: each query (the text, and the image when combined) on
        each field checked (or on the one field searched)."""
        extra = self.extra_fields()
        return (2 if self.combine.isChecked() else 1) * (len(extra) if len(extra) > 1 else 1)

    def _default_weights(self) -> None:
        """Weighted ranking starts from equal weights, one per request (kept in step with the requests until
        the user types their own)."""
        if self.ranker.currentData() != "weighted" or self.weights.text() not in ("", self._auto_weights):
            return
        n = self.request_count()
        self._auto_weights = ",".join([f"{round(1 / n, 3):g}"] * n) if n > 1 else ""
        if self.weights.text() != self._auto_weights:
            self.weights.setText(self._auto_weights)

    def _update(self) -> None:
        self._default_weights()
        extra = self.extra_fields()
        self.fields_button.setText(("Fields: " + ", ".join(extra)) if extra else "Several fields…")
        bits = []
        if self.combining() or len(extra) > 1:
            what = "text + image" if self.combining() else ""
            if len(extra) > 1:
                what = (what + ", " if what else "") + f"{len(extra)} fields"
            bits.append(f"hybrid ({what}, {'weighted' if self.ranker.currentData() == 'weighted' else 'RRF'})")
        if self.group_combo.currentData():
            bits.append(f"grouped by {self.group_combo.currentData()} (up to {self.group_size.value()} each)")
        lo, hi = self._bound(self.min_score), self._bound(self.max_score)
        if lo is not None or hi is not None:
            bits.append("score range")
        self.summary.setText(" · ".join(bits))
        sign = "larger is closer" if larger_is_closer(self.metric_name) else "smaller is closer"
        self.range_hint.setText(describe_range(self.metric_name, ScoreRange(lo, hi)) if lo is not None or hi is not None
                                else f"{self.metric_name}: {sign}. The bound farther from the query is exclusive, as "
                                     "in Milvus.")
        self.changed.emit()
