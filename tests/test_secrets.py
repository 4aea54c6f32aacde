"""nislink.Secret: loading, refusal of short keys, derivation, fingerprints, never leaking."""

from __future__ import annotations

import base64
import copy
import logging
import pickle

import pytest

from nislink.secrets import Secret, SecretError

KEY = bytes(range(32))


def _leaks(text: str, key: bytes = KEY) -> bool:
    return key.hex() in text or base64.b64encode(key).decode() in text or repr(key) in text


def test_from_bytes_and_refuses_short() -> None:
    assert len(Secret(KEY)) == 32
    with pytest.raises(SecretError, match="at least 32"):
        Secret(b"x" * 31)
    with pytest.raises(TypeError):
        Secret("a string")  # type: ignore[arg-type]


def test_from_env_hex_and_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NISLINK_SECRET", KEY.hex())
    assert Secret.from_env("NISLINK_SECRET") == Secret(KEY)
    monkeypatch.setenv("NISLINK_SECRET", base64.b64encode(KEY).decode())
    assert Secret.from_env() == Secret(KEY)
    monkeypatch.setenv("NISLINK_SECRET", base64.urlsafe_b64encode(KEY).decode().rstrip("="))
    assert Secret.from_env() == Secret(KEY)
    monkeypatch.delenv("NISLINK_SECRET")
    with pytest.raises(SecretError, match="not set"):
        Secret.from_env()


def test_from_env_bad_text_does_not_echo_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NISLINK_SECRET", "not!valid!secret!text")
    with pytest.raises(SecretError) as info:
        Secret.from_env()
    assert "not!valid" not in str(info.value)
    monkeypatch.setenv("NISLINK_SECRET", KEY[:16].hex())
    with pytest.raises(SecretError) as info:
        Secret.from_env()
    assert KEY[:16].hex() not in str(info.value)


def test_from_file_text_and_raw(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "k.hex").write_text(KEY.hex() + "\n")
    (tmp_path / "k.bin").write_bytes(bytes([255]) + KEY)
    assert Secret.from_file(tmp_path / "k.hex") == Secret(KEY)
    assert Secret.from_file(tmp_path / "k.bin") == Secret(bytes([255]) + KEY)
    with pytest.raises(SecretError, match="cannot read"):
        Secret.from_file(tmp_path / "missing")


def test_generate_is_random_and_long_enough() -> None:
    a, b = Secret.generate(), Secret.generate()
    assert len(a) >= 32 and a != b
    assert a.fingerprint() != b.fingerprint()


def test_derive_is_blake3_derive_key_and_context_separated() -> None:
    import blake3

    s = Secret(KEY)
    ctx = "nislink v1 2026-11 bloom abc forename"
    assert s.derive(ctx) == blake3.blake3(KEY, derive_key_context=ctx).digest()
    assert len(s.derive(ctx)) == 32
    assert s.derive(ctx) != s.derive(ctx.replace("forename", "surname"))
    assert s.derive(ctx) != Secret(bytes(32)).derive(ctx)
    with pytest.raises(ValueError):
        s.derive("")


def test_fingerprint_stable_keyed_short() -> None:
    s = Secret(KEY)
    fp = s.fingerprint()
    assert fp == Secret(KEY).fingerprint() and len(fp) == 16
    assert fp not in KEY.hex()
    assert fp != Secret(bytes(32)).fingerprint()


def test_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(KEY)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, format(s, "")):
        assert not _leaks(text)
        assert "hidden" in text
    assert not hasattr(s, "__dict__")
    logging.getLogger("t").warning("secret is %s", s)
    assert not _leaks(caplog.text)


def test_not_picklable() -> None:
    s = Secret(KEY)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError) as info:
            pickle.dumps(s, protocol=proto)
        assert not _leaks(str(info.value))
    with pytest.raises(TypeError):
        pickle.dumps({"k": s})
    assert copy.deepcopy(s) is s


def test_error_messages_never_contain_key() -> None:
    # errors raised while using a secret name contexts, never the key
    s = Secret(KEY)
    with pytest.raises(ValueError) as info:
        s.derive("")
    assert not _leaks(str(info.value))


def test_short_hex_file_is_refused_not_used_as_raw_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "short.hex").write_text(KEY[:20].hex())
    with pytest.raises(SecretError, match="20 bytes"):
        Secret.from_file(tmp_path / "short.hex")
