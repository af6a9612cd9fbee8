"""Shared pieces of the benchmarks: data generation, exact ground truth, timers,
machine facts, a hand-written SVG plot and a markdown writer.

Everything here needs only numpy and the standard library (psutil when present).
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SECTION_START = "<!-- engine-bench:start -->"
SECTION_END = "<!-- engine-bench:end -->"

# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class EmbeddingModel:
    """Parameters of the embedding-like generator (see `embedding_like`)."""

    latent: int = 64  # dimensions of the latent space
    clusters: int = 1000  # topic centres in the latent space
    spread: float = 1.0  # within-topic spread, relative to the spread of the centres
    decay: float = 0.5  # latent axis i has scale i ** -decay (a power-law spectrum)
    noise: float = 0.5  # isotropic noise norm, relative to the signal norm

    def describe(self) -> str:
        return (
            f"{self.clusters} topic centres in a {self.latent}-d latent space with a power-law spectrum "
            f"(axis i scaled by i^-{self.decay}), within-topic spread {self.spread}× the centres' spread, "
            f"projected into the output space by a random orthonormal map, plus isotropic Gaussian noise "
            f"of {self.noise}× the signal norm, then L2-normalised"
        )


class EmbeddingGenerator:
    """Draws embedding-like vectors: a low-dimensional latent space projected up, plus noise.

    Topic centres and the projection are fixed by `seed`, so database rows, queries and
    MAX_SIM chunks drawn from one generator share one "embedding space".
    """

    def __init__(self, dim: int, model: EmbeddingModel | None = None, seed: int = 0) -> None:
        self.dim = dim
        self.model = model or EmbeddingModel()
        m = self.model
        rng = np.random.default_rng(seed)
        latent = min(m.latent, dim)
        self.latent = latent
        self.scale = (np.arange(1, latent + 1, dtype=np.float64) ** -m.decay).astype(np.float32)
        self.centres = (rng.standard_normal((m.clusters, latent)) * self.scale).astype(np.float32)
        proj = np.linalg.qr(rng.standard_normal((dim, latent)))[0]  # dim x latent, orthonormal columns
        self.proj = np.ascontiguousarray(proj.T, dtype=np.float32)  # latent x dim
        self.signal_norm = float(np.sqrt((self.scale.astype(np.float64) ** 2).sum() * (1 + m.spread**2)))

    def latent_points(self, rng: np.random.Generator, topics: np.ndarray, spread: float | None = None) -> np.ndarray:
        s = self.model.spread if spread is None else spread
        z = rng.standard_normal((len(topics), self.latent)).astype(np.float32) * (s * self.scale)
        return self.centres[topics] + z

    def embed(self, rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
        """Project latent points up, add noise, normalise."""
        x = z @ self.proj
        sigma = self.model.noise * self.signal_norm / math.sqrt(self.dim)
        x += (sigma * rng.standard_normal(x.shape)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32, copy=False)

    def sample(self, n: int, seed: int, chunk: int = 65536) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), dtype=np.float32)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            topics = rng.integers(0, len(self.centres), e - s)
            out[s:e] = self.embed(rng, self.latent_points(rng, topics))
        return out


def embedding_like(n: int, dim: int, seed: int = 0, model: EmbeddingModel | None = None) -> np.ndarray:
    """`n` normalised float32 embedding-like vectors (see `EmbeddingGenerator`)."""
    return EmbeddingGenerator(dim, model, seed).sample(n, seed + 1)


def gaussian_unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Independent Gaussian vectors, normalised: the pathological case for graph indexes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def maxsim_corpus(
    gen: EmbeddingGenerator, n_entities: int, per_entity: int, seed: int, chunk_spread: float = 0.6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embedding lists: entity i owns elements[offsets[i]:offsets[i+1]].

    Each entity is a "document" with its own latent centre (a topic centre plus spread);
    its chunks scatter around it (`chunk_spread` of the generator's per-axis scale).
    Returns (elements, offsets, entity latent centres).
    """
    rng = np.random.default_rng(seed)
    topics = rng.integers(0, len(gen.centres), n_entities)
    doc = gen.latent_points(rng, topics)
    rows = np.repeat(np.arange(n_entities), per_entity)
    z = doc[rows] + rng.standard_normal((len(rows), gen.latent)).astype(np.float32) * (chunk_spread * gen.scale)
    elements = np.empty((len(rows), gen.dim), dtype=np.float32)
    for s in range(0, len(rows), 65536):
        elements[s : s + 65536] = gen.embed(rng, z[s : s + 65536])
    offsets = np.arange(0, n_entities * per_entity + 1, per_entity, dtype=np.int64)
    return elements, offsets, doc


