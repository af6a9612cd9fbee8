"""`workbench export`, `import` and `copy`: round trips through Parquet and JSONL, and copies between the
embedded engine and Milvus Lite, checked row by row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import open_lite
from ingest_fixtures import gradient, tiny_checkpoint_file

from workbench.backends import FLOAT_VECTOR, INT64, JSON_TYPE, VARCHAR, EmbeddedBackend, open_backend
from workbench.cli import cli
from workbench.transfer import row_digest

WORKBENCH = Path(sys.executable).parent / "workbench"


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def rows_of(db: str, name: str) -> dict[Any, bytes]:
    """Every row of `name` by primary key, as the checksum of its canonical form."""
    from workbench.targets import open_target

    with open_target(db, create=False) as b:
        schema = b.schema(name)
        pk = next(f["name"] for f in schema["fields"] if f.get("is_primary"))
        return {r[pk]: row_digest(r, schema) for batch in b.iter_rows(name, batch_size=100) for r in batch}


@pytest.fixture(scope="module")
def engine_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An engine database with an ingested images collection and a hand-made one (JSON, dynamic fields)."""
    root = tmp_path_factory.mktemp("cli-transfer")
    photos = root / "photos"
    photos.mkdir()
    for i in range(6):
        gradient(100, 80, seed=i).save(photos / f"p{i}.png")
    db = root / "src.db"
    code, out, err = run("ingest", str(photos), "--db", str(db), "-c", "photos", "--checkpoint",
                         str(tiny_checkpoint_file()), "-q")
    assert code == 0, err
    b = EmbeddedBackend(db)
    schema = {"enable_dynamic_field": True, "fields": [
        {"name": "pk", "type": INT64, "is_primary": True},
        {"name": "title", "type": VARCHAR, "params": {"max_length": 64}},
        {"name": "info", "type": JSON_TYPE, "nullable": True},
        {"name": "vec", "type": FLOAT_VECTOR, "params": {"dim": 4}},
    ]}
    b.create_collection("notes", schema, [{"field_name": "vec", "index_type": "FLAT", "metric_type": "L2"}])
    b.insert("notes", [{"pk": i, "title": f"note {i}", "info": {"n": i, "tags": ["a", str(i)]} if i % 3 else None,
                        "vec": [i / 10, 1.0, -i / 7, 0.5], "extra": f"dyn{i}"} for i in range(250)])
    b.flush("notes")
    b.close()
    return {"root": root, "db": db, "photos": photos}


