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
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["fork_available", "row_ranges", "run_forked"]

T = TypeVar("T")

_JOB: Callable[[int, int], Any] | None = None


def fork_available() -> bool:
    """True when this process can fork workers (POSIX, and not itself a daemon)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def row_ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``0..n`` (sizes differ by at most
    one row)."""
    parts = max(1, int(parts))
    bounds = [n * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _run(lo: int, hi: int) -> Any:
    assert _JOB is not None
    return _JOB(lo, hi)


def run_forked(fn: Callable[[int, int], T], ranges: list[tuple[int, int]]) -> list[T]:
    """``[fn(lo, hi) for lo, hi in ranges]``: the first range here, the others in forked
    processes started first. An exception is raised for the first range (in order) that
    failed. With one range, or without ``fork``, everything runs in this process."""
    if len(ranges) <= 1 or not fork_available():
        return [fn(lo, hi) for lo, hi in ranges]
    global _JOB
    _JOB = fn
    ctx = multiprocessing.get_context("fork")
    # one single-process pool per range: each range gets a process of its own (a shared
    # pool may hand two ranges to one worker while the other is still starting)
    pools = [ProcessPoolExecutor(1, mp_context=ctx) for _ in ranges[1:]]
    try:
        futures = [pool.submit(_run, lo, hi) for pool, (lo, hi) in zip(pools, ranges[1:])]
        first = fn(*ranges[0])
        return [first] + [f.result() for f in futures]
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        _JOB = None
