"""Ingestion memory: the budget of decoded pixels in flight, tiled conversion, and memory given back after a job.

The RSS tests run an ingestion in a fresh process (tests/memory_probe.py) and read the kernel's
peak RSS (VmHWM); they need Linux. No test here measures time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ingest_fixtures import gradient, tiny_clip_embedder
from PIL import Image, ImageFile

from workbench.images import FileEntry, open_image
from workbench.ingest import IngestOptions, ingest
from workbench.jobs import Job
from workbench.memory import MIB, DecodeBudget, default_decode_budget
from workbench.pixels import pixel_bytes, reduced_size, rgb_reduced, tiles, to_rgb

HERE = Path(__file__).resolve().parent
LINUX_PROC = sys.platform.startswith("linux") and Path("/proc/self/clear_refs").exists()


def _entry(p: Path) -> FileEntry:
    st = p.stat()
    return FileEntry(p, st.st_size, st.st_mtime_ns)


def _solid_png(path: Path, side: int, seed: int) -> Path:
    """A large RGBA PNG that is small on disk (one colour compresses to almost nothing)."""
    Image.new("RGBA", (side, side), (seed * 40 % 256, 120, 200, 255)).save(path)
    return path


# --- the budget itself ------------------------------------------------------------------


def _run_threads(fns: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=f) for f in fns]
    for t in threads:
        t.start()
        time.sleep(0.02)  # start in this order (the budget is first come, first served)
    for t in threads:
        t.join(10)
        assert not t.is_alive()


def test_budget_grants_within_limit_first_come_first_served() -> None:
    b = DecodeBudget(100 * MIB)
    order: list[str] = []
    held = threading.Event()
    b.acquire(60 * MIB)

    def take(name: str, n: int) -> Callable[[], None]:
        def run() -> None:
            with b.hold(n * MIB):
                order.append(name)
                assert b.in_use <= b.limit
                held.wait(5)

        return run

    def release_first() -> None:
        time.sleep(0.2)
        assert order == []  # 60 + 50 does not fit, and the 10 behind it must not overtake
        b.release(60 * MIB)
        time.sleep(0.2)
        held.set()

    _run_threads([take("fifty", 50), take("ten", 10), release_first])
    assert order == ["fifty", "ten"]  # both fit together once the 60 were given back
    assert b.peak == 60 * MIB and b.in_use == 0 and b.grants == 3 and b.waits == 2


def test_budget_grants_an_oversized_request_alone() -> None:
    b = DecodeBudget(10 * MIB)
    log: list[tuple[str, int]] = []
    lock = threading.Lock()

    def take(name: str, n: int) -> Callable[[], None]:
        def run() -> None:
            with b.hold(n * MIB):
                with lock:
                    log.append((name, b.in_use))
                time.sleep(0.1)

        return run

    _run_threads([take("small1", 4), take("huge", 25), take("small2", 4), take("small3", 4)])
    assert [name for name, _ in log] == ["small1", "huge", "small2", "small3"]
    assert dict(log)["huge"] == 25 * MIB  # nothing else held while the huge one was
    assert b.oversized == 1 and b.peak == 25 * MIB and b.in_use == 0


def test_budget_rejects_bad_amounts() -> None:
    with pytest.raises(ValueError, match="at least 1,048,576 bytes"):
        DecodeBudget(1000)
    b = DecodeBudget(8 * MIB)
    with pytest.raises(ValueError, match="positive number of bytes, not 0"):
        b.acquire(0)
    b.acquire(MIB)
    with pytest.raises(ValueError, match="releasing 2,097,152 bytes but only 1,048,576 are held"):
        b.release(2 * MIB)


def test_default_budget_follows_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.memory as memory

    for available, expected in ((64 * 1024 * MIB, 1024 * MIB), (2048 * MIB, 512 * MIB), (512 * MIB, 256 * MIB)):
        monkeypatch.setattr(memory, "available_memory", lambda a=available: a)
        assert default_decode_budget() == expected
    monkeypatch.undo()
    assert memory.available_memory() > 0


def test_ingest_rejects_a_tiny_budget(tmp_path: Path) -> None:
    from workbench.ingest import ingest_job
    from workbench.settings import InputError

    with pytest.raises(InputError, match="decode_memory must be at least 1,048,576 bytes .* not 4096"):
        ingest_job([tmp_path], tmp_path / "db", "c", options=IngestOptions(decode_memory=4096))


# --- decoding: tiles and header-only opening ----------------------------------------------


def _modes() -> Iterator[Image.Image]:
    base = gradient(523, 389, 3)
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    yield rgba
    pal = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    pal.info["transparency"] = 0
    yield pal
    yield base.convert("L")
    yield base.convert("L").convert("I").point(lambda v: v * 200).convert("I;16")
    yield base.convert("CMYK")
    yield base.convert("LA")


@pytest.mark.parametrize("factor", [1, 3, 7])
def test_tiled_conversion_equals_whole_image_conversion(factor: int) -> None:
    for im in _modes():
        whole = to_rgb(im)
        whole = whole.reduce(factor) if factor > 1 else whole
        tiled = rgb_reduced(im, factor, max_bytes=20_000)  # many tiles, some partial
        assert len(tiles(im.width, im.height, factor, 20_000)) > 4
        assert tiled.size == whole.size == reduced_size(im.width, im.height, factor), im.mode
        assert tiled.tobytes() == whole.tobytes(), im.mode


def test_tiles_cover_the_image_once_on_block_edges() -> None:
    for w, h, f, max_bytes in ((523, 389, 3, 20_000), (10_000, 7, 5, 4096), (97, 4000, 1, 1000), (64, 64, 64, 10)):
        covered = 0
        for x0, y0, x1, y1 in tiles(w, h, f, max_bytes):
            assert x0 % f == 0 and y0 % f == 0 and 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert (x1 == w or x1 % f == 0) and (y1 == h or y1 % f == 0)
            covered += (x1 - x0) * (y1 - y0)
        assert covered == w * h


def test_open_image_reads_no_pixels_until_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's PNG getexif() decodes the whole image to look for EXIF after the pixel data; that
    decode happened before any budget was asked for."""
    p = _solid_png(tmp_path / "big.png", 1500, 1)
    loads: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def counting_load(im: ImageFile.ImageFile) -> Any:
        if im.tile:
            loads.append(im.size)
        return original(im)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    opened = open_image(_entry(p))
    assert loads == [] and opened.cost >= 1500 * 1500 * 4
    dec = opened.decode()
    assert loads == [(1500, 1500)] and dec.image.size == (300, 300) and dec.info.width == 1500


