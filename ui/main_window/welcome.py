"""The first-run screen: what the app is for, a drop zone, and a demo collection made on the spot."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.shared.theme import icon


class WelcomeScreen(QWidget):
    demoRequested = Signal()
    importRequested = Signal()
    openRequested = Signal()
    newCollectionRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        logo = QLabel(self)
        logo.setPixmap(icon("vector-workbench").pixmap(72, 72))
        title = QLabel("Welcome to Vector Workbench", self)
        title.setObjectName("title")
        intro = QLabel(
            "Build image and document search on your own machine: drop a folder of photos or a stack of "
            "PDFs, and the workbench embeds them with CLIP into a local vector database you can search, "
            "filter and look inside.", self)
        intro.setWordWrap(True)
        self.db_label = QLabel("", self)
        self.db_label.setObjectName("hint")
        self.db_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        zone = QFrame(self)
        zone.setObjectName("dropZone")
        zone.setMinimumHeight(150)
        zl = QVBoxLayout(zone)
        big = QLabel("Drop a folder of images or PDFs anywhere on this window", zone)
        big.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = big.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        big.setFont(font)
        small = QLabel("or use File › Import (Ctrl+I). Each folder becomes a collection; the jobs panel shows "
                       "progress, and the UI stays usable while it runs.", zone)
        small.setObjectName("hint")
        small.setAlignment(Qt.AlignmentFlag.AlignCenter)
        small.setWordWrap(True)
        zl.addStretch(1)
        zl.addWidget(big)
        zl.addWidget(small)
        zl.addStretch(1)

        self.demo_button = QPushButton("Create the demo collection", self)
        self.demo_button.setObjectName("primary")
        self.demo_button.clicked.connect(self.demoRequested)
        import_button = QPushButton("Import a folder…", self)
        import_button.clicked.connect(self.importRequested)
        new_button = QPushButton("Design a collection…", self)
        new_button.clicked.connect(self.newCollectionRequested)
        open_button = QPushButton("Open another database…", self)
        open_button.clicked.connect(self.openRequested)
        demo_note = QLabel(
            "The demo draws 60 pictures of coloured shapes and embeds them with a tiny CLIP model that was "
            "never trained, because no model weights can be assumed on a new machine. Everything works — "
            "import, filters, the inspector, the embedding map — but search quality is random. For real "
            "search, choose real CLIP weights in Settings › Model.", self)
        demo_note.setObjectName("warning")
        demo_note.setWordWrap(True)
        self.status = QLabel("", self)
        self.status.setObjectName("hint")

        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addWidget(import_button)
        buttons.addWidget(new_button)
        buttons.addWidget(open_button)
        buttons.addStretch(1)
        head = QHBoxLayout()
        head.addWidget(logo)
        head.addWidget(title, 1)
        col = QVBoxLayout()
        col.addLayout(head)
        col.addWidget(intro)
        col.addWidget(self.db_label)
        col.addSpacing(8)
        col.addWidget(zone)
        col.addSpacing(8)
        col.addLayout(buttons)
        col.addWidget(demo_note)
        col.addWidget(self.status)
        col.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        inner = QWidget(self)
        inner.setLayout(col)
        inner.setMaximumWidth(820)
        outer.addWidget(inner, 8)
        outer.addStretch(1)

    def set_database(self, path: str) -> None:
        self.db_label.setText(f"Database: {path} (empty)")
