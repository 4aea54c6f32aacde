"""Destroy-by dates for every artefact, and the purge that enforces them.

Every directory that holds study artefacts has a manifest, ``nislink-manifest.json``,
listing each artefact in it::

    {"format": "nislink-retention-manifest", "version": 1,
     "artefacts": [{"path": "la_identifiers.csv", "kind": "identifiers", "party": "la",
                    "created": "2026-11-22T20:30:00Z", "destroy_by": "2027-03-31",
                    "checksum": "blake3:<64 hex>"}],
     "destroyed": [{"path": "...", "kind": "...", "party": "...", "destroy_by": "...",
                    "destroyed": "2027-03-31"}]}

* :func:`register` adds (or refreshes) an artefact: its destroy-by date is given, or
  follows from the :class:`RetentionPolicy` for its party.
* :func:`purge` deletes exactly the registered artefacts whose destroy-by date has come
  (``destroy_by <= today``), in the directory and every subdirectory with a manifest; it
  never deletes a file that is not registered or not yet due. It rewrites the manifests
  (atomically) and records one ``purge`` event per party in the audit log.
* :func:`check` lists files without a destroy-by date and files whose checksum no longer
  matches; :func:`update_checksum` refreshes a checksum after a deliberate rewrite (e.g.
  a withdrawal).

Default periods follow the two privacy notices in the project's seeds: DWP, MoJ and DfE
"will not keep names on file for longer than a month" and destroy their personal
information "after a month"; all personal information held by ONS (the linkage unit) is
destroyed when the study ends ("by December 2022" for the national impact study); the
linked research data "is destroyed after eight years" (Nottinghamshire's notice). The
study end date has no default: it must be configured, so that nothing is kept for an
invented period.

**Crypto-shredding.** Encodings are keyed with the data owners' shared secret. Destroying
every copy of the secret makes every encoding made with it unlinkable: nobody can
compute the encodings of a candidate identity any more, so a leaked encoded file cannot
be matched against anything new. Register the secret file with ``kind="secret"``; when it
expires, :func:`purge` overwrites it with random bytes before deleting it (a best effort:
on copy-on-write file systems, SSDs and backups old blocks may survive, so keep secrets
on storage whose copies you control). Crypto-shredding does not remove the link tables or
research data already derived from the encodings; those have their own destroy-by dates.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from nislink.errors import NislinkError
from nislink.nis.audit import AuditLog

__all__ = [
    "ARTEFACT_KINDS",
    "CheckReport",
    "DEPARTMENTS",
    "LINKAGE_UNIT",
    "MANIFEST_NAME",
    "ManifestEntry",
    "PurgeReport",
    "RESEARCH",
    "RetentionError",
    "RetentionPolicy",
    "add_months",
    "atomic_replace",
    "check",
    "entries",
    "file_checksum",
    "purge",
    "register",
    "update_checksum",
]

MANIFEST_NAME = "nislink-manifest.json"
"""File name of the manifest in each artefact directory."""

MANIFEST_FORMAT = "nislink-retention-manifest"

ARTEFACT_KINDS: frozenset[str] = frozenset(
    {
        "submission",  # the LA's raw submission
        "rejects",  # rows refused by validation or cleaning (owner only)
        "extract",  # a department's raw extract for the study
        "identifiers",  # identifier table (owner only)
        "attributes",  # attribute table keyed by reference numbers
        "mapping",  # owner's record id -> reference numbers (owner only)
        "encoded",  # encoded file sent to the linkage unit
        "link_table",  # reference-number pairs returned by the linkage unit
        "research_map",  # reference numbers -> research ids (assembly only)
        "research_dataset",  # the de-identified dataset
        "secret",  # key material: shredded on purge
        "schema",
        "report",
        "audit_log",
        "other",
    }
)
"""Artefact kinds :func:`register` accepts."""

DEPARTMENTS: frozenset[str] = frozenset({"dwp", "moj", "dfe", "hmrc", "nhs"})
"""Parties that delete their study copies after ``department_months``."""
LINKAGE_UNIT: frozenset[str] = frozenset({"ons", "linkage_unit"})
"""Parties that keep artefacts until the study ends."""
OWNERS: frozenset[str] = frozenset({"la", "owner", "mhclg"})
"""Local authorities / commissioning owners: study artefacts kept until the study ends."""
RESEARCH: frozenset[str] = frozenset({"research", "researcher"})
"""Parties holding the de-identified research dataset (kept ``research_years``)."""


class RetentionError(NislinkError, ValueError):
    """A retention rule cannot be applied (unknown kind, no study end, bad manifest...)."""


def add_months(d: _dt.date, months: int) -> _dt.date:
    """``d`` plus ``months`` calendar months, clamped to the month's end (31 Jan + 1 -> 28 Feb)."""
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    return _dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RetentionPolicy:
    """Default destroy-by periods per party (see the module docstring for the sources).

    ``study_end`` is required for the linkage unit's and owners' artefacts when no
    explicit destroy-by date is given.
    """

    department_months: int = 1
    study_end: _dt.date | None = None
    research_years: int = 8

    def destroy_by(self, party: str, created: _dt.date) -> _dt.date:
        """The default destroy-by date of an artefact held by ``party`` made on ``created``."""
        if party in DEPARTMENTS:
            return add_months(created, self.department_months)
        if party in RESEARCH:
            return add_months(created, 12 * self.research_years)
        if party in LINKAGE_UNIT or party in OWNERS:
            if self.study_end is None:
                raise RetentionError(
                    f"retention: party {party!r} keeps artefacts until the study ends; set "
                    "RetentionPolicy(study_end=...) or pass destroy_by"
                )
            return self.study_end
        raise RetentionError(
            f"retention: no default period for party {party!r}; pass destroy_by explicitly"
        )


