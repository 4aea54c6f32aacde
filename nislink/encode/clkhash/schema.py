"""clkhash linkage schemas (version 3, and version 2): parsing and the per-value steps.

:func:`parse_clkhash_schema` reads a schema into a :class:`ClkhashSchema` of
:class:`ClkhashFeature` objects; :meth:`ClkhashSchema.encode` runs the vectorised encoding
of :mod:`nislink.encode.clkhash.engine`. A nislink :class:`~nislink.schema.Schema` made
with :meth:`~nislink.schema.Schema.from_clkhash` wraps one of these.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nislink.encode.clkhash import engine
from nislink.encode.clkhash.dates import date_layout, fast_date
from nislink.encode.clkhash.kdf import DEFAULT_KEY_SIZE, KDF_HASHES
from nislink.errors import ClkhashSchemaError
from nislink.frame import BitMatrix

__all__ = ["ClkhashFeature", "ClkhashSchema", "parse_clkhash_schema"]

_ENCODINGS = ("ascii", "utf-8", "utf-16", "utf-32")


@dataclass(frozen=True)
class ClkhashFeature:
    """One feature (column) of a clkhash schema, as parsed by :func:`parse_clkhash_schema`."""

    identifier: str
    ignored: bool = False
    # format
    format_type: str = "string"  # string | integer | date | enum
    encoding: str = "utf-8"
    pattern: str | None = None
    case: str = "mixed"
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    date_format: str | None = None
    enum_values: frozenset[str] | None = None
    # hashing
    comparison: str = "ngram"  # ngram | exact | numeric
    n: int = 2
    positional: bool = False
    threshold_distance: float | None = None
    resolution: int | None = None
    fractional_precision: int = 0
    hash_type: str = "blakeHash"  # blakeHash | doubleHash
    prevent_singularity: bool = False
    bits_per_token: int | None = None
    bits_per_feature: int | None = None
    missing_sentinel: str | None = None
    missing_replace_with: str | None = None

    # -- per-value steps ---------------------------------------------------------------

    def check_value(self, value: str) -> str | None:
        """Why ``value`` fails this feature's format (clkhash's validation), or ``None``."""
        try:
            value.encode(self.encoding)
        except UnicodeEncodeError:
            return f"cannot be encoded in {self.encoding}"
        if self.format_type == "string":
            if self.pattern is not None:
                if re.fullmatch(self.pattern, value) is None:
                    return f"does not match the pattern {self.pattern!r}"
                return None
            if self.min_length is not None and len(value) < self.min_length:
                return f"is shorter than minLength {self.min_length} (length {len(value)})"
            if self.max_length is not None and len(value) > self.max_length:
                return f"is longer than maxLength {self.max_length} (length {len(value)})"
            if self.case == "upper" and value.upper() != value:
                return "is not upper case"
            if self.case == "lower" and value.lower() != value:
                return "is not lower case"
            return None
        if self.format_type == "integer":
            try:
                number = int(value, 10)
            except ValueError:
                return "is not a base-10 integer"
            if self.minimum is not None and number < self.minimum:
                return f"is below the minimum {self.minimum}"
            if self.maximum is not None and number > self.maximum:
                return f"is above the maximum {self.maximum}"
            return None
        if self.format_type == "date":
            return None  # parsed (and rejected if invalid) by format_value
        if self.format_type == "enum":
            if self.enum_values is not None and value not in self.enum_values:
                return f"is not one of the {len(self.enum_values)} enum values"
            return None
        return None  # pragma: no cover - format types are checked when parsing

    def format_value(self, value: str) -> str:
        """The string that is tokenised for ``value`` (missing-value replacement, formats).

        Raises ``ValueError`` when a date or integer cannot be parsed.
        """
        if self.missing_sentinel is not None and value == self.missing_sentinel:
            if self.missing_replace_with is None:
                return self.missing_sentinel
            return self.missing_replace_with
        if self.format_type == "date":
            fast = fast_date(value, date_layout(self.date_format or ""))
            if fast is not None:
                return fast
            try:
                parsed = datetime.strptime(value, self.date_format or "")
            except ValueError as exc:
                raise ValueError(f"is not a date in the format {self.date_format!r}") from exc
            return parsed.strftime("%Y%m%d")
        if self.format_type == "integer":
            try:
                return str(int(value, 10))
            except ValueError as exc:
                raise ValueError("is not a base-10 integer") from exc
        return value

    def tokenize(self, value: str) -> list[str]:
        """The tokens of a formatted value, in clkhash's order (duplicates kept)."""
        if not value:
            return []
        if self.comparison == "exact":
            return [value]
        if self.comparison == "ngram":
            n = self.n
            if n > 1:
                pad = " " * (n - 1)
                value = pad + value + pad
            count = len(value) - n + 1
            if self.positional:
                return [f"{i + 1} {value[i:i + n]}" for i in range(count)]
            return [value[i:i + n] for i in range(count)]
        return self._numeric_tokens(value)

    def _numeric_tokens(self, value: str) -> list[str]:
        """Neighbourhood tokens of a number (Vatsalan and Christen 2015), as in clkhash."""
        fp = self.fractional_precision
        assert self.threshold_distance is not None and self.resolution is not None
        interval = int(round(self.threshold_distance * pow(10, fp)))
        try:
            v = int(value, 10)
            if fp > 0:
                v *= pow(10, fp)
        except ValueError:
            as_float = float(value)
            v = int(round(as_float * pow(10, fp))) if fp > 0 else int(as_float)
        v = v * 2 * self.resolution
        residue = v % interval
        if residue != 0:
            v = v - residue if residue < interval / 2 else v + (interval - residue)
        return [str(v + i * interval) for i in range(-self.resolution, self.resolution + 1)]

    def insertions(self, num_tokens: int) -> list[int]:
        """How many bits each of ``num_tokens`` tokens sets (the insertion strategy)."""
        if self.bits_per_token is not None:
            return [self.bits_per_token] * num_tokens
        assert self.bits_per_feature is not None
        k, residue = divmod(self.bits_per_feature, num_tokens)
        return [k + 1] * residue + [k] * (num_tokens - residue)


