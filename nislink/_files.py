"""Files are never lost: atomic writes, output paths checked against inputs, and the exact
place of a byte that is not UTF-8.

* :func:`atomic_path` gives a temporary path in the destination's folder (created when
  missing); the file is renamed into place only when the block ends without an error, and
  removed otherwise (also on Ctrl-C), so a reader never sees half a file and an existing
  file is only ever replaced by a complete one.
* :func:`same_file` tells whether two paths name the same file (also through links).
* :func:`first_invalid_utf8` finds the line and byte offset of the first byte of a file
  that is not UTF-8.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import secrets as _secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "first_invalid_utf8", "same_file"]

TEMP_MARK = ".nislink-tmp-"
"""Part of the name of every temporary file (hidden: it starts with a dot)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str] | None) -> Iterator[str | None]:
    """A temporary path next to ``path`` (same suffix), renamed to ``path`` on success.

    ``None`` gives ``None`` (nothing to write). Missing parent folders are created. On an
    exception (or ``KeyboardInterrupt``) the temporary file is removed and ``path`` is left
    as it was.
    """
    if path is None:
        yield None
        return
    dest = Path(path)
    for parent in reversed(dest.parents):
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(parent))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.stem}{TEMP_MARK}{_secrets.token_hex(4)}{dest.suffix}"
    try:
        yield str(tmp)
        if tmp.exists():  # (a writer that wrote nothing leaves ``path`` as it was)
            with contextlib.suppress(OSError):
                os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, dest)
    except OSError as exc:  # name the file the user asked for, not the temporary one
        if exc.filename is not None and os.fspath(exc.filename) == str(tmp):
            exc.filename = str(dest)
        elif str(tmp) in str(exc):  # e.g. pyarrow: the path only in the message
            raise OSError(exc.errno, str(exc).replace(str(tmp), str(dest))) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                tmp.unlink()


def same_file(a: str | os.PathLike[str] | None, b: str | os.PathLike[str] | None) -> bool:
    """True when ``a`` and ``b`` name the same file (resolved paths, or one inode)."""
    if a is None or b is None:
        return False
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
        return pa.resolve() == pb.resolve()
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(pa) == os.path.abspath(pb)


def first_invalid_utf8(path: str | os.PathLike[str], block: int = 1 << 20
                       ) -> tuple[int, int, int] | None:
    """``(line, byte offset in the file, byte offset in the line)`` of the first byte that is
    not UTF-8 (lines from 1, offsets from 0); ``None`` when the whole file decodes."""

    dec = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0  # bytes fed to the decoder so far
    line, line_start = 1, 0
    with open(path, "rb") as fh:
        while True:
            data = fh.read(block)
            final = not data
            try:
                dec.decode(data, final=final)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the pending bytes plus ``data``; locate it exactly
                pending = exc.object[: len(exc.object) - len(data)] if data else exc.object
                pos = offset - len(pending) + exc.start
                fh.seek(0)
                head = fh.read(pos)
                line = head.count(b"\n") + 1
                line_start = head.rfind(b"\n") + 1
                return line, pos, pos - line_start
            if final:
                return None
            offset += len(data)
