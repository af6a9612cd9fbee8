"""Image files: discovery, safe decoding, EXIF, thumbnails, multi-view crops.

Everything here runs without torch and is safe to call from worker threads.
A file that cannot be used raises `SkipFile` with a one-line reason; ingestion
turns that into an entry of the ingest report instead of stopping.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff"})
PDF_EXTENSIONS = frozenset({".pdf"})
# PIL refuses images over 2 x MAX_IMAGE_PIXELS (~179 Mpx) itself; the same limit is checked
# from the header before any pixel is decoded.
DEFAULT_MAX_PIXELS = 2 * 89_478_485
THUMBNAIL_SIDE = 256
# Short side kept for the model: CLIP resizes the short side to 224, so decode no more than this.
MODEL_SIDE = 256

_EXIF_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 36867
_EXIF_DATETIME = 306
_EXIF_MAKE = 271
_EXIF_MODEL = 272


class SkipFile(Exception):
    """A file that ingestion skips; the message is the reason shown in the report."""


@dataclass(frozen=True)
class FileEntry:
    """A discovered file: absolute path, size in bytes, modification time in ns."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def mtime(self) -> float:
        """Modification time in seconds since the epoch."""
        return self.mtime_ns / 1e9


@dataclass
class Skipped:
    """One file that was not ingested, and why."""

    path: str
    reason: str


@dataclass
class Discovery:
    """The result of walking the input paths."""

    files: list[FileEntry] = field(default_factory=list)
    # Files of the other kind (PDFs when ingesting images and vice versa).
    other_kind: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: int = 0  # files with unrelated extensions inside folders


def _stat_entry(p: Path) -> FileEntry:
    st = p.stat()
    return FileEntry(p, st.st_size, st.st_mtime_ns)


def discover(paths: Iterable[str | os.PathLike[str]], extensions: frozenset[str],
             other_extensions: frozenset[str] = frozenset()) -> Discovery:
    """Walk files and folders (recursively, skipping hidden entries) for files with `extensions`.

    A path that does not exist or a folder that cannot be listed becomes a
    `Skipped` entry. Files named explicitly are kept whatever their extension
    only if it is one of `extensions`; others are skipped with a reason.
    Files are returned sorted by path, without duplicates.
    """
    out = Discovery()
    seen: set[Path] = set()

    def add(p: Path, explicit: bool) -> None:
        ext = p.suffix.lower()
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:
            if ext in extensions or explicit:
                out.skipped.append(Skipped(str(p).encode("utf-8", "backslashreplace").decode(),
                                           "file name is not valid UTF-8 (rename the file)"))
            return
        if ext in extensions:
            target = out.files
        elif ext in other_extensions:
            target = out.other_kind
        elif explicit:
            out.skipped.append(Skipped(str(p), f"unsupported file type {ext or '(no extension)'}"))
            return
        else:
            out.ignored += 1
            return
        key = p.resolve()
        if key in seen:
            return
        seen.add(key)
        try:
            target.append(_stat_entry(p))
        except FileNotFoundError:
            out.skipped.append(Skipped(str(p), "file is gone (deleted or a broken link)"))
        except OSError as e:
            out.skipped.append(Skipped(str(p), f"cannot read file: {e.strerror or e}"))

    for raw in paths:
        p = Path(raw).expanduser().absolute()
        if p.is_dir():
            for f in _walk(p, out.skipped):
                add(f, explicit=False)
        elif p.exists() or p.is_symlink():
            add(p, explicit=True)
        else:
            out.skipped.append(Skipped(str(p), "path does not exist"))
    out.files.sort(key=lambda e: str(e.path))
    out.other_kind.sort(key=lambda e: str(e.path))
    return out


