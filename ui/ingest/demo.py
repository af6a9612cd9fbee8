"""The first-run demo: pictures the app draws itself, embedded with an untrained tiny CLIP.

The model is `workbench.demo_model` (the same as the CLI's `--model demo`): search over
the demo collection runs the whole pipeline but its ranking is random; the UI says so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.demo_model import data_dir, demo_checkpoint
from workbench.jobs import Job, Progress

__all__ = ["DEMO_COLLECTION", "data_dir", "demo_checkpoint", "demo_job", "draw_shape", "generate_images"]

DEMO_COLLECTION = "demo_shapes"
SHAPES = ("circle", "square", "triangle", "star", "ring")
COLOURS = {
    "red": (220, 50, 47),
    "orange": (240, 140, 30),
    "yellow": (235, 205, 40),
    "green": (60, 170, 80),
    "blue": (40, 110, 220),
    "purple": (140, 70, 190),
}
BACKGROUNDS = {"white": (246, 246, 240), "navy": (24, 32, 72)}


def _star(cx: float, cy: float, r: float, points: int = 5) -> list[tuple[float, float]]:
    out = []
    for i in range(points * 2):
        rr = r if i % 2 == 0 else r * 0.45
        a = math.pi / points * i - math.pi / 2
        out.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return out


def draw_shape(shape: str, colour: str, background: str, seed: int, size: tuple[int, int] = (320, 240)) -> Any:
    """One demo picture: a coloured shape on a plain background, placed at random (by seed)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, BACKGROUNDS[background])
    d = ImageDraw.Draw(im)
    r = rng.randint(40, 80)
    cx, cy = rng.randint(r + 10, w - r - 10), rng.randint(r + 10, h - r - 10)
    fill = COLOURS[colour]
    if shape == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif shape == "star":
        d.polygon(_star(cx, cy, r), fill=fill)
    else:
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(8, r // 3))
    # a little texture so no two pictures are identical
    for _ in range(6):
        x, y = rng.randint(0, w), rng.randint(0, h)
        tone = tuple(min(255, c + 20) for c in BACKGROUNDS[background])
        d.ellipse((x - 3, y - 3, x + 3, y + 3), fill=tone)
    return im


def generate_images(folder: Path, count: int = 60) -> Iterator[Path]:
    """Write `count` pictures into `folder/<shape>s/` (files already there are kept); yield each path."""
    combos = [(s, c, b) for b in BACKGROUNDS for s in SHAPES for c in COLOURS]
    for i in range(count):
        shape, colour, bg = combos[i % len(combos)]
        sub = folder / f"{shape}s"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{colour}-{shape}-on-{bg}-{i // len(combos) + 1:02d}.png"
        if not path.exists():
            draw_shape(shape, colour, bg, seed=i).save(path)
        yield path


def demo_job(db: Any, provider: Any, folder: Path | None = None, count: int = 60,
             collection: str = DEMO_COLLECTION) -> Job:
    """A Job: draw the pictures, load the demo model, ingest them into `collection` of `db` (a Backend, or
    an embedded database directory)."""
    from ui.app_settings import ModelChoice

    images = Path(folder) if folder is not None else data_dir() / "demo-images"

    def body(job: Job) -> Iterator[Progress]:
        from workbench.ingest import ingest_job

        for i, _ in enumerate(generate_images(images, count), 1):
            if job.cancelled:
                yield Progress("cancelled", files_done=i, files_total=count)
                return
            yield Progress("drawing pictures", files_done=i, files_total=count, message=f"picture {i} of {count}")
        yield Progress("loading model", files_total=count, message="loading the demo model (first time: ~10 s)")
        embedder = provider.for_choice(ModelChoice(kind="demo"))
        inner = ingest_job([images], db, collection, embedder=embedder)
        for event in inner:
            if job.cancelled:
                inner.cancel()
            yield event
        job.report = inner.report

    return Job(body, title="Create the demo collection")
