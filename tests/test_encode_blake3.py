"""The compiled batch BLAKE3 (keyed, short messages) equals the blake3 package exactly."""

from __future__ import annotations

import re

import blake3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nislink.encode import bloom
from nislink.encode.blake3_batch import MAX_MESSAGE, keyed_xof_short


def _reference(messages: list[bytes], key: bytes, nbytes: int) -> np.ndarray:
    return np.array([np.frombuffer(blake3.blake3(m, key=key).digest(length=nbytes), np.uint8)
                     for m in messages]).reshape(len(messages), nbytes)


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=32, max_size=32),
       messages=st.lists(st.binary(max_size=MAX_MESSAGE), min_size=1, max_size=12),
       nbytes=st.integers(1, 200))
def test_batch_equals_blake3(key: bytes, messages: list[bytes], nbytes: int) -> None:
    assert np.array_equal(keyed_xof_short(messages, key, nbytes),
                          _reference(messages, key, nbytes))


def test_keyed_digests_mixes_short_and_long_messages(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    key = rng.bytes(32)
    msgs = [rng.bytes(int(rng.integers(0, 90))) for _ in range(300)]  # some over 64 bytes
    assert any(len(m) > MAX_MESSAGE for m in msgs)
    monkeypatch.setattr(bloom, "BATCH_MIN", 1)
    got = bloom.keyed_digests(msgs, key, 80)
    assert np.array_equal(got, _reference(msgs, key, 80))


def test_refuses_long_messages_and_bad_keys() -> None:
    with pytest.raises(ValueError, match="longer than"):
        keyed_xof_short([bytes(65)], bytes(32), 8)
    with pytest.raises(ValueError, match="32 bytes"):
        keyed_xof_short([b"a"], bytes(16), 8)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 31, 33, 100])
def test_batch_sizes_around_the_lane_count(n: int) -> None:
    """Batches that fill the 16 lanes of the vector compression partly, exactly, or over
    several rounds, with every message length 0-64 and multi-block outputs."""
    rng = np.random.default_rng(n)
    key = rng.bytes(32)
    messages = [rng.bytes(int(i % (MAX_MESSAGE + 1))) for i in rng.permutation(max(n, 65))[:n]]
    for nbytes in (4, 64, 65, 200):
        assert np.array_equal(keyed_xof_short(messages, key, nbytes),
                              _reference(messages, key, nbytes))


def test_every_message_length() -> None:
    key = bytes(range(32))
    messages = [bytes((7 * i + j) % 256 for j in range(i)) for i in range(MAX_MESSAGE + 1)]
    assert np.array_equal(keyed_xof_short(messages, key, 96), _reference(messages, key, 96))


def test_compression_is_vector_ir() -> None:
    """The shared compression is written in 16-lane vector IR with funnel-shift rotates
    (lowered to vprord/vprold on AVX-512, to shifts elsewhere), not in scalar lanes."""
    from numba import njit

    from nislink.encode import blake3_batch

    fresh = njit(blake3_batch._rows.py_func)  # the cached kernel cannot be inspected
    blocks = np.zeros((3, 16), dtype=np.uint32)
    out = np.zeros((3, 16), dtype=np.uint32)
    fresh(blocks, np.zeros(3, np.int64), np.zeros(8, np.uint32), 1, out)
    want = np.frombuffer(blake3.blake3(b"", key=bytes(32)).digest(length=64), "<u4")
    assert (out == want).all()
    ir_text = "".join(fresh.inspect_llvm().values())
    assert re.search(r"llvm\.fsh[lr]\.v16i32", ir_text)  # LLVM may turn fshr into fshl
    assert "<16 x i32>" in ir_text


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=40))
def test_joined_table_equals_byte_table(items: list[bytes]) -> None:
    """Items given end to end fill the same table as one ``bytes`` object per item (NULs,
    empty items and 64-byte items included); the encoder's table of texts agrees too."""
    from nislink.encode.blake3_batch import byte_table, joined_table
    from nislink.encode.encoder import _kernel_table

    lens = np.array([len(b) for b in items], dtype=np.int64)
    ref, ref_lens = byte_table(items)
    assert np.array_equal(joined_table(b"".join(items), lens), ref)
    texts = np.array([b.decode("latin-1") for b in items], dtype=object)
    got = _kernel_table(texts)
    want = [t.encode("utf-8") for t in texts.tolist()]
    if max(map(len, want), default=0) > 64:
        assert got is None
    else:
        assert got is not None
        assert np.array_equal(got[0], byte_table(want)[0])
        assert got[1].tolist() == [len(w) for w in want]
