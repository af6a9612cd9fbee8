"""Duplicates in a collection: exact (sha256), perceptual (pHash) and near (vectors), as clusters.

    scan = run(near_scan(backend, "photos", threshold=0.95))     # or exact_scan / perceptual_scan
    for cluster in scan.clusters(0.97):                          # any threshold at least as strict
        print(cluster.keep, cluster.others)

Each scan is a generator: it yields `ScanProgress` events and returns a `DuplicateScan` (the value of
its StopIteration; `run` drives one to the end). Close it to cancel; nothing is written.

- **exact**: rows with the same `sha256` (ingestion records the file's hash);
- **perceptual**: images within `max_distance` bits of each other by their perceptual hashes
  (`workbench.perceptual`), read from the `phash` field, or computed from the files where the
  collection has no such field (older collections; the files must still be there);
- **near**: every pair of rows at least as similar as `threshold` on a vector field, by the engine's
  batched k-NN self-join (`workbench.near_join`); for an Array of Structs sub-field, MAX_SIM between
  whole entities.

`DuplicateScan.clusters(t)` joins the pairs at least as close as `t` into clusters with a union-find
(connected components), so the threshold can be moved without searching again, down to the scan's own.
`histogram()` counts each row's nearest-neighbour score, to help choose it. In each cluster the row to
keep comes first: the largest image (width x height), then the largest file, then the smallest path
or primary key.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from workbench.backends import Backend, primary_field, vector_paths
from workbench.images import FileEntry, SkipFile, Skipped, decode_image
from workbench.near_join import larger_is_closer, ordered, per_element, self_join, sort_key
from workbench.perceptual import DEFAULT_MAX_DISTANCE, image_hashes, is_valid, near_pairs
from workbench.settings import CollectionError, InputError
from workbench.targets import ensure_loaded, require_collection

DISPLAY_FIELDS = ("path", "file_name", "thumbnail", "width", "height", "bytes", "sha256", "name")
MODES = ("exact", "perceptual", "near")
T = TypeVar("T")
NEAR_THRESHOLD = 0.98  # the computer-vision guide's cosine similarity for near-duplicates


@dataclass(frozen=True)
class ScanProgress:
    """One progress event: `phase` ("reading", "hashing", "comparing", "searching", "describing")."""

    phase: str
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass
class Cluster:
    """A group of duplicates: `members` with the one to keep first; `closest` is its closest pair's score."""

    members: list[Any]
    closest: float

    @property
    def keep(self) -> Any:
        return self.members[0]

    @property
    def others(self) -> list[Any]:
        return self.members[1:]


