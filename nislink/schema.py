"""The linkage schema: which fields are encoded, and exactly how.

A :class:`Schema` is declarative and versioned. It round-trips through JSON
(:meth:`Schema.to_json` / :meth:`Schema.from_json`); unknown keys are an error that names
the key's path. Its :attr:`Schema.fingerprint` is the BLAKE3 hash of its canonical JSON: a
public identifier of the schema (the schema holds no secret and no personal data), mixed
into every derived key so that parties using different schemas cannot produce comparable
encodings by accident.

See ``docs/encoding.md`` for the JSON format and the meaning of every option.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
from dataclasses import dataclass, field, fields as dc_fields
from pathlib import Path
from typing import Any

import blake3

from nislink.errors import SchemaError

__all__ = [
    "SCHEME_VERSION",
    "SCHEMA_FORMAT",
    "FIELD_KINDS",
    "TOKEN_TYPES",
    "COMPONENT_MODIFIERS",
    "SchemaError",
    "SALT_JOIN",
    "VIEW_SEP",
    "LEVEL_SEP",
    "SWAP_SEP",
    "field_swaps",
    "DATE_LEVELS",
    "POSTCODE_LEVELS",
    "field_date_levels",
    "salt_tag",
    "field_views",
    "field_fallbacks",
    "Hardening",
    "FieldSpec",
    "ClkSpec",
    "MatchKey",
    "Schema",
]

SCHEME_VERSION = "nislink v1 2026-11"
"""Version of the byte-level encoding scheme (part of every derived-key context)."""

SCHEMA_FORMAT = 1
"""Version of the schema's JSON format."""

NAME_KINDS = ("forename", "surname", "fullname", "text")

FIELD_KINDS = (
    "forename", "surname", "fullname", "dob", "sex", "postcode",
    "nino", "upn", "text", "exact", "number",
)
"""Field kinds a schema may use."""

TOKEN_TYPES: dict[str, tuple[str, ...]] = {
    "forename": ("qgram", "initial", "soundex", "nysiis", "metaphone", "canonical", "value"),
    "surname": ("qgram", "initial", "soundex", "nysiis", "metaphone", "value"),
    "fullname": ("qgram", "initial", "soundex", "nysiis", "metaphone", "value"),
    "text": ("qgram", "value"),
    "dob": ("day", "month", "year", "day_month", "month_year", "day_year", "value"),
    "postcode": ("unit", "sector", "district", "area"),
    "sex": ("value",),
    "nino": ("value", "qgram"),
    "upn": ("value", "qgram"),
    "exact": ("value", "qgram"),
    "number": ("value",),
}
"""Token types each kind's tokeniser can emit (see :mod:`nislink.encode.tokens`)."""

COMPONENT_MODIFIERS: dict[str, tuple[str, ...]] = {
    "forename": ("initial", "soundex", "nysiis", "metaphone", "canonical"),
    "surname": ("initial", "soundex", "nysiis", "metaphone"),
    "fullname": ("initial", "soundex", "nysiis", "metaphone"),
    "text": ("initial",),
    "dob": ("year", "month", "day", "day_month", "month_year", "dayset", "yearpair0",
            "yearpair1") + tuple(f"blank{i}" for i in range(8)),
    "postcode": ("area", "district", "sector"),
    "sex": (),
    "nino": (),
    "upn": (),
    "exact": (),
    "number": (),
}
"""Derived values a match-key component (or a salt) may take from a field:
``<field>`` is the whole normalised value, ``<field>_<modifier>`` a derived one.

The date-of-birth modifiers made for salting near-miss views: ``dayset`` is the day and
month as an unordered pair (the same for 03/11 and 11/03); ``yearpair0`` is ``dayset``
with the year halved (``year // 2``) and ``yearpair1`` with ``(year + 1) // 2``: two
dates whose year differs by one share one of the two, and their day and month may be
swapped. ``blank<i>`` (``i`` from 0 to 7) is the date as ``DDMMYYYY`` with digit ``i``
replaced by ``?``: two dates that differ in that one digit share it."""

DIGIT_VIEWS: tuple[int, ...] = (0, 1, 2, 3, 6, 7)
"""The digits whose ``blank<i>`` salts :meth:`Schema.with_name_hardening` adds as views: the
day's two, the month's two and the year's last two. The year's first two are left out: a
date whose century or millennium is mistyped falls outside the plausible range and is
rejected at cleaning, so those views would never be shared."""

SALT_JOIN = "&"
"""Joins several components into one salt (``"postcode&dob_year"``)."""

VIEW_SEP = "~"
"""``<field>~<salt>`` names a field's extra salted view; ``~<salt>`` the salt's tag token."""

SWAP_SEP = "^"
"""``<forename>^<surname>`` names the salted token of two names as an unordered pair."""

LEVEL_SEP = ":"
"""``<field>:<level token>`` names a date field's near-miss tokens (``dob:swap``)."""

DATE_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("day and month transposed", ("swap",)),
    ("one digit different", tuple(f"d{i}" for i in range(8))),
    ("same year and month", ("ym",)),
    ("year off by one, same day and month", ("dm0", "dm1")),
    ("same year", ("y",)),
)
"""The near-miss levels of a date field with ``date_levels`` (below *exact*, above *else*),
highest first: ``(label, level tokens)``; a pair is at a level when any of its tokens are
equal on both sides. ``swap`` is the date with day and month as an unordered pair (equal
for 03/11/1980 and 11/03/1980); ``d0`` .. ``d7`` are the date as ``DDMMYYYY`` with digit
``i`` blanked (two dates that differ in one digit share one); ``ym`` the year and month;
``dm0`` / ``dm1`` the day and month with ``year // 2`` / ``(year + 1) // 2`` (dates with the
same day and month a year apart share one); ``y`` the year."""

POSTCODE_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("same sector", ("sector",)),
    ("same district", ("district",)),
    ("same area", ("area",)),
)
"""The near-miss levels of a postcode field with ``postcode_levels`` (below *exact*, above
*else*), highest first, like Splink's ``PostcodeComparison``: the same sector (``LS6 2``),
district (``LS6``) or area (``LS``); a move within a town, or a typo in the inward code,
keeps some agreement."""

