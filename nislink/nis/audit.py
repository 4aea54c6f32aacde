"""An append-only, hash-chained JSON-lines audit log of what each party did.

Every line of the log is one event, a JSON object with sorted keys::

    {"action": "write", "counts": {"rows": 1000}, "event": "encode",
     "files": ["la_encoded.parquet"], "fingerprints": {"key": "9f2c..."},
     "party": "la", "prev": "<64 hex>", "seq": 3, "time": "2026-11-22T20:30:00.000000Z",
     "values": {"mode": "random"}}

* ``seq`` counts events from 0; ``time`` is UTC (ISO 8601 with a ``Z``);
* ``prev`` is the BLAKE3 hash (hex) of the previous line's bytes (without its newline);
  the first line has 64 zeros. Changing, removing, reordering or inserting any line
  breaks the chain at the next line, and :func:`verify` names that line. Keep the head
  hash that :func:`verify` returns somewhere else (a report, a ticket) to protect the
  last line too, or give the log a ``key`` so that only key holders can re-chain it;
* ``event`` is one of :data:`EVENT_TYPES`; ``party`` and ``action`` come from the
  vocabulary :data:`KNOWN_VALUES` (extendable per log with ``extra_values``).

**The guard.** The log must never hold an identifier or a secret, so :meth:`AuditLog.record`
accepts only:

* ``counts``: numbers (``int`` or finite ``float``, not ``bool``);
* ``fingerprints``: lowercase hex of 16 to 32 characters (a key or schema fingerprint), or
  up to 64 characters behind an algorithm prefix (``blake3:<64 hex>`` for a file
  checksum). Unprefixed hex longer than 128 bits is refused so that a hex-encoded
  256-bit secret cannot be logged by mistake;
* ``values``: known enum values (:data:`KNOWN_VALUES` plus ``extra_values``);
* ``files``: file names (``[A-Za-z0-9_.-]`` path segments with an extension), either as a
  list or as a mapping from file name to counts;
* keys of every mapping: lowercase tokens ``[a-z][a-z0-9_]*``.

Anything else is refused with :class:`AuditError`, and so is any string that looks like
an identifier (a NINO, a UPN, a postcode, an nislink reference number, an e-mail
address, a full date, a run of 9 or more digits) even where the shape would otherwise be
allowed - so name artefact files without dates (``dwp_extract.csv``, not
``dwp_extract_2026-11-22.csv``). Refusal messages name the field and key, never the
refused value.

Limits: free text cannot be told from a name, so free text is never accepted (enum
values come from a vocabulary), but a *file name* made of a person's name
(``smith.csv``) cannot be recognised; artefact file names are chosen by code, never by
data.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from nislink.errors import NislinkError

try:  # POSIX advisory locking keeps concurrent writers from interleaving lines
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

__all__ = [
    "AuditError",
    "AuditLog",
    "AuditTamperError",
    "EVENT_TYPES",
    "GENESIS",
    "KNOWN_VALUES",
    "looks_like_identifier",
    "read_events",
    "verify",
]

GENESIS = "0" * 64
"""The ``prev`` value of the first line."""

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "submit",  # an LA submission received and validated
        "validate",
        "clean",
        "separate",  # identifiers split from attributes, reference numbers drawn
        "encode",
        "send",
        "receive",
        "check",  # schema / key fingerprints compared
        "link",
        "dedupe",
        "evaluate",
        "assemble",  # research dataset built
        "register",  # artefact put under retention
        "purge",
        "shred",  # a secret destroyed (crypto-shredding)
        "withdraw",
        "access",  # a subject access request answered
        "verify",
    }
)
"""Event types the log accepts."""

PARTIES: frozenset[str] = frozenset(
    {
        "la", "owner", "dwp", "moj", "dfe", "hmrc", "nhs", "mhclg",
        "ons", "linkage_unit", "research", "researcher", "custodian",
    }
)
"""Party names in the default vocabulary."""

ACTIONS: frozenset[str] = frozenset(
    {
        "read", "write", "delete", "rewrite", "shred", "split", "validate", "clean",
        "encode", "send", "receive", "compare", "check", "link", "dedupe", "evaluate",
        "assemble", "register", "purge", "withdraw", "verify", "refuse", "answer",
    }
)
"""Action verbs in the default vocabulary."""

OTHER_VALUES: frozenset[str] = frozenset(
    {
        # outcomes
        "ok", "complete", "incomplete", "refused", "failed", "expired", "missing",
        # reference-number modes (see nislink.nis.separation)
        "random", "seeded",
        # artefact kinds (see nislink.nis.retention.ARTEFACT_KINDS)
        "submission", "rejects", "identifiers", "attributes", "mapping", "encoded",
        "link_table", "research_dataset", "research_map", "secret", "schema", "report",
        "audit_log", "extract", "other",
        # identifier fields and their statuses (names only, never values)
        "name", "forename", "surname", "dob", "sex", "postcode", "nino", "upn",
        "invalid", "placeholder", "out_of_range", "no_fixed_abode", "temporary", "unknown",
        # formats
        "csv", "parquet", "json", "jsonl",
        # levels
        "person", "family",
    }
)
"""Other enum values (outcomes, modes, artefact kinds, field names, formats)."""

KNOWN_VALUES: frozenset[str] = EVENT_TYPES | PARTIES | ACTIONS | OTHER_VALUES
"""The whole default vocabulary of enum values."""

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_HEX_SHORT_RE = re.compile(r"^[0-9a-f]{16,32}$")
_HEX_PREFIXED_RE = re.compile(r"^(?:blake3|sha256|sha512|blake2b|xxh64|crc32):[0-9a-f]{8,128}$")
_FILE_RE = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_EXT_RE = re.compile(r"\.[A-Za-z0-9]{1,12}$")

# Identifier-shaped strings, searched anywhere inside a value (case-insensitive).
_IDENTIFIER_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("reference number", re.compile(r"(?:^|[^0-9a-z])(?:rp|rf|p|f)[0-9a-f]{20}(?![0-9a-f])", re.I)),
    ("NINO", re.compile(
        r"(?<![a-z])[a-ceghj-prstw-z]{2}(?:[ _.-]?\d{2}){3}[ _.-]?[a-d]?(?![a-z0-9])", re.I
    )),
    ("UPN", re.compile(r"(?<![a-z0-9])[a-z]\d{11}[0-9a-z](?![a-z0-9])", re.I)),
    ("postcode", re.compile(
        r"(?<![a-z0-9])[a-z]{1,2}\d[a-z\d]?[ _.-]?\d[a-z]{2}(?![a-z0-9])", re.I
    )),
    ("e-mail address", re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)),
    ("date", re.compile(
        r"(?<!\d)(?:\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})(?!\d)"
    )),
    ("long number", re.compile(r"\d{9,}")),
)


class AuditError(NislinkError, ValueError):
    """An event was refused by the guard, or the log cannot be read."""


class AuditTamperError(AuditError):
    """The hash chain is broken: a line was changed, removed, inserted or reordered."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def looks_like_identifier(text: str) -> str | None:
    """The kind of identifier ``text`` appears to contain (``"NINO"``, ...), else ``None``."""
    for kind, pattern in _IDENTIFIER_PATTERNS:
        if pattern.search(text):
            return kind
    return None


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _format_time(t: _dt.datetime | None) -> str:
    if t is None:
        return _utc_now()
    if not isinstance(t, _dt.datetime) or t.tzinfo is None:
        raise AuditError("audit: 'time' must be a timezone-aware datetime")
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line_hash(line: bytes, key: bytes | None) -> str:
    if key is None:
        return blake3.blake3(line).hexdigest()
    return blake3.blake3(line, key=key).hexdigest()


