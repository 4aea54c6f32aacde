"""Normalisers for UK identifiers (the first pipeline stage).

Filled in module by module; see ``docs/cleaning.md``.
"""

from __future__ import annotations

from nislink.clean._result import Checked, Status, is_missing

__all__ = ["Checked", "Status", "is_missing"]
