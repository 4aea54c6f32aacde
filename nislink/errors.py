"""Exceptions and warnings: one base class, and every exception shared between rooms.

Every exception nislink raises on purpose derives from :class:`NislinkError`, so
``except nislink.errors.NislinkError`` catches them all. Each also keeps the builtin base
it always had (most are ``ValueError``), so code written against the builtin keeps working.
Every warning nislink issues derives from :class:`NislinkWarning` (a ``UserWarning``).

This module defines the base classes and the exceptions that more than one room raises or
that travel with the shared foundations (schema, secret, encoded files, clkhash interop).
An exception that belongs to one room (the study workflow's ``AuditError``, the encoder's
``MissingColumnError``, Spark's ``SparkSetupError``, the command line's ``UserError``) is
defined there, next to the code that raises it, and derives from :class:`NislinkError` too;
``docs/architecture.md`` lists where each one lives. The old import locations
(``nislink.schema.SchemaError``, ``nislink.io.EncodedFileError``, ...) keep working.

This module imports nothing from nislink.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ClkhashEntryError",
    "ClkhashSchemaError",
    "DataQualityWarning",
    "EncodedFileError",
    "IncompatibleEncodingError",
    "IncompatibleEncodings",
    "NislinkError",
    "NislinkWarning",
    "RetentionWarning",
    "SchemaError",
    "SecretError",
]


class NislinkError(Exception):
    """Base class of every exception nislink raises on purpose."""


class NislinkWarning(UserWarning):
    """Base class of every warning nislink issues."""


# -- the foundations: schema, secret, encoded files ----------------------------------------
class SchemaError(NislinkError, ValueError):
    """An invalid schema; the message names the offending key path."""


class SecretError(NislinkError, ValueError):
    """A secret could not be loaded or is unsuitable (the message never contains it)."""


class EncodedFileError(NislinkError, ValueError):
    """An encoded file is missing, truncated, corrupt or not in the nislink format."""


class IncompatibleEncodingError(NislinkError, ValueError):
    """Two encodings were made with different schemes, schemas or keys (or have filters
    of different lengths), so they cannot be linked; the message says what differs."""


IncompatibleEncodings = IncompatibleEncodingError
"""The same class under the name :mod:`nislink.linkage` has always exported."""


class RetentionWarning(NislinkWarning):
    """An encoded file is past its destroy-by date."""


class DataQualityWarning(NislinkWarning):
    """A field is mostly missing or rejected, or an optional column is absent."""


class NoSharedPeopleWarning(NislinkWarning):
    """Two CLK-only files show no more high-similarity pairs than strangers would: the
    links found are likely all false (the files may share nobody)."""


# -- clkhash interoperability ---------------------------------------------------------------
class ClkhashSchemaError(NislinkError, ValueError):
    """A clkhash linkage schema is invalid or uses something nislink does not support."""


class ClkhashEntryError(NislinkError, ValueError):
    """A value cannot be encoded under a clkhash schema; names the record and the feature.

    The offending value itself is not repeated in the message (it is an identifier).
    """

    def __init__(self, message: str, row: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (str(self), self.row, self.field))