def _png_with_exif_after_pixels(path: Path) -> Path:
    """A PNG whose eXIf chunk comes after IDAT (legal; Pillow writes it before)."""
    import struct

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[272] = "Late Camera"
    exif[306] = "2020:01:02 03:04:05"
    gradient(300, 200, 2).save(path, exif=exif.tobytes())
    data = path.read_bytes()
    chunks, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos : pos + 12 + n])
        pos += 12 + n
    ex = [c for c in chunks if c[4:8] == b"eXIf"]
    rest = [c for c in chunks if c[4:8] != b"eXIf"]
    assert len(ex) == 1
    path.write_bytes(data[:8] + b"".join(rest[:-1]) + ex[0] + rest[-1])  # ... IDAT, eXIf, IEND
    return path


def test_png_exif_after_the_pixels_is_still_read(tmp_path: Path) -> None:
    p = _png_with_exif_after_pixels(tmp_path / "late.png")
    with Image.open(p) as im:
        assert "exif" not in im.info  # not in the header
    dec = open_image(_entry(p)).decode()
    assert dec.info.camera == "Late Camera" and dec.info.taken_at == "2020-01-02T03:04:05"
    assert (dec.info.width, dec.info.height) == (200, 300)  # orientation 6: turned
    assert dec.image.size == (200, 300)


def test_panorama_working_image_is_bounded(tmp_path: Path) -> None:
    p = tmp_path / "pano.png"
    Image.new("RGB", (40_000, 300), (10, 20, 30)).save(p)
    dec = open_image(_entry(p), min_side=256).decode()
    assert max(dec.image.size) <= 16 * 256 and dec.info.width == 40_000


# --- the budget in an ingestion ---------------------------------------------------------------


class LiveDecodes:
    """Independent of the budget: which large decoded images are alive at once. An image counts
    from the moment its pixels start to load until the image object is freed."""

    def __init__(self, min_pixels: int) -> None:
        self.min_pixels = min_pixels
        self.lock = threading.Lock()
        self.live: dict[int, tuple[tuple[int, int], int]] = {}
        self.snapshots: list[list[tuple[tuple[int, int], int]]] = []
        self.meet = threading.Barrier(2, timeout=10)
        self.first_two_met: bool | None = None
        self._seq = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = ImageFile.ImageFile.load

        def load(im: ImageFile.ImageFile) -> Any:
            if im.tile and im.width * im.height >= self.min_pixels:
                with self.lock:
                    self._seq += 1
                    key, nth = self._seq, self._seq
                    self.live[key] = (im.size, im.width * im.height * pixel_bytes(im.mode))
                    self.snapshots.append(list(self.live.values()))
                weakref.finalize(im, self._gone, key)
                if nth <= 2:  # the first two decodes fit the budget together: they must overlap
                    try:
                        self.meet.wait()
                        self.first_two_met = True
                    except threading.BrokenBarrierError:
                        self.first_two_met = False
                else:
                    time.sleep(0.05)  # widen the window in which another decode could overlap
            return original(im)

        monkeypatch.setattr(ImageFile.ImageFile, "load", load)

    def _gone(self, key: int) -> None:
        with self.lock:
            self.live.pop(key, None)


