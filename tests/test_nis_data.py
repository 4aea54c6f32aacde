"""A small synthetic LA submission for the nis tests (and tests of that generator).

Names, dates and identifiers are made up from short lists with a seeded generator; the
values have realistic UK shapes (postcodes, NINOs, UPNs) but belong to nobody.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from nislink.nis.submission import PROBLEM_FLAGS, SUBMISSION_COLUMNS, validate_submission

TODAY = dt.date(2026, 11, 22)

FORENAMES = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Noah", "Oliver", "George", "Arthur",
             "Leo", "Harry", "Oscar", "Jack", "Sophia", "Grace", "Freya", "Zoe", "Aisha"]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
            "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "O'Brien", "Khan"]
OUTWARD = ["NG1", "NG2", "NG5", "NG7", "NG18", "S80", "DN22", "LE12", "E8", "N16"]
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
NINO_LETTERS = "ABCEGHJKLMNPRSTWXYZ"
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def make_submission(families: int = 40, seed: int = 7) -> pd.DataFrame:
    """A valid synthetic submission: ``families`` families of 1-5 people, text columns."""
    rng = np.random.default_rng(seed)
    rows = []
    pid = 0
    for f in range(families):
        size = int(rng.integers(1, 6))
        surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
        postcode = (
            f"{OUTWARD[int(rng.integers(len(OUTWARD)))]} "
            f"{int(rng.integers(1, 10))}"
            f"{LETTERS[int(rng.integers(20))]}{LETTERS[int(rng.integers(20))]}"
        )
        flags = rng.random(6) < 0.35
        status = ["not_eligible", "eligible", "started", "ended"][int(rng.integers(4))]
        start = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1500)))
        end = start + dt.timedelta(days=int(rng.integers(30, 400)))
        for k in range(size):
            pid += 1
            adult = k < 2
            year = int(rng.integers(1960, 1995)) if adult else int(rng.integers(2005, 2016))
            dob = dt.date(year, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
            nino = (
                f"{NINO_LETTERS[int(rng.integers(19))]}{NINO_LETTERS[int(rng.integers(19))]}"
                f"{int(rng.integers(0, 10**6)):06d}{'ABCD'[int(rng.integers(4))]}"
                if adult and rng.random() < 0.8
                else ""
            )
            upn = (
                f"{UPN_LETTERS[int(rng.integers(23))]}{int(rng.integers(0, 10**12)):012d}"
                if not adult
                else ""
            )
            rows.append(
                {
                    "person_id": f"LA-{pid:06d}",
                    "family_id": f"FAM-{f:05d}",
                    "forename": FORENAMES[int(rng.integers(len(FORENAMES)))],
                    "surname": surname,
                    "dob": dob.isoformat() if rng.random() < 0.5 else dob.strftime("%d/%m/%Y"),
                    "sex": "F" if rng.random() < 0.5 else "M",
                    "postcode": postcode,
                    "nino": nino,
                    "upn": upn,
                    **{name: ("1" if flags[j] else "0") for j, name in enumerate(PROBLEM_FLAGS)},
                    "status": status,
                    "start_date": start.isoformat() if status in ("started", "ended") else "",
                    "end_date": end.isoformat() if status == "ended" else "",
                    "assessment_date": (start - dt.timedelta(days=21)).isoformat(),
                }
            )
    return pd.DataFrame(rows, columns=[c.name for c in SUBMISSION_COLUMNS], dtype=object)


def test_generator_is_deterministic_and_valid() -> None:
    a = make_submission(20, seed=3)
    b = make_submission(20, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(make_submission(20, seed=4))
    valid, rejects = validate_submission(a, today=TODAY)
    assert len(rejects) == 0, rejects.to_dict("records")
    assert len(valid) == len(a)
    assert a["person_id"].is_unique
    assert a["family_id"].nunique() == 20
