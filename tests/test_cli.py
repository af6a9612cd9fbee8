"""The `workbench` command line: ingest, search, collections, describe, stats, export; errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from ingest_fixtures import GOOD_IMAGES, GOOD_PDFS, make_image_folder, make_pdf_folder, tiny_checkpoint_file

from workbench.cli import cli

WORKBENCH = Path(sys.executable).parent / "workbench"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A database with an images collection and a PDF collection, ingested through the CLI."""
    tiny_checkpoint = tiny_checkpoint_file()
    root = tmp_path_factory.mktemp("cli")
    photos, docs = root / "photos", root / "docs"
    make_image_folder(photos)
    make_pdf_folder(docs)
    db = root / "lib.db"
    runner = CliRunner()
    r = runner.invoke(cli, ["ingest", str(photos), "--db", str(db), "--collection", "photos",
                            "--checkpoint", str(tiny_checkpoint), "--device", "cpu"])
    assert r.exit_code == 3, r.output
    r = runner.invoke(cli, ["ingest", str(docs), "--db", str(db), "-c", "docs", "--checkpoint", str(tiny_checkpoint)])
    assert r.exit_code == 3, r.output
    return {"db": db, "photos": photos, "docs": docs, "ckpt": tiny_checkpoint, "root": root}


@pytest.fixture(autouse=True)
def _own_query_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's searches embed their queries (no vectors cached by an earlier test or run)."""
    monkeypatch.setenv("WORKBENCH_QUERY_CACHE", str(tmp_path / "query-vectors"))


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_no_command_prints_help() -> None:
    code, out, _ = run()
    assert code == 0 and "ingest" in out and "search" in out and "export" in out


def test_ingest_summary_report_and_rerun(library: dict[str, Path]) -> None:
    db = str(library["db"])
    code, out, err = run("ingest", str(library["photos"]), "--db", db, "-c", "photos")
    assert code == 3
    assert f"unchanged {len(GOOD_IMAGES)}" in out and "new 0" in out
    assert "empty.jpg: empty file (0 bytes)" in out and "notes.jpg: not an image" in out
    assert "truncated.jpg: truncated image" in out
    code, out, _ = run("ingest", str(library["photos"]), "--db", db, "-c", "photos", "--json")
    report = json.loads(out)
    assert code == 3 and report["exit_code"] == 3 and report["unchanged"] == len(GOOD_IMAGES)
    assert sorted(Path(s["path"]).name for s in report["skipped"]) == ["empty.jpg", "notes.jpg", "truncated.jpg"]
    code, out, _ = run("ingest", str(library["photos"] / "pic.bmp"), "--db", db, "-c", "photos", "-q")
    assert code == 0 and "unchanged 1" in out


def test_search_text_image_filter_json(library: dict[str, Path]) -> None:
    db = str(library["db"])
    code, out, _ = run("search", "--db", db, "-c", "photos", "--text", "a red square", "--limit", "3")
    assert code == 0 and len(out.strip().splitlines()) == 3
    code, out, _ = run("search", "--db", db, "-c", "photos", "--image", str(library["photos"] / "pic.tiff"),
                       "--json", "-k", "2")
    hits = json.loads(out)
    assert code == 0 and hits[0]["file_name"] == "pic.tiff" and hits[0]["score"] > 0.999
    assert Path(hits[0]["thumbnail"]).exists()
    code, out, _ = run("search", "--db", db, "-c", "photos", "-t", "x", "--filter", 'format in ["GIF", "BMP"]',
                       "--json")
    assert code == 0 and sorted(h["format"] for h in json.loads(out)) == ["BMP", "GIF"]
    code, out, _ = run("search", "--db", db, "-c", "docs", "--text", "Kittens play.", "--limit", "1")
    assert code == 0 and "cats.pdf" in out and "(page 2)" in out and "Kittens play." in out


def test_errors_are_one_line_without_traceback(library: dict[str, Path]) -> None:
    db = str(library["db"])
    code, out, err = run("search", "--db", db, "-c", "photos", "-t", "x", "--filter", "width >>> 3")
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out
    code, _, err = run("search", "--db", db, "-c", "photos", "-t", "x", "--filter", "width >>> 3", "--debug")
    assert code == 1 and "Traceback" in err and "error: " in err
    code, _, err = run("search", "--db", db, "-c", "nope", "-t", "x")
    assert code == 1 and "no collection 'nope'" in err and "docs, photos" in err
    code, _, err = run("describe", "--db", str(library["root"] / "missing.db"), "photos")
    assert code == 1 and "no database at" in err


def test_invalid_collection_name_fails_before_loading_a_model(library: dict[str, Path]) -> None:
    code, _, err = run("ingest", str(library["photos"]), "--db", str(library["db"]), "-c", "my-photos",
                       "--checkpoint", str(library["ckpt"]))
    assert code == 1 and "collection name 'my-photos' is invalid" in err and "loading model" not in err