@dataclass(frozen=True)
class ClkhashSchema:
    """A clkhash linkage schema: features, filter length, folds and key derivation.

    Build one with :func:`parse_clkhash_schema`; encode rows with :meth:`encode`.
    """

    features: tuple[ClkhashFeature, ...]
    l: int  # noqa: E741 - clkhash's name for the CLK length
    xor_folds: int = 0
    kdf_hash: str = "SHA256"
    kdf_salt: bytes | None = None
    kdf_info: bytes | None = None
    kdf_key_size: int = DEFAULT_KEY_SIZE
    source_version: int = 3

    @property
    def hash_length(self) -> int:
        """Length of the filter before XOR folding: ``l * 2 ** xor_folds``."""
        return self.l * 2**self.xor_folds

    @property
    def identifiers(self) -> list[str]:
        """Column identifiers in schema order (ignored features included)."""
        return [f.identifier for f in self.features]

    def encode(
        self,
        rows: Any,
        secret: bytes | str,
        *,
        validate: bool = True,
        batch_size: int = 1_000_000,
        workers: int = 1,
    ) -> BitMatrix:
        """Encode ``rows`` into CLKs identical to clkhash 0.18.3's ``generate_clks``
        (:func:`nislink.encode.clkhash.engine.encode`, which documents the arguments)."""
        return engine.encode(self, rows, secret, validate=validate, batch_size=batch_size,
                             workers=workers)


# --------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------

_FORMAT_KEYS = {
    "string": {"type", "encoding", "case", "minLength", "maxLength", "description", "pattern"},
    "integer": {"type", "minimum", "maximum", "description"},
    "date": {"type", "format", "description"},
    "enum": {"type", "values", "description"},
}


def _err(where: str, message: str) -> ClkhashSchemaError:
    return ClkhashSchemaError(f"clkhash schema, {where}: {message}")


