"""Former single module of the clkhash interoperability; it now lives in
:mod:`nislink.encode.clkhash` (schema, kdf, engine, hmac_np, dates; the base64
helpers live in :mod:`nislink.frame`).

This module re-exports the public names so that existing imports keep working.
"""

from __future__ import annotations

from nislink.encode import clkhash as _clkhash
from nislink.encode.clkhash import *  # noqa: F403 - the re-exports themselves

__all__ = list(_clkhash.__all__)