def _derive_key(key: bytes | None) -> bytes | None:
    if key is None:
        return None
    if hasattr(key, "derive"):  # a nislink.secrets.Secret
        return key.derive("nislink v1 audit log chain", 32)  # type: ignore[attr-defined]
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise AuditError("audit: key must be at least 16 bytes (or a nislink Secret)")
    return blake3.blake3(bytes(key), derive_key_context="nislink v1 audit log chain").digest()


@dataclass(frozen=True)
class _Guard:
    vocabulary: frozenset[str]

    def key(self, where: str, k: Any) -> str:
        if not isinstance(k, str) or not _KEY_RE.match(k):
            raise AuditError(f"audit: refused a key in {where}: keys must be lowercase tokens")
        return k

    def enum(self, where: str, v: Any) -> str:
        if not isinstance(v, str) or v not in self.vocabulary:
            raise AuditError(
                f"audit: refused {where}: not a known enum value (only numbers, hex "
                "fingerprints, known enum values and file names are logged)"
            )
        return v

    def number(self, where: str, v: Any) -> int | float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (
            isinstance(v, float) and not math.isfinite(v)
        ):
            # numpy scalars are accepted through their Python value
            item = getattr(v, "item", None)
            if item is not None and not isinstance(v, bool):
                try:
                    py = item()
                except (TypeError, ValueError):
                    py = None
                if isinstance(py, (int, float)) and not isinstance(py, bool):
                    return self.number(where, py)
            raise AuditError(f"audit: refused {where}: counts must be finite numbers")
        return v

    def fingerprint(self, where: str, v: Any) -> str:
        if not isinstance(v, str) or not (_HEX_SHORT_RE.match(v) or _HEX_PREFIXED_RE.match(v)):
            raise AuditError(
                f"audit: refused {where}: fingerprints must be lowercase hex of 16-32 "
                "characters, or 'algorithm:hex' (e.g. 'blake3:...') for longer checksums"
            )
        return v

    def file(self, where: str, v: Any) -> str:
        if (
            not isinstance(v, str)
            or not _FILE_RE.match(v)
            or not _EXT_RE.search(v)
            or any(seg in ("", ".", "..") for seg in v.split("/"))
        ):
            raise AuditError(
                f"audit: refused {where}: not a file name (relative path segments of "
                "letters, digits, '_', '.', '-', with an extension)"
            )
        kind = looks_like_identifier(v)
        if kind is not None:
            raise AuditError(f"audit: refused {where}: the file name looks like it holds a {kind}")
        return v


