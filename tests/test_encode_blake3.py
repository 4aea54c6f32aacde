"""The compiled batch BLAKE3 (keyed, short messages) equals the blake3 package exactly."""

from __future__ import annotations

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
