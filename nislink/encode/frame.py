"""Former home of :class:`~nislink.frame.EncodedFrame`; it now lives in :mod:`nislink.frame`.

This module re-exports the names so that ``from nislink.encode.frame import EncodedFrame``
keeps working. Linkage-side code should import :mod:`nislink.frame`: importing anything
under ``nislink.encode`` loads the encoder (and the secret handling) with it.
"""

from __future__ import annotations

from nislink.frame import BitMatrix, EncodedFrame, popcount_rows

__all__ = ["BitMatrix", "EncodedFrame", "popcount_rows"]
