"""Plain words for reviewers: table headings, instrument and scale names, and the glossary.

Reports are read by commissioners and clinical leads, not statisticians (issue 22, item 4). A
table column keeps its short name in the package (``change_ci_low``, ``d_z``, ``p_holm``); this
module is the one place that says how each is headed in a report, and what a technical term
means. :func:`spanalysis.report.display.column_label` looks headings up here first, so every
table in every report uses the same words; a column not listed falls back to its name in
words.

Definitions follow the sources cited in ``docs/instruments.md`` and the reference notes
(Cohen 1988 and Lakens 2013 for effect sizes; Jacobson & Truax 1991 for reliable change; Holm
1979; Krippendorff 2004; ONS and NHS Digital disclosure guidance for suppression).
"""
from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["HEADINGS", "TERMS", "heading", "instrument_name", "scale_name", "glossary_markdown",
           "terms_in"]

#: column name -> heading in a report table
HEADINGS = {
    "instrument": "Questionnaire",
    "scale": "Scale",
    "site": "Site",
    "theme": "Theme",
    "timepoint": "Time point",
    "n": "People",
    "n_pairs": "People with both scores",
    "n_participants": "People",
    "n_sites": "Sites",
    "n_completers": "People who completed follow-up",
    "n_baseline_only": "People with a first score only",
    "n_carried_forward": "People whose first score was carried forward",
    "n_exceeds_mid": "People who improved by at least the MID",
    "n_worse_by_mid": "People who worsened by at least the MID",
    "n_voiced": "People who described it",
    "n_voiced_completers": "People who described it (with both scores)",
    "n_not_voiced_completers": "People who did not describe it (with both scores)",
    "n_more": "More",
    "n_fewer": "Fewer",
    "n_same": "Same",
    "pre": "From",
    "post": "To",
    "pre_mean": "Mean before",
    "post_mean": "Mean after",
    "pre_sd": "SD before",
    "post_sd": "SD after",
    "mean": "Mean",
    "median": "Median",
    "q1": "Lower quartile",
    "q3": "Upper quartile",
    "before_median": "Median before",
    "after_median": "Median after",
    "before_q1": "Lower quartile before",
    "before_q3": "Upper quartile before",
    "after_q1": "Lower quartile after",
    "after_q3": "Upper quartile after",
    "change_mean": "Mean change",
    "mean_change": "Mean change",
    "change_ci_low": "Change: lower CI limit",
    "change_ci_high": "Change: upper CI limit",
    "ci_low": "Lower CI limit",
    "ci_high": "Upper CI limit",
    "improvement_mean": "Mean improvement",
    "improvement_ci_low": "Improvement: lower CI limit",
    "improvement_ci_high": "Improvement: upper CI limit",
    "improvement_difference": "Difference in improvement",
    "improvement": "Improved?",
    "direction": "Better when",
    "median_difference": "Difference in medians",
    "voiced_mean": "Mean change, people who described it",
    "not_voiced_mean": "Mean change, people who did not",
    "t": "t statistic",
    "df": "Degrees of freedom",
    "p": "p value",
    "p_holm": "p value (Holm-adjusted)",
    "wilcoxon_p": "p value (Wilcoxon signed-rank)",
    "d_z": "Effect size (Cohen's d_z)",
    "d_z_ci_low": "Effect size: lower CI limit",
    "d_z_ci_high": "Effect size: upper CI limit",
    "d_av": "Effect size (Cohen's d_av)",
    "g_av": "Effect size (Hedges' g_av)",
    "hedges_g": "Effect size (Hedges' g)",
    "d_av_ci_low": "Effect size d_av: lower CI limit",
    "d_av_ci_high": "Effect size d_av: upper CI limit",
    "g_av_ci_low": "Effect size g_av: lower CI limit",
    "g_av_ci_high": "Effect size g_av: upper CI limit",
    "hedges_g_ci_low": "Hedges' g: lower CI limit",
    "hedges_g_ci_high": "Hedges' g: upper CI limit",
    "cohen_kappa_ci_low": "Kappa: lower CI limit",
    "cohen_kappa_ci_high": "Kappa: upper CI limit",
    "krippendorff_ci_low": "Alpha: lower CI limit",
    "krippendorff_ci_high": "Alpha: upper CI limit",
    "sources_compared": "Sources compared",
    "bootstrap_resamples": "Bootstrap resamples",
    "rate_ratio": "Rate ratio (after / before)",
    "rate_ratio_ci_low": "Rate ratio: lower CI limit",
    "rate_ratio_ci_high": "Rate ratio: upper CI limit",
    "before_rate": "Contacts per person before",
    "after_rate": "Contacts per person after",
    "dispersion": "Overdispersion",
    "window": "Window",
    "slope": "Change per extra session",
    "slope_ci_low": "Per session: lower CI limit",
    "slope_ci_high": "Per session: upper CI limit",
    "adjusted_for": "Adjusted for",
    "n_analysed": "People analysed",
    "n_missing_post": "People whose later score is imputed",
    "fmi": "Fraction of missing information",
    "se": "Standard error",
    "m": "Imputations",
    "assumption": "Assumption",
    "outcome_role": "Outcome",
    "p_hierarchy": "p value (primary alone; secondaries Holm-adjusted)",
    "adjustment": "Adjustment for several outcomes",
    "improvement_ci_low_adj": "Improvement: lower adjusted CI limit",
    "improvement_ci_high_adj": "Improvement: upper adjusted CI limit",
    "fit_interval": "Interval the fit is judged on",
    "change_ci_low_adj": "Change: lower adjusted CI limit",
    "change_ci_high_adj": "Change: upper adjusted CI limit",
    "change_ci_low_satterthwaite": "Change: lower CI limit",
    "change_ci_high_satterthwaite": "Change: upper CI limit",
    "df_satterthwaite": "Degrees of freedom (Satterthwaite)",
    "p_satterthwaite": "p value",
    "icc_ci_low": "ICC: lower CI limit",
    "icc_ci_high": "ICC: upper CI limit",
    "lrt_site": "Likelihood-ratio statistic (site variance)",
    "p_lrt_site": "p value for variation between sites",
    "cutoff": "Cut-off (points)",
    "cutoff_criterion": "Criterion",
    "cutoff_source": "Source of the cut-off",
    "estimate": "Estimate",
    "quantity": "Quantity",
    "percent_people": "Percentage of the people",
    "percent_people_ci_low": "Percentage: lower CI limit",
    "percent_people_ci_high": "Percentage: upper CI limit",
    "category": "Category",
    "icc_boot_ci_low": "ICC: lower bootstrap limit",
    "icc_boot_ci_high": "ICC: upper bootstrap limit",
    "percent_voiced": "Percentage who described it",
    "percent_voiced_ci_low": "Percentage: lower CI limit",
    "percent_voiced_ci_high": "Percentage: upper CI limit",
    "mid_used": "MID used (points)",
    "mid_source": "Source of the MID",
    "threshold": "Reliable change threshold (points)",
    "reliability_used": "Reliability used",
    "reliability_source": "Source of the reliability",
    "published_alpha": "Published Cronbach's alpha",
    "published_source": "Source",
    "alpha": "Cronbach's alpha",
    "sd_used": "SD used",
    "sd_source": "Source of the SD",
    "icc": "Share of variation between sites (ICC)",
    "var_site": "Variance between sites",
    "var_resid": "Variance within sites",
    "converged": "Model converged?",
    "method": "Method",
    "analysis": "Analysis",
    "cohen_kappa": "Cohen's kappa",
    "krippendorff_alpha_all": "Krippendorff's alpha",
    "percent_agreement_all": "Agreement (% of units)",
    "percent_agreement_coded": "Agreement (% of coded units)",
    "units_compared": "Units compared",
    "units_coded_by_any": "Units coded by either coder",
    "code_name": "Code",
    "theme_label": "Theme",
    "theme_a": "Theme",
    "theme_b": "With theme",
    "c_coefficient": "Co-occurrence (c coefficient)",
    "difference_from_50": "Difference from 50 (points)",
    "primary_category": "Category",
    "change_group": "Change",
    "benefit_themes": "Benefit themes",
    "participants": "People",
    "people": "People",
    "service": "Service",
    "quote": "In their words",
    "reason": "Reason",
    "why": "Why",
    "message": "Message",
    "configuration": "Pattern",
    "coverage": "Coverage",
}

