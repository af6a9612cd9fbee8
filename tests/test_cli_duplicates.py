"""`workbench duplicates` and `workbench uniqueness` on a folder with planted duplicates."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.dup_fixtures import pair_scores, plant_folder
from tests.ingest_fixtures import tiny_checkpoint_file
from workbench.backends import EmbeddedBackend
from workbench.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "pictures"
    groups, kinds = plant_folder(folder, n_base=16, seed=2)
    db = tmp_path / "lib.db"
    code, out, err = run("ingest", str(folder), "--db", str(db), "-c", "pics", "--checkpoint",
                         str(tiny_checkpoint_file()), "--device", "cpu", "-q")
    assert code == 0, out + err
    return {"db": str(db), "groups": groups, "kinds": kinds, "n": 16 + len(kinds)}


def test_perceptual_json_and_csv(library: dict[str, Any], tmp_path: Path) -> None:
    db = library["db"]
    code, out, _ = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["mode"] == "perceptual" and d["metric"] == "HAMMING" and d["threshold"] == 8
    assert d["rows_scanned"] == library["n"]
    found = [{Path(m["path"]) for m in c["members"]} for c in d["clusters"]]
    assert pair_scores(found, library["groups"]) == (1.0, 1.0)
    assert all(c["members"][0]["id"] == c["keep"] for c in d["clusters"])
    out_csv = tmp_path / "dups.csv"
    code, out, err = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "--csv", str(out_csv), "-q")
    assert code == 0 and "cluster 1:" in out and f"line(s) to {out_csv}" in err
    lines = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert len(lines) == sum(len(g) for g in library["groups"])
    assert sum(r["role"] == "keep" for r in lines) == len(library["groups"])
    code, out, _ = run("duplicates", "--db", db, "-c", "pics", "--exact", "--csv", "-", "-q")
    assert code == 0 and out.startswith("cluster,id,role,path")


def test_mark_then_delete_with_confirmation(library: dict[str, Any]) -> None:
    db, n = library["db"], library["n"]
    planted = sum(len(g) - 1 for g in library["groups"])
    code, out, _ = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "--mark", "-q")
    assert code == 0 and f"marked {planted} row(s)" in out
    b = EmbeddedBackend(db)
    assert b.count("pics", 'duplicate_of != ""') == planted and b.count("pics", "duplicate_of is null") == n - planted
    b.close()
    code, out, err = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "--delete")
    assert code == 2 and "--yes" in err
    code, out, _ = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "--delete", "--yes", "-q")
    assert code == 0 and f"deleted {planted} duplicate row(s)" in out
    b = EmbeddedBackend(db)
    assert b.count("pics") == n - planted == len(library["groups"]) + 16 - len(library["groups"])
    b.close()
    code, out, _ = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "-q")
    assert code == 0 and "0 cluster(s)" in out


def test_near_uniqueness_and_errors(library: dict[str, Any]) -> None:
    db = library["db"]
    code, out, _ = run("duplicates", "--db", db, "-c", "pics", "--threshold", "0.9999", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["mode"] == "near" and d["field"] == "embedding" and d["metric"] == "COSINE"
    code, out, _ = run("uniqueness", "--db", db, "-c", "pics", "--json")
    rows = json.loads(out)["rows"]
    assert code == 0 and len(rows) == library["n"] and rows[0]["uniqueness"] >= rows[-1]["uniqueness"]
    code, out, _ = run("uniqueness", "--db", db, "-c", "pics", "--pick", "5", "-q")
    assert code == 0 and "5 most diverse" in out and len(out.strip().splitlines()) == 6
    code, _, err = run("duplicates", "--db", db, "-c", "nope", "--exact")
    assert code == 1 and "no collection 'nope'" in err
    code, _, err = run("duplicates", "--db", db, "-c", "pics", "--near", "--field", "vectors")
    assert code == 1 and "no vector field 'vectors'" in err
    code, _, err = run("duplicates", "--db", db, "-c", "pics", "--perceptual", "--threshold", "2.5")
    assert code == 1 and "whole number of bits" in err
    code, _, err = run("duplicates", "--db", db, "-c", "pics", "--mark", "--delete", "--yes")
    assert code == 2 and "not both" in err
