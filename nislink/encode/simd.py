"""Helpers for hash compressions written as LLVM vector IR inside numba intrinsics.

The batch hash kernels (:mod:`nislink.encode.blake3_batch`, the clkhash HMAC-SHA1/MD5 in
:mod:`nislink.encode.clkhash.hmac_np`) compress :data:`LANES` messages side by side. Numba
compiles scalar 32-bit arithmetic through 64-bit integers and emits no vector rotates, so
each compression is written instead as straight-line IR over ``<16 x i32>`` values: one
value holds one state or message word of every lane, a rotate is the funnel-shift
intrinsic (``vprold``/``vprord`` on AVX-512), and every round is unrolled at compile time.
LLVM lowers the same IR on any CPU (two or four narrower registers, or shifts), so the
results do not depend on the machine.

:class:`Lanes` wraps an ``llvmlite`` IR builder with the few operations these kernels use;
arrays passed to the intrinsics are C-contiguous ``uint32`` with :data:`LANES` columns, row
``i`` holding word ``i`` of every lane, or lane-major (row ``i`` the 16 words of lane
``i``, filled with whole-row stores) and transposed in registers (:meth:`Lanes.transpose`).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils

__all__ = ["LANES", "U32_1D", "U32_2D", "Lanes"]

LANES = 16
"""Messages per vector: one 512-bit register of 32-bit words."""

U32_2D = types.Array(types.uint32, 2, "C")
U32_1D = types.Array(types.uint32, 1, "C")


class Lanes:
    """``<LANES x i32>`` operations on one IR builder (used inside intrinsic codegen)."""

    def __init__(self, builder: ir.IRBuilder) -> None:
        self.b = builder
        self.i32 = ir.IntType(32)
        self.vt = ir.VectorType(self.i32, LANES)
        fnty = ir.FunctionType(self.vt, [self.vt, self.vt, self.vt])
        self._fshl = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fshl.v16i32")

    def const(self, x: int) -> ir.Constant:
        """Every lane ``x`` (taken mod 2**32)."""
        return ir.Constant(self.vt, [int(x) & 0xFFFFFFFF] * LANES)

    def splat(self, x: ir.Value) -> ir.Value:
        """Every lane the ``i32`` value ``x``."""
        one = self.b.insert_element(ir.Constant(self.vt, ir.Undefined), x,
                                    ir.Constant(self.i32, 0))
        return self.b.shuffle_vector(one, ir.Constant(self.vt, ir.Undefined),
                                     ir.Constant(self.vt, [0] * LANES))

    def rows(self, context: Any, builder: ir.IRBuilder, aryty: Any, ary: ir.Value) -> ir.Value:
        """Pointer to the rows (``<LANES x i32>`` each) of a ``(k, LANES)`` array."""
        data = context.make_array(aryty)(context, builder, ary).data
        return builder.bitcast(data, self.vt.as_pointer())

    def scalars(self, context: Any, builder: ir.IRBuilder, aryty: Any, ary: ir.Value) -> ir.Value:
        """Pointer to the ``i32`` items of a 1-d array."""
        return context.make_array(aryty)(context, builder, ary).data

    def load(self, ptr: ir.Value, i: int) -> ir.Value:
        return self.b.load(self.b.gep(ptr, [ir.Constant(self.i32, i)]), align=4)

    def store(self, value: ir.Value, ptr: ir.Value, i: int) -> None:
        self.b.store(value, self.b.gep(ptr, [ir.Constant(self.i32, i)]), align=4)

    def fshl(self, x: ir.Value, y: ir.Value, n: ir.Value) -> ir.Value:
        """Per lane the high word of ``(x:y) << n``, ``n`` (a vector) taken mod 32:
        ``x << n | y >> (32 - n)``, just ``x`` for ``n`` 0."""
        return self.b.call(self._fshl, [x, y, n])

    def rotl(self, x: ir.Value, n: int) -> ir.Value:
        """Rotate every lane left by ``n`` bits."""
        return self.b.call(self._fshl, [x, x, self.const(n % 32)])

    def rotr(self, x: ir.Value, n: int) -> ir.Value:
        """Rotate every lane right by ``n`` bits."""
        return self.rotl(x, (32 - n) % 32)

    def add(self, *xs: ir.Value) -> ir.Value:
        acc = xs[0]
        for x in xs[1:]:
            acc = self.b.add(acc, x)
        return acc

    def xor(self, *xs: ir.Value) -> ir.Value:
        acc = xs[0]
        for x in xs[1:]:
            acc = self.b.xor(acc, x)
        return acc

    def and_(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.and_(x, y)

    def or_(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.or_(x, y)

    def not_(self, x: ir.Value) -> ir.Value:
        return self.b.xor(x, self.const(0xFFFFFFFF))

    def transpose(self, rows: list[ir.Value]) -> list[ir.Value]:
        """The :data:`LANES` x :data:`LANES` transpose of ``rows`` (element ``e`` of
        output ``i`` is element ``i`` of ``rows[e]``): four stages of two-input shuffles,
        stage ``d`` exchanging bit ``d`` of the row and column numbers (blocks of ``d``
        elements swapped between rows ``i`` and ``i + d``)."""
        a = list(rows)
        d = LANES // 2
        while d:
            lo = ir.Constant(ir.VectorType(self.i32, LANES),
                             [e if e & d == 0 else LANES + e - d for e in range(LANES)])
            hi = ir.Constant(ir.VectorType(self.i32, LANES),
                             [e + d if e & d == 0 else LANES + e for e in range(LANES)])
            nxt = list(a)
            for i in range(LANES):
                if not i & d:
                    nxt[i] = self.b.shuffle_vector(a[i], a[i + d], lo)
                    nxt[i + d] = self.b.shuffle_vector(a[i], a[i + d], hi)
            a = nxt
            d //= 2
        return a
