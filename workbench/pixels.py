"""Pixel work that keeps memory small: EXIF fields, conversion to RGB, reduction in tiles.

A decoded full-size image is the largest thing ingestion holds. `rgb_reduced` converts it to
RGB and reduces it by an integer factor one tile at a time, so that besides the decoded image
only a tile and the (small) result are in memory, where converting first would make one or two
more full-size copies (RGBA to RGB composited on white, palette to RGB, 16-bit to 8-bit).
The result is the same as `to_rgb(im).reduce(factor)`. No torch here; safe on worker threads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PIL import Image

# Bytes per pixel of the modes Pillow holds in fewer than 4 bytes (all others, RGB included, take 4).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# A tile of the conversion holds about this many bytes of 4-byte pixels.
TILE_BYTES = 4 << 20

_EXIF_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 36867
_EXIF_DATETIME = 306
_EXIF_MAKE = 271
_EXIF_MODEL = 272
# What ImageOps.exif_transpose does for each EXIF orientation.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def pixel_bytes(mode: str) -> int:
    """Bytes per pixel that Pillow uses to hold an image of `mode` (RGB is held in 4)."""
    return _PIXEL_BYTES.get(mode, 4)


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


def read_exif(im: Image.Image) -> Image.Exif:
    """The EXIF of an opened image without decoding its pixels: Pillow looks for a PNG's eXIf
    chunk past the pixel data by decoding them all, so for a PNG only what its header holds is
    read here; `im.info["exif"]` has the rest once the image is loaded."""
    if im.format == "PNG" and "exif" not in im.info:
        return Image.Image.getexif(im)
    return im.getexif()


def exif_fields(im: Image.Image | Image.Exif) -> tuple[int, str | None, str | None]:
    """(orientation 1-8, capture time as ISO text or None, camera "Make Model" or None) of an
    image (read with `read_exif`) or of its EXIF."""
    try:
        exif = im if isinstance(im, Image.Exif) else read_exif(im)
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


def orient(im: Image.Image, orientation: int) -> Image.Image:
    """`im` turned the way EXIF `orientation` (1-8) says, as ImageOps.exif_transpose would."""
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


# --- conversion ---------------------------------------------------------------
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


def reduced_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """The size of an image reduced by `factor` (rounded up, as `Image.reduce` does)."""
    return -(-width // factor), -(-height // factor)


def tiles(width: int, height: int, factor: int, max_bytes: int | None = None) -> list[tuple[int, int, int, int]]:
    """Boxes covering the image in row order, their edges on multiples of `factor`, each about
    `max_bytes` (default TILE_BYTES) of 4-byte pixels (at least one factor x factor block)."""
    max_bytes = max_bytes or TILE_BYTES
    block = min(factor, width) * min(factor, height) * 4
    per_tile = max(1, max_bytes // block)  # blocks in a tile
    across = -(-width // factor)
    if per_tile >= across:  # whole rows of blocks
        tw, th = width, factor * (per_tile // across)
    else:  # part of one row of blocks
        tw, th = factor * per_tile, factor
    return [(x, y, min(x + tw, width), min(y + th, height))
            for y in range(0, height, th) for x in range(0, width, tw)]


def rgb_reduced(im: Image.Image, factor: int, max_bytes: int | None = None) -> Image.Image:
    """`to_rgb(im).reduce(factor)` (or `to_rgb(im)` for factor 1), made tile by tile so that no
    full-size copy of `im` is made. `im` is loaded by the first tile if it is not yet."""
    boxes = tiles(im.width, im.height, factor, max_bytes)
    if len(boxes) == 1:
        rgb = to_rgb(im)
        return rgb.reduce(factor) if factor > 1 else rgb
    out = Image.new("RGB", reduced_size(im.width, im.height, factor))
    for box in boxes:
        tile = to_rgb(im.crop(box))
        if factor > 1:
            tile = tile.reduce(factor)
        out.paste(tile, (box[0] // factor, box[1] // factor))
    return out


def decode_cost(width: int, height: int, mode: str, factor: int, max_bytes: int | None = None) -> int:
    """Peak bytes of decoding a `width` x `height` image of `mode` and making its RGB working image
    with `rgb_reduced(factor)`: the decoded pixels, a tile and its conversions (up to four copies:
    crop, RGBA, RGB, alpha), and three copies of the working image (result, oriented, thumbnail)."""
    decoded = width * height * pixel_bytes(mode)
    tile = min(width * height * 4, max(max_bytes or TILE_BYTES, min(factor, width) * min(factor, height) * 4))
    w, h = reduced_size(width, height, factor)
    return decoded + 4 * tile + 3 * w * h * 4