class DisjointSets:
    """Union-find with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}
        self.size: dict[Any, int] = {}

    def find(self, x: Any) -> Any:
        parent = self.parent
        if x not in parent:
            parent[x] = x
            self.size[x] = 1
            return x
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def groups(self) -> list[list[Any]]:
        out: dict[Any, list[Any]] = {}
        for x in self.parent:
            out.setdefault(self.find(x), []).append(x)
        return list(out.values())


@dataclass
class DuplicateScan:
    """The result of a scan: pairs at least as close as `threshold`, each row's nearest neighbour, and
    what is needed to show the rows (`info`: path, thumbnail, size... of the rows in pairs)."""

    mode: str
    collection: str
    field: str | None
    metric: str  # "SHA256" (exact), "HAMMING" (perceptual, bits), or the vector field's metric
    threshold: float
    pairs: list[tuple[Any, Any, float]]
    nearest: dict[Any, tuple[Any, float]]
    rows_scanned: int
    info: dict[Any, dict[str, Any]] = dataclasses.field(default_factory=dict)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    elapsed_s: float = 0.0
    _curve: tuple[np.ndarray, np.ndarray, np.ndarray] | None = dataclasses.field(default=None, repr=False,
                                                                                  compare=False)

    @property
    def larger_is_closer(self) -> bool:
        return self.mode == "near" and larger_is_closer(self.metric)

    def passes(self, score: float, threshold: float | None = None) -> bool:
        """Whether a pair's score is at least as close as `threshold` (the scan's by default)."""
        t = self.threshold if threshold is None else threshold
        return score >= t if self.larger_is_closer else score <= t

    def check_threshold(self, threshold: float) -> None:
        """InputError when `threshold` is looser than the scan's (its pairs were not collected)."""
        if self.passes(self.threshold, threshold) and threshold != self.threshold:
            raise InputError(f"threshold {threshold} is looser than the scan's {self.threshold}: scan again with it "
                             "to see those pairs")

    def clusters(self, threshold: float | None = None) -> list[Cluster]:
        """Connected components of the pairs at least as close as `threshold`, largest first."""
        if threshold is not None:
            self.check_threshold(threshold)
        sets = DisjointSets()
        best: dict[Any, float] = {}
        for a, b, s in self.pairs:
            if self.passes(s, threshold):
                sets.union(a, b)
        for a, _b, s in self.pairs:
            if self.passes(s, threshold):
                root = sets.find(a)
                best[root] = s if root not in best else (max(best[root], s) if self.larger_is_closer
                                                         else min(best[root], s))
        out = [Cluster(sorted(g, key=self.keep_order), best[sets.find(g[0])]) for g in sets.groups()]
        out.sort(key=lambda c: (-len(c.members), -c.closest if self.larger_is_closer else c.closest,
                                sort_key(c.keep)))
        return out

    def count_at(self, threshold: float) -> tuple[int, int]:
        """(clusters, rows that "keep one, mark the rest" would mark) at `threshold`, for a slider: a binary
        search in a curve made once by adding the pairs closest first to a union-find."""
        self.check_threshold(threshold)
        scores, clusters, marked = self._threshold_curve()
        # pairs passing `threshold` are a prefix of the closest-first order
        key = -threshold if self.larger_is_closer else threshold
        n = int(np.searchsorted(scores, key, side="right"))
        return (int(clusters[n - 1]), int(marked[n - 1])) if n else (0, 0)

    def _threshold_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._curve is None:
            order = sorted(self.pairs, key=lambda p: -p[2] if self.larger_is_closer else p[2])
            sets = DisjointSets()
            comps = touched = 0
            keys, clusters, marked = [], [], []
            for a, b, s in order:
                for node in (a, b):
                    if node not in sets.parent:
                        sets.find(node)
                        touched += 1
                        comps += 1
                if sets.find(a) != sets.find(b):
                    sets.union(a, b)
                    comps -= 1
                keys.append(-s if self.larger_is_closer else s)
                clusters.append(comps)
                marked.append(touched - comps)
            self._curve = (np.asarray(keys, dtype=np.float64), np.asarray(clusters), np.asarray(marked))
        return self._curve

    def keep_order(self, pk: Any) -> tuple[Any, ...]:
        """Sort key putting the row to keep first: most pixels, largest file, then path or key."""
        r = self.info.get(pk, {})
        pixels = int(r.get("width") or 0) * int(r.get("height") or 0)
        return (-pixels, -int(r.get("bytes") or 0), str(r.get("path") or ""), sort_key(pk))

    def histogram(self, bins: int = 40) -> tuple[list[float], list[int]]:
        """(bin edges, counts) of each row's nearest-neighbour score (similarity, distance or bits)."""
        scores = np.array([s for _pk, s in self.nearest.values()], dtype=np.float64)
        if not len(scores):
            return [], []
        if self.mode == "perceptual":
            edges = np.arange(0, 66, 2, dtype=np.float64) - 0.5
        else:
            lo, hi = float(scores.min()), float(scores.max())
            edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
        counts, edges = np.histogram(scores, bins=edges)
        return [float(e) for e in edges], [int(c) for c in counts]

    def marks(self, threshold: float | None = None) -> dict[Any, Any]:
        """"Keep one, mark the rest" for every cluster: {marked pk: kept pk}."""
        return {o: c.keep for c in self.clusters(threshold) for o in c.others}

    def to_dict(self, threshold: float | None = None) -> dict[str, Any]:
        """What `workbench duplicates --json` prints."""
        t = self.threshold if threshold is None else threshold
        clusters = self.clusters(threshold)
        return {"mode": self.mode, "collection": self.collection, "field": self.field, "metric": self.metric,
                "threshold": t, "rows_scanned": self.rows_scanned, "elapsed_s": round(self.elapsed_s, 3),
                "clusters": [{"keep": c.keep, "closest": c.closest,
                              "members": [dict(self.info.get(m, {}), id=m) for m in c.members]} for c in clusters],
                "pairs": [list(p) for p in self.pairs if self.passes(p[2], t)],
                "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped], "notes": self.notes}


def run(scan: Generator[ScanProgress, None, T], on_progress: Callable[[ScanProgress], None] | None = None) -> T:
    """Drive a scan (or marking, or diversity) generator to its end and return its result."""
    while True:
        try:
            ev = next(scan)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if on_progress is not None:
            on_progress(ev)


# --- reading rows ---------------------------------------------------------------------------------
def _fields(backend: Backend, collection: str) -> tuple[str, dict[str, dict[str, Any]], dict[str, Any]]:
    require_collection(backend, collection)
    ensure_loaded(backend, collection)
    schema = backend.schema(collection)
    return str(primary_field(schema)["name"]), {f["name"]: f for f in schema["fields"]}, schema


def main_image(images: Any) -> dict[str, Any]:
    """A product's main image (`is_primary`, else its first): {"image_path", "thumbnail"} as far as known."""
    elements = [e for e in images or [] if isinstance(e, dict)]
    if not elements:
        return {}
    main = next((e for e in elements if e.get("is_primary")), elements[0])
    return {k: main[f] for k, f in (("image_path", "path"), ("thumbnail", "thumbnail")) if main.get(f)}


def _display(fields: dict[str, Any], pk: str) -> list[str]:
    return [f for f in DISPLAY_FIELDS if f in fields and f != pk]


def _read(backend: Backend, collection: str, pk: str, wanted: list[str], flt: str,
          phase: str) -> Iterator[ScanProgress | list[dict[str, Any]]]:
    total = backend.count(collection, filter=flt)
    rows: list[dict[str, Any]] = []
    yield ScanProgress(phase, 0, total)
    for batch in backend.iter_rows(collection, batch_size=2000, output_fields=[pk, *wanted], filter=flt):
        rows.extend(batch)
        yield ScanProgress(phase, len(rows), max(total, len(rows)))
    yield rows


def _info(rows: list[dict[str, Any]], pk: str, display: list[str]) -> dict[Any, dict[str, Any]]:
    return {r[pk]: {f: r.get(f) for f in display} for r in rows}


# --- exact ------------------------------------------------------------------------------------------
def exact_scan(backend: Backend, collection: str, filter: str = "") -> Generator[ScanProgress, None, DuplicateScan]:
    """Rows with the same content hash (`sha256` field): clusters of identical files."""
    t0 = time.monotonic()
    pk, fields, _ = _fields(backend, collection)
    if "sha256" not in fields:
        raise CollectionError(f"collection {collection!r} has no sha256 field (ingestion of images, PDFs and "
                              "documents records one); use --perceptual or --near")
    display = _display(fields, pk)
    rows: list[dict[str, Any]] = []
    for item in _read(backend, collection, pk, display, filter, "reading"):
        if isinstance(item, list):
            rows = item
        else:
            yield item
    groups: dict[str, list[Any]] = {}
    for r in rows:
        if r.get("sha256"):
            groups.setdefault(str(r["sha256"]), []).append(r[pk])
    pairs: dict[tuple[Any, Any], float] = {}
    nearest: dict[Any, tuple[Any, float]] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=sort_key)
        for other in members[1:]:
            pairs[(members[0], other)] = 0.0
        for i, m in enumerate(members):
            nearest[m] = (members[1] if i == 0 else members[0], 0.0)
    return DuplicateScan("exact", collection, "sha256", "SHA256", 0.0, ordered(pairs, False), nearest, len(rows),
                         _info([r for r in rows if r[pk] in nearest], pk, display),
                         elapsed_s=time.monotonic() - t0)


