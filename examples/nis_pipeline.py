"""The national impact study, step by step, through nislink's Python API.

Run it with ``python examples/nis_pipeline.py [OUT_DIR]``. It does what ``nislink demo``
does, but every step is spelled out so that it can be adapted to real extracts.

The parties:

* a local authority (LA) holds its programme submission: every person in every assessed
  family, their identifiers, the family id, the six headline problems and the
  intervention status;
* DWP, MoJ and DfE hold outcome data about (partly) the same people;
* the linkage unit (ONS) links them holding only encodings, never identifiers or the
  secret;
* research assembly joins the attribute data through the link tables into a dataset
  keyed by research ids, for researchers who must never identify anyone.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd

import nislink
from nislink.nis import verify, withdraw
from nislink.nis.protocol import DataOwner, LinkageUnit, ResearchAssembly, StudyDirectory
from nislink.synth import generate_study


def main(out: Path) -> None:
    # -- 0. The study's data. Real owners would read their own extracts here; we generate
    #       a synthetic study (the truth tables exist only because it is a simulation).
    synth = generate_study(n_people=3000, seed=42)
    print(f"LA submission: {len(synth.la)} rows; DWP {len(synth.dwp)}, "
          f"MoJ {len(synth.extracts['moj'])}, DfE {len(synth.extracts['dfe'])}")

    # -- 1. The study directory: one folder per role, an audit log, and the retention
    #       policy. study_end is when the linkage unit destroys everything it holds;
    #       department copies default to one month.
    study = StudyDirectory(out, study_end=dt.date.today() + dt.timedelta(days=365))

    # -- 2. The data owners agree on a schema and share a secret among themselves. The
    #       linkage unit never gets the secret; it can check that everyone used the same
    #       one through the key fingerprint written into every encoded file.
    secret = nislink.Secret.generate()  # in practice: nislink.Secret.from_file(...)
    schema = nislink.Schema.uk_default()
    print(f"schema {schema.fingerprint[:12]}..., key fingerprint {secret.fingerprint()}")

    # -- 3. Each owner validates (the LA's submission format), separates identifiers from
    #       attributes with random reference numbers, encodes the identifiers, and sends
    #       the encoded file to the linkage unit and the attributes to research assembly.
    #       Every input row is either encoded or in the owner's rejects table.
    la = DataOwner(study, "la", secret, schema).submit(
        synth.la, id_column="la_id", submission=True
    )
    owners = {"la": la}
    for dept in ("dwp", "moj", "dfe"):
        owners[dept] = DataOwner(study, dept, secret, schema).submit(
            synth.extracts[dept], id_column=f"{dept}_id"
        )
    for party, o in owners.items():
        print(f"{party}: {o.rows_encoded} encoded, {o.rows_rejected} rejected")
    del secret  # nothing downstream needs it

    # -- 4. The linkage unit loads the encoded files; a file made with another secret or
    #       schema is refused with a message saying which. It links the LA to each
    #       department one-to-one and returns link tables of reference numbers only.
    unit = LinkageUnit(study)
    unit.receive()
    for dept in ("dwp", "moj", "dfe"):
        path = unit.link("la", dept)
        result = unit.results[("la", dept)]
        print(f"LA-{dept}: {len(pd.read_csv(path))} links from {result.candidates} "
              f"candidate pairs")

    # -- 5. Research assembly draws research ids and builds person- and family-level
    #       datasets with no identifiers, no encodings, no scores, no reference numbers.
    research = ResearchAssembly(study).assemble()
    persons = pd.read_parquet(research["persons"])
    families = pd.read_parquet(research["families"])
    print(f"research dataset: {len(persons)} people, {len(families)} families, "
          f"{int(families['eligible'].sum())} eligible families")

    # -- 6. A person withdraws: the LA looks up its reference number in its own mapping,
    #       and every artefact loses every row derived from their records.
    ref = str(la.separated.mapping["person_ref"].iloc[0])
    report = withdraw(out, ref, party="la", audit=study.audit)
    print(f"withdrawal: {report.rows_removed} rows removed from {len(report.removed)} "
          f"files, complete={report.complete}")

    # -- 7. The audit log is a hash chain; verify it, and keep the head hash elsewhere.
    print(f"audit log verified, head {verify(out / 'audit.jsonl')[:16]}...")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "nis-example"))
