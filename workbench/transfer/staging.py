"""Imports and copies build under a temporary name, are verified there, and only then take their place.

`write_staged` is the part that `copy_collection` and `import_collection` share. Rows go into
`<target>__importing_<tag>` (or `__copying_<tag>`). The temporary collection is flushed and checked
(row count, and the checksums of sampled or of all rows). Only then:

- create / replace: `Backend.replace_collection(temp, target)` puts it in place. On the embedded engine
  that is one catalog transaction. On Milvus it is a sequence of renames (`workbench.backends.swap`).
- append: the staged rows are upserted into `target`, batch by batch. This last step is not atomic: an
  error or a crash in it leaves the rows upserted so far, and the error says how many. Cancel is not
  honoured in it.

A damaged row, a failed check, a cancel, a closed generator or any error before that point drops the
temporary collection and leaves `target` as it was. Temporary collections left by a killed run are
found by `clean_leftovers`, which the next import or copy into the same target calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any

from workbench.backends import Backend, BackendError, parse_temp_name, primary_field, temp_name
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

Batch = tuple[list[dict[str, Any]], str | None, str]  # rows, partition (None: _default), where they came from
_ACTIVE: set[tuple[int, str]] = set()  # (id of the backend, temporary name) of jobs running in this process
_ACTIVE_LOCK = threading.Lock()


class _Cancelled(Exception):
    pass


class _Unverified(Exception):
    pass


def leftovers(backend: Backend, target: str) -> list[str]:
    """Temporary collections of `target` (`<target>__importing_…`, `__copying_…`, `__replaced_…`)."""
    return sorted(n for n in backend.list_collections() if (p := parse_temp_name(n)) is not None and p[0] == target)


def clean_leftovers(backend: Backend, target: str) -> list[str]:
    """Deal with what interrupted imports and copies into `target` left behind; returns what was done.

    A backup `<target>__replaced_…` is renamed back to `target` when `target` is missing (a replace on
    Milvus was killed between its renames), and dropped otherwise; temporary collections are dropped,
    except those of jobs still running in this process.
    """
    with _ACTIVE_LOCK:
        names = [n for n in leftovers(backend, target) if (id(backend), n) not in _ACTIVE]
    notes = []
    backups = [n for n in names if n.startswith(f"{target}__replaced_")]
    if backups and not backend.has_collection(target):
        if len(backups) > 1:
            raise TransferError(f"{target!r} is missing on {backend.label} and several interrupted replaces left its "
                                f"old data: {', '.join(backups)}; rename the one to keep to {target!r}, then retry")
        backend.rename_collection(backups[0], target)
        notes.append(f"restored {target!r} from {backups[0]!r}, which an interrupted replace left")
        try:
            backend.load(target)
        except BackendError as e:
            notes.append(f"{target!r} is restored but released: load it to search it ({e})")
        names.remove(backups[0])
    for n in names:
        backend.drop_collection(n)
        notes.append(f"dropped {n!r}, left by an interrupted import or copy into {target!r}")
    return notes


class _Tally:
    """What was written: a sample of (primary key, row digest) and, with `full`, a checksum of every row."""

    def __init__(self, schema: dict[str, Any], samples: int, full: bool) -> None:
        self.schema = schema
        self.pk = primary_field(schema)["name"]
        self.sample = _Reservoir(samples)
        self.full = _Checksum() if full else None

    def add(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if self.sample.k or self.full is not None:
                d = row_digest(r, self.schema)
                self.sample.add((r[self.pk], d))
                if self.full is not None:
                    self.full.add(d)

    def check(self, backend: Backend, name: str, rows: int, batch_size: int = 500) -> Verification:
        """Compare `rows` and the recorded digests with collection `name`."""
        v = Verification(source_rows=rows, target_rows=backend.count(name))
        items = list(self.sample.items)
        for i in range(0, len(items), batch_size):
            chunk = dict(items[i:i + batch_size])
            got = {r[self.pk]: row_digest(r, self.schema) for r in backend.get(name, list(chunk))}
            for k, d in chunk.items():
                v.checked += 1
                if k not in got:
                    if len(v.missing) < 20:
                        v.missing.append(k)
                elif got[k] != d and len(v.mismatched) < 20:
                    v.mismatched.append(k)
        if self.full is not None:
            other = _Checksum()
            for batch in backend.iter_rows(name, batch_size=1000, output_fields=["*"]):
                for r in batch:
                    other.add(row_digest(r, self.schema))
            v.source_checksum, v.target_checksum = self.full.hexdigest(), other.hexdigest()
        return v


def _register(backend: Backend, name: str, on: bool) -> None:
    with _ACTIVE_LOCK:
        (_ACTIVE.add if on else _ACTIVE.discard)((id(backend), name))


def _discard(backend: Backend, name: str, report: TransferReport) -> None:
    try:
        if backend.has_collection(name):
            backend.drop_collection(name)
            report.notes.append(f"removed the temporary collection {name!r}")
    except BackendError as e:
        report.notes.append(f"could not drop the temporary collection {name!r} ({e}); the next import or copy "
                            "into the same collection drops it")


def write_staged(backend: Backend, target: str, *, kind: str, mode: str, plan: SchemaPlan,
                 batches: Iterable[Batch], total: int | None, report: TransferReport,
                 check: Callable[[str, int], Verification | None], phase: str = "copying",
                 cancel: CancelToken | None = None, keep_partial: bool = False,
                 clock: _Clock | None = None, batch_size: int = 1000) -> Generator[TransferProgress, None, None]:
    """Write `batches` into a temporary collection of schema `plan.target`, verify it with
    `check(temp_name, rows_written)` (None: not verified), then put it in place (mode "create" or
    "replace") or upsert it into `target` (mode "append"). See the module docstring for what a failure
    leaves. `keep_partial` (mode "create" only): on cancel or error, put what was written in place.
    Callers run `clean_leftovers` first, before they look at `target`."""
    clock = clock or _Clock()
    exists = backend.has_collection(target)
    if mode == "create" and exists:
        raise TransferError(f"{backend.label} already has a collection {target!r}")
    if keep_partial and exists:
        raise TransferError(f"keep_partial keeps a partial copy as {target!r}, which already exists on "
                            f"{backend.label}; it goes only with a new collection")
    appending = mode == "append" and exists
    untouched = (f"nothing was appended to {target!r}" if appending else
                 f"{target!r} was left as it was" if exists else f"no collection {target!r} was created")
    temp = temp_name(target, kind)
    _register(backend, temp, True)
    done = 0
    try:
        yield TransferProgress("creating", 0, total, clock(), f"creating {temp!r} on {backend.label}")
        backend.create_collection(temp, plan.target, plan.indexes)
        for rows, part, where in batches:
            if cancel is not None and cancel.cancelled:
                raise _Cancelled
            try:
                if part:
                    backend.create_partition(temp, part)
                backend.insert(temp, rows, partition=part)
            except BackendError as e:
                raise TransferError(f"{where}: {e}") from None
            done += len(rows)
            report.rows, report.batches = done, report.batches + 1
            yield TransferProgress(phase, done, total, clock(), f"{done}/{total} rows" if total else f"{done} rows")
        yield TransferProgress("flushing", done, total, clock(), f"flushing {temp!r}")
        backend.flush(temp)
        yield TransferProgress("verifying", done, total, clock(), "checking row counts and checksums")
        report.verification = check(temp, done)
        if report.verification is not None and not report.verification.ok:
            raise _Unverified
        if cancel is not None and cancel.cancelled:  # asked for while flushing or verifying: still in time
            raise _Cancelled
        if appending:
            untouched = ""  # from here on _append's own error says what was upserted
            yield from _append(backend, temp, target, done, report, clock, batch_size)
        else:
            report.notes.extend(_put_in_place(backend, temp, target, exists))
    except (_Cancelled, _Unverified) as e:
        report.rows, report.elapsed_s = done, clock()
        report.cancelled = isinstance(e, _Cancelled)
        if keep_partial and report.cancelled:
            report.notes.extend(_put_in_place(backend, temp, target, exists))
            report.notes.append(f"stopped: the {done} rows written so far were kept as {target!r}")
        else:
            _discard(backend, temp, report)
            report.notes.append(("stopped: " if report.cancelled else "not verified: ") + untouched)
        yield TransferProgress("cancelled" if report.cancelled else "done", done, total, clock(),
                               "cancelled" if report.cancelled else report.summary(), report)
        return
    except _Stranded as e:  # its message says where the old and the new data are: drop nothing
        raise TransferError(str(e)) from None
    except BaseException as e:  # an error, a closed generator (GeneratorExit), a second Ctrl-C
        kept = f"; {untouched}" if untouched else ""
        if keep_partial and isinstance(e, Exception) and backend.has_collection(temp):
            _put_in_place(backend, temp, target, exists)
            kept = f"; the {done} rows written so far were kept as {target!r}"
        else:
            _discard(backend, temp, report)
        if isinstance(e, (TransferError, BackendError)):
            raise TransferError(f"{e}{kept}") from None
        raise
    finally:
        _register(backend, temp, False)
    report.rows, report.elapsed_s = done, clock()
    yield TransferProgress("done", done, total, clock(), report.summary(), report)


class _Stranded(TransferError):
    """Putting the new collection in place failed half-way; the message says where the data is."""


def _put_in_place(backend: Backend, temp: str, target: str, existed: bool) -> list[str]:
    try:
        notes = backend.replace_collection(temp, target)
    except BackendError as e:
        if backend.has_collection(target) or not existed:
            raise  # the target is as it was (the caller drops the temporary collection)
        raise _Stranded(str(e)) from None
    return [*notes, f"put in place as {target!r}" + (" (the old collection was dropped)" if existed else "")]


def _append(backend: Backend, temp: str, target: str, staged: int, report: TransferReport, clock: _Clock,
            batch_size: int) -> Generator[TransferProgress, None, None]:
    """Upsert every row of `temp` into `target`, partition by partition, then drop `temp`."""
    before = backend.count(target)
    parts = backend.list_partitions(temp)
    moved = 0
    try:
        for part in parts:
            if part != "_default":
                backend.create_partition(target, part)
            for rows in backend.iter_rows(temp, batch_size=batch_size, output_fields=["*"],
                                          partitions=[part] if len(parts) > 1 else None):
                backend.upsert(target, rows, partition=None if part == "_default" else part)
                moved += len(rows)
                yield TransferProgress("appending", moved, staged, clock(), f"upserting into {target!r}: "
                                       f"{moved}/{staged} rows (not cancellable)")
        backend.flush(target)
    except BackendError as e:
        raise BackendError(f"appending to {target!r} failed after {moved} of {staged} verified rows were upserted "
                           f"({e}); upserting again is harmless: run the append again") from None
    backend.drop_collection(temp)
    after = backend.count(target)
    report.notes.append(f"appended: the collection had {before} rows and now has {after}")
