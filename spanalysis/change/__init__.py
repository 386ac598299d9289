"""Change in questionnaire scores between two time points: paired change and effect sizes,
reliable and clinically significant change, attrition, service use, person-centred measures,
site comparisons, and the study-level tables the notebooks show.

Modules
-------
paired     paired change, effect sizes, Holm, reliable change, attrition, service use, MYCaW, GAS
sites      change by site and the site mixed model, forest plot
outcomes   study-level tables for the reports (a :class:`~spanalysis.study.Study` in, tidy out)
quality    data quality and reach: response flow, missing items, follow-up timing
"""
from __future__ import annotations

from spanalysis.change.paired import (
    check_confidence, check_min_cell, clinical_cutoffs, completer_comparison, describe_change,
    gas_summary, hedges_j, mycaw_change, p_adjust_holm, paired_change, paired_effect_sizes,
    reliable_change, reliable_change_summary, reliable_change_threshold, sensitivity_bocf,
    service_use_change)

__all__ = ["paired_change", "paired_effect_sizes", "p_adjust_holm", "reliable_change_threshold",
           "reliable_change", "reliable_change_summary", "clinical_cutoffs",
           "completer_comparison", "sensitivity_bocf", "service_use_change", "mycaw_change",
           "gas_summary", "describe_change", "hedges_j", "check_confidence", "check_min_cell"]
