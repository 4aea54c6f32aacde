"""The study over time: waves, incremental linkage and stable research ids.

A :class:`WaveStudy` is a study folder that takes the owners' submissions wave by wave
(an LA's six-monthly submission, a department's new extract, progress records), links
each wave's records at the linkage unit *incrementally* against the people it already
holds, and keeps research ids stable::

    study/
      audit.jsonl                    one hash-chained audit log for every wave
      study.json                     waves received and linked (counts only)
      wave1/ wave2/ ...              one folder per wave, laid out as a one-off study
                                     (nislink.nis.protocol): la/, dwp/ ... (owners' private
                                     files), linkage_unit/inbox/ (encoded files),
                                     research_assembly/inbox/ (attributes, progress)
      linkage_unit/                  model.json (fitted on wave 1), population.parquet
                                     (person_ref -> study_person_ref, party, wave),
                                     id_register.parquet (keyed digests of every study
                                     person number ever issued)
      research_assembly/             research_map.parquet (study_person_ref -> research_id),
                                     family_map.parquet (wave, family_ref ->
                                     research_family_id), id_register.parquet,
                                     assembled.json (a keyed digest of each wave's
                                     inputs), inbox/membership.parquet (from the unit)
      research/                      persons, families, <dept>, progress (.parquet)

**Owners** (:meth:`WaveStudy.submit`) validate, separate and encode a wave exactly as in
the one-off protocol (:class:`~nislink.nis.protocol.DataOwner`), with fresh reference
numbers in every wave: a department keeps nothing between waves, so it could not reuse
them, and no owner needs to.

**The linkage unit** (:meth:`WaveStudy.link`) takes every file of the wave not yet linked
as one frame of new records and scores, with one fitted model (fitted by
:func:`nislink.dedupe` on the first wave and kept in ``model.json``), the new records
against the records it holds (:func:`nislink.link`, not one-to-one; each held person's
latest record per owner) and against each other (:func:`nislink.dedupe`). The scored pairs
are clustered by :func:`nislink.resolve.cluster_files`: duplicates inside one file first,
then pairs across files in decreasing weight, never two groups of one file in a person,
and held people fixed (never merged or split). A new group that joins no held person
becomes a new study person. Earlier waves are never re-linked, so every person whose
links are unchanged keeps their number. :meth:`WaveStudy.full_relink` runs the same
clustering on every held record at once, without fixed people: the two differ only where
a full run would merge two held people or take a later pair before an earlier one.

**Research assembly** (:meth:`WaveStudy.assemble`) keeps a research id per study person
and a research family id per family; new people and families get new ids, drawn at
random and checked against a register of every id ever issued (keyed digests, so a
withdrawn id leaves no trace yet is never issued again). A wave's family keeps the
research family id of the earlier family it shares the most members with (a child born,
a partner moving in or out). A wave's research rows are rebuilt from the inboxes only when
that wave's inputs changed (a new or late file, a rectification or a withdrawal touching
it; ``research_assembly/assembled.json`` keeps a keyed digest per wave), so attributes
follow any change of links and an unchanged wave costs nothing but its digest.

**Rights.** :meth:`WaveStudy.rectify` re-encodes one person's corrected identifiers and
re-links that record alone; :meth:`WaveStudy.subject_access` and :meth:`WaveStudy.withdraw`
run :func:`nislink.nis.withdrawal.subject_access` / ``withdraw`` over the whole study
folder with ``hops=2`` (owner number -> study person -> every wave's records and the
research id).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import pandas as pd

from nislink.encode import BitMatrix, EncodedFrame, Encoder
from nislink.errors import NislinkError
from nislink.io import check_compatible, load, save
from nislink.linkage import dedupe, link
from nislink.model import FellegiSunter
from nislink.nis import retention
from nislink.nis.audit import AuditLog
from nislink.nis.protocol import (
    ENCODED_SUFFIX,
    DataOwner,
    OwnerOutput,
    StudyDirectory,
    coarsen_dates,
    family_table,
)
from nislink.nis.separation import IDENTIFIER_COLUMNS, ReferenceGenerator
from nislink.nis.submission import PROBLEM_FLAGS
from nislink.resolve import cluster_files
from nislink.schema import Schema
from nislink.nis.withdrawal import (
    WithdrawalReport,
    reference_for,
    subject_access,
    withdraw,
)

__all__ = [
    "PROGRESS_MEASURES",
    "IdRegister",
    "WaveError",
    "WaveLinkReport",
    "WaveStudy",
    "concat_frames",
]

PROGRESS_MEASURES: tuple[str, ...] = (
    "homelessness", "debt", "asb_incidents", "domestic_abuse_incidents",
)
"""The six-monthly progress measures (any other non-identifier column is kept too)."""

_AUDIT_VALUES = ("rectify", "wave", "progress", "incremental")
_REGISTER_CONTEXT = "nislink v1 nis waves id register"


class WaveError(NislinkError, ValueError):
    """A wave step was refused (unknown wave or party, file linked twice, bad input...)."""


def concat_frames(frames: Sequence[EncodedFrame]) -> EncodedFrame:
    """One :class:`~nislink.encode.EncodedFrame` of the rows of compatible ``frames``, in
    order (metadata of the first). Raises :class:`WaveError` when there are none."""
    if not frames:
        raise WaveError("no encoded frames to concatenate")
    first = frames[0]
    for f in frames[1:]:
        check_compatible(first, f)

    def bm(ms: list[BitMatrix]) -> BitMatrix:
        return BitMatrix(np.concatenate([m.bits for m in ms]), ms[0].nbits,
                         np.concatenate([m.popcount for m in ms]),
                         np.concatenate([m.present for m in ms]))

    return EncodedFrame(
        ids=np.concatenate([np.asarray(f.ids, dtype=object) for f in frames]),
        fields={k: bm([f.fields[k] for f in frames]) for k in first.fields},
        clk=bm([f.clk for f in frames]) if first.clk is not None else None,  # type: ignore[misc]
        tokens={k: np.concatenate([f.tokens[k] for f in frames]) for k in first.tokens},
        meta=dict(first.meta),
    )


class IdRegister:
    """Every reference number one party ever issued, as keyed digests, so none is reused.

    The register holds BLAKE3 digests keyed with the register's own key (never the
    numbers), so a number removed by a withdrawal leaves no trace in it, while a new draw
    that happens to equal it is still refused. ``key`` is 32 bytes kept next to the
    register (``<register>.key``, mode 0600) or given.
    """

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        key_path = self.path.with_suffix(".key")
        if key is None:
            if key_path.exists():
                key = key_path.read_bytes()
            else:
                key = os.urandom(32)
                key_path.parent.mkdir(parents=True, exist_ok=True)
                key_path.write_bytes(key)
                os.chmod(key_path, 0o600)
        if len(key) != 32:
            raise WaveError("id register: the key must be 32 bytes")
        self._key = key
        self.key_path = key_path

    def __repr__(self) -> str:
        return f"IdRegister({str(self.path)!r}, issued={len(self.digests())})"

    def digest(self, ref: str) -> str:
        """The register's keyed digest of one number (32 hex digits)."""
        return blake3.blake3(ref.encode("ascii"), key=self._key).hexdigest(length=16)

    def fingerprint(self, lines: Sequence[str]) -> str:
        """The register's keyed digest of a set of lines (order does not matter)."""
        text = "\n".join(sorted(lines)).encode("utf-8")
        return blake3.blake3(text, key=self._key).hexdigest(length=16)

    def digests(self) -> set[str]:
        """Digests of every number issued so far."""
        if not self.path.exists():
            return set()
        return set(pd.read_parquet(self.path, columns=["digest"])["digest"].tolist())

    def issue(self, n: int, kind: str, generator: ReferenceGenerator, *,
              wave: int = 0) -> np.ndarray:
        """``n`` numbers of ``kind`` from ``generator`` never issued before; registers them."""
        seen = self.digests()
        out: list[str] = []
        while len(out) < n:
            for ref in generator.draw(n - len(out), kind).tolist():
                d = self.digest(ref)
                if d not in seen:
                    seen.add(d)
                    out.append(ref)
        if out:
            new = pd.DataFrame({"kind": kind, "wave": int(wave),
                                "digest": [self.digest(r) for r in out]})
            old = pd.read_parquet(self.path) if self.path.exists() else None
            table = new if old is None else pd.concat([old, new], ignore_index=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            retention.atomic_replace(self.path,
                                     lambda tmp: table.to_parquet(tmp, index=False))
        return np.array(out, dtype=object)


@dataclass
class WaveLinkReport:
    """What :meth:`WaveStudy.link` did for one wave (counts only)."""

    wave: int
    records: int
    """New records linked (every party's file of the wave)."""
    held: int
    """Records the linkage unit held before the wave."""
    candidates_held: int
    """Candidate pairs scored between the new records and the held ones."""
    candidates_new: int
    """Candidate pairs scored among the new records."""
    joined: int
    """New records that joined a person already in the study."""
    new_people: int
    """Study persons created by this wave."""
    seconds: float = 0.0
    fitted: bool = False
    """True when the model was fitted on this wave (the first one)."""
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: ``load`` (the new and held records), ``new`` (the new records
    against each other), ``held`` (against the held records), ``cluster``, ``save``."""

    @property
    def candidates(self) -> int:
        """All candidate pairs scored for the wave (the wave's work)."""
        return self.candidates_held + self.candidates_new


@dataclass
class WaveStudy:
    """A study folder that takes waves (see the module docstring).

    ``study_end`` is when the linkage unit and the LA destroy their artefacts (departments:
    one month after each extract; research data: eight years). ``today`` fixes creation
    dates (demos, tests). ``seed`` makes reference numbers and research ids reproducible —
    tests and demos only, never in production (see :mod:`nislink.nis.separation`).
    ``threshold`` is the match weight (``min_weight`` of :func:`nislink.link`) at which two
    records are taken for one person.
    ``compare_latest`` compares a new wave with each held person's records from the latest
    wave of each party only (default), so a wave's work does not grow with the number of
    earlier waves; ``False`` compares with every held record.
    """

    root: Path
    study_end: _dt.date
    today: _dt.date | None = None
    seed: int | None = None
    threshold: float = 0.0
    compare_latest: bool = True
    schema: Any = None
    audit: AuditLog = field(init=False, repr=False)
    rebuilt: list[int] = field(init=False, default_factory=list, repr=False)
    """The waves whose research rows the last :meth:`assemble` rebuilt."""

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        if self.schema is None:
            self.schema = Schema.uk_default()
        self.audit = AuditLog(self.root / "audit.jsonl", extra_values=_AUDIT_VALUES)
        self._top = StudyDirectory(self.root, study_end=self.study_end, today=self.today)
        self._top.audit = self.audit

    # ----------------------------------------------------------------- places and state
    def wave_dir(self, wave: int) -> StudyDirectory:
        """The one-off study layout of wave ``wave`` (its audit log is the study's)."""
        if isinstance(wave, bool) or not isinstance(wave, (int, np.integer)) or wave < 1:
            raise WaveError(f"wave must be a positive integer, got {wave!r}")
        sd = StudyDirectory(self.root / f"wave{int(wave)}", study_end=self.study_end,
                            today=self.today)
        sd.audit = self.audit
        return sd

    @property
    def unit_dir(self) -> Path:
        """The linkage unit's study-level files."""
        return self._top.linkage_links.parent

    @property
    def assembly_dir(self) -> Path:
        """Research assembly's study-level files."""
        return self._top.assembly_dir

    @property
    def research_dir(self) -> Path:
        """The research dataset (all waves)."""
        return self._top.research_dir

    def _state(self) -> dict[str, Any]:
        p = self.root / "study.json"
        if not p.exists():
            return {"format": "nislink-wave-study", "version": 1, "received": [],
                    "linked": []}
        return json.loads(p.read_text(encoding="utf-8"))

    def _save_state(self, state: dict[str, Any]) -> None:
        p = self.root / "study.json"
        text = json.dumps(state, indent=1, sort_keys=True) + "\n"
        retention.atomic_replace(p, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        self._top.register(p, "report", "ons")

    def waves(self) -> list[int]:
        """Waves received so far, in order."""
        return sorted({int(r["wave"]) for r in self._state()["received"]})

    def _seed_for(self, *parts: int) -> int | None:
        if self.seed is None:
            return None
        h = blake3.blake3(json.dumps([int(self.seed), *map(int, parts)]).encode())
        return int.from_bytes(h.digest(length=6), "little")

    # ----------------------------------------------------------------- owners
    def submit(
        self,
        party: str,
        df: pd.DataFrame,
        *,
        wave: int,
        secret: Any,
        id_column: str,
        family_column: str | None = None,
        submission: bool = False,
        progress: pd.DataFrame | None = None,
        progress_family_column: str = "family_id",
    ) -> OwnerOutput:
        """A data owner's wave: validate (``submission=True``: the LA's), separate with fresh
        reference numbers, encode and send, as :meth:`DataOwner.submit` does.

        ``progress`` (the LA only): the wave's family progress records, one row per family
        and period, keyed by the LA's family id in ``progress_family_column`` (the
        submission's family ids); the family id is replaced by the wave's family reference
        number and the table goes to research assembly. Identifier columns are refused;
        rows of a family with no accepted member go to ``<party>/progress_rejects.csv``.
        """
        sd = self.wave_dir(wave)
        state = self._state()
        if any(r["wave"] == int(wave) and r["party"] == party for r in state["received"]):
            raise WaveError(f"wave {wave}: {party} has already submitted for this wave")
        if any(int(r["wave"]) == int(wave) for r in state["linked"]):
            raise WaveError(f"wave {wave} is already linked; submit to a new wave")
        owner = DataOwner(sd, party, secret, self.schema, seed=self._seed_for(1, int(wave)))
        out = owner.submit(df, id_column=id_column, family_column=family_column,
                           submission=submission)
        if progress is not None:
            self._send_progress(sd, party, out, progress, progress_family_column, int(wave))
        state["received"].append({"wave": int(wave), "party": party,
                                  "records": int(out.rows_encoded)})
        self._save_state(state)
        return out

    def _send_progress(self, sd: StudyDirectory, party: str, out: OwnerOutput,
                       progress: pd.DataFrame, fam_col: str, wave: int) -> None:
        if not isinstance(progress, pd.DataFrame):
            raise WaveError("progress must be a pandas DataFrame")
        if fam_col not in progress.columns:
            raise WaveError(f"progress: no column {fam_col!r} (the LA's family id); "
                            f"columns are {list(map(str, progress.columns))}")
        ident = [c for c in progress.columns
                 if str(c).removesuffix("_status") in IDENTIFIER_COLUMNS]
        if ident:
            raise WaveError(f"progress: identifier column(s) {ident} are not progress data")
        mapping = out.separated.mapping
        fam_id = "family_id" if "family_id" in mapping.columns else None
        if fam_id is None or "family_ref" not in mapping.columns:
            raise WaveError(f"progress: {party}'s submission has no families")
        to_ref = dict(zip(mapping[fam_id].astype(str), mapping["family_ref"]))
        keys = progress[fam_col].astype(str)
        unknown = ~keys.isin(to_ref)
        # a family with no accepted member (every row rejected, or not submitted): its
        # progress rows go back to the owner with the reason, like any rejected row
        rej = pd.DataFrame({"row": progress.index[unknown.to_numpy()],
                            fam_col: keys[unknown].to_numpy(),
                            "reason": f"{fam_col}: the family is not in wave {wave}'s "
                                      "accepted submission (rejected or not submitted)"})
        rpath = sd.owner_dir(party) / "progress_rejects.csv"
        rej.to_csv(rpath, index=False)
        sd.register(rpath, "rejects", party)
        progress, keys = progress[~unknown.to_numpy()], keys[~unknown]
        table = progress.drop(columns=[fam_col]).copy()
        table.insert(0, "family_ref", keys.map(to_ref).to_numpy())
        path = sd.assembly_inbox / f"{party}_progress.parquet"
        table.to_parquet(path, index=False)
        sd.register(path, "attributes", "ons")
        self.audit.record("send", party=party, action="send",
                          counts={"progress_records": len(table), "wave": wave,
                                  "rejected": len(rej)},
                          values={"kind": "progress"}, files=[path.name])

    # ----------------------------------------------------------------- linkage unit
    def population(self) -> pd.DataFrame:
        """The linkage unit's population: ``person_ref`` (every record held), ``party``,
        ``wave`` and ``study_person_ref`` (the study person it belongs to)."""
        return self._population()

    def _population(self) -> pd.DataFrame:
        p = self.unit_dir / "population.parquet"
        if not p.exists():
            return pd.DataFrame({"person_ref": pd.Series([], dtype=object),
                                 "party": pd.Series([], dtype=object),
                                 "wave": pd.Series([], dtype=np.int64),
                                 "study_person_ref": pd.Series([], dtype=object)})
        return pd.read_parquet(p)

    def _save_population(self, pop: pd.DataFrame) -> None:
        pop = pop.reset_index(drop=True)
        p = self.unit_dir / "population.parquet"
        retention.atomic_replace(p, lambda tmp: pop.to_parquet(tmp, index=False))
        self._top.register(p, "link_table", "ons")
        # research assembly receives the membership (reference numbers only)
        m = pop[["person_ref", "study_person_ref"]]
        q = self._top.assembly_inbox / "membership.parquet"
        retention.atomic_replace(q, lambda tmp: m.to_parquet(tmp, index=False))
        self._top.register(q, "link_table", "ons")

    def _model(self) -> FellegiSunter | None:
        p = self.unit_dir / "model.json"
        return FellegiSunter.from_json(p) if p.exists() else None

    def _held_frames(self, pop: pd.DataFrame, *, latest: bool = False
                     ) -> tuple[EncodedFrame | None, np.ndarray]:
        """Held records as one frame, and each row's study person number.

        ``latest``: only each study person's records from the latest wave of each party
        (the records a new wave is compared with, so that a wave's work does not grow with
        the number of earlier waves).
        """
        if latest and len(pop):
            last = pop.groupby(["study_person_ref", "party"])["wave"].transform("max")
            pop = pop[(pop["wave"] == last).to_numpy()]
        cache = self.unit_dir / f"held{ENCODED_SUFFIX}"
        held: EncodedFrame | None = None
        if latest and cache.exists():
            have = load(cache)
            keep = np.isin(have.ids.astype(str), pop["person_ref"].to_numpy().astype(str))
            if int(keep.sum()) == len(pop):  # else: stale (a rectification): from the waves
                held = have if keep.all() else have.take(np.flatnonzero(keep))
        if held is None:
            frames = []
            for (wave, party), grp in pop.groupby(["wave", "party"], sort=True):
                f = load(self.wave_dir(int(wave)).linkage_inbox / f"{party}{ENCODED_SUFFIX}")
                keep = np.isin(f.ids.astype(str), grp["person_ref"].to_numpy().astype(str))
                frames.append(f if keep.all() else f.take(np.flatnonzero(keep)))
            if not frames:
                return None, np.array([], dtype=object)
            held = concat_frames(frames)
        # one order whichever way the records were read: by wave and party, then as held
        order = pop.reset_index(drop=True)
        order = order.assign(n=np.arange(len(order))).sort_values(
            ["wave", "party", "n"], kind="mergesort")
        rank = pd.Series(np.arange(len(order)), index=pd.Index(order["person_ref"].astype(str)))
        pos = rank.reindex(held.ids.astype(str)).to_numpy()
        if (np.diff(pos) < 0).any():
            held = held.take(np.argsort(pos, kind="stable"))
        ent = pd.Series(pop["study_person_ref"].to_numpy(),
                        index=pd.Index(pop["person_ref"].to_numpy()))
        labels = ent.reindex(held.ids.astype(str)).to_numpy(dtype=object)
        return held, labels

    def link(self, wave: int) -> WaveLinkReport:
        """Link every file of ``wave`` not yet linked, incrementally (module docstring)."""
        started = time.perf_counter()
        state = self._state()
        parties = sorted(r["party"] for r in state["received"] if r["wave"] == int(wave))
        done = {(int(r["wave"]), r["party"]) for r in state["linked"]}
        parties = [p for p in parties if (int(wave), p) not in done]
        if not parties:
            raise WaveError(f"wave {wave}: nothing received that is not linked yet")
        stages: dict[str, float] = {}
        inbox = self.wave_dir(wave).linkage_inbox
        frames = [load(inbox / f"{p}{ENCODED_SUFFIX}") for p in parties]
        new = concat_frames(frames)
        party_of = np.concatenate([[p] * len(f) for p, f in zip(parties, frames)])
        pop = self._population()
        held, held_ent = self._held_frames(pop, latest=self.compare_latest)
        if held is not None:
            try:
                check_compatible(held, new)
            except ValueError as exc:
                self.audit.record("check", party="ons", action="refuse",
                                  counts={"wave": int(wave)})
                raise WaveError(f"wave {wave}: refused: {exc}") from None
            clash = np.isin(new.ids.astype(str), pop["person_ref"].to_numpy().astype(str))
            if clash.any():
                raise WaveError(f"wave {wave}: {int(clash.sum())} record id(s) are already "
                                "held; reference numbers must be new in every wave")
        stages["load"] = time.perf_counter() - started
        model = self._model()
        fitted = model is None
        t = time.perf_counter()
        if fitted:
            inner = dedupe(new, min_weight=self.threshold)
            model = inner.model
            mp = self.unit_dir / "model.json"
            model.to_json(mp)
            self._top.register(mp, "report", "ons")
        else:
            inner = dedupe(new, model=model, min_weight=self.threshold)
        stages["new"] = time.perf_counter() - t
        t = time.perf_counter()
        cand_held = 0
        ci, cj, cw = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        if held is not None and len(held):
            cross = link(new, held, model=model, min_weight=self.threshold, one_to_one=None)
            cand_held = int(cross.candidates)
            ci, cj = cross.pairs["ia"].to_numpy(), cross.pairs["ib"].to_numpy()
            cw = cross.pairs["match_weight"].to_numpy()
        stages["held"] = time.perf_counter() - t
        t = time.perf_counter()
        # one clustering (resolve.cluster_files) over the new records and the held records
        # they link to, held people fixed: never merged with each other, never split
        touched = np.unique(cj)  # held positions, increasing: the pairs' order is kept
        ent_t = np.asarray(held_ent, dtype=object)[touched]
        ent_codes, ent_names = pd.factorize(pd.Series(ent_t, dtype=object))
        ids_t = (held.ids[touched] if held is not None else np.array([], dtype=object))
        source = np.concatenate([[f"{int(wave)}:{p}" for p in party_of],
                                 self._sources(pop, ids_t)]).astype(object)
        fixed = np.concatenate([np.full(len(new), -1, np.int64),
                                np.asarray(ent_codes, np.int64)])
        labels = cluster_files(
            source,
            np.concatenate([inner.pairs["ia"].to_numpy(), ci]),
            np.concatenate([inner.pairs["ib"].to_numpy(),
                            np.searchsorted(touched, cj) + len(new)]),
            np.concatenate([inner.pairs["match_weight"].to_numpy(), cw]),
            threshold=self.threshold, fixed=fixed)
        comp = labels[: len(new)]
        label_ent = dict(zip(labels[len(new):].tolist(),
                             np.asarray(ent_names, dtype=object)[ent_codes].tolist()))
        assigned = np.array([label_ent.get(c) for c in comp.tolist()], dtype=object)
        stages["cluster"] = time.perf_counter() - t
        t = time.perf_counter()
        fresh = np.array([a is None for a in assigned], dtype=bool)
        fresh_groups = np.unique(comp[fresh])
        gen = ReferenceGenerator(seed=self._seed_for(2, int(wave)), party="ons")
        register = IdRegister(self.unit_dir / "id_register.parquet",
                              key=self._register_key("ons"))
        numbers = register.issue(len(fresh_groups), "person", gen, wave=int(wave))
        self._register_files(register, "ons")
        group_num = dict(zip(fresh_groups.tolist(), numbers.tolist()))
        assigned[fresh] = [group_num[c] for c in comp[fresh]]
        add = pd.DataFrame({"person_ref": new.ids.astype(str), "party": party_of,
                            "wave": int(wave), "study_person_ref": assigned.astype(str)})
        self._save_population(pd.concat([pop, add], ignore_index=True))
        if self.compare_latest:  # the records the next wave is compared with, in one file
            both = new if held is None else concat_frames([held, new])
            nxt = pd.concat([pop, add], ignore_index=True)
            last = nxt.groupby(["study_person_ref", "party"])["wave"].transform("max")
            still = set(nxt.loc[(nxt["wave"] == last).to_numpy(), "person_ref"].astype(str))
            keep = np.flatnonzero([i in still for i in both.ids.astype(str)])
            cached = both.take(keep)
            cached.meta = dict(new.meta)
            path = self.unit_dir / f"held{ENCODED_SUFFIX}"
            retention.atomic_replace(path, lambda tmp: save(cached, tmp))
            self._top.register(path, "encoded", "ons")
        stages["save"] = time.perf_counter() - t
        report = WaveLinkReport(
            wave=int(wave), records=len(new), held=0 if held is None else len(held),
            candidates_held=cand_held, candidates_new=int(inner.candidates),
            joined=int((~fresh).sum()), new_people=len(fresh_groups), fitted=fitted,
            stages=stages,
        )
        state["linked"] += [{"wave": int(wave), "party": p} for p in parties]
        self._save_state(state)
        report.seconds = time.perf_counter() - started
        self.audit.record(
            "link", party="ons", action="link",
            counts={"wave": int(wave), "records": report.records, "held": report.held,
                    "candidates": report.candidates, "joined": report.joined,
                    "new_people": report.new_people},
            values={"mode": "incremental"},
        )
        return report

    def _replace_held(self, person_ref: str, one: EncodedFrame) -> None:
        """Put a rectified record's new encoding into the unit's copy of the latest held
        records (when it is there), so that no copy keeps the old one."""
        path = self.unit_dir / f"held{ENCODED_SUFFIX}"
        if not path.exists():
            return
        have = load(path)
        pos = np.flatnonzero(have.ids.astype(str) == person_ref)
        if not len(pos):
            return
        i = int(pos[0])
        parts = [have.take(np.arange(0, i)), one, have.take(np.arange(i + 1, len(have)))]
        fixed = concat_frames([p for p in parts if len(p)])
        fixed.meta = dict(have.meta)
        retention.atomic_replace(path, lambda tmp: save(fixed, tmp))
        retention.update_checksum(path)

    def _register_files(self, register: IdRegister, holder: str) -> None:
        """Put a register and its key file (when there is one) under retention."""
        if register.path.exists():
            self._top.register(register.path, "report", holder)
        if register.key_path.exists():
            self._top.register(register.key_path, "secret", holder)

    def _register_key(self, holder: str) -> bytes | None:
        if self.seed is None:
            return None
        return blake3.blake3(f"seed={self.seed};holder={holder}".encode(),
                             derive_key_context=_REGISTER_CONTEXT).digest()

    def full_relink(self) -> pd.DataFrame:
        """Every held record linked afresh in one run with the study's model (nothing is
        changed): ``person_ref, cluster`` (integer labels). For measuring how far the
        incremental links are from a full re-link (see ``docs/workflow.md``)."""
        model = self._model()
        pop = self._population()
        held, _ = self._held_frames(pop)
        if model is None or held is None:
            raise WaveError("full_relink: no wave has been linked yet")
        res = dedupe(held, model=model, min_weight=self.threshold)
        labels = cluster_files(self._sources(pop, held.ids), res.pairs["ia"].to_numpy(),
                               res.pairs["ib"].to_numpy(), res.pairs["match_weight"].to_numpy(),
                               threshold=self.threshold)
        return pd.DataFrame({"person_ref": held.ids.astype(str), "cluster": labels})

    @staticmethod
    def _sources(pop: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
        """The file (``wave:party``) of each held record ``ids``."""
        if not len(ids):
            return np.array([], dtype=object)
        where = pop.set_index("person_ref")
        ids = pd.Index(np.asarray(ids).astype(str))
        return (where["wave"].astype(str) + ":" + where["party"].astype(str)).reindex(
            ids).to_numpy(dtype=object)

    # ----------------------------------------------------------------- research assembly
    def assemble(self) -> dict[str, Path]:
        """Build the research dataset of every wave, keeping research ids stable.

        ``research/persons.parquet``: one row per person and wave of the LA submission
        (``research_id``, ``research_family_id``, ``wave``, the LA's attributes, dates as
        ``YYYY-MM``, and ``<dept>_linked``: the person has a record of that department in
        that wave). ``research/<dept>.parquet``: one row per department record
        (``research_id``, ``wave`` and its attributes). ``research/families.parquet``: one
        row per family and wave (members, problems, eligibility). ``research/progress.parquet``:
        the progress records by ``research_family_id`` and ``wave``. No owner reference
        number, study person number, identifier, encoding or score is in any of them.
        """
        members = self._top.assembly_inbox / "membership.parquet"
        if not members.exists():
            raise WaveError("assemble: no wave has been linked yet")
        ent = pd.read_parquet(members)
        ent_of = pd.Series(ent["study_person_ref"].to_numpy(),
                           index=pd.Index(ent["person_ref"].to_numpy()))
        # research ids: stable per study person; new study persons get new ones
        rmap_path = self.assembly_dir / "research_map.parquet"
        rmap = (pd.read_parquet(rmap_path) if rmap_path.exists()
                else pd.DataFrame({"study_person_ref": pd.Series([], dtype=object),
                                   "research_id": pd.Series([], dtype=object)}))
        rmap = rmap[rmap["study_person_ref"].isin(set(ent["study_person_ref"]))]
        register = IdRegister(self.assembly_dir / "id_register.parquet",
                              key=self._register_key("research"))
        waves = self.waves()
        last = max(waves) if waves else 0
        new_ent = sorted(set(ent["study_person_ref"]) - set(rmap["study_person_ref"]))
        if new_ent:
            gen = ReferenceGenerator(seed=self._seed_for(3, last, len(rmap)), party="research")
            ids = register.issue(len(new_ent), "research_person", gen, wave=last)
            rmap = pd.concat([rmap, pd.DataFrame({"study_person_ref": new_ent,
                                                  "research_id": ids})], ignore_index=True)
        rid_of = pd.Series(rmap["research_id"].to_numpy(),
                           index=pd.Index(rmap["study_person_ref"].to_numpy()))
        ref_rid = ent_of.map(rid_of)  # owner reference number -> research id
        fmap_path = self.assembly_dir / "family_map.parquet"
        fmap = (pd.read_parquet(fmap_path) if fmap_path.exists()
                else pd.DataFrame({"wave": pd.Series([], dtype=np.int64),
                                   "family_ref": pd.Series([], dtype=object),
                                   "research_family_id": pd.Series([], dtype=object)}))
        # incremental: a wave's rows are rebuilt only when its inputs changed (a new wave,
        # a late extract, a rectification or withdrawal touching it); the others are kept
        # from the research dataset already written
        state_path = self.assembly_dir / "assembled.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        done: dict[str, str] = state.get("waves", {})
        old: dict[str, pd.DataFrame] = {}
        for name in ["persons", "families", "progress", *state.get("departments", [])]:
            path = self.research_dir / f"{name}.parquet"
            if done and path.exists():
                old[name] = pd.read_parquet(path)
        if "persons" not in old or "families" not in old:
            done, old = {}, {}
        prints = {w: self._wave_print(w, ref_rid, register) for w in waves}
        dirty = [w for w in waves if done.get(str(w)) != prints[w]]
        persons_parts, dept_parts, prog_parts = [], {}, []
        for w in dirty:
            inbox = self.wave_dir(w).assembly_inbox
            la_path = inbox / "la_attributes.parquet"
            for path in sorted(inbox.glob("*_attributes.parquet")):
                party = path.name[: -len("_attributes.parquet")]
                if party == "la":
                    continue
                attrs = pd.read_parquet(path)
                rid = attrs["person_ref"].map(ref_rid)
                attrs = attrs[rid.notna().to_numpy()]
                rid = rid[rid.notna()]
                part = pd.DataFrame({"research_id": rid.to_numpy(), "wave": w})
                for c in attrs.columns:
                    if c not in ("person_ref", "family_ref"):
                        part[c] = coarsen_dates(attrs[c]).to_numpy()
                dept_parts.setdefault(party, []).append(part)
            if not la_path.exists():
                continue
            la = pd.read_parquet(la_path)
            la = la.assign(research_id=la["person_ref"].map(ref_rid))
            la = la[la["research_id"].notna()]
            fmap = self._family_ids(fmap, la, w, register, ent_of)
            fam_of = dict(zip(fmap.loc[fmap["wave"] == w, "family_ref"],
                              fmap.loc[fmap["wave"] == w, "research_family_id"]))
            la = la.drop_duplicates("research_id")  # a person recorded twice in one wave
            part = pd.DataFrame({"research_id": la["research_id"].to_numpy(),
                                 "research_family_id": la["family_ref"].map(fam_of).to_numpy(),
                                 "wave": w})
            for c in la.columns:
                if c not in ("person_ref", "family_ref", "research_id"):
                    part[c] = coarsen_dates(la[c]).to_numpy()
            persons_parts.append(part)
            ppath = inbox / "la_progress.parquet"
            if ppath.exists():
                prog = pd.read_parquet(ppath)
                fam = prog["family_ref"].map(fam_of)
                prog = prog[fam.notna().to_numpy()]
                pp = pd.DataFrame({"research_family_id": fam[fam.notna()].to_numpy(),
                                   "wave": w})
                for c in prog.columns:
                    if c != "family_ref":
                        pp[c] = coarsen_dates(prog[c]).to_numpy()
                prog_parts.append(pp)
        clean = set(waves) - set(dirty)

        def kept(name: str) -> list[pd.DataFrame]:
            t = old.get(name)
            return [] if t is None else [t[t["wave"].isin(clean).to_numpy()]]

        depts_new = {d: pd.concat(parts, ignore_index=True) for d, parts in dept_parts.items()}
        dept_names = sorted(set(depts_new) | {n for n in old if n not in
                                              ("persons", "families", "progress")})
        new_persons = (pd.concat(persons_parts, ignore_index=True) if persons_parts
                       else pd.DataFrame({"research_id": [], "research_family_id": [],
                                          "wave": []}))
        for d in dept_names:
            table = depts_new.get(d)
            seen = set() if table is None else set(zip(table["research_id"], table["wave"]))
            new_persons[f"{d}_linked"] = [(r, w) in seen for r, w in
                                          zip(new_persons["research_id"], new_persons["wave"])]
        persons = pd.concat(kept("persons") + [new_persons], ignore_index=True)
        for d in dept_names:  # a department first seen now: earlier rows are unlinked
            col = persons[f"{d}_linked"].astype("boolean")
            persons[f"{d}_linked"] = col.fillna(False).astype(bool)
        persons = persons.sort_values(["wave", "research_family_id", "research_id"],
                                      kind="mergesort").reset_index(drop=True)
        families = pd.concat(kept("families") + [_families(new_persons, dept_names)],
                             ignore_index=True)
        families = families.sort_values(["research_family_id", "wave"],
                                        kind="mergesort").reset_index(drop=True)
        depts = {d: pd.concat(kept(d) + ([depts_new[d]] if d in depts_new else []),
                              ignore_index=True) for d in dept_names}
        progress = pd.concat(kept("progress") + prog_parts, ignore_index=True) \
            if prog_parts or "progress" in old else None
        written: dict[str, Path] = {}
        tables: dict[str, pd.DataFrame] = {"persons": persons, "families": families,
                                           **{d: t.sort_values(["wave", "research_id"],
                                                               kind="mergesort")
                                              for d, t in depts.items()}}
        if progress is not None:
            tables["progress"] = progress.sort_values(["wave", "research_family_id"],
                                                      kind="mergesort")
        for name, table in tables.items():
            path = self.research_dir / f"{name}.parquet"
            t = table.reset_index(drop=True)
            retention.atomic_replace(path, lambda tmp, t=t: t.to_parquet(tmp, index=False))
            self._top.register(path, "research_dataset", "research")
            written[name] = path
        for path, table in ((rmap_path, rmap), (fmap_path, fmap)):
            t = table.reset_index(drop=True)
            retention.atomic_replace(path, lambda tmp, t=t: t.to_parquet(tmp, index=False))
            self._top.register(path, "research_map", "ons")
        self._register_files(register, "ons")
        written["research_map"], written["family_map"] = rmap_path, fmap_path
        text = json.dumps({"waves": {str(w): prints[w] for w in waves},
                           "departments": dept_names}, indent=1)
        retention.atomic_replace(state_path, lambda tmp: Path(tmp).write_text(text))
        self.rebuilt = list(dirty)
        self._top.register(state_path, "report", "ons")
        self.audit.record(
            "assemble", party="research",
            counts={"persons": int(persons["research_id"].nunique()) if len(persons) else 0,
                    "person_waves": len(persons), "families": len(families),
                    "waves": len(waves), "waves_rebuilt": len(dirty),
                    "progress_records": len(tables.get("progress", ()))},
            files=sorted(p.name for n, p in written.items() if n not in ("research_map",
                                                                          "family_map")),
        )
        return written

    def _wave_print(self, wave: int, ref_rid: pd.Series, register: IdRegister) -> str:
        """What a wave's research rows are made from, as one keyed digest: its inbox files
        (name, size, modification time) and the research id of each of its records."""
        inbox = self.wave_dir(wave).assembly_inbox
        lines = []
        for path in sorted(inbox.glob("*.parquet")):
            st = path.stat()
            lines.append(f"file {path.name} {st.st_size} {st.st_mtime_ns}")
            if path.name.endswith("_attributes.parquet"):
                refs = pd.read_parquet(path, columns=["person_ref"])["person_ref"]
                rid = refs.map(ref_rid).fillna("-")
                lines += (refs.astype(str) + " " + rid.astype(str)).tolist()
        return register.fingerprint(lines)

    def _family_ids(self, fmap: pd.DataFrame, la: pd.DataFrame, wave: int,
                    register: IdRegister, ent_of: pd.Series) -> pd.DataFrame:
        """Research family ids of wave ``wave``'s families: kept if already drawn, else the
        id of the earlier family sharing the most members, else a new one."""
        have = set(fmap.loc[fmap["wave"] == wave, "family_ref"])
        fams = [f for f in pd.unique(la["family_ref"]) if f not in have]
        if not fams:
            return fmap
        # each earlier research family's members in the latest wave it appears in; a
        # person in several such families belongs to the one first seen latest
        prev = fmap[fmap["wave"] < wave]
        rows = []
        for w in sorted(prev["wave"].unique()):
            path = self.wave_dir(int(w)).assembly_inbox / "la_attributes.parquet"
            if not path.exists():
                continue
            old = pd.read_parquet(path, columns=["person_ref", "family_ref"])
            pw = prev[prev["wave"] == w]
            fam_r = pd.Series(pw["research_family_id"].to_numpy(),
                              index=pd.Index(pw["family_ref"].to_numpy()))
            rows.append(pd.DataFrame({"w": int(w),
                                      "rf": old["family_ref"].map(fam_r).to_numpy(),
                                      "sp": old["person_ref"].map(ent_of).to_numpy()}))
        owner = pd.Series([], dtype=object)
        if rows:
            m = pd.concat(rows, ignore_index=True).dropna()
            first = m.sort_values(["w", "rf"], kind="mergesort").drop_duplicates("rf")
            order = pd.Series(np.arange(len(first)), index=pd.Index(first["rf"].to_numpy()))
            m = m[(m["w"] == m.groupby("rf")["w"].transform("max")).to_numpy()]
            m = m.assign(o=m["rf"].map(order)).sort_values("o", kind="mergesort")
            last = m.drop_duplicates("sp", keep="last")
            owner = pd.Series(last["rf"].to_numpy(), index=pd.Index(last["sp"].to_numpy()))
        cur = la[la["family_ref"].isin(set(fams))]
        cur = pd.DataFrame({"f": cur["family_ref"].astype(str).to_numpy(),
                            "sp": cur["person_ref"].map(ent_of).to_numpy()}).dropna()
        cur = cur.drop_duplicates().assign(rf=lambda d: d["sp"].map(owner)).dropna()
        counts = cur.groupby(["f", "rf"], sort=True).size()
        overlaps: list[tuple[int, str, str]] = [
            (int(n), str(f), str(rf)) for (f, rf), n in counts.items()]
        taken = set(fmap.loc[fmap["wave"] == wave, "research_family_id"])
        chosen: dict[str, str] = {}
        for n, f, rf in sorted(overlaps, key=lambda x: (-x[0], x[1], x[2])):
            if f not in chosen and rf not in taken:
                chosen[f] = rf
                taken.add(rf)
        rest = [f for f in fams if f not in chosen]
        if rest:
            gen = ReferenceGenerator(seed=self._seed_for(4, wave, len(fmap)), party="research")
            ids = register.issue(len(rest), "research_family", gen, wave=wave)
            chosen.update(zip(rest, ids.tolist()))
        add = pd.DataFrame({"wave": wave, "family_ref": fams,
                            "research_family_id": [chosen[f] for f in fams]})
        return pd.concat([fmap, add], ignore_index=True)

    # ----------------------------------------------------------------- rights
    def reference_for(self, party: str, wave: int, person_id: Any) -> str:
        """The owner's reference number of ``person_id`` in its submission of ``wave``."""
        path = self.wave_dir(wave).owner_dir(party) / "mapping.parquet"
        if not path.exists():
            raise WaveError(f"wave {wave}: {party} holds no mapping (none submitted, or "
                            "destroyed)")
        mapping = pd.read_parquet(path)
        id_col = "person_id" if "person_id" in mapping.columns else mapping.columns[0]
        return reference_for(mapping, person_id, id_col)

    def subject_access(self, person_ref: str, *, party: str = "la"
                       ) -> dict[Path, pd.DataFrame]:
        """Every row held about the person (every wave), per file; nothing changes."""
        return subject_access(self.root, person_ref, party=party, audit=self.audit, hops=2)

    def withdraw(self, person_ref: str, *, party: str = "la") -> WithdrawalReport:
        """Remove the person from every artefact of every wave, then rebuild the research
        dataset (family aggregates no longer count them)."""
        report = withdraw(self.root, person_ref, party=party, audit=self.audit, hops=2)
        if (self._top.assembly_inbox / "membership.parquet").exists():
            self.assemble()
        return report

    def rectify(
        self,
        party: str,
        wave: int,
        person_ref: str,
        corrections: Mapping[str, Any],
        *,
        secret: Any,
    ) -> dict[str, Any]:
        """Correct one person's identifiers at the owner and re-link that record alone.

        The owner changes ``corrections`` (identifier column -> corrected value) in its
        identifier table of ``wave``, re-encodes the one record with the shared secret
        and replaces it in the encoded file; the linkage unit links the record against
        every other record it holds and moves it to the person it now matches best (or a
        new person); research assembly rebuilds the research dataset. Returns counts
        (``moved``: 0 or 1, ``new_person``: 0 or 1). Audited at each party.
        """
        sd = self.wave_dir(wave)
        bad = [c for c in corrections if c not in IDENTIFIER_COLUMNS]
        if bad:
            raise WaveError(f"rectify: {bad} are not identifier columns; correct attributes "
                            "by a new submission")
        ipath = sd.owner_dir(party) / "identifiers.parquet"
        if not ipath.exists():
            raise WaveError(f"rectify: {party} holds no identifiers for wave {wave}")
        ident = pd.read_parquet(ipath)
        hit = (ident["person_ref"] == person_ref).to_numpy()
        if hit.sum() != 1:
            raise WaveError(f"rectify: the reference number is not in {party}'s identifiers "
                            f"of wave {wave}")
        for col, value in corrections.items():
            if col not in ident.columns:
                ident[col] = None
            ident.loc[hit, col] = value
            status = f"{col}_status"
            if status in ident.columns:
                ident.loc[hit, status] = None
        enc_path = sd.linkage_inbox / f"{party}{ENCODED_SUFFIX}"
        old = load(enc_path)
        pos = np.flatnonzero(old.ids.astype(str) == person_ref)
        if len(pos) != 1:
            raise WaveError(f"rectify: the record is not in {party}'s encoded file of wave "
                            f"{wave}")
        encoder = Encoder(self.schema, secret)
        one = encoder.encode(ident[hit].reset_index(drop=True), id_column="person_ref",
                             party=party, destroy_by=old.meta.get("destroy_by"),
                             allow_absent=True)
        if len(one) != 1:
            raise WaveError("rectify: the corrected identifiers could not be encoded: "
                            + "; ".join(map(str, getattr(encoder.rejects, "reason", []))))
        check_compatible(old, one)
        i = int(pos[0])
        parts = [old.take(np.arange(0, i)), one, old.take(np.arange(i + 1, len(old)))]
        fixed = concat_frames([p for p in parts if len(p)])
        fixed.meta = dict(old.meta)
        retention.atomic_replace(ipath, lambda tmp: ident.to_parquet(tmp, index=False))
        retention.atomic_replace(enc_path, lambda tmp: save(fixed, tmp))
        retention.update_checksum(ipath)
        retention.update_checksum(enc_path)
        self._replace_held(person_ref, one)
        self.audit.record("encode", party=party, action="rectify",
                          counts={"records": 1, "wave": int(wave),
                                  "fields": len(corrections)},
                          values={c: c for c in corrections if c in
                                  ("forename", "surname", "dob", "sex", "postcode", "nino",
                                   "upn")})
        # linkage unit: this record alone against everything else held
        pop = self._population()
        me = (pop["person_ref"] == person_ref).to_numpy()
        was = str(pop.loc[me, "study_person_ref"].iloc[0])
        rest = pop[~me]
        held, held_ent = self._held_frames(rest, latest=self.compare_latest)
        target: str | None = None
        candidates = 0
        if held is not None and len(held):
            res = link(one, held, model=self._model(), min_weight=self.threshold,
                       one_to_one=None)
            candidates = int(res.candidates)
            if len(res.pairs):
                pr = pd.DataFrame({"ent": held_ent[res.pairs["ib"].to_numpy()],
                                   "w": res.pairs["match_weight"].to_numpy()})
                pr = pr.sort_values(["w", "ent"], ascending=[False, True], kind="mergesort")
                target = str(pr["ent"].iloc[0])
        new_person = 0
        if target is None:
            if (rest["study_person_ref"] == was).any():  # others stay: a new person
                gen = ReferenceGenerator(seed=self._seed_for(5, int(wave), len(pop)),
                                         party="ons")
                register = IdRegister(self.unit_dir / "id_register.parquet",
                                      key=self._register_key("ons"))
                target = str(register.issue(1, "person", gen, wave=int(wave))[0])
                self._register_files(register, "ons")
                new_person = 1
            else:
                target = was  # alone before and after: unchanged
        moved = int(target != was)
        if moved:
            pop.loc[me, "study_person_ref"] = target
            self._save_population(pop)
        self.audit.record("link", party="ons", action="rectify",
                          counts={"records": 1, "wave": int(wave), "candidates": candidates,
                                  "moved": moved, "new_people": new_person})
        self.assemble()
        return {"moved": moved, "new_person": new_person, "candidates": candidates}


def _families(persons: pd.DataFrame, departments: Sequence[str]) -> pd.DataFrame:
    """One row per research family and wave: members, problems, eligibility, linked counts."""
    if not len(persons):
        return pd.DataFrame({"research_family_id": [], "wave": [], "members": []})
    return family_table(persons, departments, by=("research_family_id", "wave"))
