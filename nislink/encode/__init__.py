"""Keyed encodings (second pipeline stage)."""

from __future__ import annotations

from nislink.encode.frame import BitMatrix, EncodedFrame, popcount_rows

__all__ = ["BitMatrix", "EncodedFrame", "popcount_rows"]
