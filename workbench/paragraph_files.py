"""Parquet and JSONL files of paragraphs, in the shape of Milvus's Wikipedia example, as records.

Two shapes are read, in Parquet (`.parquet`) and JSON Lines (`.jsonl`, `.ndjson`):

- grouped, one row per document: `wiki_id` (or `doc_id`, `id`), optional `title`, and
  `paragraphs`: a list of `{text, emb}` (emb optional: a list of floats);
- flat, one row per paragraph: `wiki_id` (or `doc_id`, `id`), `text`, optional `emb`, `title` and
  `paragraph_id` (the order within the document; else the file's order). Rows are grouped by key.

    for item in read_records(path):
        if isinstance(item, BadRecord): report(item.where, item.reason)
        else: embed(item.texts) ...

A file that cannot be used as a whole (not Parquet, no key column, no paragraphs or text) raises
`SkipFile`; a record that cannot be used is a `BadRecord` naming the row or line and the field, and
the others go on. Empty paragraphs are dropped (positions keep their index in the record).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.images import SkipFile

PARAGRAPH_EXTENSIONS = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
KEY_NAMES = ("wiki_id", "doc_id", "id")


@dataclass
class Record:
    """One document of a paragraphs file: key, title, paragraph texts with their positions, and the
    precomputed embeddings (one row per paragraph) when the file has them."""

    key: str
    title: str | None
    texts: list[str]
    positions: list[int]
    embs: np.ndarray | None
    where: str  # "row 12" or "line 12"


@dataclass
class BadRecord:
    """A record that is not ingested, and why (the reason names the field and value)."""

    where: str
    reason: str


def _key(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{name} is {value!r}, not a string or an integer")
    text = str(value).strip()
    if not text:
        raise ValueError(f"{name} is empty")
    return text


def _title(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"title is {type(value).__name__}, not a string")
    return " ".join(value.split()) or None


def _vector(value: Any, where: str) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{where} is not a list of numbers") from None
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{where} is not a list of numbers (shape {v.shape})")
    if not np.isfinite(v).all():
        raise ValueError(f"{where} holds NaN or infinity")
    return v


Para = tuple[int, Any, Any, str, str]  # position, text, emb or None, labels of the text and emb fields


def make_record(key: Any, key_name: str, title: Any, paragraphs: list[Para], where: str) -> Record:
    """A Record from paragraph tuples; ValueError naming the field that is wrong."""
    texts, positions, embs = [], [], []
    has_emb = [p[2] is not None for p in paragraphs]
    if any(has_emb) and not all(has_emb):
        missing = next(p[4] for p in paragraphs if p[2] is None)
        raise ValueError(f"{missing} is missing while other paragraphs have one")
    for pos, text, emb, text_label, emb_label in paragraphs:
        if not isinstance(text, str):
            raise ValueError(f"{text_label} is {type(text).__name__}, not a string")
        if not text.strip():
            continue
        texts.append(text)
        positions.append(pos)
        if emb is not None:
            embs.append(_vector(emb, emb_label))
    if not texts:
        raise ValueError("no paragraph with text")
    if embs and len({e.size for e in embs}) > 1:
        raise ValueError(f"paragraph embeddings have different lengths ({sorted({e.size for e in embs})})")
    return Record(_key(key, key_name), _title(title), texts, positions, np.stack(embs) if embs else None, where)


def _grouped(row: dict[str, Any], key_name: str, where: str) -> Record:
    paras = row.get("paragraphs")
    if not isinstance(paras, (list, tuple)):
        raise ValueError(f"paragraphs is {type(paras).__name__}, not a list of {{text, emb}}")
    items: list[Para] = []
    for i, p in enumerate(paras):
        if not isinstance(p, dict):
            raise ValueError(f"paragraphs[{i}] is {type(p).__name__}, not {{text, emb}}")
        items.append((i, p.get("text"), p.get("emb"), f"paragraphs[{i}].text", f"paragraphs[{i}].emb"))
    return make_record(row.get(key_name), key_name, row.get("title"), items, where)


def _flat(rows: list[tuple[str, dict[str, Any]]], key_name: str) -> Iterator[Record | BadRecord]:
    groups: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
    for where, row in rows:
        k = row.get(key_name)
        try:
            groups.setdefault(_key(k, key_name), []).append((where, row))
        except ValueError as e:
            yield BadRecord(where, str(e))
    for key, members in groups.items():
        where = members[0][0]
        try:
            ordered = members
            if all("paragraph_id" in r for _, r in members):
                ordered = sorted(members, key=lambda m: _order(m[1]["paragraph_id"], m[0]))
            items: list[Para] = [(_order(r["paragraph_id"], w) if "paragraph_id" in r else i, r.get("text"),
                                  r.get("emb"), f"{w}: text", f"{w}: emb") for i, (w, r) in enumerate(ordered)]
            yield make_record(key, key_name, members[0][1].get("title"), items, where)
        except ValueError as e:
            yield BadRecord(where, f"{key_name} {key}: {e}")


def _order(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: paragraph_id is {value!r}, not an integer")
    return value


def _key_name(columns: list[str], path: Path) -> str:
    for name in KEY_NAMES:
        if name in columns:
            return name
    raise SkipFile(f"no key column ({', '.join(KEY_NAMES)}) in {path.name}; the columns are: {', '.join(columns)}")


def _parquet(path: Path) -> Iterator[Record | BadRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise SkipFile(f"not a readable Parquet file: {str(e).splitlines()[0] if str(e) else e}") from None
    columns = list(pf.schema_arrow.names)
    key_name = _key_name(columns, path)
    wanted = [c for c in (key_name, "title", "paragraphs", "text", "emb", "paragraph_id") if c in columns]
    n = 0
    try:
        if "paragraphs" in columns:
            for batch in pf.iter_batches(batch_size=256, columns=wanted):
                for row in batch.to_pylist():
                    n += 1
                    try:
                        yield _grouped(row, key_name, f"row {n}")
                    except ValueError as e:
                        yield BadRecord(f"row {n}", str(e))
            return
        if "text" not in columns:
            raise SkipFile(f"{path.name} has neither a paragraphs column nor a text column; the columns are: "
                           f"{', '.join(columns)}")
        rows = [(f"row {i}", r) for i, r in enumerate(pf.read(columns=wanted).to_pylist(), 1)]
    except pa.ArrowException as e:
        raise SkipFile(f"Parquet file is damaged after row {n}: {str(e).splitlines()[0] if str(e) else e}") from None
    yield from _flat(rows, key_name)


def _jsonl(path: Path) -> Iterator[Record | BadRecord]:
    from workbench.doc_text import decode_text

    key_name: str | None = None
    grouped: bool | None = None
    flat_rows: list[tuple[str, dict[str, Any]]] = []
    try:
        f = open(path, "rb")
    except OSError as e:
        raise SkipFile(f"cannot read file: {e.strerror or e}") from None
    with f:
        for n, raw in enumerate(f, 1):
            where = f"line {n}"
            if not raw.strip():
                continue
            try:
                row = json.loads(decode_text(raw, "JSON"))
            except SkipFile as e:
                yield BadRecord(where, str(e))
                continue
            except ValueError as e:
                yield BadRecord(where, f"not valid JSON: {e}")
                continue
            if not isinstance(row, dict):
                yield BadRecord(where, f"a JSON {type(row).__name__}, not an object")
                continue
            if key_name is None:
                key_name = _key_name(list(row), path)
                grouped = "paragraphs" in row
                if not grouped and "text" not in row:
                    raise SkipFile(f"line {n} of {path.name} has neither paragraphs nor text; its fields are: "
                                   f"{', '.join(row)}")
            if grouped:
                try:
                    yield _grouped(row, key_name, where)
                except ValueError as e:
                    yield BadRecord(where, str(e))
            else:
                flat_rows.append((where, row))
    if key_name is None:
        raise SkipFile("no records (the file has no JSON lines)")
    if not grouped:
        yield from _flat(flat_rows, key_name)


def read_records(path: Path) -> Iterator[Record | BadRecord]:
    """The records of a paragraphs file, in file order (grouped shape) or first-appearance order (flat)."""
    kind = PARAGRAPH_EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise SkipFile(f"unsupported file type {path.suffix or '(no extension)'}")
    if path.stat().st_size == 0:
        raise SkipFile("empty file (0 bytes)")
    yield from (_parquet(path) if kind == "parquet" else _jsonl(path))
