"""nislink: privacy-preserving record linkage of people and families.

Pipeline stages, each a subpackage that imports only the stages before it::

    clean -> encode -> block -> compare -> model -> resolve -> evaluate

See ``docs/`` for the design and the measured figures.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
