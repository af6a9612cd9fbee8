"""The `timezone` and `time_fields` arguments of query, search and hybrid_search (TIMESTAMPTZ fields).

Milvus (docs: "Query", "Basic Vector Search": "Temporarily set a timezone") takes `timezone=` (an IANA
name) per call: it overrides the collection's (and database's) `timezone` property for reading `ISO`
literals without an offset and for writing TIMESTAMPTZ values out. `time_fields="year, month"` (as
pymilvus and Milvus Lite take it) returns each TIMESTAMPTZ value as the list of those components in
that time zone instead of ISO text. See engine/timestamptz.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ParamError
from engine.timestamptz import TimeValueError, check_timezone, effective_timezone, parse_time_fields

if TYPE_CHECKING:
    from engine.collection import Collection


def time_args(coll: Collection, kwargs: dict[str, Any]) -> tuple[str | None, tuple[str, ...] | None]:
    """(time zone, time_fields) of one call: the call's `timezone` or the collection's property; ParamError if bad."""
    try:
        return effective_timezone(kwargs.get("timezone"), coll.properties), parse_time_fields(kwargs.get("time_fields"))
    except TimeValueError as e:
        raise ParamError(str(e)) from None


def check_timezone_property(props: dict[str, Any]) -> None:
    """Refuse a `timezone` collection property that is not an IANA time zone name (ParamError)."""
    if "timezone" in props:
        try:
            check_timezone(props["timezone"], "the 'timezone' property")
        except TimeValueError as e:
            raise ParamError(str(e)) from None