def _check_keys(obj: Any, allowed: set[str], where: str, required: Iterable[str] = ()) -> dict:
    if not isinstance(obj, dict):
        raise _err(where, f"expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _err(where, f"unsupported key(s) {unknown}; allowed: {sorted(allowed)}")
    for key in required:
        if key not in obj:
            raise _err(where, f"missing required key {key!r}")
    return obj


def _int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(where, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _err(where, f"must be at least {minimum}, got {value}")
    return value


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise _err(where, "expected a base64 string")
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        raise _err(where, "not valid base64") from None


def parse_clkhash_schema(obj: dict | str | Path) -> ClkhashSchema:
    """Parse a clkhash linkage schema (version 3, or version 2) into a :class:`ClkhashSchema`.

    ``obj`` is the parsed JSON, a JSON string, or a path to a JSON file. Everything in the
    v3 (and v2) schema specification that affects the bits is supported: ``ngram``
    (``n``, ``positional``), ``exact`` and ``numeric`` comparisons; ``bitsPerToken`` /
    ``bitsPerFeature`` strategies (v2: ``k`` / ``numBits``); ``doubleHash`` (with
    ``prevent_singularity``) and ``blakeHash``; HKDF with ``hash``, ``salt``, ``info``,
    ``keySize``; ``l`` and ``xor_folds``; ignored features; ``missingValue``; string
    ``encoding``, ``pattern``, ``case``, ``minLength``/``maxLength``; integer, date and
    enum formats. Unknown keys and unsupported constructs raise
    :class:`ClkhashSchemaError`. ``xorFolds`` (the spelling in clkhash's own master
    schema) is ignored by clkhash 0.18.3, which reads only ``xor_folds``; it is ignored
    here too, with a warning, so that the bits stay identical.
    """
    if isinstance(obj, Path) or (isinstance(obj, str) and not obj.lstrip().startswith("{")):
        try:
            text = Path(obj).read_text(encoding="utf-8")
        except OSError as exc:
            raise ClkhashSchemaError(
                f"cannot read clkhash schema file {str(obj)!r}: {exc}"
            ) from None
        obj = text
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except ValueError as exc:
            raise ClkhashSchemaError(f"clkhash schema is not valid JSON: {exc}") from None
    top = _check_keys(obj, {"version", "clkConfig", "features", "$schema", "id", "$id"},
                      "top level", ("version", "clkConfig", "features"))
    version = top["version"]
    if isinstance(version, bool) or version not in (2, 3):
        if version == 1:
            raise _err("version", "version 1 schemas are not supported; convert to version 3")
        raise _err("version", f"unsupported schema version {version!r} (supported: 2, 3)")
    version = int(version)

    cfg = _check_keys(top["clkConfig"], {"l", "kdf", "xor_folds", "xorFolds"}, "clkConfig",
                      ("l", "kdf"))
    l = _int(cfg["l"], "clkConfig.l", 1)  # noqa: E741
    folds = _int(cfg.get("xor_folds", 0), "clkConfig.xor_folds", 0)
    if "xorFolds" in cfg and "xor_folds" not in cfg and cfg["xorFolds"] not in (0,):
        warnings.warn(
            "clkConfig.xorFolds is ignored by clkhash 0.18.3 (it reads 'xor_folds'); "
            "ignoring it too so that the CLKs stay identical. Rename it to 'xor_folds' to fold.",
            UserWarning,
            stacklevel=2,
        )
    kdf = _check_keys(cfg["kdf"], {"type", "hash", "salt", "info", "keySize"}, "clkConfig.kdf",
                      ("type",))
    if kdf["type"] != "HKDF":
        raise _err("clkConfig.kdf.type", f"unsupported key derivation {kdf['type']!r} (only HKDF)")
    kdf_hash = kdf.get("hash", "SHA256")
    if kdf_hash not in KDF_HASHES:
        raise _err("clkConfig.kdf.hash", f"unsupported hash {kdf_hash!r} (SHA256 or SHA512)")
    salt = _b64(kdf["salt"], "clkConfig.kdf.salt") if "salt" in kdf else None
    info = _b64(kdf["info"], "clkConfig.kdf.info") if "info" in kdf else None
    key_size = _int(kdf.get("keySize", DEFAULT_KEY_SIZE), "clkConfig.kdf.keySize", 1)

    if not isinstance(top["features"], list):
        raise _err("features", "expected a list")
    features = tuple(
        _parse_feature(f, i, version) for i, f in enumerate(top["features"])
    )
    if not features:
        raise _err("features", "no features")
    hash_l = l * 2**folds
    for f in features:
        if f.ignored:
            continue
        if f.hash_type == "blakeHash":
            if hash_l & (hash_l - 1):
                raise _err(
                    f"feature {f.identifier!r}",
                    f"blakeHash needs l * 2**xor_folds to be a power of two, got {hash_l}",
                )
            if key_size > 64:
                raise _err("clkConfig.kdf.keySize", "blakeHash keys are at most 64 bytes")
    schema = ClkhashSchema(features, l, folds, kdf_hash, salt, info, key_size, version)
    max_len = 255 * KDF_HASHES[kdf_hash]().digest_size
    if 2 * len(features) * key_size > max_len:
        raise _err("clkConfig.kdf", f"HKDF-{kdf_hash} cannot derive {2 * len(features)} keys of "
                   f"{key_size} bytes (at most {max_len} bytes in all)")
    return schema


def _parse_feature(f: Any, index: int, version: int) -> ClkhashFeature:
    where = f"features[{index}]"
    if not isinstance(f, dict):
        raise _err(where, "expected an object")
    ident = f.get("identifier")
    if not isinstance(ident, str):
        raise _err(where, "missing string 'identifier'")
    where = f"feature {index} ({ident!r})"
    if f.get("ignored", False) is True:
        if version == 3 and set(f) - {"identifier", "ignored", "description"}:
            # featureConfig with ignored=true is still ignored by clkhash
            _check_keys(f, {"identifier", "ignored", "description", "format", "hashing"}, where)
        return ClkhashFeature(identifier=ident, ignored=True)
    _check_keys(f, {"identifier", "description", "ignored", "format", "hashing"}, where,
                ("format", "hashing"))
    if "ignored" in f and not isinstance(f["ignored"], bool):
        raise _err(where + ".ignored", "expected a boolean")
    fmt = f["format"]
    if not isinstance(fmt, dict) or fmt.get("type") not in _FORMAT_KEYS:
        raise _err(where + ".format", f"type must be one of {sorted(_FORMAT_KEYS)}")
    ftype = fmt["type"]
    _check_keys(fmt, _FORMAT_KEYS[ftype], where + ".format", ("type",))
    kw: dict[str, Any] = {"identifier": ident, "format_type": ftype}
    if ftype == "string":
        enc = fmt.get("encoding", "utf-8")
        if enc not in _ENCODINGS:
            raise _err(where + ".format.encoding", f"must be one of {list(_ENCODINGS)}")
        kw["encoding"] = enc
        if "pattern" in fmt:
            if set(fmt) & {"case", "minLength", "maxLength"}:
                raise _err(where + ".format",
                           "pattern cannot be combined with case/minLength/maxLength")
            if not isinstance(fmt["pattern"], str):
                raise _err(where + ".format.pattern", "expected a string")
            try:
                re.compile(fmt["pattern"])
            except re.error as exc:
                raise _err(where + ".format.pattern",
                           f"invalid regular expression: {exc}") from None
            kw["pattern"] = fmt["pattern"]
        else:
            case = fmt.get("case", "mixed")
            if case not in ("upper", "lower", "mixed"):
                raise _err(where + ".format.case", "must be upper, lower or mixed")
            kw["case"] = case
            if "minLength" in fmt:
                kw["min_length"] = _int(fmt["minLength"], where + ".format.minLength", 0)
            if "maxLength" in fmt:
                kw["max_length"] = _int(fmt["maxLength"], where + ".format.maxLength", 1)
    elif ftype == "integer":
        if "minimum" in fmt:
            kw["minimum"] = _int(fmt["minimum"], where + ".format.minimum")
        if "maximum" in fmt:
            kw["maximum"] = _int(fmt["maximum"], where + ".format.maximum")
    elif ftype == "date":
        if not isinstance(fmt.get("format"), str):
            raise _err(where + ".format.format", "a strptime format string is required")
        kw["date_format"] = fmt["format"]
    else:
        values = fmt.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _err(where + ".format.values", "expected a list of strings")
        kw["enum_values"] = frozenset(values)

    hashing = f["hashing"]
    hw = where + ".hashing"
    if version == 3:
        _check_keys(hashing, {"comparison", "strategy", "hash", "missingValue"}, hw,
                    ("comparison", "strategy"))
        comp = hashing["comparison"]
        if not isinstance(comp, dict):
            raise _err(hw + ".comparison", "expected an object")
        ctype = comp.get("type")
        if ctype == "ngram":
            _check_keys(comp, {"type", "n", "positional"}, hw + ".comparison", ("n",))
            kw["comparison"] = "ngram"
            kw["n"] = _int(comp["n"], hw + ".comparison.n", 1)
            pos = comp.get("positional", False)
            if not isinstance(pos, bool):
                raise _err(hw + ".comparison.positional", "expected a boolean")
            kw["positional"] = pos
        elif ctype == "exact":
            _check_keys(comp, {"type"}, hw + ".comparison")
            kw["comparison"] = "exact"
        elif ctype == "numeric":
            _check_keys(comp, {"type", "thresholdDistance", "resolution", "fractional_precision"},
                        hw + ".comparison", ("thresholdDistance", "resolution"))
            td = comp["thresholdDistance"]
            if isinstance(td, bool) or not isinstance(td, (int, float)) or not td > 0:
                raise _err(hw + ".comparison.thresholdDistance", "must be a positive number")
            kw["comparison"] = "numeric"
            kw["threshold_distance"] = td
            kw["resolution"] = _int(comp["resolution"], hw + ".comparison.resolution", 1)
            kw["fractional_precision"] = _int(comp.get("fractional_precision", 0),
                                              hw + ".comparison.fractional_precision", 0)
            if int(round(td * pow(10, kw["fractional_precision"]))) == 0:
                raise _err(hw + ".comparison",
                           "not enough fractional precision for thresholdDistance")
        else:
            raise _err(hw + ".comparison.type", f"unsupported comparison {ctype!r} "
                       "(ngram, exact or numeric)")
        strat = _check_keys(hashing["strategy"], {"bitsPerToken", "bitsPerFeature"},
                            hw + ".strategy")
        if len(strat) != 1:
            raise _err(hw + ".strategy", "exactly one of bitsPerToken or bitsPerFeature")
        if "bitsPerToken" in strat:
            kw["bits_per_token"] = _int(strat["bitsPerToken"], hw + ".strategy.bitsPerToken", 1)
        else:
            kw["bits_per_feature"] = _int(strat["bitsPerFeature"],
                                          hw + ".strategy.bitsPerFeature", 1)
    else:
        _check_keys(hashing, {"ngram", "positional", "strategy", "hash", "missingValue"}, hw,
                    ("ngram", "strategy"))
        kw["comparison"] = "ngram"
        kw["n"] = _int(hashing["ngram"], hw + ".ngram", 1)
        pos = hashing.get("positional", False)
        if not isinstance(pos, bool):
            raise _err(hw + ".positional", "expected a boolean")
        kw["positional"] = pos
        strat = _check_keys(hashing["strategy"], {"k", "numBits"}, hw + ".strategy")
        if len(strat) != 1:
            raise _err(hw + ".strategy", "exactly one of k or numBits")
        (name, value), = strat.items()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise _err(hw + ".strategy." + name, "must be a number >= 1")
        kw["bits_per_token" if name == "k" else "bits_per_feature"] = int(value)

    h = hashing.get("hash", {"type": "blakeHash"})
    if not isinstance(h, dict) or h.get("type") not in ("blakeHash", "doubleHash"):
        raise _err(hw + ".hash", "type must be blakeHash or doubleHash")
    if h["type"] == "blakeHash":
        _check_keys(h, {"type"}, hw + ".hash")
    else:
        _check_keys(h, {"type", "prevent_singularity"}, hw + ".hash")
        ps = h.get("prevent_singularity", False)
        if not isinstance(ps, bool):
            raise _err(hw + ".hash.prevent_singularity", "expected a boolean")
        kw["prevent_singularity"] = ps
    kw["hash_type"] = h["type"]
    if "missingValue" in hashing:
        mv = _check_keys(hashing["missingValue"], {"sentinel", "replaceWith"}, hw + ".missingValue",
                         ("sentinel",))
        if not isinstance(mv["sentinel"], str) or not isinstance(mv.get("replaceWith", ""), str):
            raise _err(hw + ".missingValue", "sentinel and replaceWith must be strings")
        kw["missing_sentinel"] = mv["sentinel"]
        kw["missing_replace_with"] = mv.get("replaceWith")
    return ClkhashFeature(**kw)
