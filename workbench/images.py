"""Image files: discovery, safe decoding, EXIF, thumbnails, multi-view crops.

Decoding has two steps so that a caller can bound memory: `open_image` reads the header
and EXIF (no pixels) and says what decoding will cost (`OpenedImage.cost`, bytes);
`OpenedImage.decode()` then decodes, converts to RGB and reduces to a working size
(`workbench.pixels.rgb_reduced`, tile by tile). `decode_image` does both.

Everything here runs without torch and is safe to call from worker threads.
A file that cannot be used raises `SkipFile` with a one-line reason; ingestion
turns that into an entry of the ingest report instead of stopping.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from workbench.pixels import decode_cost, exif_fields, orient, rgb_reduced
from workbench.pixels import to_rgb as to_rgb  # re-exported: callers import it from here

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff"})
PDF_EXTENSIONS = frozenset({".pdf"})
# PIL refuses images over 2 x MAX_IMAGE_PIXELS (~179 Mpx) itself; the same limit is checked
# from the header before any pixel is decoded.
DEFAULT_MAX_PIXELS = 2 * 89_478_485
THUMBNAIL_SIDE = 256
# Short side kept for the model: CLIP resizes the short side to 224, so decode no more than this.
MODEL_SIDE = 256



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


# --- decoding ----------------------------------------------------------------
# Files up to this size are read whole: one read serves the hash and the decoder. Larger files are
# hashed while streaming and decoded from disk, so that their bytes are never all in memory.
READ_WHOLE_MAX = 32 << 20
# The working image's long side is at most this many times `min_side`: a very long panorama is
# reduced further than its short side alone would ask (its short side then ends below min_side).
MAX_ASPECT = 16


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


def read_source(entry: FileEntry) -> tuple[bytes | None, str]:
    """(the file's bytes, or None when it is larger than READ_WHOLE_MAX; its sha256)."""
    if entry.size > READ_WHOLE_MAX:
        return None, sha256_file(entry.path)
    data = read_file(entry.path)
    return data, sha256_bytes(data)


def reduce_factor(width: int, height: int, min_side: int) -> int:
    """The integer reduction that keeps the short side at least `min_side` (less than twice it),
    or more when the long side would stay over MAX_ASPECT x min_side."""
    factor = max(1, min(width, height) // min_side)
    longest = MAX_ASPECT * min_side
    if -(-max(width, height) // factor) > longest:
        factor = -(-max(width, height) // longest)
    return factor


def _load_error(e: BaseException) -> SkipFile:
    if isinstance(e, Image.DecompressionBombError):
        return SkipFile(f"refused by the decompression-bomb guard: {e}")
    msg = str(e) or type(e).__name__
    if "truncated" in msg.lower():
        return SkipFile(f"truncated image ({msg})")
    return SkipFile(f"corrupt image data ({msg})")


class OpenedImage:
    """An image file whose header is read and checked but whose pixels are not decoded yet.

    `info` holds the stored fields. `cost` is the peak memory (bytes) that `decode()` takes: the
    pixels at the size the loader produces (JPEGs already scaled down by draft mode), the
    conversion tiles and the working image (`workbench.pixels.decode_cost`). Use it in a `with`
    block or call `close()`; `decode()` closes it.
    """

    def __init__(self, im: Image.Image, file: BinaryIO | None, info: ImageInfo, orientation: int,
                 factor: int, frames: int = 1) -> None:
        self._im: Image.Image | None = im
        self._file = file
        self.info = info
        self.orientation = orientation
        self.factor = factor
        self.frames = frames  # frames or pages in the file; only the first is decoded
        self._exif_after_pixels = im.format == "PNG" and "exif" not in im.info
        self.decoded_size = im.size  # after draft mode
        self.cost = decode_cost(im.width, im.height, im.mode, factor)

    def decode(self) -> DecodedImage:
        """Decode the pixels and make the RGB working image; SkipFile when the data is bad."""
        im = self._im
        if im is None:
            raise RuntimeError(f"{self.info.path}: image already decoded or closed")
        try:
            try:
                im.load()
            except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError) as e:
                raise _load_error(e) from None
            if self._exif_after_pixels and "exif" in im.info:
                self._late_exif(im.info["exif"])
            try:
                rgb = orient(rgb_reduced(im, self.factor), self.orientation)
            except (OSError, ValueError) as e:
                raise SkipFile(f"cannot convert image: {e}") from None
        finally:
            del im
            self.close()
        return DecodedImage(self.info, rgb, scale=self.info.width / rgb.width)

    def _late_exif(self, raw: bytes) -> None:
        """EXIF found only with the pixels (a PNG's eXIf chunk after its image data)."""
        exif = Image.Exif()
        try:
            exif.load(raw)
        except Exception:
            return
        orientation, taken, camera = exif_fields(exif)
        w, h = self.info.width, self.info.height
        if (orientation in (5, 6, 7, 8)) != (self.orientation in (5, 6, 7, 8)):
            w, h = h, w
        self.orientation = orientation
        self.info = replace(self.info, width=w, height=h, taken_at=taken, camera=camera)

    def close(self) -> None:
        """Drop the undecoded image and close the file it reads from."""
        self._im = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> OpenedImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(path: Path, data: bytes | None) -> tuple[Image.Image, BinaryIO | None]:
    file: BinaryIO | None = None
    try:
        if data is None:
            file = open(path, "rb")  # closed by OpenedImage.close
            return Image.open(file), file
        return Image.open(io.BytesIO(data)), None
    except BaseException as e:
        if file is not None:
            file.close()
        if isinstance(e, Image.DecompressionBombError):
            raise SkipFile(f"refused by the decompression-bomb guard: {e}") from None
        if isinstance(e, UnidentifiedImageError):
            raise SkipFile("not an image (or an unsupported image format)") from None
        if isinstance(e, FileNotFoundError):
            raise SkipFile("file is gone (deleted after it was found)") from None
        if isinstance(e, PermissionError):
            raise SkipFile("permission denied (the file is not readable)") from None
        if isinstance(e, (OSError, ValueError, SyntaxError)):
            raise SkipFile(f"not a readable image: {e}") from None
        raise


def open_image(entry: FileEntry, min_side: int = MODEL_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS,
               data: bytes | None = None, digest: str | None = None) -> OpenedImage:
    """Read an image's header and EXIF without decoding its pixels; SkipFile when it is unusable.

    `data` and `digest` are the file's bytes and sha256 when the caller has them (`read_source`);
    with `digest` but no `data` the file is decoded from disk. The pixel limit `max_pixels` (the
    decompression-bomb guard) is checked here, before any pixel is decoded.
    """
    if data is None and digest is None:
        data, digest = read_source(entry)
    elif data is not None and not data:
        raise SkipFile("empty file (0 bytes)")
    if digest is None:
        assert data is not None
        digest = sha256_bytes(data)
    im, file = _open(entry.path, data)
    try:
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
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1:
                im.seek(0)
            if fmt == "JPEG":
                im.draft("RGB", (min_side, min_side))
        except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError) as e:
            raise _load_error(e) from None
        width, height = (h0, w0) if orientation in (5, 6, 7, 8) else (w0, h0)
        info = ImageInfo(
            path=str(entry.path), file_name=entry.path.name, folder=entry.path.parent.name,
            width=width, height=height, bytes=len(data) if data is not None else entry.size,
            modified=entry.mtime, format=fmt, sha256=digest, taken_at=taken, camera=camera,
        )
        return OpenedImage(im, file, info, orientation, reduce_factor(im.width, im.height, min_side), frames)
    except BaseException:
        if file is not None:
            file.close()
        raise


def decode_image(entry: FileEntry, min_side: int = MODEL_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS,
                 data: bytes | None = None, digest: str | None = None) -> DecodedImage:
    """Read, hash and decode one image file; raise SkipFile with a reason when it is unusable.

    The returned image keeps at least `min_side` pixels on its short side (less only when the
    original is smaller, or longer than MAX_ASPECT : 1) and less than twice that; JPEGs are
    decoded at reduced scale, other formats converted and reduced tile by tile
    (`workbench.pixels.rgb_reduced`).
    """
    return open_image(entry, min_side, max_pixels, data, digest).decode()


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
