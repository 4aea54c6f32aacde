"""Separation: identifiers apart from attributes, joined only by random reference numbers.

:func:`separate` splits one data owner's table into three tables:

* **identifiers** — ``person_ref`` plus the identifier columns (names, date of birth, sex,
  postcode, NINO, UPN and their ``*_status`` columns from cleaning). This is what the
  owner encodes; the encoded file carries ``person_ref`` as its record id.
* **attributes** — ``person_ref``, ``family_ref`` and every other column (problem flags,
  intervention status and dates, outcomes). No identifier and no owner record id.
* **mapping** — the owner's record id and family id against ``person_ref`` and
  ``family_ref``. It stays with the owner and is the only way back from a reference
  number to a person.

Family structure is an attribute: ``family_ref`` is in the attribute table and the
mapping, never in the identifier table, so the linkage unit (which receives encodings and
person reference numbers) does not learn who lives with whom.

**Reference numbers** are a kind prefix and 20 lowercase hex digits (80 bits)::

    P3f9c0e4d2a1b5c6d7e8f   person          (REF_PREFIXES["person"] = "P")
    F0a1b2c3d4e5f60718293   family          ("F")
    RP...                   research person ("RP", drawn by research assembly)
    RF...                   research family ("RF")

They are drawn from the operating system's CSPRNG (:func:`secrets.token_bytes`), so they
are independent of the identifiers and of each other: knowing a person's identifiers does
not let anyone compute their reference number. Every draw is checked against all numbers
the generator has issued and redrawn on a collision. The prefixes keep the kinds apart
and let the audit guard recognise (and refuse) a reference number.

**Seeded mode — for reproducible tests and demos only, never for production.** With
``seed=...`` the numbers come from a BLAKE3 keyed stream instead: the key is derived from
the seed and, when given, the owners' shared :class:`~nislink.secrets.Secret`; the stream
position is the draw order. Same inputs (same row order), secret and seed give identical
outputs. The numbers are still unrelated to the identifiers, but anyone who knows the
seed (and secret) can regenerate them from row positions, so they are not secret-grade
pseudonyms. Seeded outputs say so: ``Separated.mode == "seeded"``, and the audit event
records ``mode: seeded``.
"""

from __future__ import annotations

import re
import secrets as _secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import blake3
import numpy as np
import pandas as pd

from nislink.errors import NislinkError
from nislink.nis.audit import AuditLog

__all__ = [
    "IDENTIFIER_COLUMNS",
    "REF_HEX_DIGITS",
    "REF_PATTERN",
    "REF_PREFIXES",
    "ReferenceGenerator",
    "SeparationError",
    "Separated",
    "is_reference_number",
    "separate",
]

REF_HEX_DIGITS = 20
"""Hex digits of randomness in a reference number (80 bits)."""

REF_PREFIXES: dict[str, str] = {
    "person": "P",
    "family": "F",
    "research_person": "RP",
    "research_family": "RF",
}
"""Kind of reference number -> its prefix."""

REF_PATTERN = re.compile(r"^(?:RP|RF|P|F)[0-9a-f]{%d}$" % REF_HEX_DIGITS)
"""A reference number of any kind."""

IDENTIFIER_COLUMNS: tuple[str, ...] = (
    "forename",
    "surname",
    "name",
    "dob",
    "sex",
    "postcode",
    "nino",
    "upn",
    "address",
)
"""Columns treated as identifiers by default (with their ``<column>_status`` columns)."""

_SEEDED_CONTEXT = "nislink v1 nis seeded reference numbers (NOT FOR PRODUCTION)"


class SeparationError(NislinkError, ValueError):
    """The table cannot be separated (missing or duplicated ids, clashing columns...)."""


def is_reference_number(value: Any, kind: str | None = None) -> bool:
    """True when ``value`` has the shape of a reference number (of ``kind``, if given)."""
    if not isinstance(value, str) or not REF_PATTERN.match(value):
        return False
    if kind is None:
        return True
    return re.fullmatch(REF_PREFIXES[kind] + "[0-9a-f]{%d}" % REF_HEX_DIGITS, value) is not None