def _walk(root: Path, skipped: list[Skipped]) -> Iterator[Path]:
    def onerror(e: OSError) -> None:
        skipped.append(Skipped(str(e.filename or root), f"cannot list folder: {e.strerror or e}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


# --- reading -----------------------------------------------------------------
def read_file(path: Path) -> bytes:
    """The file's bytes; SkipFile for a file that is gone, unreadable or empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SkipFile("file is gone (deleted after it was found)") from None
    except PermissionError:
        raise SkipFile("permission denied (the file is not readable)") from None
    except IsADirectoryError:
        raise SkipFile("is a folder, not a file") from None
    except OSError as e:
        raise SkipFile(f"cannot read file: {e.strerror or e}") from None
    if not data:
        raise SkipFile("empty file (0 bytes)")
    return data


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Streaming sha256 of a file (SkipFile when it cannot be read)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise SkipFile("file is gone (deleted after it was found)") from None
    except PermissionError:
        raise SkipFile("permission denied (the file is not readable)") from None
    except OSError as e:
        raise SkipFile(f"cannot read file: {e.strerror or e}") from None
    return h.hexdigest()


# --- EXIF --------------------------------------------------------------------
def _exif_time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().rstrip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    return None


def _clean(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "ignore")
    return str(value).strip().rstrip("\x00").strip() if value is not None else ""


def exif_fields(im: Image.Image) -> tuple[int, str | None, str | None]:
    """(orientation 1-8, capture time as ISO text or None, camera "Make Model" or None)."""
    try:
        exif = im.getexif()
    except Exception:
        return 1, None, None
    if not exif:
        return 1, None, None
    try:
        orientation = int(exif.get(_EXIF_ORIENTATION, 1) or 1)
    except (TypeError, ValueError):
        orientation = 1
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    taken = _exif_time(sub.get(_EXIF_DATETIME_ORIGINAL)) or _exif_time(exif.get(_EXIF_DATETIME))
    make, model = _clean(exif.get(_EXIF_MAKE)), _clean(exif.get(_EXIF_MODEL))
    if make and model.lower().startswith(make.lower()):
        make = ""
    camera = " ".join(x for x in (make, model) if x) or None
    return orientation if 1 <= orientation <= 8 else 1, taken, camera


# --- decoding ----------------------------------------------------------------
@dataclass
class ImageInfo:
    """Per-image fields stored in the collection (sizes after EXIF orientation)."""

    path: str
    file_name: str
    folder: str
    width: int
    height: int
    bytes: int
    modified: float
    format: str
    sha256: str
    taken_at: str | None
    camera: str | None


@dataclass
class DecodedImage:
    """A decoded image: its fields and an RGB image (EXIF-oriented, reduced to a working size).

    `scale` maps working-image pixels to original pixels (original = working * scale).
    """

    info: ImageInfo
    image: Image.Image
    scale: float


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB version of any mode; transparency is composited onto white."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L") if im.mode != "I" else im.convert("L")
    return im if im.mode == "RGB" else im.convert("RGB")


def decode_image(entry: FileEntry, min_side: int = MODEL_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS,
                 data: bytes | None = None, digest: str | None = None) -> DecodedImage:
    """Read, hash and decode one image file; raise SkipFile with a reason when it is unusable.

    The returned image keeps at least `min_side` pixels on its short side (less
    only when the original is smaller) and less than twice that; JPEGs are
    decoded at reduced scale.
    """
    if data is None:
        data = read_file(entry.path)
    elif not data:
        raise SkipFile("empty file (0 bytes)")
    digest = digest or sha256_bytes(data)
    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise SkipFile(f"refused by the decompression-bomb guard: {e}") from None
    except UnidentifiedImageError:
        raise SkipFile("not an image (or an unsupported image format)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise SkipFile(f"not a readable image: {e}") from None
    w0, h0 = im.size
    if w0 <= 0 or h0 <= 0:
        raise SkipFile(f"image has no pixels ({w0}x{h0})")
    if w0 * h0 > max_pixels:
        raise SkipFile(
            f"image is {w0}x{h0} = {w0 * h0:,} pixels, over the decompression-bomb limit of {max_pixels:,}"
        )
    fmt = "JPEG" if im.format == "MPO" else (im.format or "unknown")
    orientation, taken, camera = exif_fields(im)
    try:
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        if fmt == "JPEG":
            im.draft("RGB", (min_side, min_side))
        im.load()
    except Image.DecompressionBombError as e:
        raise SkipFile(f"refused by the decompression-bomb guard: {e}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg.lower():
            raise SkipFile(f"truncated image ({msg})") from None
        raise SkipFile(f"corrupt image data ({msg})") from None
    try:
        oriented: Image.Image = ImageOps.exif_transpose(im) if orientation != 1 else im
        rgb = to_rgb(oriented)
    except (OSError, ValueError) as e:
        raise SkipFile(f"cannot convert image: {e}") from None
    width, height = (h0, w0) if orientation in (5, 6, 7, 8) else (w0, h0)
    factor = min(rgb.size) // min_side
    if factor >= 2:  # cheap integer box reduction; the model's own resize does the rest
        rgb = rgb.reduce(factor)
    info = ImageInfo(
        path=str(entry.path),
        file_name=entry.path.name,
        folder=entry.path.parent.name,
        width=width,
        height=height,
        bytes=len(data),
        modified=entry.mtime,
        format=fmt,
        sha256=digest,
        taken_at=taken,
        camera=camera,
    )
    return DecodedImage(info, rgb, scale=width / rgb.width)


# --- thumbnails and views ----------------------------------------------------
def save_thumbnail(image: Image.Image, dest: Path, side: int = THUMBNAIL_SIDE) -> Path:
    """Write a JPEG thumbnail fitting `side` x `side` to `dest` (atomically; kept if present)."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    thumb = image.copy()
    thumb.thumbnail((side, side), Image.Resampling.BICUBIC)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{id(thumb)}.tmp")
    thumb.save(tmp, "JPEG", quality=85)
    os.replace(tmp, dest)
    return dest


def grid_boxes(width: int, height: int, grid: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of a `grid` x `grid` tiling, each cell grown by `overlap` of its size."""
    boxes = []
    cw, ch = width / grid, height / grid
    for r in range(grid):
        for c in range(grid):
            x0, y0 = c * cw - overlap * cw / 2, r * ch - overlap * ch / 2
            x1, y1 = (c + 1) * cw + overlap * cw / 2, (r + 1) * ch + overlap * ch / 2
            boxes.append((max(0, round(x0)), max(0, round(y0)), min(width, round(x1)), min(height, round(y1))))
    return boxes


def views_of(image: Image.Image, grid: int) -> list[tuple[tuple[int, int, int, int], Image.Image]]:
    """The whole image and its grid crops, as (box in working-image pixels, crop)."""
    w, h = image.size
    out = [((0, 0, w, h), image)]
    for box in grid_boxes(w, h, grid):
        out.append((box, image.crop(box)))
    return out