@dataclass
class ManifestEntry:
    """One artefact in a manifest (``path`` is relative to the manifest's directory)."""

    path: str
    kind: str
    party: str
    created: str
    destroy_by: str
    checksum: str

    @property
    def destroy_by_date(self) -> _dt.date:
        """``destroy_by`` as a date."""
        return _dt.date.fromisoformat(self.destroy_by)


@dataclass
class PurgeReport:
    """What :func:`purge` did: paths deleted, registered paths already gone, entries kept."""

    deleted: list[Path] = field(default_factory=list)
    already_gone: list[Path] = field(default_factory=list)
    kept: int = 0


def file_checksum(path: str | os.PathLike[str]) -> str:
    """``"blake3:<hex>"`` of the file's bytes (streamed)."""
    h = blake3.blake3()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "blake3:" + h.hexdigest()


def _as_date(value: _dt.date | str, what: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise RetentionError(f"retention: {what} must be a date (YYYY-MM-DD)") from None


def _load(directory: Path) -> dict[str, Any]:
    mpath = directory / MANIFEST_NAME
    if not mpath.exists():
        return {"format": MANIFEST_FORMAT, "version": 1, "artefacts": [], "destroyed": []}
    try:
        data = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise RetentionError(f"retention: {mpath} is not a valid manifest (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise RetentionError(f"retention: {mpath} is not an nislink retention manifest")
    data.setdefault("artefacts", [])
    data.setdefault("destroyed", [])
    return data


def atomic_replace(path: Path, write: Any, keep: Any = None) -> None:
    """Write a new version of ``path`` with ``write(tmp)`` (a temporary file in the same
    directory), fsync it and ``os.replace`` it over ``path``; unless ``keep()`` says False,
    in which case ``path`` is left alone. The temporary file never outlives an error."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        if keep is not None and not keep():
            os.unlink(tmp)
            return
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    atomic_replace(path, lambda tmp: tmp.write_bytes(payload))


def _save(directory: Path, data: dict[str, Any]) -> None:
    data["artefacts"].sort(key=lambda e: e["path"])
    payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    _atomic_write_bytes(directory / MANIFEST_NAME, payload)


def entries(directory: str | os.PathLike[str]) -> list[ManifestEntry]:
    """The artefacts registered in ``directory``'s manifest (not subdirectories)."""
    return [ManifestEntry(**e) for e in _load(Path(directory))["artefacts"]]


def register(
    path: str | os.PathLike[str],
    kind: str,
    party: str,
    destroy_by: _dt.date | str | None = None,
    *,
    policy: RetentionPolicy | None = None,
    created: _dt.datetime | None = None,
    audit: AuditLog | None = None,
) -> ManifestEntry:
    """Put the file at ``path`` under retention in its directory's manifest.

    ``destroy_by`` defaults to ``policy.destroy_by(party, created)``. Registering a path
    again replaces its entry (new checksum and dates). Records a ``register`` event when
    ``audit`` is given.
    """
    p = Path(path)
    if not p.is_file():
        raise RetentionError(f"retention: {p} is not a file")
    if p.name == MANIFEST_NAME:
        raise RetentionError("retention: the manifest cannot register itself")
    if kind not in ARTEFACT_KINDS:
        raise RetentionError(
            f"retention: unknown artefact kind {kind!r}; expected one of "
            f"{', '.join(sorted(ARTEFACT_KINDS))}"
        )
    if not isinstance(party, str) or not party:
        raise RetentionError("retention: party must be a non-empty string")
    now = created if created is not None else _dt.datetime.now(_dt.timezone.utc)
    if now.tzinfo is None:
        raise RetentionError("retention: 'created' must be timezone-aware")
    now = now.astimezone(_dt.timezone.utc)
    if destroy_by is None:
        d = (policy or RetentionPolicy()).destroy_by(party, now.date())
    else:
        d = _as_date(destroy_by, "destroy_by")
    entry = ManifestEntry(
        path=p.name,
        kind=kind,
        party=party,
        created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        destroy_by=d.isoformat(),
        checksum=file_checksum(p),
    )
    if audit is not None:
        audit.check("register", party=party, files=[p.name], values={"kind": kind})
    directory = p.parent
    data = _load(directory)
    data["artefacts"] = [e for e in data["artefacts"] if e["path"] != p.name]
    data["artefacts"].append(entry.__dict__.copy())
    _save(directory, data)
    if audit is not None:
        audit.record(
            "register",
            party=party,
            counts={"artefacts": 1},
            files=[p.name],
            values={"kind": kind},
        )
    return entry


def update_checksum(path: str | os.PathLike[str]) -> bool:
    """Refresh the checksum of a registered file after a deliberate rewrite.

    Returns False (and changes nothing) when the file is not registered.
    """
    p = Path(path)
    data = _load(p.parent)
    for e in data["artefacts"]:
        if e["path"] == p.name:
            e["checksum"] = file_checksum(p)
            _save(p.parent, data)
            return True
    return False


def _manifest_dirs(directory: Path, recursive: bool) -> list[Path]:
    if not recursive:
        return [directory] if (directory / MANIFEST_NAME).exists() else []
    return sorted({m.parent for m in directory.rglob(MANIFEST_NAME)})


def _shred(path: Path) -> None:
    """Overwrite a file with random bytes, flush it to disk, then delete it (best effort)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        remaining = size
        while remaining > 0:
            n = min(remaining, 1 << 20)
            fh.write(os.urandom(n))
            remaining -= n
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


def purge(
    directory: str | os.PathLike[str],
    today: _dt.date | str | None = None,
    *,
    audit: AuditLog | None = None,
    recursive: bool = True,
) -> PurgeReport:
    """Delete every registered artefact under ``directory`` whose ``destroy_by <= today``.

    ``today`` defaults to the current UTC date. Files that are not registered, or not yet
    due, are never touched. Secrets (``kind="secret"``) are overwritten before deletion.
    Each manifest is rewritten atomically, keeping a ``destroyed`` record (path, kind,
    party, dates) of what was deleted. When ``audit`` is given, one ``purge`` event per
    party lists the deleted file names and counts.
    """
    root = Path(directory)
    if not root.is_dir():
        raise RetentionError(f"retention: {root} is not a directory")
    day = _as_date(today, "today") if today is not None else _dt.datetime.now(
        _dt.timezone.utc
    ).date()
    report = PurgeReport()
    per_party: dict[str, dict[str, Any]] = {}
    dirs = _manifest_dirs(root, recursive)
    if audit is not None:  # refuse before deleting anything, not after
        for mdir in dirs:
            for e in _load(mdir)["artefacts"]:
                if _as_date(e["destroy_by"], "destroy_by") <= day:
                    audit.check("purge", party=e["party"], action="delete",
                                files=[(mdir / e["path"]).relative_to(root).as_posix()])
    for mdir in dirs:
        data = _load(mdir)
        keep = []
        for e in data["artefacts"]:
            if _as_date(e["destroy_by"], "destroy_by") > day:
                keep.append(e)
                continue
            target = mdir / e["path"]
            rel = target.relative_to(root).as_posix()
            stats = per_party.setdefault(
                e["party"], {"files": [], "deleted": 0, "already_gone": 0, "shredded": 0}
            )
            if target.exists():
                if e["kind"] == "secret":
                    _shred(target)
                    stats["shredded"] += 1
                else:
                    target.unlink()
                report.deleted.append(target)
                stats["deleted"] += 1
            else:
                report.already_gone.append(target)
                stats["already_gone"] += 1
            stats["files"].append(rel)
            data["destroyed"].append(
                {
                    "path": e["path"],
                    "kind": e["kind"],
                    "party": e["party"],
                    "destroy_by": e["destroy_by"],
                    "destroyed": day.isoformat(),
                }
            )
        report.kept += len(keep)
        if len(keep) != len(data["artefacts"]):
            data["artefacts"] = keep
            _save(mdir, data)
    if audit is not None:
        for party, stats in sorted(per_party.items()):
            audit.record(
                "purge",
                party=party,
                action="delete",
                counts={
                    "deleted": stats["deleted"],
                    "already_gone": stats["already_gone"],
                    "shredded": stats["shredded"],
                },
                files=stats["files"],
            )
    return report


@dataclass
class CheckReport:
    """Files without a destroy-by date, changed files and registered files that are gone."""

    unregistered: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file is registered and unchanged."""
        return not (self.unregistered or self.changed or self.missing)


def check(
    directory: str | os.PathLike[str], *, ignore: Iterable[str] = ()
) -> CheckReport:
    """Compare the files under ``directory`` with their manifests.

    Every file (other than manifests and names in ``ignore``) should be registered in its
    own directory's manifest with a matching checksum.
    """
    root = Path(directory)
    ignored = set(ignore) | {MANIFEST_NAME}
    report = CheckReport()
    known: dict[Path, dict[str, str]] = {}
    for mdir in _manifest_dirs(root, True):
        for e in _load(mdir)["artefacts"]:
            known[mdir / e["path"]] = e
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.name in ignored or f.name.startswith("."):
            continue
        e = known.get(f)
        if e is None:
            report.unregistered.append(f)
        elif file_checksum(f) != e["checksum"]:
            report.changed.append(f)
    report.missing = sorted(p for p in known if not p.exists())
    return report
