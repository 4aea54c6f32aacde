"""Normalisers for UK identifiers (the first pipeline stage).

Every identifier kind has a plain normaliser ``x(value) -> T | None`` and a checker
``check_x(value) -> Checked[T]`` (value, :class:`Status`, reason), with
``x(v) == check_x(v).accepted`` always. :func:`frame` cleans a whole DataFrame and
:func:`explain` says why a single value is not accepted.

See ``docs/cleaning.md`` (names, sex, frame cleaning) and ``docs/identifiers.md``
(dates of birth, postcodes, NINO, UPN).
"""

from __future__ import annotations

from nislink.clean._result import Checked, Status, is_missing
from nislink.clean.dates import check_dob, dob, dob_series
from nislink.clean.frames import KINDS, explain, frame
from nislink.clean.ids import check_nino, check_upn, nino, upn, upn_check_letter
from nislink.clean.names import (
    canonical_forename,
    check_name,
    forenames,
    metaphone,
    name,
    nysiis,
    soundex,
)
from nislink.clean.postcodes import (
    PostcodeParts,
    check_postcode,
    postcode,
    postcode_area,
    postcode_district,
    postcode_parts,
    postcode_sector,
    postcode_series,
    postcode_unit,
)
from nislink.clean.sex_codes import check_sex, sex

__all__ = [
    "KINDS",
    "Checked",
    "PostcodeParts",
    "Status",
    "canonical_forename",
    "check_dob",
    "check_name",
    "check_nino",
    "check_postcode",
    "check_sex",
    "check_upn",
    "dob",
    "dob_series",
    "explain",
    "forenames",
    "frame",
    "is_missing",
    "metaphone",
    "name",
    "nino",
    "nysiis",
    "postcode",
    "postcode_area",
    "postcode_district",
    "postcode_parts",
    "postcode_sector",
    "postcode_series",
    "postcode_unit",
    "sex",
    "soundex",
    "upn",
    "upn_check_letter",
]
