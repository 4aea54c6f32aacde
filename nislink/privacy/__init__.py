"""Privacy evaluation: attack simulations and privacy-risk reports on encoded files.

* :mod:`nislink.privacy.public`: the attacker's public knowledge (value frequencies);
* :mod:`nislink.privacy.attacks`: frequency alignment, q-gram inference, graph matching;
* :mod:`nislink.privacy.report`: :func:`privacy_report` and the ``nislink privacy-report``
  command (:func:`privacy_report_main`).

See ``docs/privacy.md`` for the threat model and the measured figures.
"""

from __future__ import annotations

from nislink.privacy.attacks import (
    AttackResult,
    frequency_alignment,
    graph_matching,
    qgram_inference,
    score_guesses,
)
from nislink.privacy.public import PublicKnowledge, PublicTable, normalise_values
from nislink.privacy.report import PrivacyReport, privacy_report, privacy_report_main

__all__ = [
    "AttackResult",
    "PrivacyReport",
    "PublicKnowledge",
    "PublicTable",
    "frequency_alignment",
    "graph_matching",
    "normalise_values",
    "privacy_report",
    "privacy_report_main",
    "qgram_inference",
    "score_guesses",
]
