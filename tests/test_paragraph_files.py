"""Parquet/JSONL paragraphs files in the Wikipedia shape: grouped and flat, with or without `emb`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.images import SkipFile
from workbench.paragraph_files import BadRecord, Record, read_records


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_grouped_parquet_with_embeddings(tmp_path: Path) -> None:
    emb = np.eye(3, 4, dtype=np.float32)
    table = pa.table({
        "wiki_id": [7, 9],
        "title": ["Seven", None],
        "paragraphs": [[{"text": "a", "emb": emb[0].tolist()}, {"text": "b", "emb": emb[1].tolist()}],
                       [{"text": "c", "emb": emb[2].tolist()}]],
    })
    pq.write_table(table, tmp_path / "w.parquet")
    recs = list(read_records(tmp_path / "w.parquet"))
    assert all(isinstance(r, Record) for r in recs)
    r0, r1 = recs
    assert isinstance(r0, Record) and isinstance(r1, Record)
    assert (r0.key, r0.title, r0.texts, r0.positions, r0.where) == ("7", "Seven", ["a", "b"], [0, 1], "row 1")
    assert r0.embs is not None and np.allclose(r0.embs, emb[:2])
    assert (r1.key, r1.title, r1.texts) == ("9", None, ["c"])


def test_grouped_parquet_without_embeddings_and_bad_records(tmp_path: Path) -> None:
    rows = [
        {"wiki_id": 1, "paragraphs": [{"text": "x"}, {"text": "  "}, {"text": "y"}]},
        {"wiki_id": 2, "paragraphs": []},
        {"wiki_id": None, "paragraphs": [{"text": "z"}]},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "w.parquet")
    recs = list(read_records(tmp_path / "w.parquet"))
    assert isinstance(recs[0], Record) and recs[0].texts == ["x", "y"] and recs[0].positions == [0, 2]
    assert recs[0].embs is None
    assert recs[1] == BadRecord("row 2", "no paragraph with text")
    assert recs[2] == BadRecord("row 3", "wiki_id is None, not a string or an integer")


def test_flat_parquet_is_grouped_by_key_in_paragraph_order(tmp_path: Path) -> None:
    table = pa.table({"wiki_id": [5, 3, 5, 3], "paragraph_id": [1, 0, 0, 1], "text": ["5b", "3a", "5a", "3b"],
                      "title": ["Five", "Three", "Five", "Three"]})
    pq.write_table(table, tmp_path / "flat.parquet")
    recs = [r for r in read_records(tmp_path / "flat.parquet") if isinstance(r, Record)]
    assert [(r.key, r.title, r.texts, r.positions) for r in recs] == [
        ("5", "Five", ["5a", "5b"], [0, 1]), ("3", "Three", ["3a", "3b"], [0, 1])]


def test_jsonl_grouped_with_bad_lines(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "w.jsonl", [
        {"doc_id": "alpha", "paragraphs": [{"text": "one", "emb": [1, 0]}, {"text": "two", "emb": [0, 1]}]},
        "{not json",
        [1, 2],
        {"doc_id": "beta", "paragraphs": [{"text": "x", "emb": [1, 0]}, {"text": "y"}]},
        {"doc_id": "gamma", "paragraphs": [{"text": 3}]},
        {"doc_id": "delta", "paragraphs": [{"text": "d", "emb": ["a", "b"]}]},
        {"doc_id": "eps", "paragraphs": [{"text": "e", "emb": [1, 0]}, {"text": "f", "emb": [1, 0, 0]}]},
    ])
    out = list(read_records(p))
    assert isinstance(out[0], Record) and out[0].key == "alpha" and out[0].embs is not None
    assert out[0].embs.shape == (2, 2)
    assert isinstance(out[1], BadRecord) and out[1].where == "line 2" and out[1].reason.startswith("not valid JSON")
    assert out[2] == BadRecord("line 3", "a JSON list, not an object")
    assert out[3] == BadRecord("line 4", "paragraphs[1].emb is missing while other paragraphs have one")
    assert out[4] == BadRecord("line 5", "paragraphs[0].text is int, not a string")
    assert out[5] == BadRecord("line 6", "paragraphs[0].emb is not a list of numbers")
    assert out[6] == BadRecord("line 7", "paragraph embeddings have different lengths ([2, 3])")


def test_jsonl_flat(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "f.ndjson", [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}, {"id": 1, "text": "c"},
                                             {"id": True, "text": "d"}])
    out = list(read_records(p))
    assert out[0] == BadRecord("line 4", "id is True, not a string or an integer")
    recs = [r for r in out if isinstance(r, Record)]
    assert [(r.key, r.texts, r.where) for r in recs] == [("1", ["a", "c"], "line 1"), ("2", ["b"], "line 2")]


@pytest.mark.parametrize("name,data,reason", [
    ("x.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ("x.jsonl", b"", "empty file (0 bytes)"),
    ("x.jsonl", b"\n\n", "no records (the file has no JSON lines)"),
    ("x.jsonl", b'{"title": "no key"}\n', "no key column (wiki_id, doc_id, id) in x.jsonl; the columns are: title"),
    ("x.jsonl", b'{"wiki_id": 1, "body": "?"}\n', "line 1 of x.jsonl has neither paragraphs nor text"),
])
def test_unusable_files_have_reasons(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(SkipFile) as e:
        list(read_records(p))
    assert str(e.value).startswith(reason)


def test_parquet_without_text_columns(tmp_path: Path) -> None:
    pq.write_table(pa.table({"wiki_id": [1], "body": ["?"]}), tmp_path / "b.parquet")
    with pytest.raises(SkipFile, match="neither a paragraphs column nor a text column"):
        list(read_records(tmp_path / "b.parquet"))
