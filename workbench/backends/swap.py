"""Temporary collection names, and putting one collection in the place of another on Milvus.

An import or a copy into `T` builds `T__importing_<tag>` (or `T__copying_<tag>`) and, once it is
verified, calls `Backend.replace_collection(temp, T)`. The embedded engine does that in one catalog
transaction (`MilvusClient.replace_collection`). Milvus has no rename-over: `rename_collection` refuses
an existing name. An alias swap does not help either, because `T` is a collection, not an alias, and an
alias cannot have the name of a collection. So on Milvus (server or Lite) `replace_by_renames` keeps
the old data until the new data is in place:

1. rename `T` to `T__replaced_<tag>` (if this fails, nothing has changed);
2. rename the temporary collection to `T` (if this fails, step 1 is undone);
3. load the new `T` again if the temporary collection was loaded (Milvus Lite releases a renamed
   collection), and move `T`'s aliases, if it had any, to it;
4. drop `T__replaced_<tag>`.

Between steps 1 and 2 (two calls, milliseconds apart) a reader finds no `T`. A crash in that window
leaves the old data in `T__replaced_<tag>` and the new data under the temporary name. The next import
or copy into `T` renames the backup back to `T` and drops the temporary collection
(`workbench.transfer.staging.clean_leftovers`), and `workbench collections` marks both.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from workbench.backends.capabilities import BackendError

if TYPE_CHECKING:
    from workbench.backends.base import ClientBackend

TEMP_KINDS = ("importing", "copying", "replaced")
MAX_NAME = 255  # Milvus's limit on collection names
_TEMP_RE = re.compile(r"^(?P<target>.+)__(?P<kind>importing|copying|replaced)_(?P<tag>[0-9a-f]{8})$")


def temp_name(target: str, kind: str) -> str:
    """A new name `<target>__<kind>_<8 hex digits>` (`kind`: importing, copying or replaced)."""
    if kind not in TEMP_KINDS:
        raise ValueError(f"kind must be one of {TEMP_KINDS}, not {kind!r}")
    name = f"{target}__{kind}_{uuid.uuid4().hex[:8]}"
    if len(name) > MAX_NAME:
        raise BackendError(f"collection name {target[:40]!r}... is too long to import or copy into safely: "
                           f"the temporary name needs {len(name) - len(target)} more characters "
                           f"(at most {MAX_NAME} in all)")
    return name


def parse_temp_name(name: str) -> tuple[str, str] | None:
    """(target, kind) of a temporary name made by `temp_name`, else None."""
    m = _TEMP_RE.match(name)
    return (m["target"], m["kind"]) if m else None


def describe_leftover(name: str) -> str | None:
    """What a temporary collection is, for listings (None for an ordinary collection)."""
    parsed = parse_temp_name(name)
    if parsed is None:
        return None
    target, kind = parsed
    if kind == "replaced":
        return (f"the old data of {target!r}, kept by a replace that was interrupted: the next import or copy "
                f"into {target!r} restores it if {target!r} is missing, else drops it")
    what = "import" if kind == "importing" else "copy"
    return (f"an unfinished {what} into {target!r} (running, or left by an interrupted run): the next import "
            f"or copy into {target!r} drops it")


def _aliases(backend: ClientBackend, name: str) -> list[str]:
    """The aliases of collection `name`: list_aliases (Milvus 2.4+, Milvus Lite, whose describe_collection
    leaves them out), else describe_collection's (Milvus 2.3 has no ListAliases)."""
    try:
        return [str(a) for a in backend.client.list_aliases(name).get("aliases") or []]
    except Exception:
        with backend._errors("describe_collection"):
            return [str(a) for a in backend.client.describe_collection(name).get("aliases") or []]


def _reload(backend: ClientBackend, name: str, loaded: bool) -> list[str]:
    """Load `name` again if it was loaded before its rename (Milvus Lite releases a renamed collection)."""
    if not loaded or backend.is_loaded(name):
        return []
    try:
        backend.load(name)
    except BackendError as e:
        return [f"{name!r} is in place but released: load it to search it ({e})"]
    return []


def replace_by_renames(backend: ClientBackend, source: str, target: str) -> list[str]:
    """Put `source` in the place of `target` with renames (see the module docstring); returns notes.

    Raises BackendError saying where the data is whenever it is not where it was or where it should be.
    """
    client = backend.client
    if not backend.has_collection(source):
        raise BackendError(f"cannot replace {target!r} with {source!r} on {backend.label}: no collection {source!r}")
    loaded = backend.is_loaded(source)
    if not backend.has_collection(target):
        backend.rename_collection(source, target)
        return _reload(backend, target, loaded)
    aliases = _aliases(backend, target)
    backup = temp_name(target, "replaced")
    try:
        backend.rename_collection(target, backup)
    except BackendError as e:
        raise BackendError(f"could not set {target!r} aside to replace it ({e}); {target!r} is unchanged") from None
    try:
        backend.rename_collection(source, target)
    except BackendError as e:
        try:
            backend.rename_collection(backup, target)
        except BackendError as e2:
            raise BackendError(
                f"could not rename {source!r} to {target!r} ({e}) nor {backup!r} back to {target!r} ({e2}): the old "
                f"data of {target!r} is in {backup!r} and the new data in {source!r}; rename {backup!r} to "
                f"{target!r} to restore it (the next import or copy into {target!r} does)") from None
        raise BackendError(f"could not rename {source!r} to {target!r} ({e}); {target!r} is unchanged") from None
    notes = _reload(backend, target, loaded)
    for alias in aliases:
        try:
            with backend._errors("alter_alias"):
                client.alter_alias(target, alias)
        except BackendError as e:
            notes.append(f"alias {alias!r} still points to the old data, kept in {backup!r}: {e}")
    if notes:
        return [*notes, f"{target!r} was replaced; its old data is kept in {backup!r} because of its aliases"]
    try:
        backend.drop_collection(backup)
    except BackendError as e:
        notes.append(f"{target!r} was replaced, but its old data is still in {backup!r} ({e}): drop it, or let the "
                     f"next import or copy into {target!r} do that")
    return notes