# --- perceptual -------------------------------------------------------------------------------------
def perceptual_scan(backend: Backend, collection: str, max_distance: int = DEFAULT_MAX_DISTANCE,
                    filter: str = "", workers: int | None = None) -> Generator[ScanProgress, None, DuplicateScan]:
    """Images within `max_distance` bits by their perceptual hashes (see the module docstring)."""
    t0 = time.monotonic()
    if isinstance(max_distance, bool) or not isinstance(max_distance, int) or not 0 <= max_distance <= 64:
        raise InputError(f"the perceptual distance must be a whole number of bits from 0 to 64, not {max_distance!r}")
    pk, fields, _ = _fields(backend, collection)
    stored = "phash" in fields
    if not stored and "path" not in fields:
        raise CollectionError(f"collection {collection!r} has neither a phash field nor image paths to hash; use "
                              "--near (vectors) or --exact")
    display = _display(fields, pk)
    rows: list[dict[str, Any]] = []
    for item in _read(backend, collection, pk, display + (["phash"] if stored else []), filter, "reading"):
        if isinstance(item, list):
            rows = item
        else:
            yield item
    notes: list[str] = []
    skipped: list[Skipped] = []
    missing = [r for r in rows if not is_valid(r.get("phash"))]
    if missing:
        notes.append(f"{len(missing):,} image(s) had no stored perceptual hash" +
                     ("" if stored else f" (collection {collection!r} has no phash field: new Images collections "
                      "store it at ingestion)") + "; hashed from their files now")
        yield from _hash_files(missing, skipped, workers)
    hashed = [r for r in rows if is_valid(r.get("phash"))]
    keys = [r[pk] for r in hashed]
    joined: dict[str, Any] = {}
    for ev in near_pairs([r["phash"] for r in hashed], max_distance):
        if "pairs" in ev:
            joined = ev
        else:
            yield ScanProgress("comparing", ev["done"], ev["total"])
    pairs = {(keys[i], keys[j]) if sort_key(keys[i]) <= sort_key(keys[j]) else (keys[j], keys[i]): float(b)
             for i, j, b in joined["pairs"]}
    nearest = {keys[i]: (keys[n[0]], float(n[1])) for i, n in enumerate(joined["nearest"]) if n is not None}
    in_pairs = {k for p in pairs for k in p}
    return DuplicateScan("perceptual", collection, "phash", "HAMMING", float(max_distance), ordered(pairs, False),
                         nearest, len(rows), _info([r for r in rows if r[pk] in in_pairs], pk, display), skipped,
                         notes, time.monotonic() - t0)


