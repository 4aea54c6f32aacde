"""The encoding stage's one parallel helper: contiguous row ranges in forked processes.

Encoding is independent per record, so a large batch is split into contiguous row ranges;
the first range is encoded in this process while forked children encode the others. The
children inherit the work (the function and its data) through ``fork``, so nothing large
is pickled on the way in; only results travel back. Results come back in range order, so
the output does not depend on the number of processes. ``fork`` exists on POSIX only;
elsewhere, and inside a daemon process (which may not have children), everything runs
here. Used by :class:`nislink.Encoder` and the clkhash engine.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["fork_available", "row_ranges", "run_forked"]

T = TypeVar("T")

_JOB: Callable[[int, int], Any] | None = None


def fork_available() -> bool:
    """True when this process can fork workers (POSIX, and not itself a daemon)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def row_ranges(n: int, parts: int, head_start: int = 0) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``0..n`` (sizes differ by at most
    one row). ``head_start``: the first range is that many rows shorter than the others
    (it has other work worth that many rows to do), when it can be."""
    parts = max(1, int(parts))
    lead = max(0, int(head_start))
    if n + lead < parts * (lead + 1):  # no room (with no lead: the even split)
        bounds = [n * i // parts for i in range(parts + 1)]
    else:  # the others share n + lead rows evenly; the first gives up lead of its share
        bounds = [0] + [(n + lead) * i // parts - lead for i in range(1, parts)] + [n]
    return list(zip(bounds[:-1], bounds[1:]))


def _child(conn: Any, lo: int, hi: int) -> None:
    """A forked child: run the inherited job on one range and send back
    ``(True, result)`` or ``(False, exception)``."""
    try:
        assert _JOB is not None
        msg: tuple[bool, Any] = (True, _JOB(lo, hi))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        msg = (False, exc)
    try:
        conn.send(msg)
    except Exception as exc:  # noqa: BLE001 - e.g. an exception that cannot be pickled
        conn.send((False, RuntimeError(f"rows {lo}:{hi}: {type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def run_forked(fn: Callable[[int, int], T], ranges: list[tuple[int, int]]) -> list[T]:
    """``[fn(lo, hi) for lo, hi in ranges]``: the first range here, each other range in a
    forked process of its own, started first. An exception is raised for the first range
    (in order) that failed; on any exception here, Ctrl-C included, the children are
    terminated at once (they hold the same data as this process) and waited for. When
    every result is in, the children (done, and exiting) are not waited for: they give
    their memory back while this process goes on, and ``multiprocessing`` reaps them when
    it next starts a process. With one range, or without ``fork``, everything runs in this
    process."""
    if len(ranges) <= 1 or not fork_available():
        return [fn(lo, hi) for lo, hi in ranges]
    global _JOB
    _JOB = fn
    ctx = multiprocessing.get_context("fork")
    children: list[tuple[Any, Any]] = []
    done = False
    try:
        for lo, hi in ranges[1:]:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, lo, hi), daemon=True)
            proc.start()
            send.close()
            children.append((proc, recv))
        out: list[T] = [fn(*ranges[0])]
        for (lo, hi), (proc, recv) in zip(ranges[1:], children):
            try:
                ok, value = recv.recv()
            except EOFError:
                proc.join()
                raise RuntimeError(f"the worker for rows {lo}:{hi} died (exit code "
                                   f"{proc.exitcode})") from None
            if not ok:
                raise value
            out.append(value)
        done = True
        return out
    finally:
        _JOB = None
        for proc, recv in children:
            recv.close()
            if not done:
                if proc.is_alive():
                    proc.terminate()
                proc.join()