def test_decoded_pixels_in_flight_stay_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "big"
    root.mkdir()
    for i in range(5):
        _solid_png(root / f"a{i}.png", 3000, i)  # 36 MB decoded each: two fit in the budget at once
    huge = _solid_png(root / "z_huge.png", 6000, 9)  # 144 MB decoded: more than the whole budget
    budget = 120 * MIB
    live = LiveDecodes(min_pixels=1_000_000)
    live.install(monkeypatch)
    report = ingest([root], tmp_path / "db", "c", embedder=tiny_clip_embedder(),
                    options=IngestOptions(workers=4, decode_memory=budget))
    assert report.ingested == 6 and not report.skipped
    assert live.first_two_met, "two decodes that fit the budget together did not run at the same time"
    assert len(live.snapshots) == 6
    for snap in live.snapshots:
        sizes = [size for size, _ in snap]
        if (6000, 6000) in sizes:
            assert sizes == [(6000, 6000)], f"the image larger than the budget was decoded alongside {sizes}"
        else:
            assert sum(n for _, n in snap) <= budget, f"decoded pixels in flight over the budget: {sizes}"
    assert report.decode_memory == budget
    huge_cost = open_image(_entry(huge)).cost
    assert huge_cost > budget
    assert 0 < report.decode_memory_peak <= huge_cost  # never more than the lone oversized image
    assert "decoded pixels in memory: peak" in report.summary()


# --- RSS, in a fresh process ---------------------------------------------------------------------


def _probe(cfg: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, str(HERE / "memory_probe.py"), json.dumps(cfg)], capture_output=True,
                         text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _warm_folder(tmp_path: Path) -> Path:
    warm = tmp_path / "warm"
    warm.mkdir()
    for i in range(3):
        gradient(640, 480, i).save(warm / f"w{i}.jpg", quality=90)
    _solid_png(warm / "w.png", 1200, 3)
    return warm


@pytest.mark.skipif(not LINUX_PROC, reason="reads peak RSS from /proc (Linux)")
def test_peak_rss_of_huge_pngs_stays_near_the_budget(tmp_path: Path) -> None:
    """Four 6000 x 6000 RGBA PNGs with four workers: unbounded, each took ~12 bytes a pixel at once
    (decode, RGBA copy, RGB copy, alpha), about 1.7 GB over the baseline."""
    root = tmp_path / "huge"
    root.mkdir()
    for i in range(4):
        _solid_png(root / f"h{i}.png", 6000, i)
    budget = 160 * MIB
    r = _probe({"folder": str(root), "warm": str(_warm_folder(tmp_path)), "workers": 4, "decode_memory": budget})
    assert r["ingested"] == 4 and not r["skipped"]
    rise = r["peak_mib"] - r["before_mib"]
    assert rise < budget / MIB + 128, f"peak RSS rose {rise:.0f} MiB with a {budget / MIB:.0f} MiB budget: {r}"


@pytest.mark.skipif(not LINUX_PROC, reason="reads RSS from /proc (Linux)")
def test_memory_is_given_back_after_a_multiview_job(tmp_path: Path) -> None:
    """Sixteen 4000 x 3000 photos, multi-view, four workers: without giving freed memory back the
    process kept 70-150 MiB of it after the job (the worker threads' glibc arenas)."""
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(16):
        gradient(4000, 3000, i).save(root / f"p{i:02d}.jpg", quality=90)
    r = _probe({"folder": str(root), "warm": str(_warm_folder(tmp_path)), "workers": 4, "multiview": True})
    assert r["ingested"] == 16 and not r["skipped"]
    assert r["peak_mib"] - r["before_mib"] > 40, f"the job should have used memory to give back: {r}"
    kept = r["after_mib"] - r["before_mib"]
    assert kept < 48, f"RSS stayed {kept:.0f} MiB above where it was before the job: {r}"


# --- jobs keep nothing alive ---------------------------------------------------------------------


def test_a_failed_job_does_not_keep_its_locals() -> None:
    class Big:
        pass

    ref: list[weakref.ref[Big]] = []

    def body(job: Job) -> Iterator[Any]:
        batch = Big()
        ref.append(weakref.ref(batch))
        yield "working"
        raise RuntimeError("disk full")

    job = Job(body)
    with pytest.raises(RuntimeError, match="disk full"):
        job.run()
    assert isinstance(job.error, RuntimeError)
    assert ref[0]() is None, "the job's error keeps the body's locals (its batch) alive"
