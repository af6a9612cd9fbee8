"""Copying a collection between backends: schema mapping, streaming in batches, verification."""


from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from workbench.backends import (
    ARRAY,
    STRUCT,
    VARCHAR,
    VECTOR_TYPES,
    Backend,
    CapabilityError,
    normalize_schema,
    primary_field,
    schema_features,
)
from workbench.transfer.checksums import _Checksum, _Reservoir, row_digest
from workbench.transfer.progress import (
    CancelToken,
    SchemaPlan,
    TransferError,
    TransferProgress,
    TransferReport,
    Verification,
    _Clock,
)
from workbench.transfer.staging import Batch, clean_leftovers, write_staged


# --- schema mapping ------------------------------------------------------------------------------------
def _index_specs(backend: Backend, name: str) -> list[dict[str, Any]]:
    return [i.spec() for i in backend.list_indexes(name)]


def plan_copy(source: Backend, target: Backend, name: str, skip_unsupported: bool = False) -> SchemaPlan:
    """Map `name`'s schema and indexes onto `target`.

    Fields the target cannot hold (an Array of Structs on Milvus Lite, FLOAT16 vectors on Milvus Lite,
    ...) raise CapabilityError naming them, unless `skip_unsupported`, which leaves them out (noted in
    the plan). An auto_id primary key becomes a plain one so that the keys are copied as they are.
    """
    src = source.schema(name)
    return map_schema(src, _index_specs(source, name), target.capabilities, skip_unsupported,
                      target_label=target.label)


def map_schema(src: dict[str, Any], indexes: list[dict[str, Any]], caps: Any, skip_unsupported: bool = False,
               target_label: str = "the target") -> SchemaPlan:
    """The plan for creating schema `src` with `indexes` on a backend with capabilities `caps`."""
    src = normalize_schema(src)
    dropped: list[str] = []
    notes: list[str] = []
    problems = []
    blanked: list[str] = []
    for feat, names in schema_features(src).items():
        reason = caps.why_not(feat)
        if reason is None:
            continue
        if feat == "nullable_fields":  # Milvus before 2.5: make the fields plain where nothing is lost but null
            names = _plain_fields(src, blanked, notes, reason)
            if not names:
                continue
        dropped.extend(names)
        problems.append(f"{', '.join(names)}: {reason}")
    if problems and not skip_unsupported:
        raise CapabilityError(f"cannot copy field(s) {', '.join(dropped)} to {target_label} ("
                              + "; ".join(problems) + "). Copy without them with skip_unsupported=True "
                              "(--skip-unsupported)")
    notes.extend(f"left out {p}" for p in problems)
    fields = []
    for f in src["fields"]:
        if f["name"] in dropped:
            continue
        f = json.loads(json.dumps(f, default=str))
        if f["name"] in blanked or (f.get("default_value") is not None and not caps.supports("nullable_fields")):
            f.pop("nullable", None)
            f.pop("default_value", None)
        if f["type"] == ARRAY and f.get("element_type") == VARCHAR and not f["params"].get("max_length"):
            f["params"]["max_length"] = 65535
            notes.append(f"ARRAY field {f['name']!r}: the source does not report its elements' max_length "
                         "(Milvus Lite does not); 65535 is used")
        if f.get("is_primary") and f.get("auto_id"):
            f.pop("auto_id")
            notes.append(f"primary key {f['name']!r} was auto_id; the copy keeps the same keys, so it is not")
        fields.append(f)
    target = dict(src, fields=fields, auto_id=False)
    if not any(f["type"] in VECTOR_TYPES or f.get("element_type") == STRUCT for f in fields):
        raise CapabilityError(f"cannot copy to {target_label}: every vector field would be left out")
    out_idx = []
    for i in indexes:
        top = i["field_name"].split("[", 1)[0]
        if top in dropped:
            continue
        i = dict(i)
        itype = (i.get("index_type") or "AUTOINDEX").upper()
        if caps.index_types and itype not in caps.index_types:
            if i.get("metric_type"):
                notes.append(f"index on {i['field_name']!r}: {itype} is not available on {target_label}; "
                             "AUTOINDEX instead")
                i["index_type"], i["params"] = "AUTOINDEX", {}
            else:
                notes.append(f"scalar index {itype} on {i['field_name']!r} is not available on {target_label}; "
                             "left out")
                continue
        out_idx.append(i)
    return SchemaPlan(source=src, target=target, indexes=out_idx, dropped=dropped, notes=notes, blanked=blanked)


def _plain_fields(src: dict[str, Any], blanked: list[str], notes: list[str], reason: str) -> list[str]:
    """For a target without nullable fields: nullable VARCHAR fields become plain ones that store "" for null
    (added to `blanked`), default values are left out (rows carry their values); returns the nullable
    fields of other types, which cannot be mapped."""
    unmappable = []
    for f in src["fields"]:
        if f.get("nullable") and f["type"] == VARCHAR and not f.get("is_primary"):
            blanked.append(f["name"])
            notes.append(f"field {f['name']!r} is nullable and {reason}: a null is stored as \"\" there")
        elif f.get("nullable"):
            unmappable.append(f["name"])
        elif f.get("default_value") is not None:
            notes.append(f"field {f['name']!r}: its default value is left out ({reason}); every copied row "
                         "has its value")
    return unmappable


