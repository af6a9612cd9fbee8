"""How well perceptual hashes find edited copies: recall per kind of edit, and false matches among unrelated
pictures, for one whole-image pHash against the workbench's set of 13 (whole image and 12 crop windows).

    python bench/bench_perceptual.py --n 300 --write-docs

Pictures: `tests/dup_fixtures.scene` (random overlapping shapes, distinct per seed), saved as JPEG quality
92. Each gets every edit below; an edit is found when its distance to its original is within the
threshold (the oracle: we know which picture each copy came from). False matches: pairs of different
originals within the threshold, over all n(n-1)/2 pairs. `--write-docs` replaces the section between the
perceptual markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import md_table, write_section  # noqa: E402
from tests.dup_fixtures import EDITS, _crop, _jpeg, scene  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- perceptual:start -->", "<!-- perceptual:end -->"


def edits(rng: np.random.Generator) -> dict[str, Any]:
    def rand_crop(keep: float) -> Any:
        return lambda im: _crop(im, float(rng.uniform(0, 1 - keep)), float(rng.uniform(0, 1 - keep)), keep)

    out = {
        "JPEG quality 35": EDITS["reencode"],
        "JPEG quality 15": lambda im: _jpeg(im, 15),
        "resize to 60 %": EDITS["resize"],
        "resize to 25 %": lambda im: im.resize((im.width // 4, im.height // 4), Image.Resampling.BILINEAR),
        "colour shift (+14 red, -7 blue)": EDITS["colour"],
        "brightness +8 %": EDITS["brighter"],
        "centre crop 5 % per side": EDITS["crop_centre"],
        "centre crop 10 % per side": lambda im: _crop(im, 0.10, 0.10, 0.80),
        "corner crop keeping 92 %": EDITS["crop_corner"],
        "random crop keeping 90 %": rand_crop(0.90),
        "random crop keeping 80 %": rand_crop(0.80),
        "rotation 5°": lambda im: im.rotate(5, expand=False),
        "mirror (left-right)": ImageOps.mirror,
    }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--threshold", type=int, default=8)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--write-docs", action="store_true")
    p.add_argument("--out", default=str(DOC))
    a = p.parse_args(argv)
    from workbench.perceptual import WINDOWS, image_hashes, parse_hashes

    t0 = time.perf_counter()
    rng = np.random.default_rng(a.seed)
    originals = []
    for i in range(a.n):
        buf = io.BytesIO()
        scene(a.seed * 10_000 + i).save(buf, "JPEG", quality=92)
        originals.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    H = np.stack([parse_hashes(image_hashes(im)) for im in originals])  # n x 13

    def set_distance(a_: np.ndarray, b_: np.ndarray) -> int:
        return int(min(np.bitwise_count(a_[0] ^ b_).min(), np.bitwise_count(b_[0] ^ a_).min()))

    rows = []
    R: dict[str, Any] = {"edits": {}}
    for name, fn in edits(rng).items():
        single, multi = [], []
        for i, im in enumerate(originals):
            h = parse_hashes(image_hashes(fn(im)))
            single.append(int(np.bitwise_count(h[0] ^ H[i, 0])))
            multi.append(set_distance(h, H[i]))
        s, m = np.array(single), np.array(multi)
        R["edits"][name] = {"single_recall": float((s <= a.threshold).mean()), "set_recall": float((m <= a.threshold).mean()),
                            "single_median": float(np.median(s)), "set_median": float(np.median(m)),
                            "set_max": int(m.max())}
        rows.append((name, f"{np.median(s):.0f}", f"{(s <= a.threshold).mean():.3f}", f"{np.median(m):.0f}",
                     f"{m.max()}", f"{(m <= a.threshold).mean():.3f}"))
    full = H[:, 0]
    single_d = np.bitwise_count(full[:, None] ^ full[None, :])
    set_d = np.bitwise_count(full[:, None, None] ^ H[None, :, :]).min(axis=2)
    set_d = np.minimum(set_d, set_d.T)
    iu = np.triu_indices(a.n, 1)
    pairs = len(iu[0])
    R["false_single"] = int((single_d[iu] <= a.threshold).sum())
    R["false_set"] = int((set_d[iu] <= a.threshold).sum())
    R["min_single"], R["min_set"] = int(single_d[iu].min()), int(set_d[iu].min())
    R["seconds"] = time.perf_counter() - t0
    body = "\n".join([
        "## Perceptual hashes: edits found and false matches (issue 16)",
        "",
        f"`python bench/bench_perceptual.py --n {a.n} --write-docs` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{R['seconds']:.0f} s).",
        "",
        f"{a.n} distinct generated pictures (`tests/dup_fixtures.scene`, JPEG quality 92), each edited every way "
        f"below; an edited copy is **found** when its distance to its original is at most {a.threshold} bits (the "
        "default of `workbench duplicates --perceptual`). *One pHash*: `imagehash.phash` of the whole picture. "
        f"*Set of {len(WINDOWS)}*: what ingestion stores (`workbench/perceptual.py`): the whole picture and 12 crop "
        "windows, distance = the smallest between one picture's whole-image hash and any window of the other.",
        "",
        md_table(["edit", "one pHash: median bits", f"one pHash: found (≤ {a.threshold})",
                  f"set of {len(WINDOWS)}: median bits", "set: max bits", f"set: found (≤ {a.threshold})"], rows),
        "",
        f"* **False matches** among the {pairs:,} pairs of different originals within {a.threshold} bits: one pHash "
        f"{R['false_single']:,}, set of {len(WINDOWS)} {R['false_set']:,}; the closest unrelated pair is "
        f"{R['min_single']} bits apart with one pHash, {R['min_set']} with the set (the windows give more chances to "
        "match, so unrelated pictures come closer).",
        "* Rotations and mirror images are not perceptual duplicates by this measure (a DCT hash is not "
        "rotation- or flip-invariant); near duplicates by CLIP vectors (`--near`) are the tool for those, with a "
        "real model.",
    ])
    print(body)
    if a.write_docs:
        write_section(Path(a.out), body, start=START, end=END)
        print("wrote", a.out)
    return R


if __name__ == "__main__":
    main()
