"""Exceptions raised by the engine.

`MilvusException` mirrors pymilvus's exception of the same name (it carries
`code` and `message`), so `except MilvusException` written for pymilvus works.
Subclasses say which kind of mistake it was; every message names the field,
value, row or file concerned.
"""

from __future__ import annotations

from typing import Any


class MilvusException(Exception):
    """Base class of every engine error; `code` and `message` as in pymilvus."""

    default_code = 1

    def __init__(self, message: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.code = self.default_code if code is None else code
        self.message = message

    def __str__(self) -> str:
        return f"<{type(self).__name__}: (code={self.code}, message={self.message})>"


class ParamError(MilvusException, ValueError):
    """A bad argument: unknown field, wrong type, out-of-range value."""

    default_code = 1100


class ParamTypeError(ParamError, TypeError):
    """An argument of the wrong type, where pymilvus raises a TypeError (so it is one too)."""


class SchemaError(ParamError):
    """A collection schema that breaks Milvus's rules."""


class DataError(ParamError):
    """Rows that do not fit the schema; nothing of the batch was written."""


class FilterError(ParamError):
    """A filter expression that cannot be parsed or evaluated.

    `position` is the 1-based column where the problem starts (or None).
    """

    def __init__(self, message: str, position: int | None = None, expr: str | None = None) -> None:
        self.position = position
        self.expr = expr
        self.detail = message
        where = f"column {position}: " if position is not None else ""
        super().__init__(f"{where}{message}")


class UnsupportedError(MilvusException, NotImplementedError):
    """A Milvus feature this engine does not implement (also a NotImplementedError)."""

    default_code = 1101


class UnsupportedCallError(UnsupportedError, AttributeError):
    """A pymilvus `MilvusClient` method the engine does not have. Also an AttributeError, so that
    `hasattr(client, name)` is False for it, as for any missing attribute."""


class ClientClosedError(MilvusException):
    """A call on a `MilvusClient` after its `close()`."""

    default_code = 1102


class CollectionNotFoundError(MilvusException):
    default_code = 100


class PartitionNotFoundError(MilvusException):
    default_code = 200


class CollectionNotLoadedError(MilvusException):
    """A read (search, query, get) on a released collection, refused as Milvus refuses it."""

    default_code = 101


class IndexNotFoundError(MilvusException):
    default_code = 700


class DatabaseNotFoundError(MilvusException):
    """A database (namespace) that does not exist (Milvus's code 800)."""

    default_code = 800


class AliasNotFoundError(MilvusException):
    """A collection alias that does not exist (Milvus's code 1600)."""

    default_code = 1600


class AccessDeniedError(MilvusException):
    """A write or read refused by its database's `database.force.deny.*` property."""

    default_code = 1300


class PrimaryKeyError(DataError):
    """A primary key that is duplicated or already present."""


class CorruptionError(MilvusException):
    """A file on disk does not match its recorded checksum or cannot be read."""

    default_code = 2000

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class ReadOnlyError(MilvusException):
    """The database is opened by another writer process."""

    default_code = 2001


def brief(value: Any, width: int = 80) -> str:
    """`repr(value)` cut to `width` characters, for messages; never fails.

    An integer too long to print (Python refuses past 4,300 digits) is described by its size, and an
    object whose repr fails (too deep, or holding such an integer) by its type.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"{'-' if value < 0 else ''}<an integer of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:  # RecursionError, ValueError (an int past 4,300 digits)
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 3] + "..."
