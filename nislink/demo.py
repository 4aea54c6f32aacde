"""``nislink demo``: the main job on built-in data.

Cleans the built-in sample of messy local-authority rows and prints what happened to every
field, then writes the cleaned table and the rejects table to the output directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

SAMPLE_COLUMNS = {
    "forename": "forename",
    "surname": "surname",
    "dob": "dob",
    "sex": "sex",
    "postcode": "postcode",
    "nino": "nino",
    "upn": "upn",
}


def load_sample() -> pd.DataFrame:
    """The built-in sample: a dozen fictional, deliberately messy LA rows."""
    with resources.files("nislink.data").joinpath("sample_people.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[""])


def run_demo(out: str | Path = "nislink-demo", people: int = 2000, seed: int = 2026) -> int:
    """Run the demo, print a summary and write artefacts under ``out``; returns 0."""
    from nislink.clean import frame

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    raw = load_sample()
    clean, rejects = frame(raw, columns=SAMPLE_COLUMNS, id_column="record_id")
    clean.to_csv(out / "sample_clean.csv", index=False)
    rejects.to_csv(out / "sample_rejects.csv", index=False)

    print(f"nislink demo: cleaned the built-in sample of {len(raw)} local-authority rows")
    print(f"  kept {len(clean)} rows, rejected {len(rejects)} (reasons in sample_rejects.csv)")
    print("  field        ok  missing  other")
    for col in SAMPLE_COLUMNS:
        status = clean[f"{col}_status"]
        ok = int((status == "ok").sum())
        miss = int((status == "missing").sum())
        print(f"  {col:<10} {ok:>4} {miss:>8} {len(status) - ok - miss:>6}")
    for _, r in rejects.iterrows():
        print(f"  rejected {r['id'] if 'id' in r else r['row']}: {r['reason']}")
    print(f"  artefacts written to {out}/")
    return 0