#: term -> (what a reviewer reads, the plain definition); the anchor is the term's slug
TERMS = {
    "CI": ("confidence interval (CI)",
           "the range of values compatible with the data at the stated level (usually 95%): "
           "a wide interval means the estimate is uncertain."),
    "MID": ("minimal important difference (MID)",
            "the smallest change in a questionnaire score that people notice as meaningful, "
            "as published for that questionnaire; reports say when none is published."),
    "reliable change": ("reliable change",
                        "a change in one person's score larger than measurement error alone "
                        "would produce (Jacobson and Truax, 1991), judged against the threshold "
                        "printed in the report."),
    "Cohen's d_z": ("effect size (Cohen's d_z)",
                    "the mean change divided by the standard deviation of the changes: about "
                    "0.2 is small, 0.5 medium and 0.8 large (Cohen, 1988)."),
    "Hedges' g": ("effect size (Hedges' g)",
                  "the mean change divided by the average standard deviation of the scores, "
                  "corrected for small samples (Lakens, 2013)."),
    "Holm": ("Holm-adjusted p value",
             "a p value corrected for testing several outcomes at once (Holm, 1979), so that "
             "one chance finding among many tests is less likely to be reported as real."),
    "p value": ("p value",
                "how surprising the observed change would be if there were truly no change; "
                "below 0.05 is conventionally called statistically significant."),
    "ICC": ("intraclass correlation (ICC)",
            "the share of the variation in change that lies between sites rather than between "
            "people at the same site."),
    "Krippendorff's alpha": ("Krippendorff's alpha",
                             "agreement between coders beyond chance: 1 is perfect, 0 is no "
                             "better than chance; 0.8 or more is usually taken as reliable "
                             "(Krippendorff, 2004)."),
    "Cohen's kappa": ("Cohen's kappa",
                      "agreement between two coders beyond chance, from -1 to 1."),
    "multiple imputation": ("multiple imputation",
                            "each missing follow-up score is filled in many times (at least "
                            "20) from what is known about the person (site, first score, "
                            "demographics, sessions), and the results are combined by Rubin's "
                            "rules; it assumes the missing scores are missing at random given "
                            "those."),
    "rate ratio": ("rate ratio",
                   "contacts per person after referral divided by those before, over windows "
                   "of the same length: below 1 means fewer contacts."),
    "completers": ("completers",
                   "the people with a score at both time points compared."),
    "BOCF": ("baseline observation carried forward",
             "a sensitivity analysis that counts a person lost to follow-up as unchanged."),
    "suppressed": ("suppressed (<k, [c])",
                   "a count below the study's minimum cell size is not shown ('<k'), and a "
                   "larger count is hidden ('[c]') when the small one could otherwise be worked "
                   "out by subtraction, to protect the people counted."),
}


