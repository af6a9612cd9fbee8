"""Colouring the embedding map by a scalar field, free of widgets.

A field with few distinct values, or of text or booleans, is categorical: every value gets its own
colour (a qualitative palette of 20, then hues spread by the golden angle), listed in the legend with
its count, most frequent first; nothing is lumped into "other". A numeric field with many values gets
a colour scale (viridis, in `BINS` steps) shown as a colour bar from its minimum to its maximum. Rows
without a value are grey in both.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

QUALITATIVE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
               "#f7b6d2", "#dbdb8d", "#9edae5", "#393b79")
NONE_COLOUR = "#b0b4ba"
NONE_LABEL = "(no value)"
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b",
           "#fde725")
BINS = 64
NUMERIC_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE"})
MAX_INT_CATEGORIES = 24  # an integer field with at most this many values is shown as categories


@dataclass
class ColourPlan:
    """How to colour the points: `groups` of (label, count, colour, point indices), drawn in order."""

    kind: str  # "none", "categorical" or "numeric"
    field: str | None
    groups: list[tuple[str, int, str, np.ndarray]] = field(default_factory=list)
    low: float | None = None  # numeric: the range of the colour bar
    high: float | None = None
    scale: tuple[str, ...] = VIRIDIS
    missing: int = 0  # rows without a value


def category_colour(i: int) -> str:
    """The colour of the i-th category: the qualitative palette, then golden-angle hues."""
    if i < len(QUALITATIVE):
        return QUALITATIVE[i]
    h = (i * 0.6180339887) % 1.0
    s, v = (0.65, 0.85) if i % 2 else (0.5, 0.7)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def scale_colour(t: float, stops: tuple[str, ...] = VIRIDIS) -> str:
    """The colour at `t` (0 to 1) of a scale given by evenly spaced stops."""
    t = min(1.0, max(0.0, float(t)))
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    a = [int(stops[i][k:k + 2], 16) for k in (1, 3, 5)]
    b = [int(stops[i + 1][k:k + 2], 16) for k in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def colour_plan(values: list[Any] | None, field_name: str | None, dtype: str | None = None) -> ColourPlan:
    """The colouring of points whose `field_name` values are `values` (None: no field, one colour)."""
    n = len(values or [])
    if not field_name or values is None:
        return ColourPlan("none", None, [("all points", n, QUALITATIVE[0], np.arange(n))])
    present = np.array([v is not None for v in values], dtype=bool)
    missing = int((~present).sum())
    numeric = dtype in NUMERIC_TYPES and not all(isinstance(v, bool) for v in values if v is not None)
    if numeric:
        nums = np.array([float(v) if v is not None else np.nan for v in values], dtype=np.float64)
        distinct = np.unique(nums[present])
        if dtype and dtype.startswith("INT") and len(distinct) <= MAX_INT_CATEGORIES:
            numeric = False
    if not numeric:
        return _categorical(values, field_name, present, missing)
    lo, hi = (float(nums[present].min()), float(nums[present].max())) if present.any() else (0.0, 0.0)
    span = hi - lo
    t = np.where(present, (np.nan_to_num(nums) - lo) / span, 0.0) if span > 0 else np.zeros(n)
    bins = np.minimum((t * BINS).astype(np.int64), BINS - 1)
    groups = []
    if missing:
        groups.append((NONE_LABEL, missing, NONE_COLOUR, np.flatnonzero(~present)))
    for b in range(BINS):
        idx = np.flatnonzero(present & (bins == b))
        if len(idx):
            groups.append((f"bin {b}", len(idx), scale_colour((b + 0.5) / BINS), idx))
    return ColourPlan("numeric", field_name, groups, lo, hi, VIRIDIS, missing)


def _categorical(values: list[Any], field_name: str, present: np.ndarray, missing: int) -> ColourPlan:
    labels = np.array([str(v) if v is not None else NONE_LABEL for v in values], dtype=object)
    cats, inverse, counts = np.unique(labels[present] if present.any() else np.array([], dtype=object),
                                      return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    where = np.flatnonzero(present)
    groups = []
    for rank, c in enumerate(order):
        groups.append((str(cats[c]), int(counts[c]), category_colour(rank), where[inverse == c]))
    if missing:
        groups.append((NONE_LABEL, missing, NONE_COLOUR, np.flatnonzero(~present)))
    return ColourPlan("categorical", field_name, groups, missing=missing)
