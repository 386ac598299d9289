"""The synthetic demo study: ``spanalysis demo`` writes it; ``data/demo`` is one such study.

Modules
-------
generator   participants, questionnaires, service use and qualitative material with planted
            relationships (see ``PLANTED``)
text_banks  the phrases the interviews and notes are built from
files       the output folder (new, empty or a previous demo), atomic writes and CSV text
"""
from __future__ import annotations

from spanalysis.demo.generator import (
    DEFAULT_SEED,
    PLANTED,
    QUALITATIVE_MAX_PARTICIPANTS,
    generate,
    nhs_check_digit,
)

__all__ = ["generate", "PLANTED", "nhs_check_digit", "DEFAULT_SEED",
           "QUALITATIVE_MAX_PARTICIPANTS"]
