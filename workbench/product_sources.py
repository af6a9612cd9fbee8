"""Where products come from: a folder per product, or a CSV/JSONL manifest. Read into `ProductSpec`s.

**Folders.** `products/<sku>/*.jpg`: each folder holding images is one product, named by the folder
(the SKU). A folder given that holds images itself is one product. An optional `product.json` in the
folder gives `title` (or `name`), `price`, `description`, `category` and `primary` (the file name of
the main image). Each image's angle is its file name without the extension (`front.jpg`: "front");
the main image is the one `primary` names, else one named primary, main or front, else the first.

**Manifests.** A `.csv`, `.jsonl` or `.ndjson` file, one line per image: `sku` and `image` (also
`path` or `image_path`; relative to the manifest's folder) are required columns; `title` (or `name`),
`price`, `angle`, `is_primary` (true/false, 1/0, yes/no), `description` and `category` are optional.
A JSONL line may instead hold one product with an `images` list of objects (`path` or `image`,
`angle`, `is_primary`). Lines of one SKU make one product (its first line's title and price win).

A missing required column stops the run (InputError naming the file and the column). A bad line or a
bad value (a price that is not a number, say) skips its product, reported with the line and the value.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.images import IMAGE_EXTENSIONS, Skipped
from workbench.settings import InputError

MANIFEST_EXTENSIONS = frozenset({".csv", ".jsonl", ".ndjson"})
PRIMARY_NAMES = ("primary", "main", "front")
_TRUE, _FALSE = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f", ""}


@dataclass(frozen=True)
class ProductImage:
    """One image of a product: its file, angle ("" when not given) and whether it is the main one."""

    path: Path
    angle: str = ""
    is_primary: bool = False


@dataclass
class ProductSpec:
    """A product to ingest: SKU, metadata and images (the main image first)."""

    sku: str
    title: str | None = None
    price: float | None = None
    description: str | None = None
    category: str | None = None
    images: list[ProductImage] = field(default_factory=list)
    source: str = ""  # the folder or manifest (and line) it came from
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What identifies this version of the product (metadata and image list), for its digest."""
        return {"sku": self.sku, "title": self.title, "price": self.price, "description": self.description,
                "category": self.category, "images": [(str(i.path), i.angle, i.is_primary) for i in self.images]}


@dataclass
class ProductSources:
    """The products found, and the lines or folders that could not be read (with the reason)."""

    products: list[ProductSpec] = field(default_factory=list)
    bad: list[Skipped] = field(default_factory=list)


def read_sources(paths: list[Path]) -> ProductSources:
    """Products from product folders and manifests (see the module docstring), in SKU order; the same SKU
    from two sources is reported and only its first kept."""
    out = ProductSources()
    for p in paths:
        if p.is_dir():
            _read_folders(p, out)
        elif p.suffix.lower() in MANIFEST_EXTENSIONS:
            _read_manifest(p, out)
        elif p.exists():
            raise InputError(f"{p}: a product source is a folder of product folders or a manifest "
                             f"({', '.join(sorted(MANIFEST_EXTENSIONS))}), not a {p.suffix or 'file'} file")
        else:
            raise InputError(f"{p}: no such file or folder")
    seen: dict[str, ProductSpec] = {}
    for prod in out.products:
        if prod.sku in seen:
            out.bad.append(Skipped(prod.source, f"SKU {prod.sku!r} again (first from {seen[prod.sku].source}); "
                                                "this one is not ingested"))
        else:
            seen[prod.sku] = prod
    out.products = sorted(seen.values(), key=lambda s: s.sku)
    return out


# --- folders --------------------------------------------------------------------------------------
def _images_in(folder: Path) -> list[Path]:
    try:
        return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")
                      and f.suffix.lower() in IMAGE_EXTENSIONS)
    except OSError as e:
        raise InputError(f"cannot list folder {folder}: {e.strerror or e}") from None


def _read_folders(root: Path, out: ProductSources) -> None:
    folders = [root] if _images_in(root) else sorted(d for d in root.iterdir() if d.is_dir() and
                                                     not d.name.startswith("."))
    found = 0
    for d in folders:
        files = _images_in(d)
        if not files:
            continue
        found += 1
        prod = ProductSpec(d.name, source=str(d))
        primary_name = None
        meta = d / "product.json"
        if meta.exists():
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
                if not isinstance(info, dict):
                    raise ValueError("it is not a JSON object")
                _set_metadata(prod, info, str(meta))
                primary_name = info.get("primary")
            except (OSError, ValueError) as e:
                out.bad.append(Skipped(str(meta), f"cannot read product.json: {e}; product {d.name!r} not ingested"))
                continue
        stems = [f.stem.lower() for f in files]
        if primary_name is not None and primary_name not in [f.name for f in files]:
            out.bad.append(Skipped(str(meta), f"primary {primary_name!r} is not an image in {d}; product "
                                              f"{d.name!r} not ingested"))
            continue
        main = next((i for i, f in enumerate(files) if f.name == primary_name), None) if primary_name else None
        if main is None:
            main = next((stems.index(n) for n in PRIMARY_NAMES if n in stems), 0)
        prod.images = [ProductImage(f, f.stem, i == main) for i, f in enumerate(files)]
        prod.images.sort(key=lambda im: not im.is_primary)
        out.products.append(prod)
    if not found:
        raise InputError(f"no product folders with images in {root} (expected {root}/<sku>/*.jpg)")