def maxsim_queries(
    gen: EmbeddingGenerator, doc: np.ndarray, nq: int, m_lo: int, m_hi: int, seed: int, chunk_spread: float = 0.8
) -> list[np.ndarray]:
    """Query lists of m_lo..m_hi vectors, each list about one random entity's document."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(nq):
        m = int(rng.integers(m_lo, m_hi + 1))
        d = doc[int(rng.integers(0, len(doc)))]
        z = d + rng.standard_normal((m, gen.latent)).astype(np.float32) * (chunk_spread * gen.scale)
        out.append(gen.embed(rng, z))
    return out


# ----------------------------------------------------------------------------- exact search


def exact_topk(
    q: np.ndarray, x: np.ndarray, k: int, mask: np.ndarray | None = None, chunk: int = 262144
) -> np.ndarray:
    """Ids of the k largest inner products (cosine for unit vectors), ties by id; -1 padded."""
    nq = len(q)
    cand_ids: list[np.ndarray] = []
    cand_sc: list[np.ndarray] = []
    for s in range(0, len(x), chunk):
        sc = q @ x[s : s + chunk].T
        if mask is not None:
            sc = np.where(mask[s : s + chunk][None, :], sc, -np.inf)
        kk = min(k, sc.shape[1])
        part = np.argpartition(-sc, kk - 1, axis=1)[:, :kk]
        cand_ids.append(part + s)
        cand_sc.append(np.take_along_axis(sc, part, axis=1))
    ids = np.concatenate(cand_ids, axis=1)
    sc = np.concatenate(cand_sc, axis=1)
    order = np.lexsort((ids, -sc), axis=1)[:, :k]
    out = np.take_along_axis(ids, order, axis=1)
    out[np.take_along_axis(sc, order, axis=1) == -np.inf] = -1
    if out.shape[1] < k:
        out = np.concatenate([out, np.full((nq, k - out.shape[1]), -1)], axis=1)
    return out


def maxsim_exact_scores(query: np.ndarray, elements: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """MAX_SIM (cosine, unit vectors) of one query list against every entity, vectorised."""
    sims = query @ elements.T  # m x E
    best = np.maximum.reduceat(sims, offsets[:-1], axis=1)  # m x n (every entity non-empty)
    return best.sum(axis=0)


def top_ids(scores: np.ndarray, k: int) -> np.ndarray:
    kk = min(k, len(scores))
    part = np.argpartition(-scores, kk - 1)[:kk]
    return part[np.lexsort((part, -scores[part]))]


def recall_at_k(found: Sequence[Iterable[int]], truth: np.ndarray) -> float:
    """Mean over queries of |found ∩ truth| / |truth| (truth rows may hold -1 padding)."""
    hits = 0
    total = 0
    for f, t in zip(found, truth):
        tset = {int(v) for v in t if v >= 0}
        total += len(tset)
        hits += len(tset & {int(v) for v in f})
    return hits / total if total else 1.0


# ----------------------------------------------------------------------------- timing


@dataclass
class LatencyStats:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    qps: float  # sequential single-query calls: queries / total time
    n: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencyStats:
        a = np.asarray(seconds, dtype=np.float64) * 1000
        return cls(float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(a.mean()),
                   float(1000 * len(a) / a.sum()) if a.sum() > 0 else float("inf"), len(a))


def timed_calls(fn: Callable[[int], Any], n: int, warmup: int = 5) -> tuple[list[float], list[Any]]:
    """Call fn(i) for i in range(n), one at a time; returns per-call seconds and results."""
    for i in range(min(warmup, n)):
        fn(i)
    times: list[float] = []
    results: list[Any] = []
    for i in range(n):
        t0 = time.perf_counter()
        r = fn(i)
        times.append(time.perf_counter() - t0)
        results.append(r)
    return times, results


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


def median(values: Iterable[float]) -> float:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return float(np.median(v)) if v else float("nan")


# ----------------------------------------------------------------------------- machine


def rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover - psutil is in the dev environment
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_file_bytes() -> int:
    """Resident pages backed by files (memory-mapped files, shared libraries): RssFile + RssShmem."""
    try:
        vals = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("RssFile:", "RssShmem:")):
                k, v = line.split(":", 1)
                vals[k] = int(v.split()[0]) * 1024
        return sum(vals.values())
    except OSError:
        return 0


def peak_rss_bytes() -> int:
    """Peak RSS of this process image (VmHWM; ru_maxrss would include the forking parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def dir_bytes(path: Path) -> int:
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "not installed"


def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        f = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        if f:
            have = set(f.group(1).split())
            flags = " ".join(x for x in ("avx2", "avx512f", "fma") if x in have)
    except OSError:
        pass
    mem = "unknown"
    try:
        m2 = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem = f"{int(m2.group(1)) / 2**20:.1f} GiB" if m2 else mem
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count() or 0
    git = "unknown"
    try:
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or git
    except (OSError, subprocess.SubprocessError):
        pass
    dirty = "unknown"
    try:
        st = subprocess.run(["git", "status", "--porcelain", "--", "engine"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], timeout=10).stdout.split("\n")
        files = [ln[3:] for ln in st if ln.strip()]
        dirty = "clean" if not files else "uncommitted changes in " + ", ".join(files[:6])
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "CPU": f"{cpu} ({flags})" if flags else cpu,
        "cores available": str(cores),
        "memory": mem,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "numpy": np.__version__,
        "pyarrow": _version("pyarrow"),
        "hnswlib": _version("hnswlib"),
        "pymilvus": _version("pymilvus"),
        "milvus-lite": _version("milvus-lite"),
        "faiss-cpu (Milvus Lite's index)": _version("faiss-cpu"),
        "git HEAD": git,
        "engine/ working tree": dirty,
    }