def file_hashes(path: str) -> str:
    """The perceptual hashes of the image file at `path` (SkipFile when it cannot be read or decoded)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SkipFile("file is gone (moved or deleted since it was ingested)") from None
    except OSError as e:
        raise SkipFile(f"cannot read file: {e.strerror or e}") from None
    return image_hashes(decode_image(FileEntry(p, st.st_size, st.st_mtime_ns)).image)


def _hash_files(rows: list[dict[str, Any]], skipped: list[Skipped], workers: int | None) -> Iterator[ScanProgress]:
    """Fill `phash` of `rows` from their files (a thread pool), reporting the files that fail."""
    yield ScanProgress("hashing", 0, len(rows))
    with ThreadPoolExecutor(max_workers=workers or max(1, min(8, os.cpu_count() or 1))) as pool:
        futures = [(r, pool.submit(file_hashes, str(r.get("path") or ""))) for r in rows]
        try:
            for i, (r, fut) in enumerate(futures, 1):
                try:
                    r["phash"] = fut.result()
                except SkipFile as e:
                    skipped.append(Skipped(str(r.get("path")), str(e)))
                except Exception as e:  # an odd file must not stop the scan
                    skipped.append(Skipped(str(r.get("path")), f"cannot hash: {type(e).__name__}: {e}"))
                yield ScanProgress("hashing", i, len(rows))
        finally:
            for _r, fut in futures:
                fut.cancel()


# --- near -------------------------------------------------------------------------------------------
def default_vector_field(schema: dict[str, Any], collection: str) -> str:
    """The collection's only vector field, or `embedding` among several; else InputError listing them."""
    paths = [p for p, _ in vector_paths(schema)]
    if len(paths) == 1:
        return paths[0]
    if "embedding" in paths:
        return "embedding"
    if not paths:
        raise CollectionError(f"collection {collection!r} has no vector field; use --exact or --perceptual")
    raise InputError(f"collection {collection!r} has several vector fields ({', '.join(paths)}); choose one with "
                     "--field")


