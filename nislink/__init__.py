"""nislink: privacy-preserving record linkage of people and families.

Pipeline stages, each a subpackage that imports only the stages before it::

    clean -> encode -> block -> compare -> model -> resolve -> evaluate

The names below are imported lazily, so ``import nislink`` stays cheap:

* data owner: :class:`Schema`, :class:`Secret`, :class:`Encoder`, :func:`encode_file`;
* encoded files: :class:`EncodedFrame`, :func:`load`, :func:`check_compatible`;
* linkage unit: :func:`link`, :func:`dedupe`, :func:`link_many`, :class:`FellegiSunter`.

See ``docs/`` for the design and the measured figures.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Schema": "nislink.schema",
    "Secret": "nislink.secrets",
    "Encoder": "nislink.encode",
    "EncodedFrame": "nislink.encode",
    "encode_file": "nislink.encode",
    "load": "nislink.io",
    "check_compatible": "nislink.io",
    "link": "nislink.linkage",
    "dedupe": "nislink.linkage",
    "link_many": "nislink.linkage",
    "LinkResult": "nislink.linkage",
    "DedupeResult": "nislink.linkage",
    "IncompatibleEncodings": "nislink.linkage",
    "FellegiSunter": "nislink.model",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from nislink.encode import EncodedFrame, Encoder, encode_file
    from nislink.io import check_compatible, load
    from nislink.linkage import (
        DedupeResult,
        IncompatibleEncodings,
        LinkResult,
        dedupe,
        link,
        link_many,
    )
    from nislink.model import FellegiSunter
    from nislink.schema import Schema
    from nislink.secrets import Secret


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nislink' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
