"""Keyed encodings (second pipeline stage).

* :class:`Encoder` turns cleaned identifiers into field-level Bloom filters, a
  record-level filter (CLK), keyed exact-match tokens, match keys and SLK-581;
* :func:`encode_file` does the same for CSV/Parquet files larger than memory;
* :class:`EncodedFrame` / :class:`BitMatrix` hold the result (see ``docs/encoding.md``);
  they are defined in :mod:`nislink.frame` (shared with the linkage unit) and re-exported here.
"""

from __future__ import annotations

from nislink.encode.encoder import Encoder
from nislink.encode.files import EncodeFileResult, encode_file
from nislink.frame import BitMatrix, EncodedFrame, popcount_rows

__all__ = [
    "BitMatrix",
    "EncodeFileResult",
    "EncodedFrame",
    "Encoder",
    "encode_file",
    "popcount_rows",
]
