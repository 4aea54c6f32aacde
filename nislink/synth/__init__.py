"""Synthetic UK people, families and departmental extracts with realistic errors.

Deterministic for a seed. Entry points:

* :func:`generate_population` ``(n_people, seed) -> Population``;
* :func:`generate_study` ``(n_people, seed, config=None) -> Study`` (LA submission, DWP,
  MoJ and DfE extracts, truth tables);
* :func:`generate_waves` ``(n_people, seed, waves=3) -> list[Study]``: a study over time,
  overlapping six-monthly waves drawn from one population with fresh recording errors;
* :func:`write_study` ``(study, out_dir, formats=("csv", "parquet"))``;
* :func:`main_synth` ``(people, seed, out) -> dict`` for the ``nislink synth`` command;
* the name frequency tables the generator draws from (:func:`forename_table` per birth
  cohort and sex, :func:`surname_table`, :data:`COHORTS`, :func:`cohort_of_year`), which
  :mod:`nislink.privacy` also takes as an attacker's public knowledge.

Sources of every frequency and the error model are in ``docs/synth.md``.
"""

from __future__ import annotations

from nislink.synth._data import COHORTS, cohort_of_year, forename_table, surname_table
from nislink.synth.config import ErrorRates, PopulationConfig, SourceProfile, SynthConfig
from nislink.synth.population import Population, generate_population
from nislink.synth.programme import PROBLEMS
from nislink.synth.study import (
    EXTRACTS,
    TRUTH_TABLES,
    Study,
    generate_study,
    generate_waves,
    main_synth,
)
from nislink.synth.study import write_study

__all__ = [
    "COHORTS",
    "EXTRACTS",
    "PROBLEMS",
    "TRUTH_TABLES",
    "ErrorRates",
    "Population",
    "PopulationConfig",
    "SourceProfile",
    "Study",
    "SynthConfig",
    "cohort_of_year",
    "forename_table",
    "generate_population",
    "generate_study",
    "generate_waves",
    "main_synth",
    "surname_table",
    "write_study",
]
