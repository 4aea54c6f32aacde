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
import os as _os
import sys as _sys
import tempfile as _tempfile
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


def _numba_cache_dir() -> str:
    """A per-user folder for numba's compiled-function cache, outside the installed package
    (cache files left inside site-packages/nislink would survive ``pip uninstall`` and
    shadow a later editable install). ``NUMBA_CACHE_DIR`` set by the user wins."""
    if _sys.platform == "win32":
        base = _os.environ.get("LOCALAPPDATA") or _os.path.expanduser("~\\AppData\\Local")
    elif _sys.platform == "darwin":
        base = _os.path.expanduser("~/Library/Caches")
    else:
        base = _os.environ.get("XDG_CACHE_HOME") or _os.path.expanduser("~/.cache")
    for folder in (_os.path.join(base, "nislink", "numba"),
                   _os.path.join(_tempfile.gettempdir(), f"nislink-numba-{_os.getuid()}"
                                 if hasattr(_os, "getuid") else "nislink-numba")):
        try:
            _os.makedirs(folder, mode=0o700, exist_ok=True)
            if _os.access(folder, _os.W_OK):
                return folder
        except OSError:
            continue
    return ""


if not _os.environ.get("NUMBA_CACHE_DIR") and "numba" not in _sys.modules:
    _cache = _numba_cache_dir()
    if _cache:
        _os.environ["NUMBA_CACHE_DIR"] = _cache

_EXPORTS: dict[str, str] = {
    "Schema": "nislink.schema",
    "Secret": "nislink.secrets",
    "Encoder": "nislink.encode",
    "EncodedFrame": "nislink.frame",
    "encode_file": "nislink.encode",
    "load": "nislink.io",
    "check_compatible": "nislink.io",
    "link": "nislink.linkage",
    "dedupe": "nislink.linkage",
    "link_many": "nislink.linkage",
    "LinkResult": "nislink.linkage",
    "DedupeResult": "nislink.linkage",
    "IncompatibleEncodings": "nislink.errors",
    "NislinkError": "nislink.errors",
    "FellegiSunter": "nislink.model",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from nislink.encode import Encoder, encode_file
    from nislink.errors import IncompatibleEncodings, NislinkError
    from nislink.frame import EncodedFrame
    from nislink.io import check_compatible, load
    from nislink.linkage import DedupeResult, LinkResult, dedupe, link, link_many
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