@pytest.fixture(scope="module")
def lite_file(engine_db: dict[str, Path]) -> Path:
    path = engine_db["root"] / "lite.db"
    open_lite(path).close()  # type: ignore[attr-defined]  # skips (with the reason) without Milvus Lite
    return path


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_import_round_trip(engine_db: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    src = str(engine_db["db"])
    for name in ("photos", "notes"):
        dest = tmp_path / f"{name}.{fmt}"
        code, out, err = run("export", name, "--db", src, f"--{fmt}", str(dest), "-q")
        assert code == 0, err
        n = 6 if name == "photos" else 250
        assert out.strip() == f"wrote {n} rows to {dest}"
        if fmt == "parquet":
            assert pq.read_table(dest).num_rows == n
        else:
            assert len(dest.read_text().splitlines()) == n and Path(f"{dest}.schema.json").is_file()
        target = str(tmp_path / "imported.db")
        code, out, err = run("import", str(dest), "--db", target)  # the name recorded in the export
        assert code == 0, err
        assert f"imported {n} rows of {name!r}" in out and f"verified: {n} rows on both sides" in out
        assert "rows" in err  # progress on stderr
        assert rows_of(target, name) == rows_of(src, name)
    # append re-writes the same keys; create refuses an existing collection
    code, out, _ = run("import", str(tmp_path / f"notes.{fmt}"), "--db", str(tmp_path / "imported.db"),
                       "--mode", "append", "-q")
    assert code == 0 and "now has 250" in out
    code, _, err = run("import", str(tmp_path / f"notes.{fmt}"), "--db", str(tmp_path / "imported.db"), "-q")
    assert code == 1 and "already has a collection 'notes'" in err


def test_export_layouts_and_import_into_milvus_lite(engine_db: dict[str, Path], lite_file: Path,
                                                    tmp_path: Path) -> None:
    src = str(engine_db["db"])
    code, out, _ = run("export", "notes", "--db", src, "--parquet", str(tmp_path / "split"), "--rows-per-file", "100",
                       "-q")
    assert code == 0 and out.strip() == f"wrote 250 rows to 3 file(s) in {tmp_path / 'split'}"
    code, out, _ = run("export", "notes", "--db", src, "--jsonl", str(tmp_path / "segs"), "--layout", "segments",
                       "-q")
    assert code == 0 and "wrote 250 rows" in out
    db = f"lite:{lite_file}"
    code, out, err = run("import", str(tmp_path / "split"), "--db", db, "-c", "notes_split", "-q")
    assert code == 0 and "verified: 250 rows" in out, err
    assert rows_of(db, "notes_split") == rows_of(src, "notes")
    code, out, err = run("import", str(tmp_path / "segs"), "--db", db, "-c", "notes_segs", "-q")
    assert code == 0, err
    assert rows_of(db, "notes_segs") == rows_of(src, "notes")
    # segment files need a backend that says which rows are in which segment
    code, _, err = run("export", "notes_split", "--db", db, "--parquet", str(tmp_path / "x"), "--layout", "segments")
    assert code == 1 and "segment" in err and len(err.strip().splitlines()) == 1
    assert run("export", "notes", "--db", src, "--parquet", "a", "--jsonl", "b")[0] == 2
    assert run("export", "notes", "--db", src, "--parquet", "a", "--layout", "single", "--rows-per-file", "3")[0] == 2


def test_copy_engine_to_milvus_lite_and_back(engine_db: dict[str, Path], lite_file: Path, tmp_path: Path) -> None:
    src = str(engine_db["db"])
    lite = f"lite:{lite_file}"
    back = str(tmp_path / "back.db")
    for name in ("photos", "notes"):
        code, out, err = run("copy", name, "--from", src, "--to", lite, "--verify", "full")
        assert code == 0, err
        assert f"copied {len(rows_of(src, name))} rows of {name!r}" in out and "(full checksum equal)" in out
        assert "rows/s" in err  # the progress line
        code, out, err = run("copy", name, "--from", lite, "--to", back, "--as", f"{name}_2", "--verify", "full",
                             "--batch-size", "64")
        assert code == 0 and "full checksum equal" in out, err
        assert rows_of(back, f"{name}_2") == rows_of(src, name)
    # the copy brought the model record and thumbnails: it can be searched as is
    code, out, err = run("search", "--db", back, "-c", "photos_2", "--image", str(engine_db["photos"] / "p4.png"),
                         "--json", "-k", "1")
    assert code == 0, err
    hit = json.loads(out)[0]
    assert hit["file_name"] == "p4.png" and Path(hit["thumbnail"]).is_file()
    # an existing target: refused, replaced or appended
    code, _, err = run("copy", "notes", "--from", src, "--to", lite)
    assert code == 1 and "already has a collection 'notes'" in err
    code, out, _ = run("copy", "notes", "--from", src, "--to", lite, "--if-exists", "replace", "-q")
    assert code == 0 and "verified: 250 rows" in out
    code, out, _ = run("copy", "notes", "--from", src, "--to", lite, "--if-exists", "append", "--verify", "none", "-q")
    assert code == 0 and "copied 250 rows" in out
    code, _, err = run("copy", "nope", "--from", src, "--to", lite)
    assert code == 1 and "no collection 'nope'" in err


def test_copy_ctrl_c_cancels_and_removes_the_partial_copy(engine_db: dict[str, Path], lite_file: Path,
                                                         tmp_path: Path) -> None:
    """The installed script, interrupted while copying: exit 130, the report, and no half collection."""
    src = tmp_path / "big.db"
    b = EmbeddedBackend(src)
    b.create_collection("big", {"fields": [{"name": "pk", "type": INT64, "is_primary": True},
                                           {"name": "vec", "type": FLOAT_VECTOR, "params": {"dim": 2}}]})
    b.insert("big", [{"pk": i, "vec": [float(i), 1.0]} for i in range(3000)])
    b.flush("big")
    b.close()
    dst = tmp_path / "dst.db"
    p = subprocess.Popen([str(WORKBENCH), "copy", "big", "--from", str(src), "--to", str(dst), "--batch-size", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    for line in p.stderr:
        if "copying" in line:
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "cancelling after the current batch" in err and "Traceback" not in err
    assert "(cancelled)" in out and "removed" in out
    b = open_backend(str(dst))
    try:
        assert not b.has_collection("big")
    finally:
        b.close()
    assert os.path.isdir(src)
