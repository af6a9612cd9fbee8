"""Products with several images: ingestion from folders and manifests, resuming, bad input, and search
that returns each product once (MAX_SIM over its images) where one row per image repeats products."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.dup_fixtures import product_folders, product_manifest
from tests.ingest_fixtures import tiny_checkpoint_file, tiny_clip_embedder
from workbench.backends import EmbeddedBackend
from workbench.cli import cli
from workbench.collection_ops import search
from workbench.duplicates import near_scan, run
from workbench.ingest import IngestOptions, ingest, ingest_job
from workbench.settings import CollectionError, InputError

PRODUCTS = IngestOptions(kind="products")


@pytest.fixture
def backend(tmp_path: Path) -> Any:
    b = EmbeddedBackend(tmp_path / "shop.db")
    yield b
    b.close()


def test_folders_become_one_entity_per_product(tmp_path: Path, backend: EmbeddedBackend) -> None:
    root = product_folders(tmp_path / "products", 12)
    report = ingest([root], backend, "shop", embedder=tiny_clip_embedder(), options=PRODUCTS)
    assert report.new == 12 and report.kind == "products" and not report.skipped and report.created
    rows = backend.query("shop", "", output_fields=["*"], limit=100)
    assert sorted(r["id"] for r in rows) == [f"SKU-{p:03d}" for p in range(12)]
    r = next(r for r in rows if r["id"] == "SKU-004")
    assert r["name"] == "Product 4" and r["price"] == 14.0 and r["category"] == "lamps" and r["image_count"] == 3
    assert [(e["angle"], e["is_primary"]) for e in r["images"]] == [("front", True), ("angle", False),
                                                                     ("side", False)]
    assert r["embedding"] == r["images"][0]["embedding"]  # the product's vector is its main image's
    assert all((backend.workspace / e["thumbnail"]).is_file() and len(e["sha256"]) == 64 for e in r["images"])
    again = ingest([root], backend, "shop", embedder=tiny_clip_embedder())  # auto: the collection is products
    assert again.unchanged == 12 and again.new == again.updated == 0


def test_a_cancelled_run_resumes_and_changes_are_picked_up(tmp_path: Path, backend: EmbeddedBackend) -> None:
    root = product_folders(tmp_path / "products", 10)
    job = ingest_job([root], backend, "shop", embedder=tiny_clip_embedder(),
                     options=IngestOptions(kind="products", commit_size=3, workers=1))
    for ev in job:
        if ev.ingested >= 2:
            job.cancel()
    first = job.report
    assert first.cancelled and 2 <= first.new < 10 and backend.count("shop") == first.new
    second = ingest([root], backend, "shop", embedder=tiny_clip_embedder(), options=PRODUCTS)
    assert second.unchanged == first.new and second.new == 10 - first.new and backend.count("shop") == 10
    meta = root / "SKU-003" / "product.json"
    meta.write_text(json.dumps({"title": "Renamed", "price": 99}))
    (root / "SKU-005" / "side.jpg").unlink()
    third = ingest([root], backend, "shop", embedder=tiny_clip_embedder(), options=PRODUCTS)
    assert third.updated == 2 and third.unchanged == 8
    got = {r["id"]: r for r in backend.get("shop", ["SKU-003", "SKU-005"], output_fields=["name", "price", "images"])}
    assert got["SKU-003"]["name"] == "Renamed" and got["SKU-003"]["price"] == 99.0
    assert len(got["SKU-005"]["images"]) == 2


def test_manifests_and_bad_input_are_reported(tmp_path: Path, backend: EmbeddedBackend) -> None:
    csv_path = product_manifest(tmp_path / "csv", 6, fmt="csv")
    lines = csv_path.read_text().splitlines()
    lines[4] = lines[4].replace("11.50", "eleven")  # SKU-001's first line: a bad price
    csv_path.write_text("\n".join(lines) + "\n")
    (tmp_path / "csv" / "images" / "p002-1.jpg").unlink()  # SKU-002 loses one image
    (tmp_path / "csv" / "images" / "p003-0.jpg").write_text("not a picture")  # SKU-003: a broken file
    for v in range(3):  # SKU-004: no usable image at all
        (tmp_path / "csv" / "images" / f"p004-{v}.jpg").write_bytes(b"")
    report = ingest([csv_path], backend, "shop", embedder=tiny_clip_embedder(), options=PRODUCTS)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons[f"{csv_path}:5"] == "price is 'eleven', not a number; product 'SKU-001' not ingested"
    assert reasons[f"SKU-002: {tmp_path / 'csv' / 'images' / 'p002-1.jpg'}"] == "image file not found"
    assert "not an image" in reasons[f"SKU-003: {tmp_path / 'csv' / 'images' / 'p003-0.jpg'}"]
    assert reasons["SKU-004"].startswith("no image of this product could be used (3 listed)")
    assert report.exit_code == 3
    stored = {r["id"]: r for r in backend.query("shop", "", output_fields=["images", "price"], limit=10)}
    assert sorted(stored) == ["SKU-000", "SKU-002", "SKU-003", "SKU-005"]
    assert len(stored["SKU-002"]["images"]) == 2 and stored["SKU-005"]["price"] == 15.5
    assert [e["is_primary"] for e in stored["SKU-003"]["images"]] == [True, False]  # its main image was the bad one

    jsonl = product_manifest(tmp_path / "jsonl", 3, fmt="jsonl")
    report = ingest([jsonl], backend, "shop2", embedder=tiny_clip_embedder(), options=PRODUCTS)
    assert report.new == 3 and not report.skipped
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,title\nA,x\n")
    with pytest.raises(InputError, match=r"bad.csv has no 'image' column"):
        ingest([bad], backend, "shop3", embedder=tiny_clip_embedder(), options=PRODUCTS)
    with pytest.raises(CollectionError, match="not a products collection"):
        images = tmp_path / "pics"
        images.mkdir()
        shutil.copy(tmp_path / "jsonl" / "images" / "p000-0.jpg", images)
        ingest([images], backend, "pics", embedder=tiny_clip_embedder())
        ingest([jsonl], backend, "pics", embedder=tiny_clip_embedder(), options=PRODUCTS)


def test_search_returns_each_product_once_where_one_row_per_image_repeats_them(tmp_path: Path) -> None:
    root = product_folders(tmp_path / "products", 40)
    backend = EmbeddedBackend(tmp_path / "shop.db")
    ingest([root], backend, "products", embedder=tiny_clip_embedder(), options=PRODUCTS)
    flat_images = tmp_path / "flat"
    shutil.copytree(root, flat_images, ignore=shutil.ignore_patterns("*.json"))
    ingest([flat_images], backend, "flat", embedder=tiny_clip_embedder())  # one row per image: folder = SKU
    k, repeated, flat_distinct = 10, 0, []
    for p in range(0, 40, 4):
        query = str(root / f"SKU-{p:03d}" / "side.jpg")
        hits = search(backend, "products", image=query, limit=k, embedder=tiny_clip_embedder())
        skus = [h.id for h in hits]
        assert len(set(skus)) == len(skus) == k  # never twice
        assert skus[0] == f"SKU-{p:03d}" and hits[0].best["angle"] == "side" and hits[0].best["score"] > 0.999
        assert [o["angle"] for o in hits[0].strip] and len(hits[0].strip) == 2
        flat = search(backend, "flat", image=query, limit=k, embedder=tiny_clip_embedder())
        per_sku = Counter(h.fields["folder"] for h in flat)
        flat_distinct.append(len(per_sku))
        repeated += per_sku.most_common(1)[0][1] > 1
    print(f"distinct products in the top {k}: MAX_SIM {k} every time; one row per image {flat_distinct}")
    assert repeated == 10 and max(flat_distinct) < k  # every flat top-k repeats a product
    backend.close()


def test_cli_ingest_and_search_products_and_find_a_product_listed_twice(tmp_path: Path) -> None:
    root = product_folders(tmp_path / "products", 8)
    shutil.copytree(root / "SKU-002", root / "SKU-902")  # the same product under a second SKU
    db, ckpt = str(tmp_path / "shop.db"), str(tiny_checkpoint_file())
    r = CliRunner().invoke(cli, ["ingest", str(root), "--db", db, "-c", "shop", "--kind", "products",
                                 "--checkpoint", ckpt, "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["search", "--db", db, "-c", "shop", "--image", str(root / "SKU-005" / "front.jpg"),
                                 "-k", "3", "--no-cache"])
    assert r.exit_code == 0 and "SKU-005  Product 5  best: front (1.000)  also: " in r.stdout.splitlines()[0]
    r = CliRunner().invoke(cli, ["search", "--db", db, "-c", "shop", "--text", "a lamp", "--json", "--no-cache"])
    hits = json.loads(r.stdout)
    assert r.exit_code == 0 and len({h["id"] for h in hits}) == len(hits) == 9
    assert all(h["best_image"]["thumbnail"] and len(h["other_images"]) == 2 for h in hits)
    r = CliRunner().invoke(cli, ["search", "--db", db, "-c", "shop", "--text", "a lamp", "--min-score", "0.1"])
    assert r.exit_code == 1 and "'shop' is a products collection: hybrid, grouping and range search are not " \
        "offered there yet" in r.stderr
    backend = EmbeddedBackend(db)
    scan = run(near_scan(backend, "shop", field="images[embedding]", threshold=0.999))
    assert [set(c.members) for c in scan.clusters()] == [{"SKU-002", "SKU-902"}]
    backend.close()
