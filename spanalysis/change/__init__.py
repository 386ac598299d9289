"""Change in questionnaire scores between two time points: paired change and effect sizes,
reliable and clinically significant change, attrition, service use, person-centred measures,
site comparisons, and the study-level tables the notebooks show.

Modules
-------
pairs           the inputs' checks, and each person's pre and post score on each scale
effects         effect sizes and their intervals, Hedges' J, Holm's adjustment, signed ranks
paired          group change (paired change), attrition checks, the plain-English sentence
reliable        individual change: reliable and clinically significant change, the MID
person_centred  service use, MYCaW and GAS
sites           change by site and the site mixed model, forest plot
outcomes        study-level tables for the reports (a :class:`~spanalysis.study.Study` in, tidy out)
quality         data quality and reach: response flow, missing items, follow-up timing
"""
from __future__ import annotations

from spanalysis.change.effects import hedges_j, p_adjust_holm, paired_effect_sizes
from spanalysis.change.paired import (completer_comparison, describe_change, paired_change,
                                      sensitivity_bocf)
from spanalysis.change.pairs import check_confidence, check_min_cell
from spanalysis.change.person_centred import gas_summary, mycaw_change, service_use_change
from spanalysis.change.reliable import (clinical_cutoffs, reliable_change,
                                        reliable_change_summary, reliable_change_threshold)

__all__ = ["paired_change", "paired_effect_sizes", "p_adjust_holm", "reliable_change_threshold",
           "reliable_change", "reliable_change_summary", "clinical_cutoffs",
           "completer_comparison", "sensitivity_bocf", "service_use_change", "mycaw_change",
           "gas_summary", "describe_change", "hedges_j", "check_confidence", "check_min_cell"]
