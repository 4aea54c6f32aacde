"""One base class for every nislink exception; one compatibility check and one error for it."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import numpy as np
import pytest

import nislink
from nislink import errors
from nislink.encode import Encoder
from nislink.errors import (
    IncompatibleEncodingError,
    IncompatibleEncodings,
    NislinkError,
    NislinkWarning,
)
from nislink.schema import Schema
from nislink.secrets import Secret
from nislink.synth import generate_study

SECRET = Secret.from_bytes(bytes(range(32)))


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(nislink.__path__, "nislink."))


def _defined_classes() -> list[type]:
    out = []
    for name in _modules():
        mod = importlib.import_module(name)
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, BaseException) \
                    and obj.__module__ == name:
                out.append(obj)
    return out


def test_every_exception_derives_from_nislink_error() -> None:
    classes = _defined_classes()
    names = {c.__name__ for c in classes}
    # the classes the package is known to define, wherever they live
    assert {"SchemaError", "SecretError", "EncodedFileError", "IncompatibleEncodingError",
            "MissingColumnError", "ClkhashSchemaError", "ClkhashEntryError", "ProtocolError",
            "SubmissionError", "WithdrawalError", "RetentionError", "AuditError",
            "AuditTamperError", "SeparationError", "SparkSetupError", "UserError",
            "RetentionWarning", "DataQualityWarning"} <= names
    for cls in classes:
        if issubclass(cls, Warning):
            assert issubclass(cls, NislinkWarning) and issubclass(cls, UserWarning), cls
        else:
            assert issubclass(cls, NislinkError), cls


@pytest.mark.parametrize("where, name, builtin", [
    ("nislink.schema", "SchemaError", ValueError),
    ("nislink.secrets", "SecretError", ValueError),
    ("nislink.io", "EncodedFileError", ValueError),
    ("nislink.io", "IncompatibleEncodingError", ValueError),
    ("nislink.linkage", "IncompatibleEncodings", ValueError),
    ("nislink.encode.columns", "MissingColumnError", ValueError),
    ("nislink.encode.clkhash_compat", "ClkhashSchemaError", ValueError),
    ("nislink.encode.clkhash_compat", "ClkhashEntryError", ValueError),
    ("nislink.nis.protocol", "ProtocolError", ValueError),
    ("nislink.nis", "SubmissionError", ValueError),
    ("nislink.nis", "WithdrawalError", ValueError),
    ("nislink.nis", "RetentionError", ValueError),
    ("nislink.nis", "AuditError", ValueError),
    ("nislink.nis", "SeparationError", ValueError),
    ("nislink.spark", "SparkSetupError", RuntimeError),
    ("nislink.cli", "UserError", Exception),
])
def test_old_locations_and_builtin_bases_kept(where: str, name: str, builtin: type) -> None:
    cls = getattr(importlib.import_module(where), name)
    assert issubclass(cls, NislinkError) and issubclass(cls, builtin)
    if hasattr(errors, name):
        assert cls is getattr(errors, name)


def test_real_errors_are_caught_by_the_base() -> None:
    with pytest.raises(NislinkError, match="schema"):
        Schema.from_json("{not json")
    with pytest.raises(NislinkError, match="neither hex nor base64"):
        Secret.from_text("!!")
    err = errors.ClkhashEntryError("row 3, feature 'x': bad", 3, "x")
    back = pickle.loads(pickle.dumps(err))
    assert (back.row, back.field, str(back)) == (3, "x", str(err))


@pytest.fixture(scope="module")
def frames() -> dict:
    study = generate_study(150, seed=3)
    enc = Encoder(Schema.uk_default(), SECRET, workers=1)
    la = enc.encode(study.la, id_column="la_id", party="la")
    dwp = enc.encode(study.dwp, id_column="dwp_id", party="dwp")
    other = Encoder(Schema.uk_default(), Secret.from_bytes(bytes(32)), workers=1).encode(
        study.dwp, id_column="dwp_id", party="dwp")
    return {"la": la, "dwp": dwp, "other_key": other}


def test_one_compatibility_check_and_one_error(frames: dict) -> None:
    from nislink import io, linkage

    assert linkage.check_compatible is io.check_compatible
    assert IncompatibleEncodings is IncompatibleEncodingError is nislink.IncompatibleEncodings
    io.check_compatible(frames["la"], frames["dwp"])
    frames["la"].check_compatible(frames["dwp"])
    with pytest.raises(IncompatibleEncodings, match=r"key fingerprint differs \(la=.*dwp=") as e:
        nislink.link(frames["la"], frames["other_key"])
    assert isinstance(e.value, NislinkError) and isinstance(e.value, ValueError)
    assert "same secret" in str(e.value)
    with pytest.raises(IncompatibleEncodingError, match=r"\(first=.*, second="):
        io.check_compatible(frames["la"], frames["other_key"], names=("first", "second"))
    with pytest.raises(IncompatibleEncodingError, match=r"la=.*#1="):
        io.check_compatible(frames["la"].meta, dict(frames["other_key"].meta, party=None))
    with pytest.raises(TypeError, match="names="):
        io.check_compatible(frames["la"], frames["dwp"], ("a", "b"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 names for 3"):
        io.check_compatible(frames["la"], frames["dwp"], frames["dwp"], names=("a", "b"))


def test_filter_lengths_are_checked(frames: dict) -> None:
    from nislink.frame import BitMatrix, EncodedFrame
    from nislink.io import check_compatible

    la = frames["la"]
    name = next(iter(la.fields))
    bm = la.fields[name]
    wider = BitMatrix.from_bool(np.hstack([bm.to_bool(), np.zeros((len(bm), 64), bool)]))
    changed = EncodedFrame(la.ids, {**la.fields, name: wider}, la.clk, la.tokens, dict(la.meta))
    with pytest.raises(IncompatibleEncodingError,
                       match=rf"field '{name}' has {bm.nbits}-bit filters in la and "
                             rf"{bm.nbits + 64}-bit filters in la"):
        check_compatible(la, changed)
    with pytest.raises(IncompatibleEncodingError, match="bit filters in a and"):
        nislink.link_many({"a": la, "b": changed})