def near_scan(backend: Backend, collection: str, field: str | None = None, threshold: float | None = None,
              k: int = 5, filter: str = "", batch_size: int = 512) -> Generator[ScanProgress, None, DuplicateScan]:
    """Pairs at least as similar as `threshold` (default 0.98; for L2, a distance, required) on a vector
    field, through the self-join of `workbench.near_join`, then the display fields of the rows in pairs."""
    t0 = time.monotonic()
    pk, fields, schema = _fields(backend, collection)
    target = field or default_vector_field(schema, collection)
    paths = [p for p, _ in vector_paths(schema)]
    if target not in paths:
        raise InputError(f"collection {collection!r} has no vector field {target!r}; its vector fields are "
                         f"{', '.join(paths) or 'none'}")
    if "[" in target:
        backend.capabilities.require("max_sim")
    metric_hint = next((ix.metric_type for ix in backend.list_indexes(collection) if ix.field_name == target), "")
    if threshold is None:
        if metric_hint and not larger_is_closer(str(metric_hint)):
            raise InputError(f"{target} of {collection!r} is compared by {metric_hint} (a distance): give --threshold")
        threshold = NEAR_THRESHOLD
    final: dict[str, Any] = {}
    for ev in self_join(backend, collection, target, threshold, k=k, filter=filter, batch_size=batch_size):
        if "pairs" in ev:
            final = ev
        else:
            yield ScanProgress("searching", int(ev["done"]), int(ev["total"]))
    notes: list[str] = []
    if "[" in target and larger_is_closer(str(final["metric"])) and threshold > 0:
        for ev in per_element(backend, collection, target, threshold, final):
            if "pairs" in ev:
                final = ev
            else:
                yield ScanProgress(ev["phase"], int(ev["done"]), int(ev["total"]))
        notes.append(f"{target}: entities compared by MAX_SIM per element (the mean of each element's best match, "
                     "both ways), so 1.0 is the same images whatever their number")
    pairs = [(a, b, float(s)) for a, b, s in final["pairs"]]
    nearest = {a: (b, float(s)) for a, (b, s) in final["nearest"].items()}
    display = _display(fields, pk)
    # a product (an `images` Array of Structs): shown by its main image
    product = any(p.startswith("images[") for p in paths)
    members = sorted({m for a, b, _ in pairs for m in (a, b)}, key=sort_key)
    info: dict[Any, dict[str, Any]] = {}
    if display or product:
        yield ScanProgress("describing", 0, len(members))
        for i in range(0, len(members), 512):
            for r in backend.get(collection, members[i : i + 512], output_fields=display + ["images"] * product):
                info[r[pk]] = {f: r.get(f) for f in display}
                if product:
                    info[r[pk]].update(main_image(r.get("images")))
            yield ScanProgress("describing", min(len(members), i + 512), len(members))
    how = "the engine's batched self-join" if hasattr(backend, "find_duplicates") else \
        f"batched searches ({batch_size} query vectors per request)"
    notes.insert(0, f"{len(nearest):,} rows searched for their {k} nearest neighbours by {how}")
    return DuplicateScan("near", collection, target, str(final["metric"]).upper(), float(threshold), pairs, nearest,
                         int(final["total"]), info, notes=notes, elapsed_s=time.monotonic() - t0)


def scan(backend: Backend, collection: str, mode: str, *, threshold: float | None = None, field: str | None = None,
         filter: str = "", k: int = 5) -> Generator[ScanProgress, None, DuplicateScan]:
    """The scan of `mode` ("exact", "perceptual" or "near"); `threshold` is the perceptual distance in
    bits (whole number) or the near-duplicate similarity (or L2 distance)."""
    if mode == "exact":
        return exact_scan(backend, collection, filter=filter)
    if mode == "perceptual":
        bits = DEFAULT_MAX_DISTANCE if threshold is None else threshold
        if isinstance(bits, float) and bits.is_integer():
            bits = int(bits)
        return perceptual_scan(backend, collection, max_distance=bits, filter=filter)  # type: ignore[arg-type]
    if mode == "near":
        return near_scan(backend, collection, field=field, threshold=threshold, k=k, filter=filter)
    raise InputError(f"unknown duplicates mode {mode!r}; the modes are {', '.join(MODES)}")
