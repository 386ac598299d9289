"""Study-level outcome analysis: the change tables a report shows, computed from a Study.

:mod:`spanalysis.change` and :mod:`spanalysis.change.sites` work on plain tables; this module applies
them to a :class:`~spanalysis.Study` with the study's own settings (time points, minimum cell
size, primary outcome) so that notebooks, the ``spanalysis change`` command and the report
index all get the same numbers from one call.

Which time points
-----------------
Change is measured between two of the study's time points, ``pre`` and ``post``: by default
the first and the last (``timepoints:`` in ``study.yaml``, in order). Every function here that
compares two time points takes ``pre=`` and ``post=`` (None or ``""`` = the default), checked
by :func:`time_pair`: an unknown time point, or ``pre`` not before ``post``, is an InputError
naming the value and the study's time points. :func:`consecutive_changes` measures change
between each pair of neighbouring time points (t1 to t2, t2 to t3, ...). A pair at which
nobody was scored twice is said in words (:func:`why_no_change`), never shown as a table of
zeros: :func:`change_table` refuses it.

Which scales go where
---------------------
* Questionnaire scales are analysed as paired change (``pre`` against ``post``).
* Goal attainment scaling (``gas``) is summarised as follow-up T-scores against 50, the
  scale's defined expected level (Kiresuk & Sherman 1968), not as paired change.
* Service use (``service_use``) counts are summarised with medians and a signed-rank test
  (counts are not normally distributed; see ``measures.md``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from spanalysis import change
from spanalysis.change import sites
from spanalysis.change.family import FAMILY_RULE, family_size, holm_by_outcome, scale_outcomes
from spanalysis.change.paired import _WITHHELD
from spanalysis.change.pairs import _given, check_min_cell, check_pair
from spanalysis.change.quality import timepoint_label
from spanalysis.errors import InputError

__all__ = ["primary_outcome", "questionnaire_scores", "change_table", "site_table",
           "time_pair", "consecutive_pairs", "consecutive_changes", "CONSECUTIVE_COLUMNS",
           "scale_info_with_study_reliability",
           "site_model", "reliable_change_table", "attrition_sensitivity", "headline",
           "holm_family_size", "secondary_family_size", "FAMILY_RULE", "study_thresholds",
           "rc_settings",
           "NOT_PAIRED", "rc_cutoffs", "THRESHOLD_COLUMNS", "clinical_change_counts",
           "JT_LABELS", "reliable_change_sensitivity", "SENSITIVITY_COLUMNS",
           "sensitivity_counts", "site_effects", "HIERARCHY_COLUMNS",
           "reliable_change_intervals"]

#: instruments summarised in their own way rather than as paired change
NOT_PAIRED = ("gas", "service_use")


def time_pair(study, pre=None, post=None) -> tuple[str, str]:
    """``(pre, post)``: the study's time points change is measured between; None or ``""``
    for the first (``pre``) and the last (``post``). An InputError names a value that is not
    one of the study's time points, or a ``pre`` that does not come before ``post``
    (:func:`spanalysis.change.pairs.check_pair`)."""
    return check_pair(study.timepoints, pre, post)


def consecutive_pairs(study) -> list[tuple[str, str]]:
    """Each pair of neighbouring time points, in order: ``[(t1, t2), (t2, t3), ...]``."""
    tps = [str(t) for t in study.timepoints]
    return list(zip(tps[:-1], tps[1:]))


def primary_outcome(study) -> tuple[str, str]:
    """The study's primary outcome ``(instrument, scale)``: ``primary_outcome`` in
    ``study.yaml``, else WEMWBS total, else SWEMWBS metric, else the first scale scored."""
    if study.manifest.primary_outcome:
        return study.manifest.primary_outcome
    for candidate in (("wemwbs", "total"), ("swemwbs", "metric")):
        if candidate[0] in study.instruments:
            return candidate
    first = study.scale_info.iloc[0]
    return str(first["instrument"]), str(first["scale"])


def questionnaire_scores(study, instruments: list[str] | str | None = None) -> pd.DataFrame:
    """Scores of the questionnaire scales analysed as paired change.

    ``instruments``: a list, a comma-separated string, or None / "all" for every instrument
    except those in :data:`NOT_PAIRED`.
    """
    scores = study.scores
    return scores[scores["instrument"].isin(_chosen(study, instruments))]


def _chosen(study, instruments) -> list[str]:
    """The instruments asked for, each checked to be scored in the study."""
    from spanalysis.errors import InputError

    present = _present_instruments(study.scores)
    chosen = _instrument_list(instruments, present)
    unknown = [i for i in chosen if i not in present]
    if unknown:
        raise InputError("instrument not scored in this study", value=unknown[0],
                         expected="one of " + ", ".join(sorted(set(present) - set(NOT_PAIRED))))
    return chosen


_PRESENT_STEP = 1 << 20   # rows compared at a time by _present_instruments


def _present_instruments(scores: pd.DataFrame) -> list[str]:
    """Instruments with at least one score row, in order of appearance (fast on categoricals)."""
    column = scores["instrument"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.array.codes
        if not len(codes):
            return []
        # The code at each change of value, in order: a handful, however long the table.
        # A million rows at a time, with one buffer (no table-sized temporary), each piece's
        # codes kept in order of first appearance.
        seen = [int(codes[0])]
        step = _PRESENT_STEP
        changed = np.empty(min(step, len(codes)), dtype=bool)
        for a in range(0, len(codes) - 1, step):
            b = min(a + step, len(codes) - 1)
            after = codes[a + 1:b + 1]
            values = after[np.not_equal(after, codes[a:b], out=changed[:b - a])]
            _, first = np.unique(values, return_index=True)
            seen += values[np.sort(first)].tolist()
        return [str(column.cat.categories[c]) for c in dict.fromkeys(seen) if c >= 0]
    return [str(i) for i in pd.unique(column)]


def _instrument_list(instruments, present: list[str]) -> list[str]:
    """The instruments named (or every one of ``present`` for None / "all"), paired ones."""
    if instruments in (None, "", "all"):
        return [i for i in present if i not in NOT_PAIRED]
    if isinstance(instruments, str):
        instruments = [i.strip() for i in instruments.split(",") if i.strip()]
    return [i for i in instruments if i not in NOT_PAIRED]


def change_table(study, instruments=None, confidence: float = 0.95, by: str | None = None,
                 wilcoxon: bool = True, pre=None, post=None) -> pd.DataFrame:
    """:func:`spanalysis.change.paired_change` for the study's questionnaire scales between
    ``pre`` and ``post`` (default first and last time point; :func:`time_pair`), with
    ``p_holm`` over the study's Holm family (:mod:`spanalysis.change.family`: each distinct
    outcome once, tests withheld for small groups counted; within each group with ``by``).

    The outcome hierarchy (issue 23: 7), :data:`HIERARCHY_COLUMNS`: ``outcome_role``
    ('primary' for :func:`primary_outcome`, else 'secondary'); ``p_hierarchy`` (the
    primary's own p, tested alone; the secondaries Holm-adjusted among themselves);
    ``adjustment`` in words; ``change_ci_low_adj, change_ci_high_adj`` (the primary's
    unadjusted interval; Bonferroni intervals for the secondaries, see :func:`_hierarchy`),
    the intervals a display of several outcomes (the joint display's fit) should show.

    An InputError, in plain words, when nobody has a score at both time points on any of the
    scales asked for: such a table would be all zero pairs (:func:`why_no_change` says why in
    a report)."""
    pre, post = time_pair(study, pre, post)
    chosen = _chosen(study, instruments)
    table = _change_table(study, chosen, confidence, by, wilcoxon, pre, post)
    if not int(table["n_pairs"].sum()):
        raise InputError(f"no one has scores at both {pre} and {post} on "
                         f"{', '.join(chosen) or 'any questionnaire'}, so change between "
                         "them cannot be measured", column="pre/post",
                         value=f"{pre} to {post}",
                         expected="two time points at which the same people answered (the "
                                  "study's, in order: " + ", ".join(study.timepoints) + ")")
    return table


def _change_table(study, chosen: list[str], confidence: float, by, wilcoxon: bool, pre: str,
                  post: str) -> pd.DataFrame:
    """:func:`change_table` for checked instruments and time points (zero pairs allowed)."""
    k = check_min_cell(study.min_cell_size)
    # every test computed (min_cell_size 1), adjusted over the whole family, then withheld;
    # the whole score table with the instruments named: no filtered copy of it is made
    table = change.paired_change(study.scores, study.scale_info, study.participants, by=by,
                                 confidence=confidence, min_cell_size=1,
                                 timepoints=study.timepoints, wilcoxon=wilcoxon,
                                 instruments=chosen, pre=pre, post=post)
    keys = list(zip(table["instrument"].astype(str), table["scale"].astype(str)))
    labels = scale_outcomes(study.instruments, keys)
    groups = [np.arange(len(table))] if by is None else \
        list(table.groupby(by, sort=False, observed=True).indices.values())
    p_holm = np.full(len(table), np.nan)
    p = table["p"].to_numpy(float)
    for rows in groups:
        p_holm[rows] = holm_by_outcome(p[rows], [labels[i] for i in rows],
                                       [keys[i] for i in rows])
    table["p_holm"] = p_holm
    _hierarchy(table, keys, labels, groups, primary_outcome(study), confidence)
    small = (table["n_pairs"] < k).to_numpy()
    table.loc[small, _WITHHELD + ["p_holm"] + HIERARCHY_WITHHELD] = np.nan
    table["small_group"] = small
    table.loc[small, "improvement"] = None
    return table


#: columns :func:`change_table` adds for the outcome hierarchy (issue 23: 7)
HIERARCHY_COLUMNS = ["outcome_role", "p_hierarchy", "adjustment", "change_ci_low_adj",
                     "change_ci_high_adj"]
HIERARCHY_WITHHELD = ["p_hierarchy", "change_ci_low_adj", "change_ci_high_adj"]


def _hierarchy(table: pd.DataFrame, keys: list, labels: list, groups: list, primary: tuple,
               confidence: float) -> None:
    """The outcome hierarchy: the primary outcome (``primary_outcome:``) tested alone, the
    secondary outcomes Holm-adjusted as their own family; added to ``table`` in place
    (:data:`HIERARCHY_COLUMNS`). The adjusted interval of a secondary outcome is the
    Bonferroni t interval at 1 - (1 - confidence) / m, m the number of secondary outcomes
    tested (Holm's step-down procedure has no simultaneous intervals of its own; the
    Bonferroni ones are those of its first step, Strassburger & Bretz 2008, Stat Med
    27:4914); the primary outcome keeps its unadjusted interval."""
    from scipy import stats

    p = table["p"].to_numpy(float)
    role = np.array(["primary" if tuple(k) == tuple(primary) else "secondary" for k in keys],
                    dtype=object)
    p_h = np.where(role == "primary", p, np.nan)
    m_of = np.zeros(len(table), dtype=int)
    for rows in groups:
        sec = np.asarray([i for i in rows if role[i] == "secondary"], dtype=int)
        if len(sec):
            p_h[sec] = holm_by_outcome(p[sec], [labels[i] for i in sec],
                                       [keys[i] for i in sec])
            m_of[sec] = family_size(p[sec], [labels[i] for i in sec], [keys[i] for i in sec])
    table["outcome_role"] = role
    table["p_hierarchy"] = p_h
    table["adjustment"] = [
        "none: the primary outcome, tested alone" if r == "primary"
        else f"Holm over the {m} secondary outcome{'s' if m != 1 else ''}" for r, m in
        zip(role, m_of)]
    n = table["n_pairs"].to_numpy(float)
    lo, hi = table["change_ci_low"].to_numpy(float), table["change_ci_high"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(n > 1, n - 1, np.nan)
        q = stats.t.ppf(1 - (1 - confidence) / 2, df)
        se = (hi - lo) / (2 * q)
        level = np.where(role == "primary", confidence,
                         1 - (1 - confidence) / np.maximum(m_of, 1))
        q_adj = stats.t.ppf(1 - (1 - level) / 2, df)
    mid = (lo + hi) / 2
    table["change_ci_low_adj"] = mid - q_adj * se
    table["change_ci_high_adj"] = mid + q_adj * se


def holm_family_size(study, instruments=None, pre=None, post=None) -> int:
    """How many tests the change table's Holm adjustment counts (whole study): the distinct
    outcomes among the questionnaire scales with a test (see :data:`FAMILY_RULE`)."""
    pre, post = time_pair(study, pre, post)
    full = change.paired_change(study.scores, study.scale_info, study.participants,
                                min_cell_size=1, timepoints=study.timepoints, wilcoxon=False,
                                instruments=_chosen(study, instruments), pre=pre, post=post)
    keys = list(zip(full["instrument"].astype(str), full["scale"].astype(str)))
    return family_size(full["p"], scale_outcomes(study.instruments, keys), keys)


def secondary_family_size(study, instruments=None, pre=None, post=None) -> int:
    """m, the number of secondary outcomes in the outcome hierarchy's Holm family (whole
    study, between ``pre`` and ``post``): the questionnaire scales with a test other than
    the primary outcome's, each distinct outcome once (:func:`spanalysis.change.family.
    family_size`), as the ``adjustment`` of :func:`change_table` counts them. The joint
    display judges fit on secondary outcomes with Bonferroni intervals at 1 - alpha / m
    (:func:`spanalysis.integrate.measurement_coverage`)."""
    pre, post = time_pair(study, pre, post)
    full = change.paired_change(study.scores, study.scale_info, study.participants,
                                min_cell_size=1, timepoints=study.timepoints, wilcoxon=False,
                                instruments=_chosen(study, instruments), pre=pre, post=post)
    keys = list(zip(full["instrument"].astype(str), full["scale"].astype(str)))
    primary = tuple(primary_outcome(study))
    sec = [i for i, key in enumerate(keys) if key != primary]
    labels = scale_outcomes(study.instruments, keys)
    return family_size(full["p"].to_numpy(float)[sec], [labels[i] for i in sec],
                       [keys[i] for i in sec])


def site_table(study, instrument: str, scale: str, confidence: float = 0.95, pre=None,
               post=None) -> pd.DataFrame:
    """Per-site paired change for one scale between ``pre`` and ``post`` (default first and
    last time point)."""
    pre, post = time_pair(study, pre, post)
    scores = study.scores
    one = scores[(scores["instrument"] == instrument) & (scores["scale"] == scale)]
    return sites.site_change(one, study.scale_info, study.participants, confidence=confidence,
                             min_cell_size=study.min_cell_size, timepoints=study.timepoints,
                             pre=pre, post=post)


def why_no_change(study, pre=None, post=None) -> str | None:
    """Why change between ``pre`` and ``post`` (default the first and the last time point)
    cannot be measured in ``study``, in plain words, or None when it can.

    Change needs two time points and at least one person with a questionnaire score at both
    (a cross-sectional study, one whose follow-ups are not in yet, or a chosen pair at which
    nobody answered twice, has none): the reports then describe the scores at ``pre``
    (:func:`baseline_table`) instead. A ``pre`` or ``post`` that is not one of the study's
    time points, or a ``pre`` not before ``post``, is an InputError (:func:`time_pair`).

    >>> from spanalysis.study import load_study
    >>> why_no_change(load_study("data/demo")) is None
    True
    """
    chosen = _given(pre) or _given(post)
    if len(study.timepoints) < 2:
        if chosen:
            time_pair(study, pre, post)    # the one-line error naming the value
        base = timepoint_label(study, study.timepoints[0])
        return (f"This study has one time point ({base}), so change cannot be measured; the "
                f"scores at {base} are described instead.")
    pre, post = time_pair(study, pre, post)
    scores = questionnaire_scores(study)
    at = scores[scores["score"].notna() & scores["timepoint"].isin([pre, post])]
    both = at.groupby(["instrument", "scale", "participant_id"], observed=True)[
        "timepoint"].nunique()
    if not (both == 2).any():
        pre, post = timepoint_label(study, pre), timepoint_label(study, post)
        if chosen:
            return (f"No one has questionnaire scores at both {pre} and {post} (the time "
                    f"points chosen), so change between them cannot be measured; the scores "
                    f"at {pre} are described instead.")
        return (f"No one has questionnaire scores at both {pre} and {post} yet, so change "
                f"cannot be measured; the scores at {pre} are described instead.")
    return None


def baseline_table(study, instruments=None, confidence: float = 0.95,
                   timepoint=None) -> pd.DataFrame:
    """Scores at the first time point (or ``timepoint``): one row per questionnaire scale
    with ``instrument, scale, n, mean, sd, ci_low, ci_high, median, q1, q3`` (the t interval
    of the mean at ``confidence``; the description a cross-sectional study gets in place of
    change)."""
    from scipy import stats

    confidence = change.check_confidence(confidence)
    base = study.timepoints[0]
    if _given(timepoint):
        if str(timepoint) not in study.timepoints:
            raise InputError("not one of the study's time points", column="timepoint",
                             value=timepoint, expected="one of " + ", ".join(study.timepoints))
        base = str(timepoint)
    scores = questionnaire_scores(study, instruments)
    first = scores[(scores["timepoint"].astype(str) == base) & scores["score"].notna()]
    rows = []
    for (instrument, scale), g in first.groupby(["instrument", "scale"], observed=True,
                                                sort=False):
        x = g["score"].to_numpy(float)
        n, mean = x.size, float(x.mean())
        sd = float(x.std(ddof=1)) if n > 1 else np.nan
        half = (stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * sd / np.sqrt(n)
                if n > 1 else np.nan)
        rows.append({"instrument": str(instrument), "scale": str(scale), "n": n,
                     "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half,
                     "median": float(np.median(x)), "q1": float(np.quantile(x, 0.25)),
                     "q3": float(np.quantile(x, 0.75))})
    return pd.DataFrame(rows, columns=["instrument", "scale", "n", "mean", "sd", "ci_low",
                                       "ci_high", "median", "q1", "q3"])


def why_no_site_model(study, instrument: str, scale: str, pre=None, post=None) -> str | None:
    """Why the between-site model cannot be fitted, in plain words, or None when it can:
    one site only, or fewer than two sites (or three people) with complete pairs."""
    if len(study.sites) < 2:
        return "This study has one site, so between-site variation is not estimated."
    table = site_table(study, instrument, scale, pre=pre, post=post)
    with_pairs = int((table["n_pairs"] > 0).sum()) if len(table) else 0
    if with_pairs < 2 or int(table["n_pairs"].sum()) < 3:
        return ("Fewer than two sites have people with scores at both time points, so "
                "between-site variation is not estimated.")
    return None


def site_model(study, instrument: str, scale: str, confidence: float = 0.95, pre=None,
               post=None) -> pd.DataFrame:
    """Random-intercept model of change with site as the grouping factor (one row)."""
    pre, post = time_pair(study, pre, post)
    return sites.mixed_model_change(study.scores, study.participants, instrument, scale,
                                    confidence=confidence, timepoints=study.timepoints,
                                    pre=pre, post=post)


def site_effects(study, instrument: str, scale: str, confidence: float = 0.95, pre=None,
                 post=None) -> pd.DataFrame:
    """Each site's shrunken mean change (:func:`spanalysis.change.sites.site_estimates`),
    sites below the study's minimum cell size withheld; for
    :func:`spanalysis.report.site_figures.caterpillar_plot`."""
    pre, post = time_pair(study, pre, post)
    return sites.site_estimates(study.scores, study.participants, instrument, scale,
                                confidence=confidence, min_cell_size=study.min_cell_size,
                                timepoints=study.timepoints, pre=pre, post=post)


def scale_info_with_study_reliability(study) -> pd.DataFrame:
    """``study.scale_info`` where a scale with no published reliability takes the study's
    own Cronbach's alpha at baseline, with a source saying so.

    Jacobson & Truax (1991) need a reliability for every scale classified; the instrument
    definitions only carry values whose published source could be confirmed. For the other
    multi-item scales the study's own internal consistency is the next best estimate, and it
    is labelled as such wherever it is used. Single-item scales have no alpha and stay
    unclassified, and so does a scale whose alpha is not a usable reliability (0 or below,
    as a small sample or items scored in the wrong direction can give; Jacobson & Truax's
    standard error needs 0 < r < 1): its source says why.
    """
    from spanalysis import instruments as ins

    info = study.scale_info.copy()
    if "reliability_kind" not in info.columns:
        info["reliability_kind"] = None
    info["reliability_kind"] = info["reliability_kind"].astype(object)
    missing = info["reliability"].isna()
    if not missing.any():
        return info
    alpha = ins.reliability(study.responses, study.instruments)
    base = alpha[(alpha["timepoint"].astype(str) == study.timepoints[0]) & alpha["alpha"].notna()]
    lookup = base.set_index(["instrument", "scale"])
    for i in info.index[missing]:
        key = (info.at[i, "instrument"], info.at[i, "scale"])
        if key in lookup.index:
            row = lookup.loc[key]
            alpha_value, n = float(row["alpha"]), int(row["n"])
            if not 0 < alpha_value < 1:
                info.at[i, "reliability_source"] = (
                    f"none: this study's Cronbach's alpha at {study.timepoints[0]} is "
                    f"{alpha_value:.2f} (n={n}), not a usable reliability, and the instrument "
                    "definition has no published value; reliable change is not classified")
                continue
            info.at[i, "reliability"] = alpha_value
            info.at[i, "reliability_source"] = (
                f"this study's Cronbach's alpha at {study.timepoints[0]} (n={n}); "
                "no published value in the instrument definition")
            info.at[i, "reliability_kind"] = "study_alpha"
    return info


def reliable_change_table(study, instruments=None, confidence: float = 0.95, whole=None,
                          pre=None, post=None, basis: str = "test_retest"
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Individual reliable change ``(per person, summary)`` with the study's baseline SD and
    the published reliability, or the study's own alpha where none is published (see
    :func:`scale_info_with_study_reliability`); both are shown in every row.

    ``basis`` (issue 23: 3): 'test_retest' (default) uses the published test-retest
    reliability where the definition has one (WEMWBS 0.83, Tennant et al. 2007) and the
    alpha elsewhere; 'alpha' uses the internal consistency throughout (the sensitivity
    analysis, :func:`reliable_change_sensitivity`); 'published' is the same as
    'test_retest'. ``reliability_basis`` says which, per row.

    The clinical cut-off (Jacobson & Truax 1991) takes the referred population from the
    study's own scores at ``pre`` and the functional one from the definition's reference
    norm where it has an SD (criterion c), else there is none (said in ``cutoff_source``); see
    :func:`spanalysis.change.reliable.clinical_criterion`. ``jt_category`` and the summary's
    ``n_recovered, n_improved, n_unchanged, n_deteriorated`` follow from it.

    ``whole``: the whole study when ``study`` is one site of it (``Study.for_site``). The SD,
    the reliability, the cut-off and so the threshold are then the whole study's
    (:func:`study_thresholds`, computed once from everyone), never re-estimated from the
    site, so a person's category is the same in every report (issue 19: 5).

    ``pre``, ``post``: the two time points (default first and last); the SD is then the
    study's SD at ``pre`` (labelled so)."""
    pre, post = time_pair(study, pre, post)
    scores = questionnaire_scores(study, instruments)
    if whole is None or whole is study:
        info = scale_info_with_study_reliability(study)
        rc = change.reliable_change(scores, info, reliability=_basis(basis),
                                    confidence=confidence, timepoints=study.timepoints,
                                    pre=pre, post=post, dysfunctional="baseline")
        _label_sd(rc, study, pre)
    else:
        settings = study_thresholds(whole, instruments, confidence, pre=pre, post=post,
                                    basis=basis)
        sd, reliability = rc_settings(settings)
        # every reliability is the whole study's (a scale missing from the mapping is not
        # classified), so the site's own alpha is not computed
        rc = change.reliable_change(scores, study.scale_info, sd=sd, reliability=reliability,
                                    confidence=confidence, timepoints=study.timepoints,
                                    pre=pre, post=post, dysfunctional=rc_cutoffs(settings))
        keyed = settings.set_index(["instrument", "scale"])
        at = pd.MultiIndex.from_arrays([rc["instrument"].astype(str), rc["scale"].astype(str)])
        for col in ("sd_source", "reliability_source", "reliability_basis", "cutoff_source"):
            rc[col] = keyed[col].reindex(at).to_numpy(object)
    summary = change.reliable_change_summary(rc, min_cell_size=study.min_cell_size)
    return rc, summary


_BASES = {"test_retest": "test_retest", "alpha": "alpha", "published": "published"}


def _basis(basis) -> str:
    if basis not in _BASES:
        raise InputError("unknown reliability basis", column="basis", value=basis,
                         expected="'test_retest', 'alpha' or 'published'")
    return _BASES[basis]


def _label_sd(rc: pd.DataFrame, study, pre: str) -> None:
    """The SD of the scores at ``pre`` is the study's baseline SD only when ``pre`` is the
    first time point: say which time point it is otherwise."""
    if pre != study.timepoints[0] and len(rc):
        rc["sd_source"] = rc["sd_source"].astype(str).str.replace(
            "study baseline SD", f"study SD at {pre}", regex=False)
        rc["cutoff_source"] = rc["cutoff_source"].astype(str).str.replace(
            "this study's baseline", f"this study's scores at {pre}", regex=False)


#: the columns of :func:`study_thresholds`
THRESHOLD_COLUMNS = ["instrument", "scale", "sd_used", "sd_source", "reliability_used",
                     "reliability_source", "threshold", "reliability_basis", "cutoff",
                     "cutoff_criterion", "cutoff_source", "dys_mean_used", "dys_sd_used"]


def study_thresholds(whole, instruments=None, confidence: float = 0.95, pre=None,
                     post=None, basis: str = "test_retest") -> pd.DataFrame:
    """The reliable-change settings of each scale, computed once from the whole study:
    ``instrument, scale, sd_used, sd_source, reliability_used, reliability_source,
    threshold`` (Jacobson & Truax 1991; as :func:`reliable_change_table` on the whole study),
    then ``reliability_basis, cutoff, cutoff_criterion, cutoff_source, dys_mean_used,
    dys_sd_used`` (the clinical cut-off and the referred population behind it).
    Site reports use these, so that a threshold never comes from one site's own SD.
    ``pre``, ``post``, ``basis`` as for :func:`reliable_change_table` (the SD is the one at
    ``pre``).

    The result is kept in the process, keyed on the study's content (its responses, scores
    and scale definitions) and the arguments, so that a worker rendering many site reports of
    one study computes it once; callers get a copy."""
    pre, post = time_pair(whole, pre, post)
    key = _content_key(whole, instruments, confidence, pre, post, basis)
    if key not in _THRESHOLDS_CACHE:
        while len(_THRESHOLDS_CACHE) >= _THRESHOLDS_CACHE_SIZE:
            _THRESHOLDS_CACHE.pop(next(iter(_THRESHOLDS_CACHE)))
        _THRESHOLDS_CACHE[key] = _study_thresholds(whole, instruments, confidence, pre, post,
                                                   basis)
    return _THRESHOLDS_CACHE[key].copy()


_THRESHOLDS_CACHE: dict = {}
_THRESHOLDS_CACHE_SIZE = 16


def _content_key(study, *arguments) -> str:
    """A digest of what a whole-study computation reads: the responses, the scores, the
    scale definitions, the time points, and ``arguments``."""
    import hashlib

    digest = hashlib.sha256()
    for frame in (study.responses, study.scores, study.scale_info.astype(str)):
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        digest.update(repr(list(frame.columns)).encode())
    digest.update(repr((list(study.timepoints), arguments)).encode())
    return digest.hexdigest()


def _study_thresholds(whole, instruments, confidence, pre, post, basis) -> pd.DataFrame:
    rc = change.reliable_change(questionnaire_scores(whole, instruments),
                                scale_info_with_study_reliability(whole),
                                reliability=_basis(basis), confidence=confidence,
                                timepoints=whole.timepoints, pre=pre, post=post,
                                dysfunctional="baseline")
    _label_sd(rc, whole, pre)
    out = rc[THRESHOLD_COLUMNS].drop_duplicates(["instrument", "scale"]).reset_index(drop=True)
    for k in ("instrument", "scale"):
        out[k] = out[k].astype(str)
    return out


def rc_settings(thresholds: pd.DataFrame, published_only: bool = False) -> tuple[dict, dict]:
    """``(sd, reliability)`` mappings ``{(instrument, scale): value}`` of a
    :func:`study_thresholds` table, for the ``sd=`` and ``reliability=`` arguments of
    :func:`spanalysis.change.reliable_change` and the integration displays. With
    ``published_only`` the reliability mapping keeps only published values (the integration
    displays classify only scales with a published reliability)."""
    keys = list(zip(thresholds["instrument"], thresholds["scale"]))
    sd = {k: float(v) for k, v in zip(keys, thresholds["sd_used"]) if np.isfinite(v)}
    own = thresholds["reliability_source"].astype(str).str.startswith("this study's")
    reliability = {k: float(v) for k, v, study_alpha in
                   zip(keys, thresholds["reliability_used"], own)
                   if np.isfinite(v) and not (published_only and study_alpha)}
    return sd, reliability


def rc_cutoffs(thresholds: pd.DataFrame) -> dict:
    """``{(instrument, scale): (mean, sd, source)}`` of the referred population in a
    :func:`study_thresholds` table, for the ``dysfunctional=`` argument of
    :func:`spanalysis.change.reliable_change` (a site report uses the whole study's)."""
    if "dys_mean_used" not in thresholds.columns:
        return {}
    return {(i, s): (float(m), float(sd), "referred: the whole study's baseline")
            for i, s, m, sd in zip(thresholds["instrument"], thresholds["scale"],
                                   thresholds["dys_mean_used"], thresholds["dys_sd_used"])
            if np.isfinite(m) and np.isfinite(sd)}


def attrition_sensitivity(study, instruments=None, confidence: float = 0.95, pre=None,
                          post=None) -> pd.DataFrame:
    """Completers' change beside baseline observation carried forward (the ``pre``
    observation, for a chosen pair)."""
    pre, post = time_pair(study, pre, post)
    return change.sensitivity_bocf(questionnaire_scores(study, instruments), study.scale_info,
                                   confidence=confidence, min_cell_size=study.min_cell_size,
                                   timepoints=study.timepoints, pre=pre, post=post)


def headline(study, confidence: float = 0.95, pre=None, post=None) -> dict:
    """The primary outcome's change between ``pre`` and ``post`` (default first and last
    time point) as plain numbers (for the report index; no signed-rank test, which the index
    does not show). ``pre`` and ``post`` are in the result when change was measured."""
    instrument, scale = primary_outcome(study)
    if instrument not in study.instruments:
        return {"instrument": instrument, "scale": scale, "n_pairs": 0}
    why_not = why_no_change(study, pre, post)
    if why_not:
        return {"instrument": instrument, "scale": scale, "n_pairs": 0,
                "not_measured": why_not}
    pre, post = time_pair(study, pre, post)
    # zero pairs allowed: other instruments may have pairs where the primary outcome has none
    table = _change_table(study, _chosen(study, [instrument]), confidence, None, False, pre,
                          post)
    row = table.query("scale == @scale")
    if row.empty:
        return {"instrument": instrument, "scale": scale, "n_pairs": 0}
    r = row.iloc[0]
    out = {"instrument": instrument, "scale": scale, "n_pairs": int(r["n_pairs"]),
           "small_group": bool(r["small_group"]), "pre": pre, "post": post}
    if not r["small_group"]:
        out.update(change_mean=float(r["change_mean"]), ci_low=float(r["change_ci_low"]),
                   ci_high=float(r["change_ci_high"]), confidence=confidence,
                   sentence=change.describe_change(r, rounding=study.rounding))
    return out


RC_CATEGORIES = ["reliable improvement", "no reliable change", "reliable deterioration"]


def reliable_change_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Reliable-change categories as a count table (rows: scales; columns: the three
    categories and the total ``n``), ready for disclosure control as one table, so that a
    small category is protected against the row total."""
    classified = summary[summary["threshold"].notna()]
    table = pd.DataFrame({label: classified[f"n_{label.replace(' ', '_')}"].to_numpy()
                          for label in RC_CATEGORIES},
                         index=[f"{i} {s}" for i, s in zip(classified["instrument"],
                                                           classified["scale"])])
    table["Total"] = table.sum(axis=1)
    table.index.name = "scale"
    return table.astype(int)


#: Jacobson & Truax's four categories, as :func:`clinical_change_counts` labels them
JT_LABELS = {"recovered": "recovered", "improved": "improved (not recovered)",
             "unchanged": "unchanged", "deteriorated": "deteriorated"}


def clinical_change_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Jacobson & Truax's four categories (recovered, improved, unchanged, deteriorated) as a
    count table, one row per scale with a clinical cut-off, ``Total`` last; like
    :func:`reliable_change_counts`, ready for disclosure control as one table
    (``spanalysis.privacy.disclosure.suppress_counts(table, k, totals="column")``). The row
    label names the criterion (c or a). Scales without a cut-off have no row: say so with
    the summary's ``cutoff_source``."""
    have = summary[summary["cutoff"].notna() & summary["threshold"].notna()] \
        if "cutoff" in summary.columns else summary.iloc[:0]
    table = pd.DataFrame({label: have[f"n_{cat}"].astype(int).to_numpy()
                          for cat, label in JT_LABELS.items()},
                         index=[f"{i} {s} (criterion {c})" for i, s, c in
                                zip(have["instrument"], have["scale"],
                                    have["cutoff_criterion"])])
    table["Total"] = table.sum(axis=1)
    table.index.name = "scale"
    return table.astype(int)


#: columns of :func:`reliable_change_sensitivity`
SENSITIVITY_COLUMNS = ["instrument", "scale", "analysis", "reliability_basis",
                       "reliability_used", "reliability_source", "threshold", "n",
                       "n_reliable_improvement", "n_no_reliable_change",
                       "n_reliable_deterioration", "n_recovered", "n_improved", "n_unchanged",
                       "n_deteriorated", "small_group", "note"]


def reliable_change_sensitivity(study, instruments=None, confidence: float = 0.95,
                                whole=None, pre=None, post=None) -> pd.DataFrame:
    """Reliable change under the main reliability and under the other kind (issue 23: 3).

    Two rows per scale (:data:`SENSITIVITY_COLUMNS`): ``analysis`` 'main' (the published
    test-retest reliability where there is one, else the alpha: :func:`reliable_change_table`
    with ``basis='test_retest'``) and 'sensitivity' (the other kind: Cronbach's alpha where
    the main analysis used test-retest; test-retest where it used an alpha, which for every
    built-in but WEMWBS is not published, so the row has no counts and ``note`` says
    "test-retest reliability not published"). Counts go through the disclosure rule when
    shown (:func:`sensitivity_counts`)."""
    _, main = reliable_change_table(study, instruments, confidence, whole, pre, post,
                                    basis="test_retest")
    _, alt = reliable_change_table(study, instruments, confidence, whole, pre, post,
                                   basis="alpha")
    main = main.assign(analysis="main", note="")
    alt = alt.set_index(["instrument", "scale"])
    rows = []
    for _, r in main.iterrows():          # one row per scale: a handful
        key = (r["instrument"], r["scale"])
        if r["reliability_basis"] == "test_retest" and key in alt.index:
            other = alt.loc[key].copy()
            other["instrument"], other["scale"] = key
            other["analysis"], other["note"] = "sensitivity", (
                "Cronbach's alpha in place of the test-retest reliability")
        else:
            other = pd.Series({"instrument": key[0], "scale": key[1],
                               "analysis": "sensitivity", "reliability_basis": "test_retest",
                               "reliability_used": np.nan,
                               "reliability_source": "not published", "threshold": np.nan,
                               "n": r["n"], "small_group": r["small_group"],
                               "note": "test-retest reliability not published"})
        rows += [r, other]
    out = pd.DataFrame(rows).reindex(columns=SENSITIVITY_COLUMNS).reset_index(drop=True)
    counts = [c for c in SENSITIVITY_COLUMNS if c.startswith("n_")]
    out[counts] = out[counts].astype("Float64").astype("Int64")
    out.loc[out["threshold"].isna(), counts] = pd.NA    # no reliability: nothing classified
    return out


#: the reliability behind a threshold, in words
_BASIS_WORDS = {"test_retest": "test-retest reliability", "alpha": "Cronbach's alpha",
                "cronbach_alpha": "published Cronbach's alpha",
                "study_alpha": "this study's Cronbach's alpha"}


def sensitivity_counts(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """The three reliable-change categories of a :func:`reliable_change_sensitivity` table
    as one count table (rows: scale and reliability, e.g. 'wemwbs total: test-retest
    reliability 0.83';
    ``Total`` last), for disclosure control as one table. Rows with no reliability are
    left out (their ``note`` says why)."""
    have = sensitivity[sensitivity["threshold"].notna()]
    table = pd.DataFrame({label: have[f"n_{label.replace(' ', '_')}"].astype(int).to_numpy()
                          for label in RC_CATEGORIES},
                         index=[f"{i} {s}: {_BASIS_WORDS.get(b, b)} {r:.2f}" for i, s, b, r in
                                zip(have["instrument"], have["scale"],
                                    have["reliability_basis"], have["reliability_used"])])
    table["Total"] = table.sum(axis=1)
    table.index.name = "scale and reliability"
    return table.astype(int)


def reliable_change_intervals(summary: pd.DataFrame, sensitivity: pd.DataFrame | None, k: int,
                              confidence: float = 0.95, rounding: int | None = None
                              ) -> pd.DataFrame:
    """The percentages of people who improved or deteriorated, with Wilson intervals, as a
    report publishes them (issue 23: 4): from the count tables the report shows,
    :func:`reliable_change_counts` (reliable improvement and deterioration), the
    sensitivity rows of :func:`sensitivity_counts` (the other reliability) and
    :func:`clinical_change_counts` (recovered, improved, deteriorated), each through
    :func:`spanalysis.change.proportions.count_table_intervals`: withheld where the count
    or the rest of its row is below ``k``, or where the count table hides the count or its
    total; nothing given when counts are rounded (``rounding``). A main row that the
    sensitivity table also shows is withheld when either table hides it.

    Columns: ``scale, analysis`` ('reliable change', 'sensitivity: other reliability',
    'clinically significant change'), ``category, percent_people, percent_people_ci_low,
    percent_people_ci_high, withheld``."""
    from spanalysis.change.proportions import count_table_intervals

    cats = RC_CATEGORIES[::2]          # reliable improvement, reliable deterioration
    main = count_table_intervals(reliable_change_counts(summary), cats, k, confidence,
                                 rounding).assign(analysis="reliable change")
    parts = [main]
    if sensitivity is not None and len(sensitivity):
        have = sensitivity[sensitivity["threshold"].notna()].reset_index(drop=True)
        other = count_table_intervals(sensitivity_counts(sensitivity), cats, k, confidence,
                                      rounding)
        other = other.rename(columns={"scale and reliability": "scale"})
        role = np.repeat(have["analysis"].to_numpy(object), len(cats))
        plain = np.repeat((have["instrument"].astype(str) + " "
                           + have["scale"].astype(str)).to_numpy(object), len(cats))
        hidden_there = {(s, c) for s, c, w, r in zip(plain, other["category"],
                                                     other["withheld"], role)
                        if w and r == "main"}
        again = np.array([(s, c) in hidden_there for s, c in
                          zip(main["scale"], main["category"])], dtype=bool)
        main.loc[again, ["percent_people", "percent_people_ci_low",
                         "percent_people_ci_high"]] = np.nan
        main.loc[again, "withheld"] = True
        parts.append(other[role == "sensitivity"].assign(
            analysis="sensitivity: other reliability"))
    jt = clinical_change_counts(summary)
    parts.append(count_table_intervals(jt, [JT_LABELS[c] for c in
                                            ("recovered", "improved", "deteriorated")],
                                       k, confidence, rounding).assign(
        analysis="clinically significant change"))
    out = pd.concat(parts, ignore_index=True)
    return out[["scale", "analysis", "category", "percent_people", "percent_people_ci_low",
                "percent_people_ci_high", "withheld"]]


def score_pairs(study, instrument: str, scale: str, pre=None, post=None) -> pd.DataFrame:
    """Each participant's score on one scale at ``pre`` and ``post`` (default the first and
    the last time point), for people with both (the data behind a paired plot)."""
    scores = study.scores
    one = scores[(scores["instrument"] == instrument) & (scores["scale"] == scale)]
    base, final = time_pair(study, pre, post)
    pairs = one.pivot_table(index="participant_id", columns="timepoint", values="score",
                            observed=True).reindex(columns=[base, final]).dropna()
    pairs.columns = ["pre", "post"]
    return pairs


#: the columns of :func:`consecutive_changes`
CONSECUTIVE_COLUMNS = ["pre", "post", "instrument", "scale", "n_pairs", "pre_mean", "post_mean",
                       "change_mean", "change_ci_low", "change_ci_high", "t", "df", "p",
                       "p_holm", "d_z", "direction", "improvement", "small_group",
                       "confidence"]


def consecutive_changes(study, instruments=None, confidence: float = 0.95) -> pd.DataFrame:
    """Change between each pair of neighbouring time points (t1 to t2, t2 to t3, ...): one
    row per pair and questionnaire scale, the pair in ``pre`` and ``post``, with the
    :func:`change_table` columns of :data:`CONSECUTIVE_COLUMNS` (``n_pairs``; the mean change
    with its t interval at ``confidence``; the paired t-test; ``p_holm`` adjusted within the
    pair, over the same family as the main change table; statistics withheld below the
    study's minimum cell size, ``small_group``).

    A pair at which nobody answered twice has no rows: :func:`why_no_change` with that pair
    says so in words. Fewer than two time points: an empty table."""
    chosen = _chosen(study, instruments)
    confidence = change.check_confidence(confidence)
    parts = []
    for pre, post in consecutive_pairs(study):
        table = _change_table(study, chosen, confidence, None, False, pre, post)
        if not int(table["n_pairs"].sum()):
            continue        # nobody answered at both: said in words, not a row of zeros
        table.insert(0, "pre", pre)
        table.insert(1, "post", post)
        parts.append(table[CONSECUTIVE_COLUMNS])
    if not parts:
        return pd.DataFrame(columns=CONSECUTIVE_COLUMNS)
    return pd.concat(parts, ignore_index=True)