def test_usage_errors_exit_2(library: dict[str, Path]) -> None:
    db = str(library["db"])
    assert run("search", "--db", db, "-c", "photos")[0] == 2
    assert run("search", "--db", db, "-c", "photos", "-t", "a", "-i", str(library["photos"] / "pic.bmp"))[0] == 2
    assert run("ingest", str(library["root"] / "does-not-exist"), "--db", db, "-c", "x")[0] == 2
    assert run("ingest", "--db", db, "-c", "x")[0] == 2
    assert run("describe", "--db", db)[0] == 2


def test_missing_weights_message(library: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(library["root"] / "empty-hf-home"))
    code, _, err = run("ingest", str(library["photos"]), "--db", str(library["db"]), "-c", "new",
                       "--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k")
    line = [x for x in err.splitlines() if x.startswith("error: ")]
    assert code == 1 and len(line) == 1
    assert "laion2b_s34b_b79k" in line[0] and "--checkpoint /path/to/file.pt" in line[0]


def test_query_with_another_model_is_refused(library: dict[str, Path], tmp_path: Path) -> None:
    import open_clip
    import torch

    from workbench.clip_models import register_tiny_test_model

    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    torch.save(open_clip.create_model(register_tiny_test_model(), pretrained=None).state_dict(), other)
    code, _, err = run("search", "--db", str(library["db"]), "-c", "photos", "-t", "x", "--checkpoint", str(other))
    assert code == 1 and "was embedded with workbench-tiny-test (checkpoint sha256" in err
    code, _, err = run("ingest", str(library["photos"]), "--db", str(library["db"]), "-c", "photos",
                       "--checkpoint", str(other))
    assert code == 1 and "vectors from different models cannot be compared" in err


def test_collections_describe_stats_export(library: dict[str, Path], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    db = str(library["db"])
    code, out, _ = run("collections", "--db", db)
    assert code == 0 and f"photos  {len(GOOD_IMAGES)} rows  images" in out and "docs  3 rows  pdfs" in out
    code, out, _ = run("collections", "--db", db, "--json")
    assert {c["name"] for c in json.loads(out)} == {"docs", "photos"}
    code, out, _ = run("describe", "--db", db, "-c", "docs")
    assert code == 0 and "pages: STRUCT_ARRAY" in out and "image_vector: FLOAT_VECTOR(dim=64)" in out
    code, out, _ = run("describe", "photos", "--db", db, "--json")
    d = json.loads(out)
    assert d["kind"] == "images" and d["workbench"]["embedder"]["model"] == "workbench-tiny-test"
    code, out, _ = run("stats", "photos", "--db", db, "--json")
    s = json.loads(out)
    assert s["rows"] == len(GOOD_IMAGES) and s["thumbnails"] == len(GOOD_IMAGES) and s["database_bytes"] > 0
    dest = tmp_path / "out" / "docs.parquet"
    code, out, _ = run("export", "docs", "--db", db, "--parquet", str(dest))
    assert code == 0 and f"wrote {len(GOOD_PDFS)} rows" in out
    table = pq.read_table(dest)
    assert table.num_rows == len(GOOD_PDFS) and {"path", "pages", "embedding"} <= set(table.column_names)


def test_default_db_from_environment(library: dict[str, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.settings import default_db_path

    target = tmp_path / "env.db"
    monkeypatch.setenv("WORKBENCH_DB", str(target))
    assert default_db_path() == target
    code, out, _ = run("ingest", str(library["photos"] / "pic.bmp"), "-c", "one", "--checkpoint",
                       str(library["ckpt"]))
    assert code == 0 and target.is_dir()
    assert run("collections")[1].startswith("one  1 rows")
    monkeypatch.delenv("WORKBENCH_DB")
    assert default_db_path().name == "default.db" and "vector-workbench" in str(default_db_path())


def test_console_script_end_to_end(library: dict[str, Path], tmp_path: Path) -> None:
    """The installed `workbench` script, as a user runs it."""
    env = dict(os.environ, WORKBENCH_DB=str(tmp_path / "script.db"))
    r = subprocess.run([str(WORKBENCH), "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and "ingest" in r.stdout
    r = subprocess.run([str(WORKBENCH), "ingest", str(library["photos"]), "-c", "p", "--checkpoint",
                        str(library["ckpt"])], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 3, r.stderr
    assert f"new {len(GOOD_IMAGES)}" in r.stdout and "Traceback" not in r.stderr
    assert "workbench: checkpoint tiny.pt looks like workbench-tiny-test" in r.stderr
    r = subprocess.run([str(WORKBENCH), "stats", "p"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and f"{len(GOOD_IMAGES)} rows" in r.stdout
