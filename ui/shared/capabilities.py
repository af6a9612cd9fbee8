"""Hiding or explaining what the open backend cannot do (`Capabilities.why_not`), in widgets.

A control for a feature the backend lacks stays visible but disabled, with the reason
as its tooltip, so the user learns why rather than meeting an error later.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget


def gate_combo(combo: QComboBox, reasons: dict[str, str | None], by_data: bool = False) -> None:
    """Disable the items of `combo` that have a reason (by item text, or by item data with `by_data`),
    with the reason as their tooltip; enable the others."""
    model = combo.model()
    for i in range(combo.count()):
        key = combo.itemData(i) if by_data else combo.itemText(i)
        reason = reasons.get(key) if isinstance(key, str) else None
        item = model.item(i) if hasattr(model, "item") else None
        if item is not None:
            item.setEnabled(not reason)
        combo.setItemData(i, reason or None, Qt.ItemDataRole.ToolTipRole)


def item_enabled(combo: QComboBox, index: int) -> bool:
    """Whether item `index` of `combo` can be chosen."""
    model = combo.model()
    item = model.item(index) if hasattr(model, "item") else None
    return item is None or item.isEnabled()


def explain(widget: QWidget, reason: str | None, tip: str = "") -> None:
    """Enable `widget` when `reason` is None; else disable it with the reason as its tooltip."""
    widget.setEnabled(not reason)
    widget.setToolTip(reason or tip)
