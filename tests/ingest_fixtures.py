"""Fixtures and file generators for the ingestion tests (images, PDFs, a tiny CLIP checkpoint).

The tiny model is made once per test process; test modules wrap `tiny_checkpoint_file()`
and `tiny_clip_embedder()` in fixtures of their own.
"""

from __future__ import annotations

import atexit
import ctypes
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

# --- the tiny CLIP model ---------------------------------------------------------------
_cache: dict[str, Any] = {}


def tiny_checkpoint_file() -> Path:
    """A randomly initialised tiny open_clip model saved as a state_dict checkpoint (once per process)."""
    if "ckpt" not in _cache:
        import open_clip
        import torch

        from workbench.clip_models import register_tiny_test_model

        name = register_tiny_test_model()
        torch.manual_seed(0)
        model = open_clip.create_model(name, pretrained=None)
        folder = Path(tempfile.mkdtemp(prefix="wb-tiny-ckpt-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "tiny.pt"
        torch.save(model.state_dict(), path)
        _cache["ckpt"] = path
    path = _cache["ckpt"]
    assert isinstance(path, Path)
    return path


def tiny_clip_embedder() -> Any:
    """A ClipEmbedder loaded from the tiny checkpoint through the real loading code (CPU, batch 8)."""
    if "emb" not in _cache:
        from workbench.embedders import load_clip_embedder

        _cache["emb"] = load_clip_embedder(checkpoint=tiny_checkpoint_file(), device="cpu", batch_size=8)
    return _cache["emb"]


# --- images ----------------------------------------------------------------------------


def gradient(w: int, h: int, seed: int = 0) -> Image.Image:
    """An RGB test picture (gradient plus a coloured block), different per seed."""
    im = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    block = Image.new("RGB", (max(1, w // 3), max(1, h // 3)),
                      ((seed * 67) % 256, (seed * 131) % 256, (seed * 29 + 90) % 256))
    im.paste(block, ((seed * 17) % max(1, w - block.width), (seed * 11) % max(1, h - block.height)))
    return im


def jpeg_with_exif(path: Path, w: int, h: int, orientation: int = 1, seed: int = 0,
                   taken: str | None = "2021:07:04 12:30:00", make: str = "Canon",
                   model: str = "Canon EOS 5D") -> Path:
    """A JPEG with EXIF orientation, capture time and camera."""
    im = gradient(w, h, seed)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[271] = make
    exif[272] = model
    if taken:
        exif[306] = taken
        exif.get_ifd(0x8769)[36867] = taken
    im.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    return path


def make_image_folder(root: Path) -> dict[str, Path]:
    """A folder of good images in every supported format, plus the bad files the report must list."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["rotated"] = jpeg_with_exif(root / "rotated.jpg", 640, 480, orientation=6, seed=1)
    files["plain_jpeg"] = jpeg_with_exif(root / "sub" / "plain.jpeg", 320, 200, seed=2, taken=None, make="",
                                         model="")
    rgba = gradient(300, 200, 3).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((300, 200)))
    files["rgba_png"] = root / "alpha.png"
    rgba.save(files["rgba_png"])
    frames = [gradient(120, 90, s).convert("P", palette=Image.Palette.ADAPTIVE) for s in (4, 5)]
    files["gif"] = root / "anim.gif"
    frames[0].save(files["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["webp"] = root / "sub" / "deeper" / "pic.webp"
    gradient(200, 260, 6).save(files["webp"], "WEBP")
    files["bmp"] = root / "pic.bmp"
    gradient(64, 48, 7).save(files["bmp"], "BMP")
    files["tiff"] = root / "pic.tiff"
    gradient(150, 150, 8).save(files["tiff"], "TIFF")
    pal = gradient(100, 80, 9).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    files["palette_png"] = root / "palette.png"
    pal.save(files["palette_png"], transparency=0)
    # bad files
    buf = io.BytesIO()
    gradient(400, 300, 10).save(buf, "JPEG", quality=95)
    files["truncated"] = root / "truncated.jpg"
    files["truncated"].write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    files["empty"] = root / "empty.jpg"
    files["empty"].write_bytes(b"")
    files["text"] = root / "notes.jpg"
    files["text"].write_text("this is not an image\n")
    (root / "readme.txt").write_text("ignored: not an image extension\n")
    (root / ".hidden.jpg").write_bytes(b"hidden files are not ingested")
    return files


GOOD_IMAGES = ("rotated", "plain_jpeg", "rgba_png", "gif", "webp", "bmp", "tiff", "palette_png")
BAD_IMAGES = ("truncated", "empty", "text")


# --- PDFs --------------------------------------------------------------------------------


def make_pdf(path: Path, pages: list[str], scanned: tuple[int, ...] = ()) -> Path:
    """A PDF with a real text layer (pypdfium2's raw API): one page per string.

    Pages whose index is in `scanned` get a drawn rectangle and no text (like a scan).
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument.new()
    font = raw.FPDFText_LoadStandardFont(pdf, b"Helvetica")
    for i, text in enumerate(pages):
        page = pdf.new_page(612, 792)
        if i in scanned:
            rect = raw.FPDFPageObj_CreateNewRect(100, 300, 400, 300)
            raw.FPDFPageObj_SetFillColor(rect, 40 + 30 * i % 200, 90, 160, 255)
            raw.FPDFPath_SetDrawMode(rect, raw.FPDF_FILLMODE_ALTERNATE, False)
            raw.FPDFPage_InsertObject(page, rect)
        else:
            y = 740.0
            for line in text.split("\n"):
                obj = raw.FPDFPageObj_CreateTextObj(pdf, font, ctypes.c_float(16))
                buf = ctypes.create_string_buffer((line + "\0").encode("utf-16-le"))
                raw.FPDFText_SetText(obj, ctypes.cast(buf, ctypes.POINTER(raw.FPDF_WCHAR)))
                raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 60, y)
                raw.FPDFPage_InsertObject(page, obj)
                y -= 22
        raw.FPDFPage_GenerateContent(page)
        page.close()
    pdf.save(str(path))
    pdf.close()
    return path


def _minimal_pdf(page_count: int = 1, trailer_extra: bytes = b"", extra_objs: tuple[bytes, ...] = ()) -> bytes:
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(page_count))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % page_count]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"] * page_count
    objs += list(extra_objs)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objs) + 1) + trailer_extra + b">>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def pdfium_new_empty() -> bytes:
    """A well-formed PDF with no pages, as PDFium writes it."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    return buf.getvalue()


def encrypted_pdf_bytes() -> bytes:
    """A PDF with a standard security handler whose user password is not empty."""
    key = b"<" + b"ab" * 32 + b">"
    enc = b"<< /Filter /Standard /V 1 /R 2 /O " + key + b" /U " + key + b" /P -4 >>"
    doc_id = b"<00112233445566778899aabbccddeeff>"
    n_objs = 3  # catalog, pages, one page -> the Encrypt dictionary is object 4
    return _minimal_pdf(1, b"/Encrypt %d 0 R /ID [" % (n_objs + 1) + doc_id + doc_id + b"] ", (enc,))


def make_pdf_folder(root: Path) -> dict[str, Path]:
    """Good PDFs (text, multi-page, partly scanned) and bad ones (encrypted, corrupt, empty, zero bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["cats"] = make_pdf(root / "cats.pdf", ["All about cats\nCats purr and sleep.", "Kittens play."])
    files["boats"] = make_pdf(root / "boats.pdf", ["Sailing boats", "Harbours and ships", "Knots"])
    files["scanned"] = make_pdf(root / "scan.pdf", ["", "A page with text after a scan"], scanned=(0,))
    files["encrypted"] = root / "secret.pdf"
    files["encrypted"].write_bytes(encrypted_pdf_bytes())
    files["corrupt"] = root / "corrupt.pdf"
    files["corrupt"].write_bytes(b"%PDF-1.4\nthis is not really a pdf at all\n")
    files["no_pages"] = root / "nopages.pdf"
    empty = pdfium_new_empty()
    files["no_pages"].write_bytes(empty)
    files["zero"] = root / "zero.pdf"
    files["zero"].write_bytes(b"")
    return files


GOOD_PDFS = ("cats", "boats", "scanned")
BAD_PDFS = ("encrypted", "corrupt", "no_pages", "zero")
