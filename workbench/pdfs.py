"""PDF files through pypdfium2: open with clear failure reasons, page text, page renders.

PDFium is not thread-safe, so every call into it holds `PDFIUM_LOCK`; the
callers may still run this module from a worker thread so that rendering
overlaps with model inference.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from workbench.images import FileEntry, SkipFile, sha256_file
from workbench.memory import DecodeBudget

PDFIUM_LOCK = threading.RLock()
# Rendered page size (long side, pixels): enough for CLIP's 224 input and a 256 thumbnail.
RENDER_SIDE = 512
DEFAULT_TEXT_MAX_BYTES = 8192
DEFAULT_MAX_PAGES = 1024


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def clean_text(text: str) -> str:
    """Page text with normalised line ends, no NULs, no trailing spaces on lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip()


@dataclass
class PdfPageData:
    """One rendered page: 1-based number, its text (truncated), an RGB image, and how many UTF-8
    bytes the text had before it was truncated."""

    number: int
    text: str
    image: Image.Image
    text_bytes: int = 0


@dataclass
class PdfData:
    """A PDF's stored fields and its rendered pages."""

    path: str
    file_name: str
    folder: str
    bytes: int
    modified: float
    sha256: str
    title: str | None
    author: str | None
    page_count: int
    pages: list[PdfPageData] = field(default_factory=list)


