"""Settings › Model: which CLIP new collections are embedded with (remembered in QSettings)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.app_settings import ModelChoice
from ui.context import AppContext
from ui.models.embedder_provider import checkpoint_howto, default_weights_cached


class ModelSettingsDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Model")
        choice = ctx.model_choice()
        self.demo = QRadioButton("Demo model: tiny and untrained (works offline; search results are random)", self)
        cached = " (weights are on this machine)" if default_weights_cached() else \
            " (open_clip downloads the weights once: needs internet)"
        self.pretrained = QRadioButton("Pretrained CLIP from open_clip" + cached, self)
        self.checkpoint = QRadioButton("A checkpoint file (.pt state_dict)", self)
        group = QButtonGroup(self)
        for b in (self.demo, self.pretrained, self.checkpoint):
            group.addButton(b)
        {"demo": self.demo, "checkpoint": self.checkpoint}.get(choice.kind, self.pretrained).setChecked(True)
        self.model = QLineEdit(choice.model, self)
        self.tag = QLineEdit(choice.pretrained, self)
        self.path = QLineEdit(choice.checkpoint, self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        self.device = QComboBox(self)
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setCurrentText(choice.device or "auto")
        howto = QLabel("No internet on this machine? Make a checkpoint elsewhere and pick it here: "
                       + checkpoint_howto(), self)
        howto.setObjectName("hint")
        howto.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Model name", self.model)
        form.addRow("Pretrained tag", self.tag)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("Checkpoint", row)
        form.addRow("Device", self.device)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel,
                                   self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("New collections are embedded with:", self))
        lay.addWidget(self.demo)
        lay.addWidget(self.pretrained)
        lay.addWidget(self.checkpoint)
        lay.addLayout(form)
        lay.addWidget(howto)
        lay.addWidget(buttons)
        self.resize(620, self.sizeHint().height())

    def _browse(self) -> None:
        path = dialogs.open_file(self, "CLIP checkpoint", "", "Checkpoints (*.pt *.pth *.bin *.safetensors)")
        if path:
            self.path.setText(path)
            self.checkpoint.setChecked(True)

    def choice(self) -> ModelChoice:
        kind = "demo" if self.demo.isChecked() else ("checkpoint" if self.checkpoint.isChecked() else "pretrained")
        model = self.model.text().strip()
        if kind == "checkpoint" and model == "ViT-B-32":
            model = ""  # inferred from the checkpoint's shapes
        return ModelChoice(kind, model or ("" if kind == "checkpoint" else "ViT-B-32"),
                           self.tag.text().strip(), self.path.text().strip(), self.device.currentText())

    def accept(self) -> None:
        self.ctx.settings.set_model_choice(self.choice())
        super().accept()