class ReferenceGenerator:
    """Draws unique reference numbers, randomly (default) or from a seed (tests/demos only).

    One generator remembers every number it issued, so numbers are unique across all its
    draws and kinds. ``seed`` switches to the reproducible mode described in the module
    docstring; ``secret`` (a :class:`~nislink.secrets.Secret`) and ``party`` then also
    enter the key. Without ``seed`` the ``secret`` is ignored: random numbers need no key.
    """

    def __init__(self, *, seed: int | None = None, secret: Any = None, party: str = "") -> None:
        self._issued: set[str] = set()
        self._offsets: dict[str, int] = {}
        if seed is None:
            self._key: bytes | None = None
        else:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
                raise TypeError("seed must be an integer")
            material = b"seed=%d;party=%s" % (int(seed), party.encode("utf-8"))
            if secret is not None:
                if not hasattr(secret, "derive"):
                    raise TypeError("secret must be a nislink.secrets.Secret")
                material += b";secret=" + secret.derive(_SEEDED_CONTEXT, 32)
            self._key = blake3.blake3(material, derive_key_context=_SEEDED_CONTEXT).digest()

    @property
    def mode(self) -> str:
        """``"random"`` (production) or ``"seeded"`` (tests and demos only)."""
        return "random" if self._key is None else "seeded"

    def __repr__(self) -> str:
        return f"ReferenceGenerator(mode={self.mode!r}, issued={len(self._issued)})"

    def _raw(self, kind: str, n: int) -> bytes:
        nbytes = REF_HEX_DIGITS // 2
        if self._key is None:
            return _secrets.token_bytes(nbytes * n)
        start = self._offsets.get(kind, 0)
        self._offsets[kind] = start + nbytes * n
        h = blake3.blake3(b"kind=" + kind.encode("ascii"), key=self._key)
        return h.digest(length=nbytes * n, seek=start)

    def draw(self, n: int, kind: str = "person") -> np.ndarray:
        """``n`` new, distinct reference numbers of ``kind`` (an object array of ``str``)."""
        if kind not in REF_PREFIXES:
            raise ValueError(
                f"unknown reference kind {kind!r}; expected one of {list(REF_PREFIXES)}"
            )
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        prefix = REF_PREFIXES[kind]
        out: list[str] = []
        width = REF_HEX_DIGITS
        while len(out) < n:
            need = n - len(out)
            hexes = self._raw(kind, need).hex()
            for i in range(need):
                ref = prefix + hexes[i * width : (i + 1) * width]
                if ref in self._issued:  # collision: skip and draw again
                    continue
                self._issued.add(ref)
                out.append(ref)
        return np.array(out, dtype=object)


@dataclass
class Separated:
    """The three tables made by :func:`separate` (see the module docstring)."""

    identifiers: pd.DataFrame
    attributes: pd.DataFrame
    mapping: pd.DataFrame
    party: str
    mode: str

    def __repr__(self) -> str:
        fams = (
            self.attributes["family_ref"].nunique() if "family_ref" in self.attributes else 0
        )
        return (
            f"Separated(party={self.party!r}, mode={self.mode!r}, people={len(self.mapping)}, "
            f"families={fams}, "
            f"identifier_columns={[c for c in self.identifiers.columns if c != 'person_ref']}, "
            f"attribute_columns={[c for c in self.attributes.columns if not c.endswith('_ref')]})"
        )


def _blank(s: pd.Series) -> np.ndarray:
    vals = s.to_numpy(dtype=object)
    return np.array(
        [v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())
         or type(v).__name__ in ("NAType", "NaTType") for v in vals],
        dtype=bool,
    )