class AuditLog:
    """An append-only audit log at ``path`` (created on first write).

    ``key`` (bytes of at least 16, or a :class:`nislink.secrets.Secret`) makes the chain
    keyed, so that only holders of the key can write a valid chain. ``extra_values`` adds
    enum values (party names, kinds) to the vocabulary; each must be a lowercase token that
    does not look like an identifier.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key: bytes | None = None,
        extra_values: Iterable[str] = (),
    ) -> None:
        self.path = Path(path)
        self._key = _derive_key(key)
        extra = set()
        for v in extra_values:
            if not isinstance(v, str) or not _KEY_RE.match(v) or looks_like_identifier(v):
                raise AuditError("audit: extra_values must be lowercase tokens, not identifiers")
            extra.add(v)
        self._guard = _Guard(KNOWN_VALUES | frozenset(extra))

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r}, keyed={self._key is not None})"

    # ------------------------------------------------------------------ building events
    def _event(
        self,
        event: str,
        party: str,
        action: str | None,
        counts: Mapping[str, Any] | None,
        fingerprints: Mapping[str, Any] | None,
        files: Sequence[str] | Mapping[str, Mapping[str, Any]] | None,
        values: Mapping[str, Any] | None,
        time: _dt.datetime | None,
    ) -> dict[str, Any]:
        g = self._guard
        if event not in EVENT_TYPES:
            raise AuditError(
                f"audit: unknown event type; expected one of {', '.join(sorted(EVENT_TYPES))}"
            )
        out: dict[str, Any] = {
            "event": event,
            "party": g.enum("party", party),
            "action": g.enum("action", action if action is not None else event),
            "time": _format_time(time),
        }
        out["counts"] = {
            g.key("counts", k): g.number(f"counts[{k!r}]", v) for k, v in (counts or {}).items()
        }
        out["fingerprints"] = {
            g.key("fingerprints", k): g.fingerprint(f"fingerprints[{k!r}]", v)
            for k, v in (fingerprints or {}).items()
        }
        out["values"] = {
            g.key("values", k): g.enum(f"values[{k!r}]", v) for k, v in (values or {}).items()
        }
        if files is None:
            out["files"] = []
        elif isinstance(files, Mapping):
            out["files"] = {
                g.file("files", name): {
                    g.key(f"files[{i}]", k): g.number(f"files[{i}][{k!r}]", v)
                    for k, v in dict(c).items()
                }
                for i, (name, c) in enumerate(files.items())
            }
        elif isinstance(files, (str, bytes)):
            raise AuditError("audit: 'files' must be a list of file names or a mapping")
        else:
            out["files"] = [g.file(f"files[{i}]", f) for i, f in enumerate(files)]
        return out

    # ------------------------------------------------------------------ writing
    def check(
        self,
        event: str,
        *,
        party: str,
        action: str | None = None,
        counts: Mapping[str, Any] | None = None,
        fingerprints: Mapping[str, Any] | None = None,
        files: Sequence[str] | Mapping[str, Mapping[str, Any]] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise :class:`AuditError` if :meth:`record` would refuse this event (writes nothing).

        Callers about to make an irreversible change (purge, withdrawal) check first, so that
        a refused event cannot leave a change unrecorded.
        """
        self._event(event, party, action, counts, fingerprints, files, values, None)

    def record(
        self,
        event: str,
        *,
        party: str,
        action: str | None = None,
        counts: Mapping[str, Any] | None = None,
        fingerprints: Mapping[str, Any] | None = None,
        files: Sequence[str] | Mapping[str, Mapping[str, Any]] | None = None,
        values: Mapping[str, Any] | None = None,
        time: _dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Append one event and return it as written (with ``seq`` and ``prev``).

        Raises :class:`AuditError` (and writes nothing) when any part fails the guard, and
        :class:`AuditTamperError` when the log's last line is not a complete line.
        """
        ev = self._event(event, party, action, counts, fingerprints, files, values, time)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            if _fcntl is not None:
                _fcntl.flock(fh.fileno(), _fcntl.LOCK_EX)
            try:
                last = _last_line(fh)
                if last is None:
                    prev, seq = GENESIS, 0
                else:
                    prev = _line_hash(last, self._key)
                    try:
                        seq = int(json.loads(last)["seq"]) + 1
                    except (ValueError, KeyError, TypeError):
                        raise AuditTamperError(
                            f"audit log {self.path.name}: the last line is not a valid event",
                            -1,
                        ) from None
                ev["seq"] = seq
                ev["prev"] = prev
                line = json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
                fh.seek(0, os.SEEK_END)
                fh.write(line.encode("ascii") + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                if _fcntl is not None:
                    _fcntl.flock(fh.fileno(), _fcntl.LOCK_UN)
        return ev

    # ------------------------------------------------------------------ reading
    def verify(self) -> str:
        """Check the whole chain; return the head hash (see :func:`verify`)."""
        return verify(self.path, key=self._key, _derived=True)

    def events(self) -> list[dict[str, Any]]:
        """All events, oldest first (after verifying the chain)."""
        self.verify()
        return read_events(self.path)


def _last_line(fh: Any) -> bytes | None:
    """The last complete line (without its newline) of an open binary file."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    if size == 0:
        return None
    fh.seek(size - 1)
    if fh.read(1) != b"\n":
        raise AuditTamperError("audit log: the last line is incomplete (truncated write?)", -1)
    # Read backwards in blocks until the newline before the last line is found.
    block = 65536
    end = size - 1
    pos = end
    buf = b""
    while pos > 0:
        start = max(0, pos - block)
        fh.seek(start)
        buf = fh.read(pos - start) + buf
        pos = start
        if b"\n" in buf:
            break
    nl = buf.rfind(b"\n")
    return buf[nl + 1 :] if nl >= 0 else buf


def read_events(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Parse every line of the log (no chain check; use :func:`verify` for that)."""
    p = Path(path)
    out = []
    with open(p, "rb") as fh:
        for i, raw in enumerate(fh, start=1):
            try:
                out.append(json.loads(raw))
            except ValueError:
                raise AuditError(f"audit log {p.name}: line {i} is not JSON") from None
    return out


def verify(
    path: str | os.PathLike[str], *, key: bytes | None = None, _derived: bool = False
) -> str:
    """Verify the hash chain of the log at ``path``; return the head hash.

    The head hash is the hash of the last line (or 64 zeros for an empty log). Raises
    :class:`AuditTamperError` naming the first line (1-based) whose ``prev`` does not
    match the previous line, whose ``seq`` is out of order, or that is not a complete
    JSON event. Pass the same ``key`` the log was written with, if any.
    """
    p = Path(path)
    k = key if _derived else _derive_key(key)
    prev = GENESIS
    expected_seq = 0
    with open(p, "rb") as fh:
        data = fh.read()
    if data and not data.endswith(b"\n"):
        lines_total = data.count(b"\n") + 1
        raise AuditTamperError(
            f"audit log {p.name}: line {lines_total} is incomplete (no final newline)",
            lines_total,
        )
    for i, line in enumerate(data.split(b"\n")[:-1] if data else [], start=1):
        try:
            ev = json.loads(line)
            ok_shape = isinstance(ev, dict) and "prev" in ev and "seq" in ev
        except ValueError:
            ok_shape = False
        if not ok_shape:
            raise AuditTamperError(f"audit log {p.name}: line {i} is not a valid event", i)
        if ev["prev"] != prev:
            raise AuditTamperError(
                f"audit log {p.name}: chain broken at line {i} (its 'prev' does not match "
                f"the hash of line {i - 1}; a line was changed, removed or inserted)",
                i,
            )
        if ev["seq"] != expected_seq:
            raise AuditTamperError(
                f"audit log {p.name}: line {i} has seq {ev['seq']!r}, expected {expected_seq}",
                i,
            )
        prev = _line_hash(line, k)
        expected_seq += 1
    return prev
