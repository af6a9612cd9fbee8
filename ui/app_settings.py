"""What the app remembers between runs (QSettings): recent databases, layout, theme, model.

Tests point QSettings at a temporary folder with `use_settings_dir()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORG = "vector-workbench"
APP = "vector-workbench"
MAX_RECENT = 8


def use_settings_dir(path: str | os.PathLike[str]) -> None:
    """Keep settings under `path` (tests, screenshots) instead of the user's config folder."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))


def _qs() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


@dataclass
class ModelChoice:
    """Which CLIP model new collections are embedded with.

    kind: "demo" (the tiny untrained model; random search quality), "pretrained"
    (an open_clip name + tag, downloaded once) or "checkpoint" (a local .pt file).
    """

    kind: str = "pretrained"
    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"
    checkpoint: str = ""
    device: str = "auto"

    def describe(self) -> str:
        if self.kind == "demo":
            return "Demo model (untrained: search results are random)"
        if self.kind == "checkpoint":
            return f"{self.model or 'CLIP'} from {Path(self.checkpoint).name or '(no file chosen)'}"
        return f"{self.model} · {self.pretrained}"


class AppSettings:
    """Typed access to the app's QSettings."""

    def __init__(self) -> None:
        self.qs = _qs()

    # --- recent databases ------------------------------------------------------------
    def recent_databases(self) -> list[str]:
        value = self.qs.value("recent/databases", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent_database(self, path: str) -> None:
        items = [p for p in self.recent_databases() if p != path]
        self.qs.setValue("recent/databases", [path, *items][:MAX_RECENT])

    # --- theme and layout ------------------------------------------------------------
    @property
    def theme(self) -> str:
        return str(self.qs.value("ui/theme", "light"))

    @theme.setter
    def theme(self, value: str) -> None:
        self.qs.setValue("ui/theme", value)

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("ui/geometry", geometry)
        self.qs.setValue("ui/state", state)

    def layout(self) -> tuple[Any, Any]:
        return self.qs.value("ui/geometry"), self.qs.value("ui/state")

    @property
    def first_run_done(self) -> bool:
        return str(self.qs.value("ui/first_run_done", "false")).lower() == "true"

    @first_run_done.setter
    def first_run_done(self, value: bool) -> None:
        self.qs.setValue("ui/first_run_done", "true" if value else "false")

    # --- model -----------------------------------------------------------------------
    def model_choice(self) -> ModelChoice | None:
        """The saved choice, or None when the user has not chosen yet."""
        kind = self.qs.value("model/kind")
        if not kind:
            return None
        return ModelChoice(
            kind=str(kind),
            model=str(self.qs.value("model/name", "ViT-B-32")),
            pretrained=str(self.qs.value("model/pretrained", "laion2b_s34b_b79k")),
            checkpoint=str(self.qs.value("model/checkpoint", "")),
            device=str(self.qs.value("model/device", "auto")),
        )

    def set_model_choice(self, choice: ModelChoice) -> None:
        self.qs.setValue("model/kind", choice.kind)
        self.qs.setValue("model/name", choice.model)
        self.qs.setValue("model/pretrained", choice.pretrained)
        self.qs.setValue("model/checkpoint", choice.checkpoint)
        self.qs.setValue("model/device", choice.device)

    def sync(self) -> None:
        self.qs.sync()