# --- manifests ------------------------------------------------------------------------------------
def _read_manifest(path: Path, out: ProductSources) -> None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read manifest {path}: {e}") from None
    lines: list[tuple[str, dict[str, Any]]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        cols = {c.strip().lower() for c in reader.fieldnames or []}
        for col, alts in (("sku", ("sku",)), ("image", ("image", "path", "image_path"))):
            if not cols & set(alts):
                raise InputError(f"manifest {path} has no {col!r} column (its columns: {', '.join(sorted(cols))})")
        for n, row in enumerate(reader, 2):
            lines.append((f"{path}:{n}", {str(k).strip().lower(): v for k, v in row.items() if k is not None}))
    else:
        for n, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as e:
                out.bad.append(Skipped(f"{path}:{n}", f"not JSON: {e}"))
                continue
            if not isinstance(obj, dict):
                out.bad.append(Skipped(f"{path}:{n}", "not a JSON object"))
                continue
            obj = {str(k).lower(): v for k, v in obj.items()}
            if isinstance(obj.get("images"), list):
                for el in obj.pop("images"):
                    lines.append((f"{path}:{n}", dict(obj, **({str(k).lower(): v for k, v in el.items()}
                                                              if isinstance(el, dict) else {"image": el}))))
            else:
                lines.append((f"{path}:{n}", obj))
    by_sku: dict[str, ProductSpec] = {}
    broken: set[str] = set()
    for where, row in lines:
        sku = str(row.get("sku") or "").strip()
        image = row.get("image") or row.get("path") or row.get("image_path")
        if not sku:
            out.bad.append(Skipped(where, "no sku on this line"))
            continue
        if sku in broken:
            continue
        prod = by_sku.get(sku)
        try:
            if not image or not str(image).strip():
                raise ValueError("no image path (column image)")
            if prod is None:
                prod = ProductSpec(sku, source=where)
                _set_metadata(prod, row, where)
            elif row.get("title") and str(row["title"]) != (prod.title or ""):
                prod.notes.append(f"{where}: title {row['title']!r} differs from the first line's; kept "
                                  f"{prod.title!r}")
            primary = _bool(row.get("is_primary"), "is_primary")
        except ValueError as e:
            out.bad.append(Skipped(where, f"{e}; product {sku!r} not ingested"))
            broken.add(sku)
            by_sku.pop(sku, None)
            continue
        p = Path(str(image).strip()).expanduser()
        prod.images.append(ProductImage(p if p.is_absolute() else path.parent / p,
                                        str(row.get("angle") or "").strip(), primary))
        by_sku[sku] = prod
    for prod in by_sku.values():
        primaries = [i for i, im in enumerate(prod.images) if im.is_primary]
        if len(primaries) > 1:
            prod.notes.append(f"{prod.source}: {len(primaries)} images marked is_primary; the first is the main one")
        main = primaries[0] if primaries else 0
        prod.images = [ProductImage(im.path, im.angle, i == main) for i, im in enumerate(prod.images)]
        prod.images.sort(key=lambda im: not im.is_primary)
        out.products.append(prod)


def _bool(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"{name} is {v!r}, not true or false")


def _set_metadata(prod: ProductSpec, info: dict[str, Any], where: str) -> None:
    """Title, price, description and category from a product.json or a manifest line (ValueError names
    the field and the value that is wrong)."""
    title = info.get("title", info.get("name"))
    prod.title = None if title in (None, "") else str(title)
    price = info.get("price")
    if price not in (None, ""):
        try:
            value = float(str(price).strip()) if not isinstance(price, (int, float)) else float(price)
        except ValueError:
            raise ValueError(f"price is {price!r}, not a number") from None
        if isinstance(price, bool) or not math.isfinite(value):
            raise ValueError(f"price is {price!r}, not a number")
        prod.price = value
    for name in ("description", "category"):
        v = info.get(name)
        setattr(prod, name, None if v in (None, "") else str(v))