def _slug(term: str) -> str:
    return "glossary-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def heading(name) -> str | None:
    """The report heading of a column name, or None when it has none here.

    >>> heading("d_z"), heading("p_holm")
    ("Effect size (Cohen's d_z)", 'p value (Holm-adjusted)')
    """
    return HEADINGS.get(str(name))


@lru_cache(maxsize=1)
def _builtin():
    from spanalysis import instruments

    return instruments.registry(instruments.builtin_ids())


def instrument_name(instrument_id: str) -> str:
    """A built-in instrument's short name (its abbreviation where it has one), else the id.

    >>> instrument_name("wemwbs"), instrument_name("ons4"), instrument_name("my_own")
    ('WEMWBS', 'ONS4 personal well-being questions', 'my_own')
    """
    found = _builtin().get(str(instrument_id))
    if found is None:
        return str(instrument_id)
    short = re.search(r"\(([A-Za-z0-9-]+)\)\s*$", found.name)
    return short.group(1) if short else found.name


def scale_name(instrument_id: str, scale_id: str) -> str:
    """A built-in scale's name with its range (``WEMWBS total (14-70)``), else the id."""
    found = _builtin().get(str(instrument_id))
    if found is not None:
        for scale in found.scales:
            if scale.id == str(scale_id):
                return scale.name
    return str(scale_id)


def terms_in(text: str) -> list[str]:
    """The glossary terms a piece of report text uses, in glossary order."""
    lowered = text.lower()
    return [t for t in TERMS if t.lower() in lowered]


def glossary_markdown(terms=None) -> str:
    """The glossary section of a report: ``terms`` (default: all), each with an anchor that
    text can link to (``[MID](#glossary-mid)``)."""
    chosen = list(TERMS) if terms is None else [t for t in TERMS if t in set(terms)]
    lines = ["## Glossary", ""]
    for term in chosen:
        shown, meaning = TERMS[term]
        lines.append(f'- <span id="{_slug(term)}">**{shown[:1].upper() + shown[1:]}**</span>: '
                     f"{meaning}")
    return "\n".join(lines)
