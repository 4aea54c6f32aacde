"""Privacy evaluation: attack simulations and privacy-risk reports on encoded files.

* :mod:`nislink.privacy.public`: the attacker's public knowledge (value frequencies);
* :mod:`nislink.privacy.attacks`: frequency alignment, q-gram inference, graph matching;
* :mod:`nislink.privacy.campaign`: the four-attack re-identification campaign of issue 11
  (:func:`run_campaign`) on one file and on several pooled;
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
from nislink.privacy.campaign import (
    CampaignResult,
    cohort_profile_alignment,
    discover,
    pattern_mining,
    run_campaign,
    salt_class_alignment,
    score_records,
    token_alignment,
)
from nislink.privacy.public import PublicKnowledge, PublicTable, normalise_values
from nislink.privacy.report import PrivacyReport, privacy_report, privacy_report_main

__all__ = [
    "AttackResult",
    "CampaignResult",
    "cohort_profile_alignment",
    "discover",
    "pattern_mining",
    "run_campaign",
    "salt_class_alignment",
    "score_records",
    "token_alignment",
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
