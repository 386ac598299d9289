"""Outcome instruments: definitions as data (YAML), exact scoring, reliability.

Public API
----------
load(name_or_path) -> Instrument
registry(ids, custom_paths=()) -> dict[str, Instrument]
score(responses, instrument) -> DataFrame          tidy scores of one instrument
score_all(responses, instruments) -> DataFrame     tidy scores of several
score_study(responses, instruments, service_use, timepoints) -> DataFrame  a study's score table
gas_tscore(levels, weights=None, rho=0.3) -> float
assign_bands(scores, instruments) -> DataFrame     adds the published band of each score
score_service_use(service_use, timepoints) -> DataFrame
item_table(instruments) -> DataFrame               item metadata (ranges) for validation
scale_table(instruments) -> DataFrame              per-scale facts for change statistics
reliability(responses, instruments, confidence=0.95) -> DataFrame

See docs/instruments.md for the YAML schema and the built-in definitions.
"""
from __future__ import annotations

from spanalysis.instruments.model import (
    METHODS,
    STATUSES,
    Band,
    Clinical,
    DefinitionError,
    Fact,
    Instrument,
    Item,
    MissingRule,
    Norm,
    Scale,
    builtin_ids,
    load,
    registry,
)
from spanalysis.instruments.reliability import reliability
from spanalysis.instruments.responses import check_item_columns
from spanalysis.instruments.scoring import (
    SCORE_COLUMNS,
    assign_bands,
    gas_tscore,
    item_matrix,
    score,
    score_all,
    score_service_use,
    score_study,
)
from spanalysis.instruments.tables import item_table, scale_table

__all__ = ["load", "registry", "score", "score_all", "gas_tscore", "assign_bands",
           "score_service_use", "score_study", "item_table", "scale_table", "reliability",
           "item_matrix", "check_item_columns",
           "builtin_ids", "Instrument", "Item", "Scale", "MissingRule", "Fact", "Norm", "Band",
           "Clinical", "DefinitionError", "METHODS", "STATUSES", "SCORE_COLUMNS"]
