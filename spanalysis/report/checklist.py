"""Reporting checklists: where the reports answer each item (issue 23, item 8).

GRAMMS, Good Reporting of A Mixed Methods Study (O'Cathain, Murphy & Nicholl 2008, J Health
Serv Res Policy 13:92), has six items; report 04 ends with them and the place in the reports
that answers each. Report 02 ends with the TREND items (Des Jarlais, Lyles, Crepaz & the TREND
Group 2004, Am J Public Health 94:361) that apply to an uncontrolled before-and-after
evaluation: the ones about attrition, regression to the mean, the missing comparison group,
the outcomes and their analysis. An item the study's data cannot answer (no interviews, one
time point) says so instead of pointing to a section that is not there.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["gramms", "trend"]


def _material(study) -> tuple[bool, bool, bool]:
    """(has interviews, has coding, has change) for the study."""
    from spanalysis.change import outcomes

    q = study.qualitative
    interviews = q is not None and bool((q.sources["source_type"] == "interview").any())
    coding = q is not None and len(q.segments) > 0
    return interviews, coding, outcomes.why_no_change(study) is None


def gramms(study) -> pd.DataFrame:
    """The six GRAMMS items with where the reports answer them: columns ``item, asks,
    answered_in``."""
    interviews, coding, change = _material(study)
    qual = ("Report 03: the codebook, who voiced each theme, agreement between coders"
            if coding else "Not applicable: the study's qualitative material is not coded")
    integration = ("This report: measurement coverage, statistics by theme, the side-by-side "
                   "display with its fit, case-level convergence and divergence"
                   if interviews and change else
                   "Not possible here: integration needs coded interviews and change on the "
                   "questionnaires, and this study "
                   + ("has no change to compare" if interviews else "has no interviews"))
    rows = [
        ("1", "Why mixed methods were used",
         "This report's opening: do the measured changes capture what people say they "
         "gained?"),
        ("2", "The design: purpose, priority and sequence of the methods",
         "Report 01 (who was referred, followed up and interviewed) and this report's "
         "“About this report”"),
        ("3", "Each method's sampling, data collection and analysis",
         "Report 01 (participant flow, questionnaire timing, missing answers); report 02 "
         "(change, its handling of missing follow-ups); " + qual),
        ("4", "Where, how and by whom integration happened", integration),
        ("5", "Any limitation of one method caused by the other",
         "Report 01's completers and non-completers; this report's measurement coverage "
         "(benefits no questionnaire item reflects)" if change else
         "Report 01: change cannot be measured, so the interviews cannot be set against it"),
        ("6", "The insights gained from integrating",
         "This report's main points and the fit of each theme (converges, diverges, not "
         "measured)" if interviews and change else "Not available for this study (item 4)"),
    ]
    return pd.DataFrame(rows, columns=["item", "asks", "answered_in"])


def trend(study) -> pd.DataFrame:
    """The TREND items that apply to an uncontrolled before-and-after evaluation, with where
    report 02 (and 01) answers them: columns ``item, asks, answered_in``."""
    _, _, change = _material(study)
    here = "This report" if change else "Not available: change cannot be measured here"
    rows = [
        ("Outcomes", "Primary and secondary outcomes, and how multiple outcomes are handled",
         f"{here}: “Change on each scale” (the primary outcome tested alone, the secondary "
         "outcomes Holm-adjusted)"),
        ("Design", "The comparison made and the lack of a control group",
         "Every report's main points (the caveat) and “About this report”"),
        ("Participant flow", "Numbers referred, followed up and analysed",
         "Report 01: participant flow and reach by site"),
        ("Missing data", "How missing follow-ups were handled, with sensitivity analyses",
         f"{here}: “Missing follow-ups” (multiple imputation, completers, baseline carried "
         "forward, tipping point)"),
        ("Baseline equivalence", "Baseline comparison of those analysed and those lost",
         "Report 01: completers and non-completers at baseline"),
        ("Regression to the mean", "Whether change could be regression to the mean",
         f"{here}: “Regression to the mean”"),
        ("Estimates", "Effect sizes with intervals",
         f"{here}: the change table and the tests in full"),
        ("Clustering", "Analysis of clustering by site",
         f"{here}: “Sites” (random-intercept model, ICC with its interval)"),
    ]
    return pd.DataFrame(rows, columns=["item", "asks", "answered_in"])
