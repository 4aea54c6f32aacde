"""Former single module of the clkhash interoperability; it now lives in
:mod:`nislink.encode.clkhash` (schema, kdf, engine, hmac_np, dates; the base64
helpers live in :mod:`nislink.frame`).

This module re-exports the public names so that existing imports keep working.
"""

from __future__ import annotations

from nislink.encode.clkhash import (
    ClkhashEntryError,
    ClkhashFeature,
    ClkhashSchema,
    ClkhashSchemaError,
    clkhash_keys,
    from_base64,
    parse_clkhash_schema,
    to_base64,
)

__all__ = [
    "ClkhashEntryError",
    "ClkhashFeature",
    "ClkhashSchema",
    "ClkhashSchemaError",
    "clkhash_keys",
    "from_base64",
    "parse_clkhash_schema",
    "to_base64",
]
