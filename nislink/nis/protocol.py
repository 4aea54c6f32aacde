"""The three-party protocol: data owners, the linkage unit, research assembly.

A study lives in one directory, with one sub-directory per role, so that what each party
holds is visible at a glance (in production each would be on a different machine and the
"send" steps would be secure file transfers)::

    study/
      audit.jsonl                    the study's append-only audit log
      la/  dwp/  moj/  dfe/          each data owner's private files: mapping, identifiers,
                                     rejects (and link tables, if returned to owners)
      linkage_unit/inbox/            encoded files received from the owners
      linkage_unit/links/            link tables made (reference numbers only)
      research_assembly/inbox/       attribute tables and link tables received
      research_assembly/             the research map (reference numbers -> research ids)
      research/                      the de-identified research dataset (persons, families)

Every file is registered with a destroy-by date (:mod:`nislink.nis.retention`), and every
step writes an audit event (:mod:`nislink.nis.audit`) with counts and fingerprints only.

* :class:`DataOwner` validates (the LA's submission), separates identifiers from
  attributes with random reference numbers, encodes the identifier table with the shared
  secret (the encoded file's record ids are the owner's person reference numbers), and
  "sends" the encoded file to the linkage unit and the attribute table to research
  assembly.
* :class:`LinkageUnit` loads the encoded files, refuses any whose schema or key
  fingerprint differs from the others (saying which), links the LA to each department,
  and sends link tables of reference numbers only (no scores, no encodings) to research
  assembly, and to the owners only when asked (``return_to_owners=True``: see
  :meth:`LinkageUnit.link` for what that discloses).
* :class:`ResearchAssembly` joins the attribute tables through the link tables, draws
  research ids, and writes person- and family-level research datasets that hold no
  identifier, no encoding, no score and no owner reference number.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nislink.encode import Encoder
from nislink.errors import NislinkError
from nislink.io import check_compatible, load
from nislink.linkage import link
from nislink.nis.audit import AuditLog
from nislink.nis.retention import RetentionPolicy, register
from nislink.nis.separation import ReferenceGenerator, Separated, separate
from nislink.nis.submission import PROBLEM_FLAGS, validate_submission

__all__ = [
    "DataOwner",
    "LinkageUnit",
    "ProtocolError",
    "ResearchAssembly",
    "StudyDirectory",
    "OwnerOutput",
]

ENCODED_SUFFIX = ".nislink.parquet"
"""File-name suffix of encoded files sent to the linkage unit."""


class ProtocolError(NislinkError, ValueError):
    """A step of the protocol was refused (wrong key or schema, missing inputs, ...)."""


@dataclass
class StudyDirectory:
    """The study's directory layout, audit log and retention policy.

    ``study_end`` is the date by which the linkage unit and the owners destroy their study
    artefacts; department copies default to one month, research data to eight years
    (see :class:`~nislink.nis.retention.RetentionPolicy`). ``today`` fixes the creation
    date of artefacts (for reproducible demos); by default it is the current UTC date.
    """

    root: Path
    study_end: _dt.date
    today: _dt.date | None = None
    audit_key: bytes | None = None
    policy: RetentionPolicy = field(init=False)
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.policy = RetentionPolicy(study_end=self.study_end)
        self.audit = AuditLog(self.root / "audit.jsonl", key=self.audit_key)

    # -- places
    def owner_dir(self, party: str) -> Path:
        """A data owner's private directory."""
        return self._dir(party)

    @property
    def linkage_inbox(self) -> Path:
        """Where owners send encoded files."""
        return self._dir("linkage_unit", "inbox")

    @property
    def linkage_links(self) -> Path:
        """Where the linkage unit writes link tables."""
        return self._dir("linkage_unit", "links")

    @property
    def assembly_inbox(self) -> Path:
        """Where owners send attribute tables and the linkage unit sends link tables."""
        return self._dir("research_assembly", "inbox")

    @property
    def assembly_dir(self) -> Path:
        """Research assembly's own files (the research map)."""
        return self._dir("research_assembly")

    @property
    def research_dir(self) -> Path:
        """The de-identified research dataset."""
        return self._dir("research")

    def _dir(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -- retention
    def created(self) -> _dt.datetime:
        """Creation time stamped on artefacts (midday UTC of ``today`` when it is fixed)."""
        if self.today is None:
            return _dt.datetime.now(_dt.timezone.utc)
        return _dt.datetime.combine(self.today, _dt.time(12, 0), tzinfo=_dt.timezone.utc)

    def register(self, path: Path, kind: str, party: str) -> None:
        """Register ``path`` under retention, held by ``party`` (default period by policy)."""
        register(path, kind, party, policy=self.policy, created=self.created())


def _write_table(df: pd.DataFrame, path: Path) -> Path:
    """Write a table as Parquet (no index, deterministic) or CSV by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


@dataclass
class OwnerOutput:
    """What a data owner wrote, and the counts."""

    party: str
    rows_in: int
    rows_encoded: int
    rows_rejected: int
    encoded_path: Path
    attributes_path: Path
    mapping_path: Path
    rejects_path: Path
    separated: Separated = field(repr=False)


class DataOwner:
    """One data owner (an LA or a department) in the study.

    ``schema`` and ``secret`` must be the same for every owner (the linkage unit checks the
    fingerprints). ``seed`` makes reference numbers reproducible (tests and demos only;
    see :mod:`nislink.nis.separation`).
    """

    def __init__(
        self,
        study: StudyDirectory,
        party: str,
        secret: Any,
        schema: Any,
        *,
        seed: int | None = None,
    ) -> None:
        self.study = study
        self.party = party
        self._secret = secret
        self.schema = schema
        self.seed = seed

    def __repr__(self) -> str:
        return f"DataOwner(party={self.party!r}, study={str(self.study.root)!r})"

    def submit(
        self,
        df: pd.DataFrame,
        *,
        id_column: str,
        family_column: str | None = None,
        submission: bool = False,
    ) -> OwnerOutput:
        """Validate (``submission=True``: the LA's programme submission), separate, encode
        and send.

        Every input row ends up either encoded or in the owner's rejects table
        (``<party>/rejects.csv``: row, id column, field, reason; no identifier values).
        Schema fields whose column the owner does not hold (e.g. a UPN at DWP) are
        encoded as missing.
        """

        study, party, audit = self.study, self.party, self.study.audit
        rows_in = len(df)
        rejects: list[pd.DataFrame] = []
        if submission:
            valid, sub_rejects = validate_submission(df, today=study.today)
            audit.record(
                "validate", party=party,
                counts={"rows": rows_in, "valid": len(valid), "rejected": len(sub_rejects)},
            )
            if len(sub_rejects):
                rejects.append(
                    sub_rejects.assign(stage="validate").rename(columns={"id": id_column})
                )
            df = valid
            id_column, family_column = "person_id", "family_id"
        sep = separate(
            df, id_column=id_column, family_column=family_column, party=party,
            seed=self.seed, secret=self._secret if self.seed is not None else None,
        )
        audit.record(
            "separate", party=party,
            counts={"people": len(sep.mapping),
                    "families": int(sep.attributes["family_ref"].nunique())
                    if "family_ref" in sep.attributes else 0},
            values={"mode": sep.mode},
        )
        identifiers = sep.identifiers
        # the encoded file is held by the linkage unit: it carries the unit's destroy-by date
        destroy_by = study.policy.destroy_by("ons", study.created().date())
        encoder = Encoder(self.schema, self._secret)
        enc = encoder.encode(identifiers, id_column="person_ref", party=party,
                             destroy_by=destroy_by, allow_absent=True)
        enc_rejects = encoder.rejects
        # clean: per-field counts of accepted values, names only
        audit.record(
            "clean", party=party,
            counts={"rows": len(identifiers), "kept": len(enc),
                    "rejected": int(len(enc_rejects))},
        )
        if len(enc_rejects):
            mapped = enc_rejects.copy()
            ref_to_id = dict(zip(sep.mapping["person_ref"], sep.mapping[id_column]))
            if "id" in mapped.columns:
                mapped[id_column] = mapped["id"].map(ref_to_id)
                mapped = mapped.drop(columns=["id"])
            rejects.append(mapped.assign(stage="encode"))
        meta = enc.meta
        audit.record(
            "encode", party=party,
            counts={"records": len(enc)},
            fingerprints={"schema": meta["schema_fingerprint"], "key": meta["key_fingerprint"]},
        )
        own = study.owner_dir(party)
        mapping_path = _write_table(sep.mapping, own / "mapping.parquet")
        ident_path = _write_table(sep.identifiers, own / "identifiers.parquet")
        rej = (pd.concat(rejects, ignore_index=True) if rejects
               else pd.DataFrame(columns=["row", id_column, "field", "reason", "stage"]))
        rejects_path = _write_table(rej, own / "rejects.csv")
        for path, kind in ((mapping_path, "mapping"), (ident_path, "identifiers"),
                           (rejects_path, "rejects")):
            study.register(path, kind, party)
        # send: the encoded file to the linkage unit, the attribute table to assembly
        kept = set(enc.ids.tolist())
        enc_path = study.linkage_inbox / f"{party}{ENCODED_SUFFIX}"
        enc.save(enc_path)
        study.register(enc_path, "encoded", "ons")
        attrs = sep.attributes[sep.attributes["person_ref"].isin(kept)].reset_index(drop=True)
        attr_path = _write_table(attrs, study.assembly_inbox / f"{party}_attributes.parquet")
        study.register(attr_path, "attributes", "ons")
        audit.record("send", party=party, counts={"records": len(enc), "attributes": len(attrs)},
                     files=[enc_path.name, attr_path.name])
        if len(enc) + len(rej) != rows_in:
            raise ProtocolError(
                f"{party}: {rows_in} rows in, {len(enc)} encoded and {len(rej)} rejected"
            )
        return OwnerOutput(party, rows_in, len(enc), len(rej), enc_path, attr_path,
                           mapping_path, rejects_path, sep)


class LinkageUnit:
    """The linkage unit: holds encodings and reference numbers only, never the secret."""

    def __init__(self, study: StudyDirectory) -> None:
        self.study = study
        self.frames: dict[str, Any] = {}
        self.results: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        return f"LinkageUnit(parties={sorted(self.frames)})"

    def receive(self, parties: Sequence[str] | None = None) -> dict[str, Any]:
        """Load the encoded files in the inbox and check that they agree.

        Raises :class:`ProtocolError` naming the file and whether the schema or the key
        fingerprint differs from the first file's.
        """

        inbox = self.study.linkage_inbox
        paths = sorted(inbox.glob(f"*{ENCODED_SUFFIX}"))
        if parties is not None:
            paths = [inbox / f"{p}{ENCODED_SUFFIX}" for p in parties]
        if not paths:
            raise ProtocolError("linkage unit: no encoded files received")
        first_name: str | None = None
        for path in paths:
            if not path.exists():
                raise ProtocolError(f"linkage unit: no encoded file from {path.name}")
            enc = load(path)
            party = path.name[: -len(ENCODED_SUFFIX)]
            if first_name is not None:
                try:
                    check_compatible(self.frames[first_name], enc)
                except ValueError as exc:
                    self.study.audit.record("check", party="ons", action="refuse",
                                            counts={"files": 1}, files=[path.name])
                    raise ProtocolError(
                        f"linkage unit: refused {path.name} from {party}: {exc}"
                    ) from None
            else:
                first_name = party
            self.frames[party] = enc
            self.study.audit.record(
                "receive", party="ons", counts={"records": len(enc)}, files=[path.name],
                fingerprints={"schema": enc.meta["schema_fingerprint"],
                              "key": enc.meta["key_fingerprint"]},
            )
        self.study.audit.record("check", party="ons", action="check",
                                counts={"files": len(paths)}, values={"outcome": "ok"})
        return self.frames

    def link(self, a: str, b: str, *, return_to_owners: bool = False, **options: Any) -> Path:
        """Link party ``a`` to party ``b`` one-to-one; write and return the link table.

        The link table has two columns, ``<a>_person_ref`` and ``<b>_person_ref``, and
        nothing else (no scores). It is sent to research assembly. With
        ``return_to_owners=True`` it is also returned to both owners — for studies whose
        agreements have departments send outcome data only for linked people — at a cost
        that must be accepted knowingly: joined with its own mapping, the LA learns which of
        its people a department holds (e.g. who has an MoJ record), and the department
        learns which of its people are in the LA's programme. Other ``options`` go to
        :func:`nislink.link`.
        """

        if a not in self.frames or b not in self.frames:
            raise ProtocolError(f"linkage unit: no encoded file from {a if a not in self.frames else b}")
        result = link(self.frames[a], self.frames[b], **options)
        self.results[(a, b)] = result
        table = pd.DataFrame({
            f"{a}_person_ref": result.pairs["id_a"].astype(str).to_numpy(),
            f"{b}_person_ref": result.pairs["id_b"].astype(str).to_numpy(),
        }).sort_values([f"{a}_person_ref"], kind="stable").reset_index(drop=True)
        name = f"links_{a}_{b}.csv"
        path = _write_table(table, self.study.linkage_links / name)
        self.study.register(path, "link_table", "ons")
        self.study.audit.record(
            "link", party="ons",
            counts={"records_a": len(self.frames[a]), "records_b": len(self.frames[b]),
                    "candidates": int(result.candidates), "links": len(table)},
            files=[name],
        )
        recipients = [(self.study.assembly_inbox, "ons")]
        if return_to_owners:
            recipients += [(self.study.owner_dir(a), a), (self.study.owner_dir(b), b)]
        for dest, holder in recipients:
            copy = dest / name
            shutil.copyfile(path, copy)
            self.study.register(copy, "link_table", holder)
        self.study.audit.record("send", party="ons", counts={"links": len(table)}, files=[name])
        return path


class ResearchAssembly:
    """Joins attribute tables through link tables into the de-identified research dataset."""

    def __init__(self, study: StudyDirectory, *, seed: int | None = None) -> None:
        self.study = study
        self.seed = seed

    def __repr__(self) -> str:
        return f"ResearchAssembly(study={str(self.study.root)!r})"

    def assemble(self, base: str = "la", departments: Sequence[str] = ("dwp", "moj", "dfe"),
                 ) -> dict[str, Path]:
        """Build ``research/persons.parquet`` and ``research/families.parquet``.

        Person level: one row per person of the ``base`` owner, keyed by a new research id
        (``research_id``) and research family id (``research_family_id``), with the base
        owner's attributes and, for each department, ``<dept>_linked`` and the linked
        record's attributes prefixed ``<dept>_``. Dates are coarsened to year and month.
        Family level: one row per family with its size, problem counts, eligibility and
        linked-outcome summaries. Neither table holds an owner's reference number.
        """
        inbox = self.study.assembly_inbox
        base_path = inbox / f"{base}_attributes.parquet"
        if not base_path.exists():
            raise ProtocolError(f"research assembly: no attribute table from {base}")
        people = pd.read_parquet(base_path)
        gen = ReferenceGenerator(seed=self.seed, party="research")
        research_id = gen.draw(len(people), "research_person")
        fam_codes, fams = pd.factorize(people["family_ref"], sort=False)
        research_family = gen.draw(len(fams), "research_family")[fam_codes]
        research_map = pd.DataFrame({
            "research_id": research_id,
            f"{base}_person_ref": people["person_ref"].to_numpy(),
            "family_ref": people["family_ref"].to_numpy(),
            "research_family_id": research_family,
        })
        persons = pd.DataFrame({"research_id": research_id,
                                "research_family_id": research_family})
        for col in people.columns:
            if col in ("person_ref", "family_ref"):
                continue
            persons[col] = _coarsen(people[col])
        used: list[str] = [base_path.name]
        for dept in departments:
            links_path = inbox / f"links_{base}_{dept}.csv"
            attr_path = inbox / f"{dept}_attributes.parquet"
            if not links_path.exists() or not attr_path.exists():
                continue
            links = pd.read_csv(links_path, dtype=str)
            dattrs = pd.read_parquet(attr_path)
            merged = links.merge(dattrs, left_on=f"{dept}_person_ref", right_on="person_ref",
                                 how="left")
            merged = merged.set_index(f"{base}_person_ref")
            key = people["person_ref"]
            persons[f"{dept}_linked"] = key.isin(merged.index).to_numpy()
            for col in dattrs.columns:
                if col in ("person_ref", "family_ref"):
                    continue
                persons[f"{dept}_{col}"] = _coarsen(key.map(merged[col]).reset_index(drop=True))
            used += [links_path.name, attr_path.name]
        families = family_table(persons, departments)
        map_path = _write_table(research_map, self.study.assembly_dir / "research_map.parquet")
        self.study.register(map_path, "research_map", "ons")
        p_path = _write_table(persons, self.study.research_dir / "persons.parquet")
        f_path = _write_table(families, self.study.research_dir / "families.parquet")
        for path in (p_path, f_path):
            self.study.register(path, "research_dataset", "research")
        self.study.audit.record(
            "assemble", party="research",
            counts={"persons": len(persons), "families": len(families),
                    **{f"linked_{d}": int(persons[f"{d}_linked"].sum())
                       for d in departments if f"{d}_linked" in persons}},
            files=[p_path.name, f_path.name],
        )
        return {"persons": p_path, "families": f_path, "research_map": map_path}


def _coarsen(s: pd.Series) -> pd.Series:
    """Dates (and date-like text) to ``YYYY-MM``; other columns unchanged."""
    s = s.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m").where(s.notna(), None)
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):  # pandas 3 reads ``str``
        text = s.dropna().astype(str).str.strip()
        sample = text[text != ""].head(200)
        if len(sample) and sample.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all():
            d = pd.to_datetime(s, errors="coerce", format="%Y-%m-%d")
            return d.dt.strftime("%Y-%m").where(d.notna(), None)
    return s


def coarsen_dates(s: pd.Series) -> pd.Series:
    """Dates (and ``YYYY-MM-DD`` text) to ``YYYY-MM``, as in the research dataset; other
    columns unchanged."""
    return _coarsen(s)


def family_table(persons: pd.DataFrame, departments: Sequence[str],
                 by: Sequence[str] = ("research_family_id",)) -> pd.DataFrame:
    """One row per research family (per value of the ``by`` columns, e.g. family and
    wave): size, problems, eligibility, linked outcomes."""
    g = persons.groupby(list(by), sort=True)
    out = pd.DataFrame({"members": g.size()})
    flags = [c for c in PROBLEM_FLAGS if c in persons.columns]
    for c in flags:
        out[c] = g[c].max().astype(bool)
    if flags:
        out["problems"] = out[flags].sum(axis=1).astype(int)
        out["eligible"] = out["problems"] >= 2
    for d in departments:
        col = f"{d}_linked"
        if col in persons.columns:
            out[f"members_linked_{d}"] = g[col].sum().astype(int)
    return out.reset_index()