# ----------------------------------------------------------------------------- markdown


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    f = float(v)
    if math.isnan(f):
        return "–"
    if math.isinf(f):
        return "∞"
    a = abs(f)
    if a >= 1000:
        return f"{f:,.0f}"
    if a >= 100:
        return f"{f:.0f}"
    if a >= 10:
        return f"{f:.1f}"
    if a >= 1:
        return f"{f:.2f}"
    return f"{f:.{digits}f}"


def fmt_bytes(n: float | None) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in r).replace("\n", " ") + " |")
    return "\n".join(lines)


def write_section(path: Path, body: str, title: str = "# Benchmarks", start: str = SECTION_START,
                  end: str = SECTION_END) -> None:
    """Write `body` between the `start`/`end` markers (the engine-bench ones by default) of `path`,
    keeping everything else; a section not there yet is appended."""
    path = Path(path)
    block = f"{start}\n{body.rstrip()}\n{end}"
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        head, rest = old.split(start, 1)
        _, tail = rest.split(end, 1)
        new = head + block + tail
    elif old.strip():
        new = old.rstrip() + "\n\n" + block + "\n"
    else:
        new = f"{title}\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    tmp.replace(path)


# ----------------------------------------------------------------------------- SVG plot

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
_MARKERS = ["circle", "square", "triangle", "diamond", "circle", "square", "triangle"]


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _marker(kind: str, x: float, y: float, colour: str, r: float = 4.0) -> str:
    if kind == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{colour}"/>'
    if kind == "triangle":
        pts = f"{x:.1f},{y - r - 1:.1f} {x - r - 1:.1f},{y + r:.1f} {x + r + 1:.1f},{y + r:.1f}"
        return f'<polygon points="{pts}" fill="{colour}"/>'
    if kind == "diamond":
        pts = f"{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} {x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}"/>'


