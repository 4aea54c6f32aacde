"""Configuration of the synthetic study: population shape, coverage and error rates.

Every rate is a probability per record (or per eligible record, as stated). The defaults are
*assumptions* unless ``docs/synth.md`` names a published figure for them; the docs list
each rate with its basis. Nothing here is tuned to make linkage look good.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["ErrorRates", "EXCLUSIVE_RATES", "SourceProfile", "PopulationConfig", "SynthConfig"]


@dataclass(frozen=True)
class ErrorRates:
    """Per-record probabilities of each error type in one extract.

    ``*_typo`` rates apply per name field; a record gets at most one keyboard typo per field
    (Damerau 1964: about 80% of misspellings are a single insertion, deletion, substitution
    or transposition). Date-of-birth errors are mutually exclusive; day/month swap only
    applies where the day is 12 or less and differs from the month.
    """

    forename_typo: float = 0.02
    surname_typo: float = 0.02
    ocr: float = 0.003
    phonetic: float = 0.01
    nickname: float = 0.05
    name_swap: float = 0.005
    hyphen_drop: float = 0.3  # per record whose true surname is double-barrelled
    hyphen_space: float = 0.1  # same records: "Smith Jones" (exclusive with hyphen_drop)
    hyphen_join: float = 0.03  # same records: "SmithJones" (exclusive with the two above)
    maiden_name: float = 0.3  # per record of a woman whose surname changed on marriage
    # naming conventions (per record of a person the convention applies to; docs/synth.md)
    singh_kaur_only: float = 0.25  # Sikh person: "Kaur" instead of the family surname
    singh_kaur_added: float = 0.15  # Sikh person: "Kaur Dhillon" (exclusive with _only)
    begum_bibi_only: float = 0.3  # woman with Begum/Bibi: "Begum" instead of family surname
    begum_bibi_added: float = 0.1  # same women: "Begum Rahman" (exclusive with _only)
    mohammed_full: float = 0.25  # man named Mohammed + calling name: "Mohammed Ali"
    mohammed_calling: float = 0.25  # same men: calling name only, "Ali" (exclusive)
    mohammed_spelling: float = 0.1  # per record whose forename has a spelling of Mohammed
    middle_as_forename: float = 0.02  # per record of a person with a middle name
    forename_initial: float = 0.002  # forename recorded as its initial ("J")
    accent_drop: float = 0.4  # per name field whose true spelling has a diacritic
    apostrophe_drop: float = 0.2  # per record whose surname has an apostrophe: "OBrien"
    apostrophe_space: float = 0.1  # same records: "O Brien" (exclusive with _drop)
    polish_masculine: float = 0.1  # woman with a feminine Polish surname: "Kowalski"
    dob_day_month_swap: float = 0.005  # per record with day <= 12 and day != month
    dob_off_by_one: float = 0.003
    dob_year_digit: float = 0.003
    dob_first_of_month: float = 0.003
    dob_missing: float = 0.005
    old_postcode: float = 0.05  # per record of a person who moved: address before the move
    postcode_typo: float = 0.005
    postcode_missing: float = 0.02
    forename_missing: float = 0.002
    surname_missing: float = 0.001
    sex_miscoded: float = 0.005
    sex_missing: float = 0.003
    id_missing: float = 0.05  # NINO (DWP, MoJ, LA) or UPN (DfE, LA) blank
    id_typo: float = 0.003
    duplicate: float = 0.01  # extra record of the same person within one source

    def replace(self, **changes: float) -> ErrorRates:
        """A copy with some rates changed."""
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise ValueError naming the field when a rate is outside [0, 1], or naming the
        fields of a group of mutually exclusive forms whose rates add up to more than 1."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"ErrorRates.{f.name} must be in [0, 1], got {v!r}")
        for group in EXCLUSIVE_RATES:
            total = sum(float(getattr(self, g)) for g in group)
            if total > 1.0 + 1e-12:
                raise ValueError(f"ErrorRates.{' + '.join(group)} must be at most 1 "
                                 f"(mutually exclusive forms), got {total!r}")


#: Groups of ErrorRates fields that are mutually exclusive forms of one record's value.
EXCLUSIVE_RATES: tuple[tuple[str, ...], ...] = (
    ("hyphen_drop", "hyphen_space", "hyphen_join"),
    ("singh_kaur_only", "singh_kaur_added"),
    ("begum_bibi_only", "begum_bibi_added"),
    ("mohammed_full", "mohammed_calling"),
    ("apostrophe_drop", "apostrophe_space"),
)


@dataclass(frozen=True)
class SourceProfile:
    """Coverage and error profile of one extract.

    ``coverage`` is the probability that an eligible person of the assessed population is in
    the extract; ``outsiders`` is the number of people from outside the assessed families,
    as a fraction of the extract's in-population rows.
    """

    coverage: float
    outsiders: float
    errors: ErrorRates
    id_present: float = 1.0  # probability the NINO/UPN is recorded at all


def _la_errors() -> ErrorRates:
    # LA case files: typed by caseworkers from conversations; NINO often unknown. The
    # naming-convention rates are the defaults.
    return ErrorRates(nickname=0.08, dob_first_of_month=0.004, postcode_missing=0.01,
                      id_missing=0.0, duplicate=0.005)


def _dwp_errors() -> ErrorRates:
    # DWP customer records are keyed on NINO and verified: few dob errors, current address.
    # Legal names, but older systems in upper-case ASCII: diacritics and apostrophes lost
    # more often.
    return ErrorRates(forename_typo=0.01, surname_typo=0.01, nickname=0.02, dob_missing=0.001,
                      dob_day_month_swap=0.002, old_postcode=0.1, postcode_missing=0.005,
                      id_missing=0.0, duplicate=0.003, maiden_name=0.2,
                      middle_as_forename=0.01, singh_kaur_only=0.2, singh_kaur_added=0.2,
                      begum_bibi_only=0.25, begum_bibi_added=0.15, mohammed_full=0.35,
                      mohammed_calling=0.1, mohammed_spelling=0.05, forename_initial=0.001,
                      accent_drop=0.7, apostrophe_drop=0.3, polish_masculine=0.05)


def _moj_errors() -> ErrorRates:
    # Police/court records: self-reported identities, aliases, older addresses; names as
    # given to an officer, calling names and short forms more often.
    return ErrorRates(forename_typo=0.03, surname_typo=0.03, phonetic=0.03, nickname=0.1,
                      name_swap=0.01, dob_day_month_swap=0.01, dob_off_by_one=0.008,
                      dob_year_digit=0.008, dob_first_of_month=0.005, dob_missing=0.01,
                      old_postcode=0.35, postcode_missing=0.08, id_missing=0.0,
                      duplicate=0.03, maiden_name=0.4, middle_as_forename=0.04,
                      singh_kaur_only=0.3, begum_bibi_only=0.35, mohammed_calling=0.35,
                      mohammed_spelling=0.15, forename_initial=0.003, hyphen_space=0.15,
                      hyphen_join=0.05, accent_drop=0.6, apostrophe_drop=0.3,
                      apostrophe_space=0.15, polish_masculine=0.2)


def _dfe_errors() -> ErrorRates:
    # School census: dates of birth checked against birth certificates at admission; legal
    # names from the admission form.
    return ErrorRates(forename_typo=0.01, surname_typo=0.015, nickname=0.03,
                      dob_day_month_swap=0.001, dob_off_by_one=0.001, dob_year_digit=0.001,
                      dob_first_of_month=0.0, dob_missing=0.0, old_postcode=0.05,
                      postcode_missing=0.01, id_missing=0.0, duplicate=0.005,
                      sex_miscoded=0.001, maiden_name=0.0, middle_as_forename=0.01,
                      singh_kaur_only=0.15, begum_bibi_only=0.2, mohammed_calling=0.15,
                      mohammed_spelling=0.05, forename_initial=0.0, accent_drop=0.2,
                      apostrophe_drop=0.1, apostrophe_space=0.05, polish_masculine=0.05)


@dataclass(frozen=True)
class PopulationConfig:
    """Shape of the families (see docs/synth.md for the basis of each figure)."""

    reference_date: str = "2024-03-31"
    lone_parent: float = 0.45  # share of assessed families with one adult
    lone_parent_female: float = 0.9
    same_sex_couple: float = 0.01
    mean_extra_children: float = 1.2  # children per family = 1 + Poisson(mean), max 8
    mother_age_at_first_birth_mean: float = 26.0
    mother_age_at_first_birth_sd: float = 5.5
    partner_age_gap_mean: float = 2.0  # years, partner (usually father) older
    partner_age_gap_sd: float = 4.0
    couple_shares_surname: float = 0.7  # couple has one surname (married, wife took his)
    child_other_surname: float = 0.12  # child's surname is not the household's main one
    double_barrelled_child: float = 0.04  # per child of parents with different surnames
    double_barrelled_adult: float = 0.008
    families_per_postcode: float = 1.6  # mean households per generated postcode unit
    moved: float = 0.12  # people whose address changed within the records' window
    background_fraction: float = 0.4  # extra people (not assessed) available to extracts
    male_birth_share: float = 0.512  # ONS: about 105 boys per 100 girls
    # naming (properties of the person, not errors of an extract; docs/synth.md)
    middle_name: float = 0.7  # people with a middle name (not Sikh or Mohammed + calling)
    accented_spelling: float = 0.25  # Zoe/Sian/Chloe/Sean spelled Zoë/Siân/Chloé/Seán
    sikh_naming: float = 0.8  # families with a Sikh (Punjabi) surname using Singh/Kaur
    begum_bibi: float = 0.3  # women with a Muslim South Asian surname who carry Begum/Bibi
    bibi: float = 0.25  # of those, Bibi rather than Begum
    mohammed_prefix: float = 0.3  # men with a Muslim South Asian surname: Mohammed + calling
    polish_feminine: float = 0.9  # women with a Polish -ski/-cki/-dzki surname: -ska form

    def validate(self) -> None:
        """Raise ValueError naming the field when a share is outside [0, 1]."""
        for name in ("lone_parent", "lone_parent_female", "same_sex_couple",
                     "couple_shares_surname", "child_other_surname", "double_barrelled_child",
                     "double_barrelled_adult", "moved", "male_birth_share", "middle_name",
                     "accented_spelling", "sikh_naming", "begum_bibi", "bibi",
                     "mohammed_prefix", "polish_feminine"):
            v = getattr(self, name)
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"PopulationConfig.{name} must be in [0, 1], got {v!r}")


@dataclass(frozen=True)
class SynthConfig:
    """Everything that shapes a generated study."""

    population: PopulationConfig = field(default_factory=PopulationConfig)
    la: SourceProfile = field(
        default_factory=lambda: SourceProfile(1.0, 0.0, _la_errors(), id_present=0.6)
    )
    dwp: SourceProfile = field(
        default_factory=lambda: SourceProfile(0.85, 0.5, _dwp_errors(), id_present=0.97)
    )
    moj: SourceProfile = field(
        default_factory=lambda: SourceProfile(1.0, 0.5, _moj_errors(), id_present=0.4)
    )
    dfe: SourceProfile = field(
        default_factory=lambda: SourceProfile(0.93, 0.5, _dfe_errors(), id_present=0.995)
    )
    moj_alias: float = 0.15  # offenders with one extra alias record
    problem_prevalence: tuple[float, ...] = (0.55, 0.35, 0.45, 0.3, 0.3, 0.55)
    problem_loading: tuple[float, ...] = (0.55, 0.5, 0.65, 0.6, 0.6, 0.5)

    def validate(self) -> None:
        """Raise ValueError on an out-of-range setting, naming it."""
        self.population.validate()
        for name in ("la", "dwp", "moj", "dfe"):
            p: SourceProfile = getattr(self, name)
            p.errors.validate()
            for attr in ("coverage", "id_present"):
                v = getattr(p, attr)
                if not 0.0 <= v <= 1.0:
                    raise ValueError(f"SynthConfig.{name}.{attr} must be in [0, 1], got {v!r}")
            if p.outsiders < 0:
                raise ValueError(f"SynthConfig.{name}.outsiders must be >= 0")
        if len(self.problem_prevalence) != 6 or len(self.problem_loading) != 6:
            raise ValueError("problem_prevalence and problem_loading need six entries")
        for v in (*self.problem_prevalence, *self.problem_loading):
            if not 0.0 < v < 1.0:
                raise ValueError(f"problem rates/loadings must be in (0, 1), got {v!r}")
