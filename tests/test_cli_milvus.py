"""The `workbench` command line on Milvus Lite (`--db lite:FILE`), next to the embedded engine:
ingest and search, inspection, and the early, explained refusal of Array-of-Structs templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import open_lite
from ingest_fixtures import gradient, make_pdf, tiny_checkpoint_file

from workbench.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-milvus")
    lite_file = root / "milvus.db"
    open_lite(lite_file).close()  # type: ignore[attr-defined]  # skips (with the reason) without Milvus Lite
    photos = root / "photos"
    photos.mkdir()
    for i in range(5):
        gradient(160, 120, seed=i).save(photos / f"p{i}.png")
    docs = root / "docs"
    docs.mkdir()
    make_pdf(docs / "cats.pdf", ["All about cats", "Kittens play."])
    return {"root": root, "lite": lite_file, "photos": photos, "docs": docs, "ckpt": tiny_checkpoint_file()}


@pytest.mark.parametrize("kind", ["lite", "engine"])
def test_ingest_and_search_through_the_cli(setup: dict[str, Path], kind: str) -> None:
    db = f"lite:{setup['lite']}" if kind == "lite" else str(setup["root"] / "engine.db")
    code, out, err = run("ingest", str(setup["photos"]), "--db", db, "-c", "photos", "--checkpoint",
                         str(setup["ckpt"]), "--device", "cpu", "-q")
    assert code == 0, err
    assert "new 5" in out and "created" in out
    code, out, err = run("ingest", str(setup["photos"]), "--db", db, "-c", "photos", "-q")
    assert code == 0 and "unchanged 5" in out and "new 0" in out, err  # re-run: nothing re-embedded

    code, out, err = run("search", "--db", db, "-c", "photos", "--image", str(setup["photos"] / "p3.png"),
                         "--json", "-k", "3")
    assert code == 0, err
    hits = json.loads(out)
    assert len(hits) == 3 and hits[0]["file_name"] == "p3.png" and hits[0]["score"] > 0.999
    assert Path(hits[0]["thumbnail"]).is_file()
    code, out, _ = run("search", "--db", db, "-c", "photos", "--text", "a red square", "--limit", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2
    code, out, _ = run("search", "--db", db, "-c", "photos", "-t", "x", "--filter", 'file_name in ["p1.png"]',
                       "--json")
    assert code == 0 and [h["file_name"] for h in json.loads(out)] == ["p1.png"]

    code, out, _ = run("collections", "--db", db)
    assert code == 0 and out.startswith("photos  5 rows  images  workbench-tiny-test")
    code, out, _ = run("describe", "photos", "--db", db)
    assert code == 0 and "embedding: FLOAT_VECTOR(dim=64)" in out and "id: VARCHAR(max_length=64) primary" in out
    code, out, _ = run("stats", "photos", "--db", db, "--json")
    s = json.loads(out)
    assert code == 0 and s["rows"] == 5 and s["thumbnails"] == 5 and s["database_bytes"] > 0
    if kind == "lite":
        assert s["segments"] is None and s["backend"].startswith("Milvus Lite")
        assert (Path(str(setup["lite"]) + ".workbench") / "collections" / "photos.json").is_file()
        # Milvus Lite 3.x keeps a *folder*: without the lite: prefix it is still Milvus Lite, not the engine
        code, out, _ = run("collections", "--db", str(setup["lite"]))
        assert code == 0 and out.startswith("photos  5 rows")
        assert not (setup["lite"] / "catalog.sqlite").exists()
    else:
        assert sum(seg["rows"] for seg in s["segments"]) == 5
        assert (setup["root"] / "engine.db" / "workbench" / "collections" / "photos.json").is_file()
    code, _, err = run("search", "--db", db, "-c", "nope", "-t", "x")
    assert code == 1 and "no collection 'nope'" in err and "photos" in err


def test_pdf_ingest_into_milvus_lite_fails_before_loading_the_model(setup: dict[str, Path]) -> None:
    db = f"lite:{setup['lite']}"
    code, out, err = run("ingest", str(setup["docs"]), "--db", db, "-c", "docs", "--checkpoint",
                         str(setup["ckpt"]))
    lines = [x for x in err.splitlines() if x.startswith("error: ")]
    assert code == 1 and len(lines) == 1, err
    msg = lines[0]
    assert "Array of Structs" in msg and "PDF" in msg and "Milvus Lite" in msg
    assert "use the embedded engine or Milvus 2.6.4+" in msg
    assert "loading model" not in err and "Traceback" not in err
    code, out, _ = run("collections", "--db", db, "--json")
    assert "docs" not in {c["name"] for c in json.loads(out)}  # nothing was created

    code, _, err = run("ingest", str(setup["photos"]), "--db", db, "-c", "mv", "--multiview", "--checkpoint",
                       str(setup["ckpt"]))
    assert code == 1 and "multi-view" in err and "without --multiview" in err and "loading model" not in err


def test_search_of_a_struct_field_on_milvus_lite_is_explained(setup: dict[str, Path]) -> None:
    db = f"lite:{setup['lite']}"
    code, _, err = run("ingest", str(setup["photos"]), "--db", db, "-c", "few", "--checkpoint", str(setup["ckpt"]),
                       "-q")
    assert code == 0, err
    code, _, err = run("search", "--db", db, "-c", "few", "-t", "x", "--field", "views[embedding]")
    assert code == 1 and "MAX_SIM" in err and "Milvus Lite" in err and len(err.strip().splitlines()) == 1


def test_db_and_connection_are_exclusive(setup: dict[str, Path]) -> None:
    code, _, err = run("collections", "--db", str(setup["root"] / "x.db"), "--connection", "prod")
    assert code == 2 and "not both" in err


def test_each_command_in_a_fresh_process(setup: dict[str, Path], tmp_path: Path) -> None:
    """The installed script, one process per command as a user runs it: Milvus Lite starts every process
    with its collections released, so reads must load them first."""
    import subprocess
    import sys

    workbench = str(Path(sys.executable).parent / "workbench")
    db = f"lite:{tmp_path / 'fresh.db'}"  # never opened by this test process (Milvus Lite: one process per file)

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([workbench, *args], capture_output=True, text=True, timeout=180)

    r = script("ingest", str(setup["photos"]), "--db", db, "-c", "photos", "--checkpoint", str(setup["ckpt"]), "-q")
    assert r.returncode == 0 and "new 5" in r.stdout, r.stderr
    r = script("ingest", str(setup["photos"]), "--db", db, "-c", "photos", "-q")
    assert r.returncode == 0 and "unchanged 5" in r.stdout, r.stderr
    r = script("search", "--db", db, "-c", "photos", "--image", str(setup["photos"] / "p2.png"), "--json", "-k", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["file_name"] == "p2.png"
    r = script("export", "photos", "--db", db, "--parquet", str(tmp_path / "p.parquet"))
    assert r.returncode == 0 and "wrote 5 rows" in r.stdout, r.stderr
    assert "WARNING" not in r.stderr and "Traceback" not in r.stderr  # pymilvus's log lines stay quiet