def svg_recall_qps(
    series: dict[str, list[tuple[float, float, str]]],
    title: str,
    subtitle: str = "",
    target_recall: float | None = 0.95,
    width: int = 820,
    height: int = 520,
) -> str:
    """Recall (x, linear) against QPS (y, log10); each series is a list of (recall, qps, label)."""
    left, right, top, bottom = 80, 200, 60, 60
    pw, ph = width - left - right, height - top - bottom
    pts = [(r, q) for s in series.values() for r, q, _ in s if q > 0 and not math.isnan(r)]
    if not pts:
        pts = [(0.9, 1.0), (1.0, 10.0)]
    rmin = min(r for r, _ in pts)
    x0 = max(0.0, math.floor(min(rmin, target_recall or 1.0) * 20 - 1e-9) / 20)
    x0 = min(x0, 0.9)
    x1 = 1.0
    qmin = min(q for _, q in pts)
    qmax = max(q for _, q in pts)
    y0 = math.floor(math.log10(qmin))
    y1 = math.ceil(math.log10(qmax))
    if y1 == y0:
        y1 += 1

    def X(r: float) -> float:
        return left + (r - x0) / (x1 - x0) * pw

    def Y(q: float) -> float:
        return top + ph - (math.log10(q) - y0) / (y1 - y0) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="24" font-size="15" font-weight="bold">{_esc(title)}</text>',
    ]
    if subtitle:
        out.append(f'<text x="{left}" y="42" fill="#555">{_esc(subtitle)}</text>')
    # grid and axes
    step = 0.01 if x1 - x0 <= 0.1 else (0.05 if x1 - x0 <= 0.5 else 0.1)
    r = x0
    while r <= x1 + 1e-9:
        x = X(r)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{r:.2f}</text>')
        r += step
    for e in range(y0, y1 + 1):
        y = Y(10.0**e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#d0d0d0"/>')
        label = f"{10.0**e:,.0f}" if e >= 0 else f"{10.0**e:g}"
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        for m in range(2, 10):
            if e < y1:
                ym = Y(m * 10.0**e)
                out.append(f'<line x1="{left}" y1="{ym:.1f}" x2="{left + pw}" y2="{ym:.1f}" stroke="#f2f2f2"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    if target_recall is not None and x0 < target_recall < x1:
        xt = X(target_recall)
        out.append(f'<line x1="{xt:.1f}" y1="{top}" x2="{xt:.1f}" y2="{top + ph}" stroke="#999" '
                   f'stroke-dasharray="5,4"/>')
        out.append(f'<text x="{xt + 4:.1f}" y="{top + 14}" fill="#777">recall {target_recall}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 18}" text-anchor="middle">recall@10</text>')
    out.append(f'<text x="20" y="{top + ph / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 20 {top + ph / 2:.1f})">queries per second (single query, log scale)</text>')
    # series
    ly = top + 10
    placed: list[tuple[float, float]] = []
    for i, (name, s) in enumerate(series.items()):
        colour, kind = _COLOURS[i % len(_COLOURS)], _MARKERS[i % len(_MARKERS)]
        good = [(r, q, lab) for r, q, lab in s if q > 0 and not math.isnan(r)]  # in sweep (ef) order
        if len(good) > 1:
            path = " ".join(f"{'M' if j == 0 else 'L'}{X(r):.1f},{Y(q):.1f}" for j, (r, q, _) in enumerate(good))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        for r, q, lab in good:
            out.append(_marker(kind, X(r), Y(q), colour))
            tx, ty = X(r) + 6, Y(q) - 6
            if lab and all(abs(tx - px) > 14 or abs(ty - py) > 10 for px, py in placed):
                placed.append((tx, ty))
                out.append(f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="9" fill="{colour}">{_esc(lab)}</text>')
        out.append(_marker(kind, left + pw + 18, ly, colour))
        out.append(f'<text x="{left + pw + 30}" y="{ly + 4}">{_esc(name)}</text>')
        ly += 20
    out.append(f'<text x="{left + pw + 12}" y="{ly + 10}" fill="#777" font-size="10">labels: search ef</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
