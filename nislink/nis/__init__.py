"""The study's own workflow: submissions, separation, retention, withdrawal and audit.

Modules:

* :mod:`nislink.nis.submission` - the local authority submission format, validation,
  the eligibility rule (two or more of six problems);
* :mod:`nislink.nis.separation` - identifiers apart from attributes, random reference
  numbers, the owner's mapping;
* :mod:`nislink.nis.retention` - destroy-by dates, manifests, purge, crypto-shredding;
* :mod:`nislink.nis.audit` - the append-only, hash-chained audit log and its guard;
* :mod:`nislink.nis.withdrawal` - what is held about a person, and removing them from
  every artefact;
* :mod:`nislink.nis.waves` - the study over time: waves linked incrementally, stable
  research ids, progress records, rectification (import it from there).

See ``docs/workflow.md`` for the roles and what each receives.
"""

from __future__ import annotations

from nislink.nis.audit import AuditError, AuditLog, AuditTamperError, verify
from nislink.nis.retention import (
    RetentionError,
    RetentionPolicy,
    check,
    purge,
    register,
)
from nislink.nis.separation import (
    ReferenceGenerator,
    Separated,
    SeparationError,
    is_reference_number,
    separate,
)
from nislink.nis.submission import (
    PROBLEM_FLAGS,
    STATUSES,
    SUBMISSION_COLUMNS,
    SubmissionError,
    eligible,
    family_eligible,
    read_submission,
    validate_submission,
)
from nislink.nis.withdrawal import (
    WithdrawalError,
    WithdrawalReport,
    find_traces,
    reference_for,
    subject_access,
    withdraw,
)

__all__ = [
    "AuditError",
    "AuditLog",
    "AuditTamperError",
    "PROBLEM_FLAGS",
    "ReferenceGenerator",
    "RetentionError",
    "RetentionPolicy",
    "STATUSES",
    "SUBMISSION_COLUMNS",
    "Separated",
    "SeparationError",
    "SubmissionError",
    "WithdrawalError",
    "WithdrawalReport",
    "check",
    "eligible",
    "family_eligible",
    "find_traces",
    "is_reference_number",
    "purge",
    "read_submission",
    "reference_for",
    "register",
    "separate",
    "subject_access",
    "validate_submission",
    "verify",
    "withdraw",
]