# --- copy --------------------------------------------------------------------------------------------
def copy_collection(
    source: Backend,
    target: Backend,
    name: str,
    *,
    target_name: str | None = None,
    batch_size: int = 1000,
    if_exists: str = "fail",
    skip_unsupported: bool = False,
    verify: str = "sample",
    samples: int = 256,
    keep_partial: bool = False,
    cancel: CancelToken | None = None,
) -> Generator[TransferProgress, None, None]:
    """Copy collection `name` from `source` to `target` (as `target_name`), batch by batch.

    The rows go into a temporary collection `<target_name>__copying_<tag>`, which is verified and only
    then put in place (`workbench.transfer.staging`): a cancel, an error or a failed verification leaves
    the target as it was. `if_exists`: "fail" (default), "replace" (the old collection is dropped once
    the copy is in place) or "append" (the verified rows are then upserted into it; an error in that
    last step leaves the rows upserted so far, and says how many). `verify`: "sample" (row counts and
    `samples` rows' checksums), "full" (also a checksum of every row on both sides) or "none" (row counts
    only). `keep_partial` (new collections only): on cancel or error keep what was copied, as `target_name`.
    """
    clock = _Clock()
    dest = target_name or name
    if if_exists not in ("fail", "replace", "append"):
        raise TransferError(f"if_exists must be 'fail', 'replace' or 'append', not {if_exists!r}")
    if verify not in ("sample", "full", "none"):
        raise TransferError(f"verify must be 'sample', 'full' or 'none', not {verify!r}")
    if batch_size < 1:
        raise TransferError("batch_size must be at least 1")
    if not source.has_collection(name):
        raise TransferError(f"no collection {name!r} on {source.label}")
    yield TransferProgress("planning", 0, None, clock(), f"mapping the schema of {name!r}")
    cleaned = clean_leftovers(target, dest)
    plan = plan_copy(source, target, name, skip_unsupported)
    report = TransferReport("copy", name, plan=plan, notes=[*cleaned, *plan.notes])
    total = source.count(name)
    exists = target.has_collection(dest)
    if exists and if_exists == "fail":
        raise TransferError(f"{target.label} already has a collection {dest!r}; choose another name, or "
                            "replace or append to it" + "".join(f" ({n})" for n in cleaned))
    stage_plan = existing_plan(target, dest) if exists and if_exists == "append" else plan
    partitions = source.list_partitions(name)
    pk = primary_field(plan.source)["name"]
    sample = _Reservoir(samples if verify != "none" else 0)
    full = _Checksum() if verify == "full" else None

    def batches() -> Iterator[Batch]:
        for part in partitions:
            for batch in source.iter_rows(name, batch_size=batch_size, output_fields=["*"],
                                          partitions=[part] if len(partitions) > 1 else None):
                rows = plan.adapt(batch)
                for r in rows:
                    sample.add(r[pk])
                    if full is not None:
                        full.add(row_digest(r, plan.target))
                yield rows, None if part == "_default" else part, f"rows of {name!r} on {source.label}"

    def check(temp: str, rows: int) -> Verification:
        if verify == "none":
            return Verification(source_rows=source.count(name), target_rows=target.count(temp))
        return verify_copy(source, name, target, temp, plan, sample.items, full)

    yield from write_staged(target, dest, kind="copying", mode="append" if if_exists == "append" else "replace",
                            plan=stage_plan, batches=batches(), total=total, report=report, check=check,
                            cancel=cancel, keep_partial=keep_partial, clock=clock, batch_size=batch_size)


def existing_plan(backend: Backend, name: str) -> SchemaPlan:
    """The plan for a temporary collection like the existing `name` (its schema and indexes, the
    primary key not auto_id so that keys are kept)."""
    return map_schema(backend.schema(name), _index_specs(backend, name), backend.capabilities,
                      target_label=backend.label)


def verify_copy(source: Backend, name: str, target: Backend, dest: str, plan: SchemaPlan, keys: Sequence[Any],
                full: _Checksum | None = None, batch_size: int = 500) -> Verification:
    """Compare counts and the checksums of rows `keys` (and, with `full`, of every target row)."""
    v = Verification(source_rows=source.count(name), target_rows=target.count(dest))
    pk = primary_field(plan.source)["name"]
    keys = list(keys)
    for i in range(0, len(keys), batch_size):
        chunk = keys[i:i + batch_size]
        a = {r[pk]: row_digest(r, plan.target) for r in plan.adapt(source.get(name, chunk))}
        b = {r[pk]: row_digest(r, plan.target) for r in target.get(dest, chunk)}
        for k in chunk:
            v.checked += 1
            if k not in b:
                if len(v.missing) < 20:
                    v.missing.append(k)
            elif k in a and a[k] != b[k] and len(v.mismatched) < 20:
                v.mismatched.append(k)
    if full is not None:
        other = _Checksum()
        for batch in target.iter_rows(dest, batch_size=1000, output_fields=["*"]):
            for r in batch:
                other.add(row_digest(r, plan.target))
        v.source_checksum, v.target_checksum = full.hexdigest(), other.hexdigest()
    return v