def _rows(labels: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(str(x) for x in list(labels)[:limit])
    more = f" (and {len(labels) - limit} more)" if len(labels) > limit else ""
    return shown + more


def separate(
    df: pd.DataFrame,
    *,
    id_column: str = "person_id",
    family_column: str | None = "family_id",
    identifier_columns: Iterable[str] | None = None,
    attribute_columns: Iterable[str] | None = None,
    party: str = "la",
    seed: int | None = None,
    secret: Any = None,
    generator: ReferenceGenerator | None = None,
    audit: AuditLog | None = None,
) -> Separated:
    """Split ``df`` into identifier, attribute and mapping tables (see the module docstring).

    ``identifier_columns`` defaults to the columns of :data:`IDENTIFIER_COLUMNS` present
    in ``df`` (each with its ``<column>_status`` column, if any); ``attribute_columns``
    defaults to every remaining column except the id and family columns. ``id_column``
    values must be present and unique; ``family_column`` values must be present (when
    ``family_column`` is None, e.g. for a department that holds no family structure,
    there is no ``family_ref`` column). Reference numbers
    are random unless ``seed`` is given (tests and demos only); pass ``generator`` to draw
    from an existing :class:`ReferenceGenerator`. Rows keep their order and index.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"separate() expects a pandas DataFrame, got {type(df).__name__}")
    for col in (id_column, family_column):
        if col is not None and col not in df.columns:
            raise SeparationError(f"column {col!r} is not in the table")
    reserved = {"person_ref", "family_ref"} & set(map(str, df.columns))
    if reserved:
        raise SeparationError(
            f"the table already has column(s) {sorted(reserved)}; separate raw owner data only"
        )
    missing_id = _blank(df[id_column])
    if missing_id.any():
        raise SeparationError(
            f"{id_column}: missing on row(s) {_rows(df.index[missing_id].tolist())}"
        )
    dup = df[id_column].duplicated(keep=False).to_numpy()
    if dup.any():
        raise SeparationError(
            f"{id_column}: duplicated on row(s) {_rows(df.index[dup].tolist())}"
        )
    if family_column is not None:
        missing_fam = _blank(df[family_column])
        if missing_fam.any():
            raise SeparationError(
                f"{family_column}: missing on row(s) {_rows(df.index[missing_fam].tolist())}"
            )

    cols = [str(c) for c in df.columns]
    if identifier_columns is None:
        ident = [c for c in cols if c in IDENTIFIER_COLUMNS]
    else:
        ident = list(identifier_columns)
        absent = [c for c in ident if c not in cols]
        if absent:
            raise SeparationError(f"identifier column(s) {absent} are not in the table")
    ident += [f"{c}_status" for c in ident if f"{c}_status" in cols and f"{c}_status" not in ident]
    keys = {id_column} | ({family_column} if family_column else set())
    if attribute_columns is None:
        attrs = [c for c in cols if c not in ident and c not in keys]
    else:
        attrs = list(attribute_columns)
        absent = [c for c in attrs if c not in cols]
        if absent:
            raise SeparationError(f"attribute column(s) {absent} are not in the table")
        clash = [c for c in attrs if c in ident or c in keys
                 or c.removesuffix("_status") in IDENTIFIER_COLUMNS]
        if clash:
            raise SeparationError(
                f"column(s) {clash} are identifiers or record ids and cannot be attributes"
            )

    gen = generator or ReferenceGenerator(seed=seed, secret=secret, party=party)
    n = len(df)
    person_ref = gen.draw(n, "person")
    family_ref = None
    if family_column is not None:
        codes, uniques = pd.factorize(df[family_column], sort=False)
        family_ref = gen.draw(len(uniques), "family")[codes]

    index = df.index
    identifiers = pd.DataFrame({"person_ref": person_ref}, index=index)
    for c in ident:
        identifiers[c] = df[c].to_numpy()
    attributes = pd.DataFrame({"person_ref": person_ref}, index=index)
    if family_ref is not None:
        attributes["family_ref"] = family_ref
    for c in attrs:
        attributes[c] = df[c].to_numpy()
    mapping = pd.DataFrame({id_column: df[id_column].to_numpy()}, index=index)
    if family_column is not None:
        mapping[family_column] = df[family_column].to_numpy()
    mapping["person_ref"] = person_ref
    if family_ref is not None:
        mapping["family_ref"] = family_ref

    if audit is not None:
        audit.record(
            "separate",
            party=party,
            action="split",
            counts={
                "people": n,
                "families": int(pd.Series(family_ref).nunique()) if family_ref is not None else 0,
                "identifier_columns": len(ident),
                "attribute_columns": len(attrs),
            },
            values={"mode": gen.mode},
        )
    return Separated(identifiers, attributes, mapping, party=party, mode=gen.mode)
