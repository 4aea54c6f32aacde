"""The LA's programme data: six headline problems per family, eligibility, intervention.

Problem flags come from a one-factor latent model: each family has a latent need
``z ~ N(0, 1)``; problem ``k`` is present when ``l_k z + sqrt(1 - l_k^2) e_k > t_k`` with
independent ``e_k ~ N(0, 1)`` and ``t_k`` set so that the marginal prevalence is ``p_k``.
Two problems are then correlated through ``z`` (latent correlation ``l_j l_k``). The
school-absence flag is only possible in families with a child of school age (5-16); its
prevalence is therefore ``p`` among those families.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = ["PROBLEMS", "generate_programme"]

#: The six headline problems, in the order of the config's prevalence/loading tuples.
PROBLEMS: tuple[str, ...] = (
    "worklessness",
    "school_absence",
    "children_in_need",
    "offending_asb",
    "domestic_abuse",
    "health",
)

_PROGRAMME_START = np.datetime64("2015-04-01")
_PROGRAMME_LAST_START = np.datetime64("2022-03-31")


def generate_programme(
    rng: np.random.Generator,
    families: pd.DataFrame,
    prevalence: tuple[float, ...],
    loading: tuple[float, ...],
    reference_date: np.datetime64,
) -> pd.DataFrame:
    """One row per family: problem flags, eligibility, status, and dates.

    ``families`` needs ``family_id``, ``has_school_age_child`` (bool) and
    ``youngest_dob`` (datetime64[D]): a family is assessed after its youngest member's
    birth. Dates are datetime64[D] (NaT when not applicable); the end date is NaT for
    ongoing support.
    """
    n = len(families)
    z = rng.standard_normal(n)
    flags = {}
    for k, name in enumerate(PROBLEMS):
        lk = float(loading[k])
        t = NormalDist().inv_cdf(1.0 - float(prevalence[k]))
        x = lk * z + np.sqrt(1.0 - lk * lk) * rng.standard_normal(n) > t
        if name == "school_absence":
            x &= families["has_school_age_child"].to_numpy()
        flags[name] = x
    count = np.sum(np.column_stack([flags[p] for p in PROBLEMS]), axis=1)
    eligible = count >= 2
    u = rng.random(n)
    status = np.where(~eligible, "not_eligible",
                      np.where(u < 0.8, "supported", np.where(u < 0.88, "declined", "waiting")))
    span = int((_PROGRAMME_LAST_START - _PROGRAMME_START).astype(int))
    assessed = _PROGRAMME_START + rng.integers(0, span, n).astype("timedelta64[D]")
    youngest = families["youngest_dob"].to_numpy().astype("datetime64[D]")
    after_birth = youngest + rng.integers(14, 120, n).astype("timedelta64[D]")
    assessed = np.minimum(np.maximum(assessed, after_birth), reference_date - 7)
    start = np.minimum(assessed + rng.integers(7, 90, n).astype("timedelta64[D]"),
                       reference_date)
    # support lasts about a year: Gamma(4, 90 days) (assumption)
    end = start + np.round(rng.gamma(4.0, 90.0, n)).astype(np.int64).astype("timedelta64[D]")
    supported = status == "supported"
    start = np.where(supported, start, np.datetime64("NaT"))
    end = np.where(supported & (end <= reference_date), end, np.datetime64("NaT"))
    out = pd.DataFrame({"family_id": families["family_id"].to_numpy()})
    for p in PROBLEMS:
        out[p] = flags[p].astype(np.int8)
    out["n_problems"] = count.astype(np.int8)
    out["eligible"] = eligible.astype(np.int8)
    out["intervention_status"] = status
    out["assessment_date"] = assessed
    out["start_date"] = start.astype("datetime64[D]")
    out["end_date"] = end.astype("datetime64[D]")
    return out