# Per-kind defaults: token types, filter length, bits per token, CLK membership.
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "forename": dict(tokens=["qgram"], length=512, k=20, clk=True, clk_k=15),
    "surname": dict(tokens=["qgram"], length=512, k=20, clk=True, clk_k=15),
    "fullname": dict(tokens=["qgram"], length=1024, k=20, clk=True, clk_k=15),
    "text": dict(tokens=["qgram"], length=512, k=15, clk=False, clk_k=None),
    "dob": dict(tokens=["day", "month", "year", "day_month", "month_year", "day_year"],
                length=256, k=15, clk=True, clk_k=15),
    "postcode": dict(tokens=["unit", "sector", "district", "area"],
                     length=256, k=20, clk=True, clk_k=15),
    "sex": dict(tokens=["value"], length=0, k=10, clk=False, clk_k=None),
    "nino": dict(tokens=["value"], length=0, k=20, clk=False, clk_k=None),
    "upn": dict(tokens=["value"], length=0, k=20, clk=False, clk_k=None),
    "exact": dict(tokens=["value"], length=0, k=20, clk=False, clk_k=None),
    "number": dict(tokens=["value"], length=128, k=15, clk=False, clk_k=None),
}


def _check_keys(d: Any, allowed: set[str], path: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise SchemaError(f"{path}: expected an object, got {type(d).__name__}")
    for key in d:
        if key not in allowed:
            raise SchemaError(
                f"{path}.{key}: unknown key (expected one of {', '.join(sorted(allowed))})"
            )
    return d


def _typed(value: Any, types: type | tuple[type, ...], path: str) -> Any:
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise SchemaError(f"{path}: expected {types}, got a boolean")
    if not isinstance(value, types):
        raise SchemaError(f"{path}: expected {types}, got {type(value).__name__}")
    return value


@dataclass
class Hardening:
    """Hardening applied to one filter (a field-level filter or the CLK).

    Applied in this order: ``salt`` (while hashing), ``balance``, ``permute``,
    ``xor_fold``, ``rule90``, ``blip``. See ``docs/encoding.md`` for what each protects
    against and what it costs.
    """

    salt: str | None = None
    """A component (e.g. ``"dob_year"``) whose value is mixed into every token's hash."""
    balance: bool = False
    """Append the complement of the filter (constant popcount = filter length)."""
    xor_fold: int = 0
    """Number of times to XOR the two halves of the filter together (halves its length)."""
    rule90: bool = False
    """Replace each bit by the XOR of its two neighbours (cyclic)."""
    permute: bool = False
    """Permute bit positions with a permutation derived from the secret."""
    blip: float = 0.0
    """Flip probability of each bit (randomised response), deterministic per encoding."""
    views: list[str] = field(default_factory=list)
    """Extra salts: the field is encoded once more under each (filter ``<field>~<salt>``),
    so that two records whose primary salts differ by a plausible recording error still
    share one salt and can compare names (see ``docs/privacy.md``)."""
    fallback: list[str] = field(default_factory=list)
    """Salts of views compared only for pairs in which a record has no primary salt (its
    date of birth is missing, say): a view of the address alone would otherwise compare
    the names of a father and son of one name, whose dates of birth differ."""
    mask: bool = False
    """XOR the filter, before balancing, with a keyed pseudo-random mask drawn from the
    salt's value: popcounts and bit layouts differ between salt classes, so nothing done
    to every record alike (balancing, a permutation) can be undone from the data. A
    record whose salt is missing gets no filter (rather than joining one large class)."""

    def is_identity(self) -> bool:
        """True when nothing is applied after hashing."""
        return not (self.balance or self.xor_fold or self.rule90 or self.permute or self.blip
                    or self.mask)

    @property
    def salt_only(self) -> bool:
        """True when the field is compared only between records that share a salt (it has
        salted views, fallback views or a salt mask): its exact token is salted too, every
        salt gets a tag token, and a record whose salt is missing gets no filter."""
        return self.salt is not None and bool(self.views or self.fallback or self.mask)

    @property
    def salts(self) -> list[str]:
        """The primary salt followed by the views' salts (empty when unsalted)."""
        return ([self.salt] if self.salt is not None else []) + list(self.views) \
            + list(self.fallback)

    def output_length(self, length: int) -> int:
        """Filter length after balancing and folding."""
        n = length * 2 if self.balance else length
        return n >> self.xor_fold

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (only non-default values)."""
        out: dict[str, Any] = {}
        default = Hardening()
        for f in dc_fields(self):
            v = getattr(self, f.name)
            if v != getattr(default, f.name):
                out[f.name] = list(v) if isinstance(v, list) else v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, path: str = "hardening") -> "Hardening":
        """Parse, refusing unknown keys."""
        if d is None:
            return cls()
        _check_keys(d, {f.name for f in dc_fields(cls)}, path)
        d = dict(d)
        for key in ("views", "fallback"):
            if key in d:
                d[key] = list(_typed(d[key], list, f"{path}.{key}"))
        h = cls(**d)
        h.validate(path)
        return h

    def validate(self, path: str = "hardening", length: int | None = None) -> None:
        """Raise :class:`SchemaError` if the options are inconsistent."""
        if self.salt is not None:
            _typed(self.salt, str, f"{path}.salt")
        if not isinstance(self.views, list) or not all(isinstance(v, str) and v
                                                       for v in self.views):
            raise SchemaError(f"{path}.views: expected a list of salt components")
        if not isinstance(self.fallback, list) or not all(isinstance(v, str) and v
                                                          for v in self.fallback):
            raise SchemaError(f"{path}.fallback: expected a list of salt components")
        if (self.views or self.fallback) and self.salt is None:
            raise SchemaError(f"{path}.views: extra salted views need a primary 'salt'")
        if len(set(self.salts)) != len(self.salts):
            raise SchemaError(f"{path}.views: a salt appears twice")
        if self.mask and self.salt is None:
            raise SchemaError(f"{path}.mask: the mask is drawn from the salt; set 'salt'")
        for name in ("balance", "rule90", "permute", "mask"):
            if not isinstance(getattr(self, name), bool):
                raise SchemaError(f"{path}.{name}: expected true or false")
        if isinstance(self.xor_fold, bool) or not isinstance(self.xor_fold, int) or not 0 <= self.xor_fold <= 8:
            raise SchemaError(f"{path}.xor_fold: expected an integer 0..8")
        if isinstance(self.blip, bool) or not isinstance(self.blip, (int, float)) or not 0.0 <= self.blip < 0.5:
            raise SchemaError(f"{path}.blip: flip probability must be in [0, 0.5)")
        self.blip = float(self.blip)
        if self.balance and self.xor_fold and not self.permute:
            raise SchemaError(f"{path}.xor_fold: folding a balanced filter without 'permute' "
                              "XORs it with its own complement (all ones); set permute")
        if length is not None and self.xor_fold:
            n = length * 2 if self.balance else length
            if n % (1 << self.xor_fold):
                raise SchemaError(
                    f"{path}.xor_fold: filter length {n} is not divisible by 2**{self.xor_fold}"
                )


@dataclass
class FieldSpec:
    """How one field is cleaned, tokenised and encoded."""

    name: str
    kind: str
    column: str | None = None
    """Input column (defaults to ``name``)."""
    tokens: list[str] | None = None
    """Token types (defaults per kind; see :data:`TOKEN_TYPES`)."""
    q: int = 2
    """q-gram length."""
    padding: bool = True
    """Pad names with ``_`` before and after when making q-grams."""
    positional: bool = False
    """Make q-grams positional (tagged with their position)."""
    length: int | None = None
    """Field-level filter length in bits (0: no field-level filter, token only)."""
    k: int | None = None
    """Bits set per token in the field-level filter."""
    bits_per_field: int | None = None
    """If set, k per token is ``max(1, round(bits_per_field / number of tokens))`` per value."""
    clk: bool | None = None
    """Whether the field's tokens go into the record-level filter (CLK)."""
    clk_k: int | None = None
    """Bits set per token in the CLK (defaults to ``k``)."""
    exact_token: bool = True
    """Emit a keyed exact-match token for the field."""
    missing: str = "empty"
    """``"empty"``: a missing value gives an all-zero filter and token 0;
    ``"reject"``: a row missing this field is not encoded (it goes to the rejects table)."""
    resolution: float | None = None
    """``number`` kind: bin width; tokens are the bin and ``window`` neighbours each side."""
    window: int = 0
    """``number`` kind: neighbouring bins emitted each side."""
    hardening: Hardening = field(default_factory=Hardening)
    uk_names: bool = False
    """``forename`` / ``surname`` kinds: encode the name under the UK recording conventions
    (:func:`nislink.clean.names.given_name`: the first given name, skipping a leading
    Mohammed before a calling name; :func:`nislink.clean.names.surname_core`: Singh, Kaur,
    Begum, Bibi, Khatun dropped beside a family name, Polish -ska/-cka as -ski/-cki)."""
    swap_with: str | None = None
    """A name field salted like this one (``forename`` -> ``"surname"``): emit, under each
    of this field's salts, a salted token of the two names as an unordered pair (named
    ``<name>^<other>``, ``<name>^<other>~<salt>`` for the views), so that a forename and
    surname recorded the other way round still agree; it needs ``hardening`` with a salt
    (a swap token is never a name pair on its own)."""
    earliest: str | None = None
    """``dob`` kind: the first plausible date (ISO ``YYYY-MM-DD``); earlier dates are
    rejected as out of range. ``None``: 1900-01-01, the study's default. Set it for
    historical records."""
    postcode_levels: bool = False
    """``postcode`` kind: emit the keyed sector, district and area tokens of
    :data:`POSTCODE_LEVELS` (``<name>:sector``, ...), so that postcodes are compared by
    level (exact, same sector, district, area) rather than by Dice."""
    date_levels: bool = False
    """``dob`` kind: emit the keyed near-miss tokens of :data:`DATE_LEVELS`
    (``<name>:swap``, ...), so that the linkage unit can compare dates by level (exact,
    transposed, one digit, ...) without seeing them."""

    def __post_init__(self) -> None:
        if self.kind in _KIND_DEFAULTS:
            d = _KIND_DEFAULTS[self.kind]
            if self.tokens is None:
                self.tokens = list(d["tokens"])
            if self.length is None:
                self.length = d["length"]
            if self.k is None:
                self.k = d["k"]
            if self.clk is None:
                self.clk = bool(d["clk"])
            if self.clk_k is None:
                self.clk_k = d["clk_k"] if d["clk_k"] is not None else self.k
        if self.column is None:
            self.column = self.name
        if isinstance(self.hardening, dict):
            self.hardening = Hardening.from_dict(self.hardening, f"fields[{self.name}].hardening")

    @property
    def has_filter(self) -> bool:
        """True when a field-level Bloom filter is produced."""
        return bool(self.length)

    @property
    def output_length(self) -> int:
        """Field-level filter length after hardening (balancing / folding)."""
        return self.hardening.output_length(self.length or 0) if self.length else 0

    @property
    def views(self) -> list[tuple[str, str | None]]:
        """``(filter name, salt)`` of each filter the field produces: the field's own
        (``name``, primary salt or ``None``), then ``(name~salt, salt)`` per extra view."""
        out: list[tuple[str, str | None]] = [(self.name, self.hardening.salt)]
        out.extend((f"{self.name}{VIEW_SEP}{v}", v)
                   for v in self.hardening.views + self.hardening.fallback)
        return out

    def validate(self, path: str) -> None:
        """Raise :class:`SchemaError` naming ``path`` if anything is inconsistent."""
        _typed(self.name, str, f"{path}.name")
        if not self.name or not self.name.replace("_", "").isalnum():
            raise SchemaError(f"{path}.name: {self.name!r} must be letters, digits and '_'")
        if self.kind not in FIELD_KINDS:
            raise SchemaError(f"{path}.kind: unknown kind {self.kind!r} (expected one of "
                              f"{', '.join(FIELD_KINDS)})")
        _typed(self.column, str, f"{path}.column")
        if not isinstance(self.tokens, list) or not self.tokens:
            raise SchemaError(f"{path}.tokens: expected a non-empty list")
        for t in self.tokens:
            if t not in TOKEN_TYPES[self.kind]:
                raise SchemaError(f"{path}.tokens: {t!r} is not a token type of kind "
                                  f"{self.kind!r} (expected {', '.join(TOKEN_TYPES[self.kind])})")
        if len(set(self.tokens)) != len(self.tokens):
            raise SchemaError(f"{path}.tokens: duplicate token type")
        for name, lo in (("q", 1), ("k", 1), ("clk_k", 1), ("length", 0), ("window", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise SchemaError(f"{path}.{name}: expected an integer >= {lo}")
        if self.length and self.length > 1 << 20:
            raise SchemaError(f"{path}.length: at most 1048576 bits")
        if self.bits_per_field is not None and (
            isinstance(self.bits_per_field, bool) or not isinstance(self.bits_per_field, int)
            or self.bits_per_field < 1
        ):
            raise SchemaError(f"{path}.bits_per_field: expected an integer >= 1")
        for name in ("padding", "positional", "clk", "exact_token", "date_levels", "uk_names",
                     "postcode_levels"):
            if not isinstance(getattr(self, name), bool):
                raise SchemaError(f"{path}.{name}: expected true or false")
        if self.missing not in ("empty", "reject"):
            raise SchemaError(f"{path}.missing: expected 'empty' or 'reject'")
        if self.resolution is not None:
            if self.kind != "number":
                raise SchemaError(f"{path}.resolution: only for kind 'number'")
            if isinstance(self.resolution, bool) or not isinstance(self.resolution, (int, float)) \
                    or not self.resolution > 0:
                raise SchemaError(f"{path}.resolution: expected a positive number")
        if self.window and self.resolution is None:
            raise SchemaError(f"{path}.window: needs 'resolution'")
        if self.uk_names and self.kind not in ("forename", "surname"):
            raise SchemaError(f"{path}.uk_names: only for kinds 'forename' and 'surname'")
        if self.date_levels and self.kind != "dob":
            raise SchemaError(f"{path}.date_levels: only for kind 'dob'")
        if self.postcode_levels and self.kind != "postcode":
            raise SchemaError(f"{path}.postcode_levels: only for kind 'postcode'")
        if self.earliest is not None:
            if self.kind != "dob":
                raise SchemaError(f"{path}.earliest: only for kind 'dob'")
            try:
                _dt.date.fromisoformat(_typed(self.earliest, str, f"{path}.earliest"))
            except ValueError:
                raise SchemaError(f"{path}.earliest: expected an ISO date YYYY-MM-DD, got "
                                  f"{self.earliest!r}") from None
        self.hardening.validate(f"{path}.hardening", self.length or None)
        if not self.length and not self.hardening.is_identity():
            raise SchemaError(f"{path}.hardening: the field has no filter (length 0)")

    def to_dict(self) -> dict[str, Any]:
        """Full plain dict (every option, so the fingerprint pins the defaults)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "column": self.column,
            "tokens": list(self.tokens or []),
            "q": self.q,
            "padding": self.padding,
            "positional": self.positional,
            "length": self.length,
            "k": self.k,
            "bits_per_field": self.bits_per_field,
            "clk": self.clk,
            "clk_k": self.clk_k,
            "exact_token": self.exact_token,
            "missing": self.missing,
            "resolution": self.resolution,
            "window": self.window,
            "hardening": self.hardening.to_dict(),
            # only when set, so that schemas without it keep their fingerprints
            **({"date_levels": True} if self.date_levels else {}),
            **({"postcode_levels": True} if self.postcode_levels else {}),
            **({"earliest": self.earliest} if self.earliest is not None else {}),
            **({"swap_with": self.swap_with} if self.swap_with is not None else {}),
            **({"uk_names": True} if self.uk_names else {}),
        }

    @property
    def swap_tokens(self) -> list[tuple[str, str]]:
        """``(salt, token name)`` of each swap token (``swap_with``): the primary salt and the
        views (not the fallback views, whose salts hold the other name's initial and so
        never agree for a swapped pair)."""
        if self.swap_with is None or self.hardening.salt is None:
            return []
        base = f"{self.name}{SWAP_SEP}{self.swap_with}"
        salts = [self.hardening.salt, *self.hardening.views]
        return [(salt, base if i == 0 else f"{base}{VIEW_SEP}{salt}")
                for i, salt in enumerate(salts)]

    @property
    def level_tokens(self) -> list[tuple[str, list[str]]]:
        """``(label, [token name, ...])`` of each near-miss level (``date_levels``,
        ``postcode_levels``), highest
        first; empty otherwise."""
        table = (DATE_LEVELS if self.kind == "dob" and self.date_levels else
                 POSTCODE_LEVELS if self.kind == "postcode" and self.postcode_levels else ())
        return [(label, [f"{self.name}{LEVEL_SEP}{t}" for t in toks]) for label, toks in table]

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "field") -> "FieldSpec":
        """Parse, refusing unknown keys."""
        allowed = {f.name for f in dc_fields(cls)}
        _check_keys(d, allowed, path)
        for req in ("name", "kind"):
            if req not in d:
                raise SchemaError(f"{path}.{req}: required key missing")
        kw = dict(d)
        kw["hardening"] = Hardening.from_dict(d.get("hardening"), f"{path}.hardening")
        if kw.get("tokens") is not None:
            kw["tokens"] = list(_typed(kw["tokens"], list, f"{path}.tokens"))
        if kw.get("kind") not in FIELD_KINDS:
            raise SchemaError(f"{path}.kind: unknown kind {kw.get('kind')!r} (expected one of "
                              f"{', '.join(FIELD_KINDS)})")
        spec = cls(**kw)
        spec.validate(path)
        return spec


@dataclass
class ClkSpec:
    """The record-level filter (CLK): its length and hardening."""

    length: int = 1024
    hardening: Hardening = field(default_factory=Hardening)

    @property
    def output_length(self) -> int:
        """CLK length after hardening."""
        return self.hardening.output_length(self.length)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {"length": self.length, "hardening": self.hardening.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "clk") -> "ClkSpec":
        """Parse, refusing unknown keys."""
        _check_keys(d, {"length", "hardening"}, path)
        length = d.get("length", 1024)
        if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 1 << 20:
            raise SchemaError(f"{path}.length: expected an integer 8..1048576")
        h = Hardening.from_dict(d.get("hardening"), f"{path}.hardening")
        if h.salt is not None:
            raise SchemaError(f"{path}.hardening.salt: salt is set per field, not on the CLK")
        h.validate(f"{path}.hardening", length)
        return cls(length, h)


@dataclass
class MatchKey:
    """A deterministic keyed token over several components (``token 0`` if any is missing)."""

    name: str
    components: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {"name": self.name, "components": list(self.components)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "match_key") -> "MatchKey":
        """Parse, refusing unknown keys."""
        _check_keys(d, {"name", "components"}, path)
        if "name" not in d or "components" not in d:
            raise SchemaError(f"{path}: needs 'name' and 'components'")
        comps = _typed(d["components"], list, f"{path}.components")
        if not comps or not all(isinstance(c, str) for c in comps):
            raise SchemaError(f"{path}.components: expected a non-empty list of strings")
        return cls(_typed(d["name"], str, f"{path}.name"), list(comps))


_TOP_KEYS = {"nislink_schema", "scheme", "kind", "name", "hashing", "fields", "clk",
             "match_keys", "slk581", "clkhash"}


@dataclass
class Schema:
    """A linkage schema: the fields to encode, the CLK, the match keys.

    Build with :meth:`uk_default`, :meth:`from_json`, :meth:`from_dict`,
    :meth:`from_clkhash`, or directly from :class:`FieldSpec` objects.
    """

    fields: list[FieldSpec]
    clk: ClkSpec | None = field(default_factory=ClkSpec)
    match_keys: list[MatchKey] = field(default_factory=list)
    slk581: bool = False
    hashing: str = "blake3"
    """``"blake3"``: independent keyed positions per token (default);
    ``"double"``: keyed double hashing (Kirsch-Mitzenmacher), for comparison only."""
    name: str = ""
    kind: str = "nislink"
    """``"nislink"`` or ``"clkhash"`` (a clkhash v3 schema; CLK only)."""
    clkhash: dict[str, Any] | None = None
    """The raw clkhash schema when ``kind == "clkhash"``."""
    scheme: str = SCHEME_VERSION

    def __post_init__(self) -> None:
        self._clkhash_parsed: Any = None
        self.validate()

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`SchemaError` if the schema is inconsistent."""
        if self.kind not in ("nislink", "clkhash"):
            raise SchemaError(f"schema.kind: expected 'nislink' or 'clkhash', got {self.kind!r}")
        if self.scheme != SCHEME_VERSION:
            raise SchemaError(f"schema.scheme: this nislink implements {SCHEME_VERSION!r}, "
                              f"the schema says {self.scheme!r}")
        if self.hashing not in ("blake3", "double"):
            raise SchemaError("schema.hashing: expected 'blake3' or 'double'")
        if self.kind == "clkhash":
            if self.clkhash is None:
                raise SchemaError("schema.clkhash: a clkhash schema needs the 'clkhash' object")
            if self.fields or self.match_keys or self.slk581:
                raise SchemaError("schema.fields: a clkhash schema has no nislink fields, "
                                  "match keys or SLK-581")
            return
        names: set[str] = set()
        for i, f in enumerate(self.fields):
            f.validate(f"schema.fields[{i}]")
            if f.name in names:
                raise SchemaError(f"schema.fields[{i}].name: duplicate field {f.name!r}")
            names.add(f.name)
        if not self.fields:
            raise SchemaError("schema.fields: at least one field is needed")
        if self.clk is not None and not any(f.clk for f in self.fields):
            raise SchemaError("schema.clk: no field has clk=true (set clk to null for no CLK)")
        if self.clk is None and any(f.clk for f in self.fields):
            raise SchemaError("schema.clk: fields have clk=true but the schema has no CLK")
        for i, f in enumerate(self.fields):
            for salt in f.hardening.salts:
                parts = self.resolve_salt(salt, f"schema.fields[{i}].hardening.salt")
                if any(p[0] == f.name for p in parts):
                    raise SchemaError(f"schema.fields[{i}].hardening.salt: {salt!r} is "
                                      f"derived from the field itself")
            if (f.hardening.views or f.hardening.fallback) and not f.has_filter:
                raise SchemaError(f"schema.fields[{i}].hardening.views: the field has no filter")
        for i, f in enumerate(self.fields):
            if f.swap_with is None:
                continue
            path = f"schema.fields[{i}].swap_with"
            other = next((g for g in self.fields if g.name == f.swap_with), None)
            if other is None or other.name == f.name or other.kind not in NAME_KINDS \
                    or f.kind not in NAME_KINDS:
                raise SchemaError(f"{path}: {f.swap_with!r} is not another name field")
            if not (f.hardening.salt is not None and f.hardening.salt_only):
                raise SchemaError(f"{path}: needs a salted field (views, fallback or mask): "
                                  "an unsalted token of two names would name them")
        if self.clk is not None and (self.clk.hardening.salt is not None
                                     or self.clk.hardening.views or self.clk.hardening.mask):
            raise SchemaError("schema.clk.hardening: the CLK cannot be salted, viewed or masked "
                              "(its fields' salts apply)")
        for i, mk in enumerate(self.match_keys):
            if mk.name in names:
                raise SchemaError(f"schema.match_keys[{i}].name: {mk.name!r} is already used")
            names.add(mk.name)
            for c in mk.components:
                self.resolve_component(c, f"schema.match_keys[{i}].components")
        if self.slk581:
            if "slk581" in names:
                raise SchemaError("schema.slk581: the name 'slk581' is already used")
            kinds = {f.kind for f in self.fields}
            missing = [k for k in ("forename", "surname", "dob", "sex") if k not in kinds]
            if missing:
                raise SchemaError(f"schema.slk581: needs fields of kind {', '.join(missing)}")

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"schema has no field {name!r}")

    def first_of_kind(self, kind: str) -> FieldSpec | None:
        """The first field of ``kind``, or ``None``."""
        for f in self.fields:
            if f.kind == kind:
                return f
        return None

    def resolve_component(self, component: str, path: str = "component") -> tuple[str, str | None]:
        """Split a component like ``"surname_soundex"`` into (field name, modifier or None)."""
        best: FieldSpec | None = None
        for f in self.fields:
            if component == f.name:
                return f.name, None
            if component.startswith(f.name + "_") and (best is None or len(f.name) > len(best.name)):
                best = f
        if best is None:
            raise SchemaError(f"{path}: {component!r} names no field of the schema "
                              f"(fields: {', '.join(f.name for f in self.fields)})")
        modifier = component[len(best.name) + 1:]
        if modifier not in COMPONENT_MODIFIERS[best.kind]:
            allowed = ", ".join(COMPONENT_MODIFIERS[best.kind]) or "none"
            raise SchemaError(f"{path}: {component!r}: {modifier!r} is not a derived value of a "
                              f"{best.kind} field (allowed: {allowed})")
        return best.name, modifier

    def resolve_salt(self, salt: str, path: str = "salt") -> list[tuple[str, str | None]]:
        """The components of a salt (``"postcode&dob_year"``: two), each resolved as by
        :meth:`resolve_component`."""
        parts = salt.split(SALT_JOIN)
        if any(not p for p in parts) or len(set(parts)) != len(parts):
            raise SchemaError(f"{path}: {salt!r} is not a salt ('a' or 'a{SALT_JOIN}b')")
        return [self.resolve_component(p, path) for p in parts]

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The canonical plain-dict form (every option spelled out)."""
        if self.kind == "clkhash":
            return {"nislink_schema": SCHEMA_FORMAT, "scheme": self.scheme, "kind": "clkhash",
                    "name": self.name, "clkhash": copy.deepcopy(self.clkhash)}
        return {
            "nislink_schema": SCHEMA_FORMAT,
            "scheme": self.scheme,
            "kind": self.kind,
            "name": self.name,
            "hashing": self.hashing,
            "fields": [f.to_dict() for f in self.fields],
            "clk": self.clk.to_dict() if self.clk is not None else None,
            "match_keys": [m.to_dict() for m in self.match_keys],
            "slk581": self.slk581,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Schema":
        """Parse a dict (as made by :meth:`to_dict`), refusing unknown keys."""
        _check_keys(d, _TOP_KEYS, "schema")
        fmt = d.get("nislink_schema", SCHEMA_FORMAT)
        if fmt != SCHEMA_FORMAT:
            raise SchemaError(f"schema.nislink_schema: format {fmt!r} is not supported "
                              f"(this version reads {SCHEMA_FORMAT})")
        kind = d.get("kind", "nislink")
        scheme = d.get("scheme", SCHEME_VERSION)
        if kind == "clkhash":
            extra = set(d) - {"nislink_schema", "scheme", "kind", "name", "clkhash"}
            if extra:
                raise SchemaError(f"schema.{sorted(extra)[0]}: not allowed in a clkhash schema")
            return cls.from_clkhash(d.get("clkhash"), name=d.get("name", ""))
        raw_fields = _typed(d.get("fields", []), list, "schema.fields")
        fields = [FieldSpec.from_dict(f, f"schema.fields[{i}]") for i, f in enumerate(raw_fields)]
        clk_raw = d.get("clk", {}) if "clk" in d else None
        clk = ClkSpec.from_dict(clk_raw, "schema.clk") if clk_raw is not None else None
        mks = [MatchKey.from_dict(m, f"schema.match_keys[{i}]")
               for i, m in enumerate(_typed(d.get("match_keys", []), list, "schema.match_keys"))]
        return cls(
            fields=fields,
            clk=clk,
            match_keys=mks,
            slk581=bool(_typed(d.get("slk581", False), bool, "schema.slk581")),
            hashing=d.get("hashing", "blake3"),
            name=_typed(d.get("name", ""), str, "schema.name"),
            kind=kind,
            scheme=scheme,
        )

    def canonical_json(self) -> str:
        """Canonical JSON text (sorted keys, no whitespace, ASCII): the fingerprint's input.

        Input column names do not count: they say where a party's file keeps a field, not
        how it is encoded, so parties with different headers get the same fingerprint (and
        the same keys) and can link. (Each field's ``column`` is written as its name, so
        fingerprints of schemas whose columns are their field names are unchanged.)
        """
        d = self.to_dict()
        for f in d.get("fields") or []:
            if "column" in f:
                f["column"] = f["name"]
        return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes | os.PathLike[str]) -> "Schema":
        """Parse JSON text, or read a JSON file when given a path."""
        if isinstance(text, os.PathLike) or (
            isinstance(text, str) and not text.lstrip().startswith("{") and Path(text).exists()
        ):
            text = Path(text).read_text(encoding="utf-8")
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(d)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the schema as JSON."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @property
    def fingerprint(self) -> str:
        """BLAKE3 of the canonical JSON, first 32 hex characters (public, not secret)."""
        return blake3.blake3(self.canonical_json().encode("ascii")).hexdigest()[:32]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return self.canonical_json() == other.canonical_json()

    def __repr__(self) -> str:
        if self.kind == "clkhash":
            return f"Schema(kind='clkhash', fingerprint={self.fingerprint!r})"
        return (f"Schema(name={self.name!r}, fields={[f.name for f in self.fields]}, "
                f"match_keys={[m.name for m in self.match_keys]}, fingerprint={self.fingerprint!r})")

    # -- builders -------------------------------------------------------------------------
    @classmethod
    def uk_default(cls) -> "Schema":
        """The study's identifiers: forename, surname, dob, sex, postcode, nino, upn.

        Name filters (bigrams, 256 bits) are hardened against the attacks of
        ``docs/privacy.md`` (chosen by measurement there):

        * salted with a nearly unique key, so that no group of records larger than a few
          people shares one name encoding or one bit layout: the day and month (as an
          unordered pair) with the year halved (``dob_yearpair0``);
        * encoded again under more salts (*views*) so that a pair with a plausible
          recording error still shares one salt and compares names: ``dob_yearpair1`` (the
          other halving: year off by one, day and month swapped), ``postcode&dob_year``
          (any day or month error, same postcode), ``postcode&dob_dayset`` (any year
          error, same postcode) and six digit views ``dob_blank<i>&<other name>_initial``
          (one digit of the day, the month or the year's last two mistyped, at any
          address, the other name's initial the same). Every salt
          holds a date part: a salt of the address alone would compare the names of a
          father and son of the same name;
        * about 120 bits set per name whatever its length (``bits_per_field``), so that a
          filter's popcount says nothing about the name's length.

        The names' exact-match tokens are salted like their filters (no token of a name
        alone); there is no record-level filter (CLK). Date of birth (structured tokens) and
        postcode (unit/sector/district/area) have unhardened filters; exact tokens for every
        field; match keys ``mk1`` .. ``mk6`` and SLK-581.
        """
        fields = [
            FieldSpec("forename", "forename", clk=False, uk_names=True),
            FieldSpec("surname", "surname", clk=False, uk_names=True),
            FieldSpec("dob", "dob", clk=False, date_levels=True),
            FieldSpec("sex", "sex"),
            FieldSpec("postcode", "postcode", clk=False, postcode_levels=True),
            FieldSpec("nino", "nino"),
            FieldSpec("upn", "upn"),
        ]
        mks = [
            MatchKey("mk1", ["forename", "surname", "dob", "sex", "postcode"]),
            MatchKey("mk2", ["forename_initial", "surname", "dob"]),
            MatchKey("mk3", ["surname_soundex", "dob", "postcode_district"]),
            MatchKey("mk4", ["nino"]),
            MatchKey("mk5", ["upn"]),
            MatchKey("mk6", ["forename_canonical", "surname", "dob_year", "sex"]),
        ]
        plain = cls(fields=fields, clk=None, match_keys=mks, slk581=True, name="uk_default")
        return plain.with_name_hardening()

    @classmethod
    def uk_unhardened(cls) -> "Schema":
        """The fields and match keys of :meth:`uk_default` with no name hardening: 512-bit
        name filters (k = 20), unsalted name tokens and a 1024-bit CLK over names, date of
        birth and postcode, and no near-miss date tokens (the layout before issues 11 and
        12). **For comparison and attack tests only**: the attacks of ``docs/privacy.md``
        read most names out of it."""
        s = cls.uk_default()
        for f in s.fields:
            f.date_levels = False
            f.postcode_levels = False
            f.uk_names = False
            if f.kind in ("forename", "surname"):
                f.hardening = Hardening()
                f.swap_with = None
                f.length, f.k, f.bits_per_field = 512, 20, None
            if f.kind in ("forename", "surname", "dob", "postcode"):
                f.clk = True
        s.clk = ClkSpec(1024)
        s.name = "uk_unhardened"
        s.validate()
        return s

    def with_near_miss_levels(self) -> "Schema":
        """A copy in which every date-of-birth field and every postcode field emit their
        near-miss level tokens (``date_levels``, :data:`DATE_LEVELS`; ``postcode_levels``,
        :data:`POSTCODE_LEVELS`), as :meth:`uk_default` does, so that they are compared by
        level (exact, transposed, one digit, ...; exact, same sector, ...) rather than by
        Dice."""
        out = copy.deepcopy(self)
        for f in out.fields:
            if f.kind == "dob":
                f.date_levels = True
            if f.kind == "postcode":
                f.postcode_levels = True
        out.validate()
        return out

    def with_name_hardening(self, dob: str | None = None, postcode: str | None = None,
                            drop_clk: bool = True,
                            address: list[str] | None = None,
                            digit_views: bool = True) -> "Schema":
        """A copy with the default name hardening (that of :meth:`uk_default`) on every
        name field (kinds forename, surname, fullname).

        ``dob`` names the field the salts' date parts are drawn from (default: the first
        field of kind ``dob``). ``address`` lists the address fields (default: ``postcode``
        if given, else the first field of kind ``postcode``, else a field called
        ``postcode``). Name filters (256 bits, 120 bits per value) are salted with
        ``<dob>_yearpair0`` and get the views ``<dob>_yearpair1`` and, for each address
        field ``<a>``, ``<a>&<dob>_year`` and ``<a>&<dob>_dayset``, with the fallback
        ``<a>&<other name>_initial`` for a pair in which a record has no date of birth.
        Every address field added is a second chance for a pair whose date of birth was
        recorded with an error or is missing and whose other address field changed (for
        example FEBRL's ``suburb`` beside its ``postcode``); each adds two views and a
        fallback per name, so more encodings per record (see ``docs/privacy.md`` before
        adding fields of few distinct values). ``digit_views`` adds to the forename and
        surname the views ``<dob>_blank<i>&<other name>_initial`` for ``i`` in
        :data:`DIGIT_VIEWS` (the date as ``DDMMYYYY`` with digit ``i`` blanked, and the
        other name's initial: the names of a pair whose date of birth differs in one digit
        of the day, the month or the last two of the year compare without a shared
        address; the initial keeps each class to a few records, where the blanked date
        alone would gather twenty or more and let the salt-class attack align names in
        them). ``drop_clk`` removes the record-level filter (its name bits could not
        follow the views, and its popcount gives away lengths).
        """
        if self.kind != "nislink":
            raise SchemaError("with_name_hardening: only for nislink schemas")
        out = copy.deepcopy(self)
        d = out.field(dob) if dob is not None else out.first_of_kind("dob")
        if d is None:
            raise SchemaError("with_name_hardening: the schema has no date-of-birth field "
                              "to salt names with")
        if address is not None and postcode is not None:
            raise SchemaError("with_name_hardening: give postcode or address, not both")
        addr: list[FieldSpec] = []
        if address is not None:
            names = {f.name for f in out.fields}
            for a in address:
                if a not in names:
                    raise SchemaError(f"with_name_hardening: address field {a!r} is not in "
                                      f"the schema (fields: {sorted(names)})")
                addr.append(out.field(a))
            if len({a.name for a in addr}) != len(addr):
                raise SchemaError(f"with_name_hardening: address {address!r} names a field "
                                  "twice")
            bad = [a.name for a in addr if a.kind in ("forename", "surname", "fullname", "dob")]
            if bad:
                raise SchemaError(f"with_name_hardening: address field {bad[0]!r} is a "
                                  "name or date field")
        elif postcode is not None:
            addr = [out.field(postcode)]
        else:
            p = out.first_of_kind("postcode") or next(
                (f for f in out.fields if f.name == "postcode"), None)
            addr = [p] if p is not None else []
        views = [f"{d.name}_yearpair1"]
        for a in addr:
            views += [f"{a.name}{SALT_JOIN}{d.name}_year", f"{a.name}{SALT_JOIN}{d.name}_dayset"]
        fore = out.first_of_kind("forename")
        sur = out.first_of_kind("surname")
        for f in out.fields:
            if f.kind in ("forename", "surname", "fullname") and f.has_filter:
                # no date of birth on one side: the address and the other name's initial
                other = sur if f.kind == "forename" else fore if f.kind == "surname" else None
                fallback = ([f"{a.name}{SALT_JOIN}{other.name}_initial" for a in addr]
                            if other is not None and other.name != f.name else [])
                # one digit of the date off, at any address: the date with that digit
                # blanked and the other name's initial (up to ten dates, a few records)
                digits = ([f"{d.name}_blank{i}{SALT_JOIN}{other.name}_initial"
                           for i in DIGIT_VIEWS]
                          if digit_views and other is not None and other.name != f.name
                          else [])
                f.hardening = Hardening(salt=f"{d.name}_yearpair0",
                                        views=list(views) + digits, fallback=fallback)
                if f is fore and sur is not None and sur.has_filter:
                    f.swap_with = sur.name  # forename and surname the other way round
                # every name sets about the same number of bits whatever its length: the
                # popcount says nothing about the name (no balancing needed)
                f.length, f.k, f.bits_per_field = 256, 20, 120
        if drop_clk:
            out.clk = None
            for f in out.fields:
                f.clk = False
        out.validate()
        return out

    def select(self, names: list[str]) -> "Schema":
        """A schema keeping only the fields in ``names`` (and the match keys, salts, CLK and
        SLK-581 that remain possible)."""
        if self.kind == "clkhash":
            raise SchemaError("select() is not available for clkhash schemas")
        unknown = [n for n in names if n not in {f.name for f in self.fields}]
        if unknown:
            raise SchemaError(f"select: no field {unknown[0]!r} in the schema")
        keep = [copy.deepcopy(f) for f in self.fields if f.name in names]
        keep_names = {f.name for f in keep}
        proto = Schema.__new__(Schema)
        proto.fields = keep

        def ok(component: str) -> bool:
            try:
                return Schema.resolve_component(proto, component)[0] in keep_names
            except SchemaError:
                return False

        for f in keep:
            salt = f.hardening.salt
            if salt is not None and not all(ok(p) for p in salt.split(SALT_JOIN)):
                raise SchemaError(f"select: field {f.name!r} is salted with "
                                  f"{salt!r}, which is not selected")
            # extra views whose salt needs an unselected field are dropped
            f.hardening.views = [v for v in f.hardening.views
                                 if all(ok(p) for p in v.split(SALT_JOIN))]
            f.hardening.fallback = [v for v in f.hardening.fallback
                                    if all(ok(p) for p in v.split(SALT_JOIN))]
            if f.swap_with is not None and f.swap_with not in keep_names:
                f.swap_with = None
        mks = [copy.deepcopy(m) for m in self.match_keys if all(ok(c) for c in m.components)]
        kinds = {f.kind for f in keep}
        slk = self.slk581 and all(k in kinds for k in ("forename", "surname", "dob", "sex"))
        clk = copy.deepcopy(self.clk) if self.clk is not None and any(f.clk for f in keep) else None
        return Schema(fields=keep, clk=clk, match_keys=mks, slk581=slk, hashing=self.hashing,
                      name=self.name)

    @classmethod
    def from_clkhash(cls, path_or_dict: str | os.PathLike[str] | dict[str, Any],
                     name: str = "") -> "Schema":
        """A schema wrapping a clkhash v3 linkage schema (JSON file path, JSON text or dict).

        :class:`nislink.Encoder` then produces clkhash-compatible CLKs (no field-level
        filters, tokens or match keys).
        """
        if isinstance(path_or_dict, dict):
            raw = copy.deepcopy(path_or_dict)
        elif isinstance(path_or_dict, (str, os.PathLike)):
            text = str(path_or_dict)
            if isinstance(path_or_dict, os.PathLike) or not text.lstrip().startswith("{"):
                text = Path(text).read_text(encoding="utf-8")
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"clkhash schema: not valid JSON ({exc.msg})") from None
        else:
            raise SchemaError("from_clkhash: expected a path, JSON text or a dict")
        # deferred: the clkhash parser lives in the encode room, which builds on this module
        from nislink.encode.clkhash.schema import parse_clkhash_schema  # noqa: PLC0415

        parsed = parse_clkhash_schema(raw)
        schema = cls(fields=[], clk=None, match_keys=[], slk581=False, kind="clkhash",
                     clkhash=raw, name=name)
        schema._clkhash_parsed = parsed
        return schema

    @property
    def clkhash_schema(self) -> Any:
        """The parsed clkhash schema object (``kind == "clkhash"`` only)."""
        if self.kind != "clkhash":
            raise SchemaError("not a clkhash schema")
        if self._clkhash_parsed is None:
            from nislink.encode.clkhash.schema import parse_clkhash_schema  # noqa: PLC0415

            self._clkhash_parsed = parse_clkhash_schema(self.clkhash)
        return self._clkhash_parsed


def salt_tag(salt: str) -> str:
    """Name of the keyed token that tags records with a salt's value (``~<salt>``)."""
    return f"{VIEW_SEP}{salt}"


def _salted_fields(schema: dict[str, Any] | Schema | str | None
                   ) -> list[tuple[str, dict[str, Any]]]:
    """``(name, hardening dict)`` of every field compared only under a salt (salted views,
    fallback views or a salt mask), from a schema, its dict or its JSON."""
    if schema is None:
        return []
    d = schema.to_dict() if isinstance(schema, Schema) else schema
    if isinstance(d, str):
        d = json.loads(d)
    out = []
    for f in (d or {}).get("fields") or []:
        h = f.get("hardening") or {}
        if f.get("length") and Hardening.from_dict(h).salt_only:
            out.append((f["name"], h))
    return out


def field_views(schema: dict[str, Any] | Schema | None) -> dict[str, list[tuple[str, str]]]:
    """Salted fields' views, from a schema or its dict (as held in an encoded file's meta).

    ``{field: [(filter name, tag token name), ...]}``, primary view first, for every field
    whose filter has salted views or a salt mask (records compare such a field only under
    a salt they share). Fields without them are absent. The linkage unit reads this to
    compare a field view by view and to block on the views' tokens.
    """
    return {name: [(name, salt_tag(h["salt"]))]
            + [(f"{name}{VIEW_SEP}{v}", salt_tag(v)) for v in h.get("views") or []]
            for name, h in _salted_fields(schema)}


def field_fallbacks(schema: dict[str, Any] | Schema | None) -> dict[str, list[tuple[str, str]]]:
    """``{field: [(filter name, tag token name), ...]}`` of the fallback views
    (``hardening.fallback``): compared only for pairs in which a record has no primary
    salt."""
    return {name: [(f"{name}{VIEW_SEP}{v}", salt_tag(v)) for v in h["fallback"]]
            for name, h in _salted_fields(schema) if h.get("fallback")}


def field_date_levels(schema: dict[str, Any] | Schema | str | None
                      ) -> dict[str, list[tuple[str, list[str]]]]:
    """``{field: [(label, [token name, ...]), ...]}`` of every field with near-miss level
    tokens (a date with ``date_levels``, :data:`DATE_LEVELS`; a postcode with
    ``postcode_levels``, :data:`POSTCODE_LEVELS`), highest level first, from a schema, its
    dict or its JSON (as held in an encoded file's meta)."""
    if schema is None:
        return {}
    d = schema.to_dict() if isinstance(schema, Schema) else schema
    if isinstance(d, str):
        d = json.loads(d)
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for f in (d or {}).get("fields") or []:
        table = (DATE_LEVELS if f.get("date_levels") else
                 POSTCODE_LEVELS if f.get("postcode_levels") else ())
        if table:
            out[f["name"]] = [(label, [f"{f['name']}{LEVEL_SEP}{t}" for t in toks])
                              for label, toks in table]
    return out


def field_swaps(schema: dict[str, Any] | Schema | str | None) -> dict[str, dict[str, str]]:
    """``{field: {salt tag token: swap token}}`` for both fields of every ``swap_with``
    pair (each view's swap token under the tag of its salt), from a schema or its dict."""
    if schema is None:
        return {}
    d = schema.to_dict() if isinstance(schema, Schema) else schema
    if isinstance(d, str):
        d = json.loads(d)
    out: dict[str, dict[str, str]] = {}
    for f in (d or {}).get("fields") or []:
        other = f.get("swap_with")
        if not other:
            continue
        spec = FieldSpec.from_dict(f)
        tags = {salt_tag(salt): tok for salt, tok in spec.swap_tokens}
        out.setdefault(f["name"], {}).update(tags)
        out.setdefault(other, {}).update(tags)
    return out
