"""Generated pictures with planted duplicates, and generated product catalogues.

`plant_folder` draws distinct scenes (random overlapping shapes, blurred a little, so no two are alike)
and plants edited copies of some of them: byte copies, JPEG re-encodes, resizes, centre and corner
crops, colour shifts and brightness changes. It returns the planted groups, the ground truth the
duplicate scans are measured against. `product_folders` and `product_manifest` make a catalogue of
products with front, side and angle shots of one drawn object each.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


def scene(seed: int, w: int = 320, h: int = 240) -> Image.Image:
    """A picture of 6 to 13 random coloured ellipses and rectangles (distinct per seed)."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (w, h), tuple(int(x) for x in rng.integers(0, 256, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = int(rng.integers(-40, w)), int(rng.integers(-40, h))
        x1, y1 = x0 + int(rng.integers(20, w * 2 // 3)), y0 + int(rng.integers(20, h * 2 // 3))
        col = tuple(int(x) for x in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=col)
    return im.filter(ImageFilter.GaussianBlur(1.0))


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _shift(im: Image.Image, red: int) -> Image.Image:
    a = np.asarray(im).astype(np.int16)
    a[..., 0] += red
    a[..., 2] -= red // 2
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _crop(im: Image.Image, left: float, top: float, keep: float) -> Image.Image:
    w, h = im.size
    x0, y0 = int(left * w), int(top * h)
    return im.crop((x0, y0, x0 + int(keep * w), y0 + int(keep * h)))


EDITS: dict[str, Any] = {
    "reencode": lambda im: _jpeg(im, 35),
    "resize": lambda im: im.resize((im.width * 3 // 5, im.height * 3 // 5), Image.Resampling.BILINEAR),
    "crop_centre": lambda im: _crop(im, 0.05, 0.05, 0.90),
    "crop_corner": lambda im: _crop(im, 0.0, 0.08, 0.92),
    "colour": lambda im: _shift(im, 14),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.08),
}


def plant_folder(folder: Path, n_base: int = 40, seed: int = 0) -> tuple[list[set[Path]], dict[Path, str]]:
    """`n_base` scenes as JPEGs in `folder`, about half of them with 1 to 3 planted copies (a byte copy or
    an edit of `EDITS`, in a subfolder). Returns the planted groups (original and its copies) and what
    each copy is ("copy" or the edit's name)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "planted").mkdir(exist_ok=True)
    groups: list[set[Path]] = []
    kinds: dict[Path, str] = {}
    names = list(EDITS)
    for i in range(n_base):
        im = scene(seed * 1000 + i)
        src = folder / f"scene-{i:03d}.jpg"
        im.save(src, "JPEG", quality=92)
        if i % 2:
            continue
        group = {src}
        for k in rng.choice(len(names) + 1, int(rng.integers(1, 4)), replace=False):
            if k == len(names):
                dst = folder / "planted" / f"scene-{i:03d}-copy.jpg"
                shutil.copyfile(src, dst)
                kinds[dst] = "copy"
            else:
                dst = folder / "planted" / f"scene-{i:03d}-{names[k]}.jpg"
                EDITS[names[k]](Image.open(src).convert("RGB")).save(dst, "JPEG", quality=90)
                kinds[dst] = names[k]
            group.add(dst)
        groups.append(group)
    return groups, kinds


def pair_scores(found: list[set[Any]], truth: list[set[Any]]) -> tuple[float, float]:
    """(precision, recall) of the same-cluster pairs of `found` against those of `truth`."""
    def pairs(groups: list[set[Any]]) -> set[frozenset[Any]]:
        return {frozenset((a, b)) for g in groups for a in g for b in g if a != b}

    got, want = pairs(found), pairs(truth)
    hit = len(got & want)
    return (hit / len(got) if got else 1.0), (hit / len(want) if want else 1.0)


# --- products ------------------------------------------------------------------------------------
ANGLES = ("front", "side", "angle")


def product_view(product: int, view: int, size: int = 224) -> Image.Image:
    """View `view` of product `product`: the product's object, shifted, scaled and turned a little."""
    rng = np.random.default_rng(product)
    bg = tuple(int(x) for x in rng.integers(150, 256, 3))
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    shapes = [(rng.integers(0, 2), rng.integers(20, 120, 2), rng.integers(40, 110, 2),
               tuple(int(x) for x in rng.integers(0, 200, 3))) for _ in range(5)]
    vr = np.random.default_rng(product * 100 + view)
    dx, dy = (int(v) for v in vr.integers(-12, 13, 2))
    s = 1.0 + 0.08 * view
    for kind, (x, y), (w, h), col in shapes:
        box = [x * s + dx, y * s + dy, (x + w) * s + dx, (y + h) * s + dy]
        (d.ellipse if kind else d.rectangle)(box, fill=col)
    return im.rotate(6 * view, fillcolor=bg).filter(ImageFilter.GaussianBlur(0.8))


def product_folders(root: Path, n: int, views: int = 3) -> Path:
    """`root/<sku>/<angle>.jpg` for `n` products (sku "SKU-000"...), each with a product.json (title, price)."""
    for p in range(n):
        d = root / f"SKU-{p:03d}"
        d.mkdir(parents=True, exist_ok=True)
        for v in range(views):
            product_view(p, v).save(d / f"{ANGLES[v % len(ANGLES)]}{v // len(ANGLES) or ''}.jpg", quality=90)
        (d / "product.json").write_text(json.dumps({"title": f"Product {p}", "price": 10.0 + p,
                                                    "category": ("mugs", "lamps", "chairs")[p % 3]}))
    return root


def product_manifest(root: Path, n: int, views: int = 3, fmt: str = "csv") -> Path:
    """Images in `root/images/` and a manifest (CSV or JSONL): one line per image, with sku, title, price,
    image, angle and is_primary."""
    img = root / "images"
    img.mkdir(parents=True, exist_ok=True)
    lines = []
    for p in range(n):
        for v in range(views):
            name = f"p{p:03d}-{v}.jpg"
            product_view(p, v).save(img / name, quality=90)
            lines.append({"sku": f"SKU-{p:03d}", "title": f"Product {p}", "price": f"{10 + p}.50",
                          "image": f"images/{name}", "angle": ANGLES[v % len(ANGLES)],
                          "is_primary": "true" if v == 0 else "false"})
    path = root / f"manifest.{fmt}"
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(lines[0]))
            w.writeheader()
            w.writerows(lines)
    else:
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
