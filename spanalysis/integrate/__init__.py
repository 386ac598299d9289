"""Integration of the quantitative and qualitative strands: the crosswalk from benefit themes
to questionnaire items, joint displays (statistics by themes, side by side, case level,
configurations, quote matrix, prevalence) and the analysts' meta-inferences.

Modules
-------
joint      the crosswalk, the joint displays and the meta-inferences file
"""
from __future__ import annotations

from spanalysis.integrate.joint import (
    CHANGE_GROUPS,
    DEFAULT_CROSSWALK,
    DIVERGENT_DETERIORATION_MIN_THEMES,
    DIVERGENT_POSITIVE_MIN_THEMES,
    FITS,
    NOT_CLASSIFIED,
    NOT_WRITTEN,
    benefit_themes,
    case_level,
    check_study,
    classify_cases,
    classify_fit,
    configuration_table,
    divergent_cases,
    leaf_themes,
    measurement_coverage,
    participant_table,
    prevalence_heatmap,
    quote_matrix,
    read_crosswalk,
    read_meta_inferences,
    side_by_side,
    statistics_by_themes,
    theme_prevalence,
    welch_comparison,
    write_meta_inference_template,
)

__all__ = ["check_study", "participant_table", "statistics_by_themes", "measurement_coverage",
           "read_crosswalk", "side_by_side", "classify_fit", "read_meta_inferences",
           "write_meta_inference_template", "case_level", "classify_cases",
           "divergent_cases", "configuration_table", "quote_matrix", "theme_prevalence",
           "prevalence_heatmap", "benefit_themes", "leaf_themes", "welch_comparison",
           "DEFAULT_CROSSWALK", "CHANGE_GROUPS", "NOT_CLASSIFIED", "FITS", "NOT_WRITTEN",
           "DIVERGENT_POSITIVE_MIN_THEMES", "DIVERGENT_DETERIORATION_MIN_THEMES"]