def _has_no_pages(path: Path) -> bool:
    """True for a PDF whose page tree is empty (PDFium refuses to open those without saying why)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4 << 20)
    except OSError:
        return False
    return (head.startswith(b"%PDF") and re.search(rb"/Count\s*0\b", head) is not None
            and re.search(rb"/Type\s*/Page\b(?!s)", head) is None)


def _open_error(e: Exception, path: Path) -> SkipFile:
    import pypdfium2.raw as pdfium_c

    code = getattr(e, "err_code", None)
    if code != pdfium_c.FPDF_ERR_PASSWORD and _has_no_pages(path):
        # checked first: PDFium's last-error code is stale after a document with no pages
        return SkipFile("PDF has no pages (empty document)")
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return SkipFile("PDF is encrypted (password-protected)")
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return SkipFile("PDF uses an unsupported security handler (encrypted)")
    if code == pdfium_c.FPDF_ERR_FORMAT:
        return SkipFile("not a valid PDF (corrupt, truncated or not a PDF at all)")
    if code == pdfium_c.FPDF_ERR_SUCCESS:  # PDFium fails "successfully" on a document with no pages
        return SkipFile("PDF has no pages (empty document)")
    if code == pdfium_c.FPDF_ERR_FILE:
        return SkipFile("cannot open the file (gone or unreadable)")
    return SkipFile(f"PDF cannot be opened: {e}")


class OpenPdf:
    """An open PDF: `data` (its fields, no pages yet) and `pages()`, rendering one page at a time.

    Raises SkipFile on opening for encrypted, corrupt, empty or unreadable files. Use as a
    context manager; only one rendered page per iteration step is held in memory.
    """

    def __init__(self, entry: FileEntry, max_pages: int = DEFAULT_MAX_PAGES,
                 text_max_bytes: int = DEFAULT_TEXT_MAX_BYTES, render_side: int = RENDER_SIDE,
                 digest: str | None = None) -> None:
        import pypdfium2 as pdfium

        if entry.size == 0:
            raise SkipFile("empty file (0 bytes)")
        self.max_pages, self.text_max_bytes, self.render_side = max_pages, text_max_bytes, render_side
        digest = digest or sha256_file(entry.path)
        with PDFIUM_LOCK:
            try:
                self._doc: Any = pdfium.PdfDocument(str(entry.path))
            except pdfium.PdfiumError as e:
                raise _open_error(e, entry.path) from None
            except FileNotFoundError:
                raise SkipFile("file is gone (deleted after it was found)") from None
            except PermissionError:
                raise SkipFile("permission denied (the file is not readable)") from None
            try:
                n = len(self._doc)
                if n == 0:
                    raise SkipFile("PDF has no pages (empty document)")
                try:
                    meta = self._doc.get_metadata_dict()
                except Exception:
                    meta = {}
            except BaseException:
                self._doc.close()
                raise
        self.data = PdfData(
            path=str(entry.path), file_name=entry.path.name, folder=entry.path.parent.name,
            bytes=entry.size, modified=entry.mtime, sha256=digest,
            title=(meta.get("Title") or "").strip() or None, author=(meta.get("Author") or "").strip() or None,
            page_count=n,
        )

    @property
    def truncated(self) -> bool:
        """True when the PDF has more pages than `max_pages` (only those are rendered)."""
        return self.data.page_count > self.max_pages

    def pages(self, budget: DecodeBudget | None = None) -> Generator[PdfPageData, None, None]:
        """The first `max_pages` pages, rendered one by one; SkipFile if PDFium fails on one.

        With a `budget`, each page holds `page_cost(render_side)` bytes of it from before it is
        rendered until the next page is asked for (or the iteration is closed)."""
        import pypdfium2 as pdfium

        cost = page_cost(self.render_side)
        for i in range(min(self.data.page_count, self.max_pages)):
            with budget.hold(cost) if budget is not None else nullcontext():
                with PDFIUM_LOCK:
                    try:
                        page = _render_page(self._doc, i, self.text_max_bytes, self.render_side)
                    except pdfium.PdfiumError as e:
                        raise SkipFile(f"PDF is damaged (page {i + 1}): {e}") from None
                yield page
                del page

    def page_texts(self, start: int = 0) -> Iterator[tuple[int, str]]:
        """(1-based page number, text layer) of every page from index `start`, nothing rendered and the
        text not truncated; "" for a page without a text layer; SkipFile if PDFium fails on one."""
        import pypdfium2 as pdfium

        for i in range(start, self.data.page_count):
            with PDFIUM_LOCK:
                try:
                    page = self._doc[i]
                    try:
                        textpage = page.get_textpage()
                        text = clean_text(textpage.get_text_range())
                        textpage.close()
                    finally:
                        page.close()
                except pdfium.PdfiumError as e:
                    raise SkipFile(f"PDF is damaged (page {i + 1}): {e}") from None
            yield i + 1, text

    def close(self) -> None:
        with PDFIUM_LOCK:
            self._doc.close()

    def __enter__(self) -> OpenPdf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def page_cost(render_side: int = RENDER_SIDE) -> int:
    """Bytes that rendering one page takes at most: the page fits `render_side` squared, held as
    PDFium's bitmap, its PIL copy, the RGB conversion and the thumbnail's copy (4 bytes a pixel)."""
    return 4 * render_side * render_side * 4


def load_pdf(entry: FileEntry, max_pages: int = DEFAULT_MAX_PAGES,
             text_max_bytes: int = DEFAULT_TEXT_MAX_BYTES, render_side: int = RENDER_SIDE,
             digest: str | None = None) -> PdfData:
    """Open, hash, and render a whole PDF (all pages in memory; see OpenPdf for streaming).

    Pages beyond `max_pages` are not rendered (`page_count` still says how many there are).
    Scanned pages without a text layer get an empty `text`.
    """
    with OpenPdf(entry, max_pages, text_max_bytes, render_side, digest) as pdf:
        pdf.data.pages = list(pdf.pages())
        return pdf.data


def _render_page(doc: object, index: int, text_max_bytes: int, render_side: int) -> PdfPageData:
    page = doc[index]  # type: ignore[index]
    try:
        try:
            textpage = page.get_textpage()
            text = clean_text(textpage.get_text_range())
            textpage.close()
        except Exception:
            text = ""
        w, h = page.get_size()
        scale = render_side / max(w, h, 1.0)
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil().convert("RGB")
        bitmap.close()
    finally:
        page.close()
    return PdfPageData(index + 1, truncate_utf8(text, text_max_bytes), image, len(text.encode("utf-8")))


def page_thumbnail_name(sha256: str, page: int) -> str:
    """File name of a page thumbnail inside the collection's thumbnail folder."""
    return f"{sha256}-p{page}.jpg"
