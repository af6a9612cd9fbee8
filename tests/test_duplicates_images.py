"""Planted duplicates in an image folder, found by sha256 and by perceptual hashes stored at ingestion.

The folder has 40 distinct scenes; 20 of them get 1 to 3 planted copies (byte copies, JPEG re-encodes at
quality 35, resizes to 60 %, centre crops of 5 % per side, corner crops of 8 %, colour shifts, +8 %
brightness). It is ingested with the tiny random CLIP (its vectors are not judged here: near
duplicates by vectors are tested with synthetic vectors in tests/test_duplicates.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.dup_fixtures import pair_scores, plant_folder
from tests.ingest_fixtures import tiny_clip_embedder
from workbench.backends import EmbeddedBackend
from workbench.duplicates import exact_scan, perceptual_scan, run
from workbench.ingest import ingest
from workbench.perceptual import FIELD_LENGTH, distance, is_valid
from workbench.template_schema import template_schema
from workbench.templates import Template, images_template


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[set[Path]], dict[Path, str]]:
    folder = tmp_path_factory.mktemp("planted") / "pictures"
    groups, kinds = plant_folder(folder, n_base=40, seed=1)
    return folder, groups, kinds


def paths_of(scan: Any, clusters: Any) -> list[set[Path]]:
    return [{Path(scan.info[m]["path"]) for m in c.members} for c in clusters]


def test_exact_and_perceptual_recover_the_planted_groups(tmp_path: Path, planted: Any) -> None:
    folder, groups, kinds = planted
    backend = EmbeddedBackend(tmp_path / "d.db")
    report = ingest([folder], backend, "pics", embedder=tiny_clip_embedder())
    assert report.new == 40 + len(kinds) and not report.skipped
    rows = backend.query("pics", "", output_fields=["path", "phash"], limit=1000)
    assert all(is_valid(r["phash"]) and len(r["phash"]) == FIELD_LENGTH for r in rows)  # stored at ingestion

    exact = run(exact_scan(backend, "pics"))
    copies = [{p for p in g if kinds.get(p) in (None, "copy")} for g in groups if "copy" in {kinds.get(p) for p in g}]
    assert sorted(map(sorted, paths_of(exact, exact.clusters()))) == sorted(map(sorted, copies)) and copies

    perceptual = run(perceptual_scan(backend, "pics"))
    found = paths_of(perceptual, perceptual.clusters())
    precision, recall = pair_scores(found, groups)
    print(f"perceptual (8 bits): precision {precision:.3f}, recall {recall:.3f}, {len(found)} clusters "
          f"of {len(groups)} planted")
    assert precision == 1.0 and recall == 1.0
    assert not perceptual.notes and perceptual.rows_scanned == 40 + len(kinds)
    # the histogram: every planted copy has a neighbour within a few bits, the rest are far
    near = sorted(s for _, s in perceptual.nearest.values())
    in_groups = sum(len(g) for g in groups)
    print("nearest-neighbour bits of the planted rows:", near[:in_groups], "of the others:", near[in_groups:])
    assert near[in_groups - 1] <= 8 < 12 <= near[in_groups]
    # each planted edit's distance to its original, for the record (docs/duplicates.md)
    stored = {Path(r["path"]): r["phash"] for r in rows}
    for p, kind in sorted(kinds.items()):
        original = folder / (p.name.split("-")[0] + "-" + p.name.split("-")[1] + ".jpg")
        assert distance(stored[p], stored[original]) <= 8, (kind, p)
    backend.close()


def test_perceptual_hashes_computed_from_the_files_when_the_collection_has_no_phash_field(
        tmp_path: Path, planted: Any) -> None:
    folder, groups, _ = planted
    backend = EmbeddedBackend(tmp_path / "d.db")
    tpl = images_template()
    old = Template(tpl.name, tpl.kind, tpl.description, tuple(f for f in tpl.fields if f.name != "phash"))
    schema, indexes = template_schema(old, tiny_clip_embedder().dim, backend.capabilities)
    backend.create_collection("older", schema, indexes)  # a collection made before the phash field
    copy = tmp_path / "pictures"
    shutil.copytree(folder, copy)
    ingest([copy], backend, "older", embedder=tiny_clip_embedder())
    gone = copy / "scene-001.jpg"
    gone.unlink()  # a file moved away since ingestion: reported, not fatal
    events: list[Any] = []
    scan = run(perceptual_scan(backend, "older", workers=2), events.append)
    assert "hashing" in {e.phase for e in events} and "no phash field" in scan.notes[0]
    assert [(s.path, s.reason) for s in scan.skipped] == [(str(gone), "file is gone (moved or deleted since it "
                                                                      "was ingested)")]
    moved = [{copy / p.relative_to(folder) for p in g} for g in groups]
    precision, recall = pair_scores(paths_of(scan, scan.clusters()), moved)
    assert precision == 1.0 and recall == 1.0
    backend.close()


def test_bad_distances_are_refused(tmp_path: Path) -> None:
    from workbench.settings import InputError

    backend = EmbeddedBackend(tmp_path / "d.db")
    for bad in (-1, 65, 2.5, True):
        with pytest.raises(InputError, match="whole number of bits"):
            run(perceptual_scan(backend, "pics", max_distance=bad))  # type: ignore[arg-type]
    backend.close()
