"""Integration of the quantitative and qualitative strands: joint displays linking measured
change with what people said.

Each participant's questionnaire change (:mod:`spanalysis.change`) is put beside the themes
they voiced in interview (:func:`spanalysis.qual.participant_code_matrix`), to ask whether the
questionnaires capture what matters to patients, for whom, and where the two strands diverge.
The displays follow the joint-display types most used in health research (Guetterman, Fetters
& Creswell 2015) and the fit categories of Fetters, Curry & Creswell (2013):

=============================  ================================================================
function                       display
=============================  ================================================================
:func:`participant_table`      one row per participant: attributes, scores, change, reliable-
                               change category per scale, quantitized themes
:func:`statistics_by_themes`   per theme and scale: change among interviewed completers who
                               voiced the theme against those who did not (Welch, Hedges' g)
:func:`measurement_coverage`   per theme and covering item (crosswalk): the same comparison at
                               item level; themes without a covering item are "not measured"
:func:`side_by_side`           per theme: quantitative result, qualitative finding with quotes,
                               fit (confirmation / expansion / discordance), meta-inference
:func:`case_level`             per interviewed participant: reliable-change categories beside
                               the themes voiced, convergent or divergent
:func:`divergent_cases`        the divergent cases with their (redacted) quotes
:func:`configuration_table`    which combinations of themes occur, with change on the primary
                               scale
:func:`quote_matrix`           themes x change group, with quotes in the cells
:func:`theme_prevalence`       percent of interviewed participants in each group (site, change
                               group, ...) who voiced each theme; :func:`prevalence_heatmap`
=============================  ================================================================

The words used throughout (interviewed, voiced, completer, change group) are defined in
:mod:`spanalysis.integrate.strands`; small groups and the direction-aware ``improvement_*``
columns in :mod:`spanalysis.integrate.comparison`. The classification rules (fit,
convergent/divergent) are documented in ``docs/integration.md``.

Modules
-------
strands     the two strands per participant (change, themes voiced) and shared helpers
comparison  voicers against non-voicers: Welch's test, Hedges' g, Holm; welch_comparison
by_theme    participant_table, statistics_by_themes
crosswalk   the crosswalk file (themes -> questionnaire items): read_crosswalk
coverage    measurement_coverage, classify_fit
quotes      interview segments of themes, sensitive flags, redacted exemplar quotes
meta        side_by_side, the meta-inference template
files       the meta-inferences file and check_study (no SciPy: the report command's checks)
cases       case_level, classify_cases, divergent_cases, configuration_table, quote_matrix
prevalence  theme_prevalence, prevalence_heatmap

References
----------
Fetters MD, Curry LA, Creswell JW (2013). Achieving integration in mixed methods designs:
    principles and practices. Health Serv Res 48:2134-2156. doi:10.1111/1475-6773.12117
Guetterman TC, Fetters MD, Creswell JW (2015). Integrating quantitative and qualitative results
    in health science mixed methods research through joint displays. Ann Fam Med 13:554-561.
    doi:10.1370/afm.1865
Sandelowski M, Voils CI, Knafl G (2009). On quantitizing. J Mix Methods Res 3:208-222.
"""
from __future__ import annotations

import importlib

#: each public name and the module that defines it: a module is imported when one of its
#: names is first used (``integrate.side_by_side``, ``from spanalysis.integrate import ...``),
#: so that checking a study's files (:mod:`~spanalysis.integrate.files`) does not import
#: the statistics (SciPy) the displays need
_PUBLIC = {
    "FAMILY_RULE": "spanalysis.change.family",
    "participant_table": "spanalysis.integrate.by_theme",
    "statistics_by_themes": "spanalysis.integrate.by_theme",
    "DIVERGENT_DETERIORATION_MIN_THEMES": "spanalysis.integrate.cases",
    "DIVERGENT_POSITIVE_MIN_THEMES": "spanalysis.integrate.cases",
    "case_level": "spanalysis.integrate.cases",
    "classify_cases": "spanalysis.integrate.cases",
    "configuration_table": "spanalysis.integrate.cases",
    "divergent_cases": "spanalysis.integrate.cases",
    "quote_matrix": "spanalysis.integrate.cases",
    "welch_comparison": "spanalysis.integrate.comparison",
    "FITS": "spanalysis.integrate.coverage",
    "classify_fit": "spanalysis.integrate.coverage",
    "measurement_coverage": "spanalysis.integrate.coverage",
    "DEFAULT_CROSSWALK": "spanalysis.integrate.crosswalk",
    "read_crosswalk": "spanalysis.integrate.crosswalk",
    "check_study": "spanalysis.integrate.files",
    "read_meta_inferences": "spanalysis.integrate.files",
    "NOT_WRITTEN": "spanalysis.integrate.meta",
    "side_by_side": "spanalysis.integrate.meta",
    "write_meta_inference_template": "spanalysis.integrate.meta",
    "prevalence_heatmap": "spanalysis.integrate.prevalence",
    "theme_prevalence": "spanalysis.integrate.prevalence",
    "CHANGE_GROUPS": "spanalysis.integrate.strands",
    "NOT_CLASSIFIED": "spanalysis.integrate.strands",
    "benefit_themes": "spanalysis.integrate.strands",
    "scale_key": "spanalysis.integrate.strands",
    "leaf_themes": "spanalysis.integrate.strands",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value          # looked up once
        return value
    raise AttributeError(f"module 'spanalysis.integrate' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(globals()))
