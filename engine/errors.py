"""Exceptions raised by the engine.

`MilvusException` mirrors pymilvus's exception of the same name (it carries
`code` and `message`), so `except MilvusException` written for pymilvus works.
Subclasses say which kind of mistake it was; every message names the field,
value, row or file concerned.
"""

from __future__ import annotations


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


class CollectionNotFoundError(MilvusException):
    default_code = 100


class PartitionNotFoundError(MilvusException):
    default_code = 200


class IndexNotFoundError(MilvusException):
    default_code = 700


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
