"""The "Main points" that open every report and the index: three to six plain sentences.

Each report opens, as an ONS statistical bulletin does, with a short list of sentences that
answer its question with the numbers (``/work/shared/reference/reporting.md``, "Answer first"):
the size of the change with its interval and what it means against the minimal important
difference (MID), how many people improved reliably, which themes people described and
whether the questionnaires cover them, and what the data cannot say (attrition, no control
group). Every sentence is built from the package's results for the study in hand; none is
canned except the before-and-after caveat, which is always true of this design.

The builders return ``[(topic, sentence), ...]`` in plain text (not Markdown): the topic
names what the sentence is about (``change``, ``reliable``, ``themes``, ``coverage``,
``fit``, ``divergent``, ``flow``, ``attrition``, ``caveat``, ...) so that the index can pick
the sentences it needs from the summaries the notebooks write. :func:`show_main_points`
escapes each sentence (:func:`~spanalysis.report.display.escape_markdown`: theme and
instrument names come from the user's files) and shows the list under a "Main points"
heading.

Privacy: every count in a sentence goes through the rule of the tables, by the same
functions: :func:`~spanalysis.report.display.count_text` (1 to k-1 is "fewer than k",
rounded to ``privacy.rounding``) and, where a report's table shows the same counts, the
cells that table hides (:func:`spanalysis.privacy.disclosure.suppress_counts` with the table's
own settings) are hidden in the sentence too.

The figures under the main points are in :mod:`spanalysis.report.main_figures`.
"""
from __future__ import annotations

import math
import warnings
from typing import Iterable

import numpy as np
import pandas as pd

from spanalysis.privacy import disclosure
from spanalysis.report.display import count_text, escape_markdown, format_value, percent_text

__all__ = ["show_main_points", "outcome_change", "data_quality", "qualitative",
           "integration", "site", "index_points", "outcome_name", "change_sentence",
           "reliable_sentence", "attrition_sentence", "themes_sentence", "coverage_sentence",
           "fit_sentences", "mostly_suppressed", "mostly_suppressed_sentence",
           "site_suppression_notes", "baseline_sentence", "caveat", "site_headline",
           "unclassified_sentence", "CAVEAT", "MAX_POINTS"]

#: the most sentences a list holds (ONS bulletins: up to six main points)
MAX_POINTS = 6

#: what a non-randomised before-and-after evaluation cannot say, in every list
CAVEAT = ("This is a before-and-after comparison with no control group: it describes change "
          "among the people measured and cannot show that the link workers caused it.")

Points = list  # of (topic, sentence)


# --------------------------------------------------------------------------- showing

def show_main_points(points, *, show: bool = True) -> str:
    """Show a "Main points" heading and the sentences as a bullet list.

    ``points``: ``[(topic, sentence), ...]`` as the builders return, or plain sentences.
    Each sentence is escaped (:func:`~spanalysis.report.display.escape_markdown`), so a
    theme or site name from the user's files is shown as text. With ``show=False`` the
    Markdown is returned instead of displayed.

    >>> print(show_main_points([("change", "Scores rose by 5.3 points."), "A [link](x)."],
    ...                        show=False))
    ## Main points
    <BLANKLINE>
    - Scores rose by 5&#46;3 points&#46;
    - A &#91;link&#93;&#40;x&#41;&#46;
    """
    sentences = [p[1] if isinstance(p, (tuple, list)) else p for p in points]
    text = "## Main points\n\n" + "\n".join(f"- {escape_markdown(s)}" for s in sentences
                                           if s)
    if not show:
        return text
    from IPython.display import Markdown, display

    display(Markdown(text))
    return None


def caveat(study) -> str:
    """What the design cannot say: :data:`CAVEAT`, or for a study with one time point, that
    it cannot show change at all."""
    if len(study.timepoints) < 2:
        return ("These data describe people at one time point, with no control group: they "
                "cannot show change, or what caused it.")
    return CAVEAT


def _finish(points: Iterable, study=None) -> Points:
    """The sentences given (None dropped), at most :data:`MAX_POINTS`, the caveat last."""
    points = [(topic, text[:1].upper() + text[1:]) for topic, text in
              (p for p in points if p and p[1])]
    given = [p for p in points if p[0] == "caveat"]
    rest = [p for p in points if p[0] != "caveat"]
    last = given[:1] or [("caveat", CAVEAT if study is None else globals()["caveat"](study))]
    return rest[:MAX_POINTS - 1] + last


# --------------------------------------------------------------------------- words and numbers

def _label(study, timepoint) -> str:
    """A time point as sentences name it: its ``label:`` in study.yaml, else its id."""
    from spanalysis.change.quality import timepoint_label

    return timepoint_label(study, timepoint)


def _one(value) -> str:
    """A number to one decimal (never "0.0" for a value that is not zero).

    >>> _one(5.336), _one(0.04), _one(-2.0)
    ('5.3', '< 0.1', '-2.0')
    """
    return format_value(float(value), 1)


def signed_number(value) -> str:
    """A change to one decimal with its sign (a true minus sign): "+0.4", "\u22120.5", "0.0".

    >>> signed_number(0.44), signed_number(-0.5), signed_number(0.0)
    ('+0.4', '\u22120.5', '0.0')
    """
    text = _one(value)
    text = "+" + text if value > 0 and text[0].isdigit() and text != "0.0" else text
    return text.replace("-", "\u2212")


def _mid_text(mid: float) -> str:
    """3.0 -> "3", 2.87 -> "2.87"."""
    return f"{mid:g}"


def outcome_name(study, instrument: str, scale: str) -> str:
    """The name of a scale for a sentence, from the instrument definition (never an id).

    The instrument's name for its main scale ("the Warwick-Edinburgh Mental Wellbeing Scale
    (WEMWBS)"), else the scale's name with the instrument's; the ids when the study has no
    definition of it.

    >>> from spanalysis.study import load_study
    >>> s = load_study("data/demo")
    >>> outcome_name(s, "wemwbs", "total")
    'the Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS)'
    >>> outcome_name(s, "ons4", "anxious")
    'Anxiety yesterday (0-10, lower is better) on the ONS4 personal well-being questions'
    """
    inst = study.instruments.get(instrument) if hasattr(study.instruments, "get") else None
    if inst is None:
        return f"{instrument} {scale}"
    if scale == inst.primary_scale.id or len(inst.scales) == 1:
        return f"the {inst.name}"
    try:
        return f"{inst.scale(scale).name} on the {inst.name}"
    except Exception:
        return f"{scale} on the {inst.name}"


def outcome_title(study, instrument: str, scale: str) -> str:
    """:func:`outcome_name` for a heading or a label: no leading article.

    >>> from spanalysis.study import load_study
    >>> outcome_title(load_study("data/demo"), "wemwbs", "total")
    'Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS)'
    """
    name = outcome_name(study, instrument, scale)
    return name[4:] if name.startswith("the ") else name


def scale_facts(study, instrument: str, scale: str) -> dict:
    """Direction and MID of a scale from the study's scale table."""
    info = study.scale_info
    row = info[(info["instrument"].astype(str) == instrument)
               & (info["scale"].astype(str) == scale)]
    if row.empty:
        return {"direction": "higher", "mid": math.nan}
    r = row.iloc[0]
    mid = pd.to_numeric(pd.Series([r.get("mid")]), errors="coerce").iloc[0]
    return {"direction": str(r.get("direction") or "higher"),
            "mid": float(mid) if pd.notna(mid) else math.nan}


# --------------------------------------------------------------------------- change

def change_sentence(study, headline: dict, *, where: str = "", rounding=None) -> str:
    """The primary outcome's mean change in one sentence, direction-aware, with its interval
    and, when a MID is published, what the change means against it.

    ``headline`` is :func:`spanalysis.change.outcomes.headline` (or a report summary's copy
    of it: its ``n_pairs`` may be the text "<k"). ``where`` starts the sentence ("At
    Riverside PCN, ").

    >>> from spanalysis.study import load_study
    >>> s = load_study("data/demo")
    >>> change_sentence(s, {"instrument": "wemwbs", "scale": "total", "n_pairs": 226,
    ...     "small_group": False, "change_mean": 5.34, "ci_low": 4.47, "ci_high": 6.21,
    ...     "confidence": 0.95})[:120]
    'Scores on the Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS) rose by 5.3 points on average (95% CI 4.5 to 6.2) among '
    """
    k = study.min_cell_size
    rounding = study.rounding if rounding is None else rounding
    instrument, scale = str(headline.get("instrument")), str(headline.get("scale"))
    name = outcome_name(study, instrument, scale)
    subject = f"{where}scores on {name}" if where else f"Scores on {name}"
    if headline.get("not_measured"):
        return str(headline["not_measured"])
    if headline.get("withheld") == "complementary":
        return (f"{where or 'Here, '}the change on {name} is not shown: its number of people is "
                "hidden in the whole-study table by site, so that a smaller site's number "
                "cannot be worked out.")
    n = headline.get("n_pairs", 0)
    if headline.get("change_mean") is None or headline.get("small_group"):
        if n in (0, None):
            return (f"No one has scores on {name} at both time points, so its change is not "
                    "reported.")
        return (f"Fewer than {k} people have scores on {name} at both time points, so its "
                "change is not reported." if isinstance(n, str) or int(n) < k else
                f"The change on {name} could not be estimated from these data.")
    mean, low, high = (float(headline[c]) for c in ("change_mean", "ci_low", "ci_high"))
    if not all(np.isfinite([mean, low, high])):
        return f"The change on {name} could not be estimated from these data."
    level = f"{round(100 * float(headline.get('confidence') or 0.95))}% CI"
    base = _label(study, headline.get("pre") or study.timepoints[0])
    final = _label(study, headline.get("post") or study.timepoints[-1])
    # the people with a score at both time points: fewer than those who answered both
    # questionnaires when some answers are incomplete (a score needs its items)
    among = (f"among the {count_text(n, k, rounding)} people with scores at both {base} "
             f"and {final}")
    facts = scale_facts(study, instrument, scale)
    lower_better = facts["direction"] == "lower"
    sign = -1.0 if lower_better else 1.0
    imp_low, imp_high = min(sign * low, sign * high), max(sign * low, sign * high)
    imp = sign * mean
    if low <= 0 <= high:
        text = (f"{subject} changed little on average: the mean change was {signed_number(mean)} "
                f"points ({level} {signed_number(low)} to {signed_number(high)}) {among}, an interval that "
                "includes no change")
    else:
        verb = "rose" if mean > 0 else "fell"
        a, b = sorted([abs(low), abs(high)])
        text = f"{subject} {verb} by {_one(abs(mean))} points on average ({level} {_one(a)} " \
               f"to {_one(b)}) {among}"
        if lower_better:
            text += (", an improvement, as lower scores are better" if imp > 0 else
                     ", a worsening, as lower scores are better")
        elif imp < 0:
            text += ", a worsening"
    mid = facts["mid"]
    if not np.isfinite(mid):
        return text + ". No minimal important difference is published for this scale, so " \
                      "whether the change is large enough for people to notice cannot be " \
                      "judged against one."
    m = f"the {_mid_text(mid)}-point change people notice as important (the minimal " \
        "important difference)"
    if low <= 0 <= high:
        return text + (f"; so any average change is smaller than {m}." if imp_high < mid else
                       f"; it is too wide to tell whether the change reaches {m}.")
    elif imp_low >= mid:
        clause = f"more than {m}"
    elif imp >= mid:
        clause = f"on average more than {m}, though the interval reaches below it"
    elif imp_high < mid:
        clause = f"less than {m}"
    else:
        clause = f"on average less than {m}, though the interval reaches beyond it"
    return f"{text}: {clause}."


def baseline_sentence(study, instrument: str, scale: str, confidence: float = 0.95,
                      timepoint=None) -> str | None:
    """The mean score at the first time point (or ``timepoint``), for a study where change
    cannot be measured."""
    from spanalysis.change import outcomes

    k = study.min_cell_size
    timepoint = timepoint or study.timepoints[0]
    try:
        table = outcomes.baseline_table(study, [instrument], confidence, timepoint=timepoint)
    except Exception:  # the primary instrument is not scored (one-instrument studies)
        return None
    row = table[table["scale"] == scale]
    if row.empty:
        return None
    r = row.iloc[0]
    name = outcome_name(study, instrument, scale)
    if int(r["n"]) < k:
        return f"Fewer than {k} people have a score on {name}, so no mean is reported."
    return (f"At {_label(study, timepoint)}, the mean score on {name} was {_one(r['mean'])} "
            f"({round(100 * confidence)}% CI {_one(r['ci_low'])} to {_one(r['ci_high'])}) "
            f"among {count_text(int(r['n']), k, study.rounding)} people.")


def reliable_sentence(study, *, whole=None, instruments=None, confidence: float = 0.95,
                      primary=None, pre=None, post=None) -> str | None:
    """How many people's change on the primary outcome was reliable (Jacobson & Truax 1991).

    The counts are those of report 02's table "People in each reliable change category"
    (:func:`spanalysis.change.outcomes.reliable_change_counts`, protected as one table with
    its column of totals), so a count that table hides is hidden here too. ``whole``: the
    whole study, for a site (its thresholds are used, as every report does). None when change
    cannot be measured.
    """
    from spanalysis.change import outcomes

    if outcomes.why_no_change(study, pre, post):
        return None
    instrument, scale = primary or outcomes.primary_outcome(study)
    name = outcome_name(study, instrument, scale)
    if instrument in outcomes.NOT_PAIRED or instrument not in study.instruments:
        return None
    k = study.min_cell_size
    _, summary = outcomes.reliable_change_table(study, instruments, confidence, whole=whole,
                                                pre=pre, post=post)
    row = summary[(summary["instrument"].astype(str) == instrument)
                  & (summary["scale"].astype(str) == scale)]
    if row.empty:
        return None
    r = row.iloc[0]
    if pd.isna(r["threshold"]) or not np.isfinite(float(r["threshold"])):
        return (f"Individual change on {name} is not classified as reliable or not: no "
                "reliability is available to judge measurement error against.")
    counts = outcomes.reliable_change_counts(summary)
    label = f"{instrument} {scale}"
    total = int(counts.loc[label, "Total"])
    if total < k:
        return (f"Fewer than {k} people have scores on {name} at both time points, so no one "
                "is counted as changing reliably.")
    with warnings.catch_warnings():  # report 02 shows (and warns about) the same table
        warnings.simplefilter("ignore", disclosure.DisclosureWarning)
        shown = disclosure.suppress_counts(counts, k, totals="column",
                                           rounding=study.rounding)
    shown = shown.loc[label]

    def value(col):
        v = str(shown[col])
        return int(v.replace(",", "")) if v.replace(",", "").isdigit() else v

    n_all, better, worse = value("Total"), value(outcomes.RC_CATEGORIES[0]), \
        value(outcomes.RC_CATEGORIES[2])
    parts, hidden = [], []
    for n, words in ((better, "improved by more than measurement error alone would explain "
                              "(a reliable improvement)"),
                     (worse, "got reliably worse")):
        if n == disclosure.COMPLEMENTARY_MARKER:
            hidden.append(words.split(" (")[0].replace("improved by more", "improved by more"))
        else:
            parts.append(f"{percent_text(n, n_all, k)} {words}")
    text = f"Of the {count_text(n_all, k)} people with scores on {name} at both time points, " \
        + (" and ".join(parts) if parts else "no category can be given")
    if hidden:
        text += ("; how many " + " or ".join(hidden) + " is not shown, so that a small "
                 "number cannot be worked out from the total")
    return text + "."


# --------------------------------------------------------------------------- reach

def attrition_sentence(study, referred, pairs, pre=None, post=None) -> str:
    """How many of the people referred have the scores change is measured on; ``referred``
    and ``pairs`` are counts or a report's published text for them ("<k", "[c]"); ``pre``
    and ``post``: the time points compared (default the first and the last)."""
    k, rounding = study.min_cell_size, study.rounding
    base = _label(study, pre or study.timepoints[0])
    final = _label(study, post or study.timepoints[-1])
    if referred == disclosure.COMPLEMENTARY_MARKER:
        return ("How many people were referred here, and how many were followed up, is not "
                "shown, so that another site's small number cannot be worked out from the "
                "totals.")
    if isinstance(referred, str) or 0 < int(referred) < k:
        return (f"Fewer than {k} people were referred here, so how many were followed up is "
                "not shown.")
    people = count_text(referred, k, rounding)
    if len(study.timepoints) < 2:
        return (f"{people[:1].upper() + people[1:]} people were referred; their answers at "
                f"{base} are described, and there is no later time point to compare them with.")
    if pairs in (0, None):
        return (f"{people[:1].upper() + people[1:]} people were referred, and no one has "
                f"answered at both {base} and {final} yet, so no one can be followed up.")
    if pairs == disclosure.COMPLEMENTARY_MARKER:
        return (f"Of the {people} people referred, how many answered at both {base} and "
                f"{final} is not shown, so that another site's small number cannot be worked "
                "out; change is measured only among people followed up.")
    return (f"Of the {people} people referred, "
            f"{percent_text(pairs, referred, k, rounding)} answered at both {base} and {final}; "
            "change is measured only among people followed up, and those lost to follow-up "
            "may have fared differently.")


# --------------------------------------------------------------------------- themes

def _series_list(names: list[str], conjunction: str = "and") -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def _lower_first(label) -> str:
    """A theme name inside a sentence: "Offering hope" -> "offering hope" (an acronym or a
    name such as "GP access" or "NHS" is kept).

    >>> _lower_first("Offering hope"), _lower_first("GP access"), _lower_first("A")
    ('offering hope', 'GP access', 'A')
    """
    text = str(label)
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def unclassified_sentence(study, summary: pd.DataFrame) -> str | None:
    """The scales of a reliable-change ``summary`` (:func:`spanalysis.change.outcomes.
    reliable_change_table`) that nobody is classified on, by name, each with why: a single
    item or no reliability at all, or the study's own alpha that is not a usable reliability
    (:func:`~spanalysis.change.outcomes.scale_info_with_study_reliability` says so). None
    when every scale is classified. ``study``: the whole study the thresholds came from."""
    from spanalysis.change import outcomes
    from spanalysis.report.glossary import scale_name

    rows = summary[summary["threshold"].isna()]
    if rows.empty:
        return None
    sources = outcomes.scale_info_with_study_reliability(study).set_index(
        ["instrument", "scale"])["reliability_source"]
    plain = "single items, or no published reliability and no alpha"
    reasons: dict[str, list[str]] = {}
    for r in rows.itertuples():
        source = sources.get((str(r.instrument), str(r.scale)))
        reason = (source.removeprefix("none: ").removesuffix(
            "; reliable change is not classified")
            if isinstance(source, str) and source.startswith("none: ") else plain)
        name = scale_name(str(r.instrument), str(r.scale))
        if name == str(r.scale):   # not a built-in scale: say whose it is
            name = f"{r.instrument} {r.scale}"
        reasons.setdefault(reason, []).append(name)
    return "Not classified: " + "; ".join(f"{', '.join(names)} ({reason})"
                                          for reason, names in reasons.items()) + "."


def _why_no_themes(study) -> str | None:
    q = study.qualitative
    if q is None:
        return ("This study has no qualitative material, so what people said they gained is "
                "not reported.")
    if len(q.segments) == 0:
        return "No interview or other source has been coded yet, so there are no themes to report."
    if not bool((q.sources["source_type"] == "interview").any()):
        return ("The qualitative material has no interviews, only observation notes and "
                "documents, so no one is counted as describing a benefit.")
    return None


def voiced_counts(study, *, coder=None) -> tuple[pd.DataFrame, pd.Series, int]:
    """People who voiced each theme in interview, as report 03's table shows them:
    ``(table, shown, interviewed)``: the counts by theme name (``people``, most voiced first),
    the same counts as published (small ones "<k", under the study's rounding) and the
    number of people interviewed (0 when no interview is linked to a participant)."""
    from spanalysis.qual import themes

    q = study.qualitative
    freq = themes.code_frequencies(q.segments, q.sources, coder=coder,
                                   source_types=["interview"])
    names = q.codebook.set_index("id")["name"]
    table = pd.DataFrame({"people": freq["participants"].to_numpy()},
                         index=freq["code_id"].map(names).astype(str))
    table = table.sort_values("people", ascending=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", disclosure.DisclosureWarning)
        text = disclosure.suppress_counts(table, study.min_cell_size, totals="none",
                                          rounding=study.rounding)
    interviewed = int(freq["group_participants"].max()) if len(freq) else 0
    return table, text["people"], interviewed


def themes_sentence(study, *, coder=None, site_name: str | None = None, whole=None,
                    top: int = 3, interviewed=None, counts=None) -> str:
    """The themes most people described in interview, each with its count of people.

    Whole study: the counts of report 03's table "People who voiced each theme (interviews)",
    protected as that table is. A site (``site_name`` with ``whole``): that site's column of
    the whole-study table by site, hiding what that table hides
    (:func:`spanalysis.report.site_content.site_theme_counts`; ``counts``: that table when
    the report has it already). Themes whose count is hidden are not named with a count.
    """
    why = _why_no_themes(study)
    if why and site_name is not None and whole is not None and whole.qualitative is not None:
        return (f"No coded interview at {site_name} is linked to a participant, so no one "
                "here is counted as describing a benefit.")
    if why:
        return why
    k, rounding = study.min_cell_size, study.rounding
    if site_name is not None:
        from spanalysis.report.site_content import site_theme_counts

        if counts is None:
            counts = site_theme_counts(whole, site_name, coder=coder)
        people = counts.set_index("theme")["n_voiced"].astype(int)
        shown = counts.set_index("theme")["published"]
        hidden = counts.set_index("theme")["hidden"].astype(bool) | ((people > 0)
                                                                    & (people < k))
        interviewed = len(study.interviewed) if interviewed is None else interviewed
    else:
        table, shown, interviewed = voiced_counts(study, coder=coder)
        people = table["people"].astype(int)
        hidden = ~shown.astype(str).str.replace(",", "").str.fullmatch(r"\d+")
    if interviewed in (0, None):
        return ("The interviews are not linked to participants, so no one is counted as "
                "describing a theme.")
    visible = people[~hidden.reindex(people.index).fillna(True).astype(bool) & (people > 0)]
    visible = visible.sort_values(ascending=False, kind="stable").head(top)
    where = f" at {site_name}" if site_name else ""
    if visible.empty:
        return (f"No theme was described by {k} or more of the "
                f"{count_text(interviewed, k, rounding)} people interviewed{where}, so no "
                "theme is named with a count.")
    parts = [f"{_lower_first(t)} "
             f"({count_text(int(str(shown[t]).replace(',', '')), k)}"
             + (f" of the {count_text(interviewed, k, rounding)} people interviewed)" if i == 0
                else ")") for i, t in enumerate(visible.index)]
    return f"In interviews{where}, people most often described {_series_list(parts)}."


def coverage_sentence(study, *, crosswalk=None) -> str | None:
    """Which benefit themes no questionnaire item of the study covers (the crosswalk), so
    that the questionnaires could not show them; None without qualitative material."""
    if study.qualitative is None:
        return None
    from spanalysis.integrate.crosswalk import read_crosswalk

    try:
        cw = read_crosswalk(study, crosswalk)
    except Exception:  # a crosswalk the integration report explains; nothing to say here
        return None
    if cw.empty:
        return None
    covered = cw.groupby("theme", sort=False)["collected"].any()
    labels = cw.drop_duplicates("theme").set_index("theme")["theme_label"].astype(str)
    missing = [_lower_first(labels[t]) for t in covered.index if not covered[t]]
    if not missing:
        return (f"Each of the {len(covered)} benefit themes is covered by at least one "
                "questionnaire item in this study.")
    if len(missing) == len(covered):
        return ("No questionnaire item in this study covers any of the benefit themes, so the "
                "questionnaires could not show these benefits even if people gained them.")
    return (f"No questionnaire item in this study covers {_series_list(missing, 'or')}, so the "
            f"questionnaires could not show {'this benefit' if len(missing) == 1 else 'these benefits'}"
            f"; {len(covered) - len(missing)} of the {len(covered)} benefit themes are covered.")


def fit_sentences(sbs: pd.DataFrame) -> list:
    """Whether the questionnaires capture the benefits people described: the fit verdicts of
    :func:`spanalysis.integrate.side_by_side` (confirmation, discordance, expansion, not
    assessable) as two sentences, the themes named."""
    if sbs is None or sbs.empty:
        return []
    by = {f: [_lower_first(t) for t in sbs.loc[sbs["fit"] == f, "theme_label"]]
          for f in ("confirmation", "discordance", "expansion", "not assessable")}
    n = len(sbs)
    out = []
    measured = []
    if by["confirmation"]:
        measured.append(f"people who described {_series_list(by['confirmation'])} also "
                        "improved more on the questionnaire items that cover "
                        f"{'it' if len(by['confirmation']) == 1 else 'them'} (confirmation)")
    if by["discordance"]:
        measured.append(f"for {_series_list(by['discordance'])} the covering items did not "
                        "show the people who described "
                        f"{'it' if len(by['discordance']) == 1 else 'them'} improving more "
                        "(discordance)")
    if by["not assessable"]:
        measured.append(f"for {_series_list(by['not assessable'])} the groups are too small "
                        "to compare")
    if measured:
        out.append(("fit", f"Of the {n} benefit themes, " + "; ".join(measured) + "."))
    if by["expansion"]:
        out.append(("coverage", "No questionnaire item covers "
                                f"{_series_list(by['expansion'], 'or')}: "
                                "what people gained there is described only in the interviews "
                                "(expansion)."))
    return out


# --------------------------------------------------------------------------- the reports

def outcome_change(study, *, whole=None, instruments=None, confidence: float = 0.95,
                   pre=None, post=None) -> Points:
    """Main points of report 02 (outcome change): the change on the primary outcome against
    its MID, reliable change, attrition and the design's caveat.

    ``study`` is the report's scope (``full_study.for_site(site)``), ``whole`` the whole
    study (its reliable-change thresholds are used, as report 02 does); ``instruments``,
    ``confidence``, ``pre`` and ``post`` are report 02's parameters (empty ``pre`` /
    ``post``: the first and the last time point).
    """
    from spanalysis.change import outcomes, quality

    h = outcomes.headline(study, confidence, pre or None, post or None)
    points = [("change", change_sentence(study, h))]
    if h.get("not_measured"):
        points.append(("baseline", baseline_sentence(study, h["instrument"], h["scale"],
                                                     confidence, pre or None)))
    points.append(("reliable", reliable_sentence(study, whole=whole, instruments=instruments,
                                                 confidence=confidence, pre=pre or None,
                                                 post=post or None)))
    referred, pairs = _flow_numbers(study, quality.flow_counts(study))
    first, last = study.timepoints[0], study.timepoints[-1]
    if len(study.timepoints) > 1 and ((pre or first), (post or last)) != (first, last):
        # the pair compared, not the first and last: the people who answered at both of them
        answered = quality.responded(study)
        pairs = int((answered[f"answered_{pre or first}"]
                     & answered[f"answered_{post or last}"]).sum())
    points.append(("attrition", attrition_sentence(study, referred, pairs, pre or None,
                                                   post or None)))
    return _finish(points, study)


def _flow_numbers(study, flow: pd.DataFrame):
    from spanalysis.change import quality

    referred = int(flow["n"].iloc[0])
    both = flow["stage"] == quality.both_stage(study)
    pairs = int(flow.loc[both, "n"].iloc[0]) if both.any() else 0
    return referred, pairs


def data_quality(study) -> Points:
    """Main points of report 01 (data quality and reach): the flow from referral to follow-up,
    interviews, whether completers differed at baseline, validation warnings, the caveat."""
    from spanalysis.change import outcomes, quality

    k, rounding = study.min_cell_size, study.rounding
    flow = quality.flow_counts(study, interviewed=quality.counted_interviews(study))
    referred, pairs = _flow_numbers(study, flow)
    points = [("attrition", attrition_sentence(study, referred, pairs))]
    interviewed = len(study.interviewed)
    if study.qualitative is None:
        points.append(("interviews", "No one was interviewed: the study has no qualitative "
                                     "material."))
    else:
        points.append(("interviews", f"Of the {count_text(referred, k, rounding)} people "
                       f"referred, {percent_text(interviewed, referred, k, rounding)} were "
                       "interviewed." if interviewed else
                       "No interview is linked to a participant, so no one is counted as "
                       "interviewed."))
    if outcomes.why_no_change(study) is None:
        comparison = quality.baseline_completer_comparison(study)
        clear = comparison[(comparison["difference_ci_low"] > 0)
                           | (comparison["difference_ci_high"] < 0)]
        if clear.empty:
            points.append(("completers", "People who answered at follow-up did not clearly "
                           "differ at baseline from those who did not, on any scale (every "
                           "interval includes zero)."))
        else:
            keys = [(str(r.instrument), str(r.scale)) for r in clear.itertuples()]
            primary = outcomes.primary_outcome(study)
            first = primary if primary in keys else keys[0]
            what = ("the primary outcome, " if first == primary else "") + \
                outcome_name(study, *first)
            others = len(keys) - 1
            points.append(("completers", "People who answered at follow-up differed at "
                           f"baseline from those who did not on {what}"
                           + (f" and {others} other scale{'s' if others != 1 else ''}"
                              if others else "")
                           + ", so change among them may not describe everyone referred."))
    n_warn = len(study.warnings)
    points.append(("validation", "Every file passed validation without warnings." if not n_warn
                   else f"Every file passed validation; {n_warn} warning"
                        f"{'s are' if n_warn != 1 else ' is'} listed for the analyst."))
    return _finish(points, study)


def qualitative(study, *, coder=None, crosswalk=None) -> Points:
    """Main points of report 03 (qualitative benefits): the themes most people described,
    whether the questionnaires cover the benefit themes, how the material was gathered, and
    the caveat that interviews describe, not count, what changed (with no qualitative
    material: that there is none, and where the questionnaire results are)."""
    q = study.qualitative
    points = [("themes", themes_sentence(study, coder=coder))]
    if q is not None:
        kinds = q.sources["source_type"].value_counts()
        points.append(("sources", "The material is "
                       + _series_list([f"{n} {t}{'s' if n != 1 else ''}"
                                       for t, n in kinds.items()]) + "."))
        points.append(("coverage", coverage_sentence(study, crosswalk=crosswalk)))
        points.append(("limits", "The interviews tell what people gained in their own words; "
                       "how many people voiced a theme depends on who was interviewed and what "
                       "they were asked, so it is not a rate for everyone referred."))
    else:   # what a reader who came here for the questionnaires should open instead
        points.append(("elsewhere", "The questionnaire results are in the reports Outcome "
                       "change (report 02) and Data quality and reach (report 01)."))
    return _finish(points, study)


def integration(study, *, sbs=None, cases=None, primary=None, why_not=None,
                ready: bool = True) -> Points:
    """Main points of report 04 (integration): which benefit themes the questionnaires
    confirm, miss or contradict (fit), the divergent cases, and the caveat of small groups.

    ``sbs``: :func:`spanalysis.integrate.side_by_side`; ``cases``:
    :func:`spanalysis.integrate.case_level` (both as the report computed them); ``why_not``:
    why change cannot be measured; ``ready``: whether there are linked interviews.
    """
    k, rounding = study.min_cell_size, study.rounding
    points = []
    if why_not:
        points.append(("change", why_not + " So there is no change to set beside what people "
                                           "said."))
    elif not ready:
        # what the numbers show, since there is nothing to set beside them
        from spanalysis.change import outcomes

        points.append(("change", change_sentence(study, outcomes.headline(study, 0.95))))
    if not why_not and not ready and study.qualitative is not None:  # else "themes" says why
        points.append(("fit", "No interview in this scope is linked to a participant, so what "
                              "people said cannot be set beside their questionnaire scores."))
    points.append(("themes", themes_sentence(study)))
    if not why_not and ready and sbs is not None:
        points += fit_sentences(sbs)
    if not why_not and ready and cases is not None and len(cases):
        counts = (cases.groupby(["classification", "divergence"], dropna=False).size()
                  .rename("people").reset_index())
        counts["group"] = counts["classification"].fillna("not classified") + \
            counts["divergence"].astype(object).fillna("").map(lambda d: f" ({d})" if d else "")
        table = counts.set_index("group")[["people"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", disclosure.DisclosureWarning)
            shown = disclosure.suppress_counts(table, k, totals="none", rounding=rounding)
        shown = shown["people"]

        def num(group):
            v = str(shown.get(group, "0")).replace(",", "")
            return int(v) if v.isdigit() else v
        pos, neg = num("divergent (positive)"), num("divergent (negative)")
        if pos == 0 and neg == 0:
            points.append(("divergent", "No interviewed person's account and score tell "
                                        "different stories on the primary outcome."))
        else:
            said = {"described two or more benefits without a reliable improvement on the "
                    "primary outcome": pos,
                    "improved reliably without describing a benefit": neg}
            shown = [f"{count_text(n, k)} {what}" for what, n in said.items()
                     if n != disclosure.COMPLEMENTARY_MARKER]
            hidden = [what for what, n in said.items() if n == disclosure.COMPLEMENTARY_MARKER]
            text = ("Among the interviewed people, " + " and ".join(shown) if shown else
                    "Some interviewed people's accounts and scores tell different stories")
            if hidden:
                text += ("; how many " + " or ".join(hidden) + " is not shown, so that a "
                         "small number cannot be worked out")
            points.append(("divergent", text + " (divergent cases, listed for follow-up)."))
    n_int = len(study.interviewed)
    if why_not or not ready:
        return _finish(points, study)
    points.append(("caveat", "The groups compared are small (only the "
                   f"{count_text(n_int, k, rounding)} people interviewed) and there is no "
                   "control group, so the differences are signals to explore, not proof of "
                   "what the link workers caused."))
    return _finish(points, study)


def site_headline(whole, site_name: str, flow: pd.DataFrame, confidence: float = 0.95) -> dict:
    """The site's change on the primary outcome as its report shows it: the headline of
    :func:`spanalysis.change.outcomes.headline`, or, when the whole-study table by site hides
    the site's number of pairs (to protect a smaller site), only ``withheld: "complementary"``
    (the change table would print the hidden number). ``flow``:
    :func:`spanalysis.report.site_content.site_flow` of the site, indexed by stage."""
    from spanalysis.change import outcomes, quality

    s = whole.for_site(site_name)
    flow = flow.set_index("stage") if "stage" in flow.columns else flow
    stage = quality.both_stage(s)
    hidden = (stage in flow.index and bool(flow.at[stage, "hidden"])
              and int(flow.at[stage, "n"]) >= whole.min_cell_size)
    if hidden and not outcomes.why_no_change(s):
        instrument, scale = outcomes.primary_outcome(s)
        return {"instrument": instrument, "scale": scale, "n_pairs": flow.at[stage, "published"],
                "withheld": "complementary"}
    return outcomes.headline(s, confidence)


def site(whole, site_name: str, *, confidence: float = 0.95, headline: dict | None = None,
         flow: pd.DataFrame | None = None, study_headline: dict | None = None,
         theme_counts: pd.DataFrame | None = None) -> Points:
    """Main points of a site report: the site's change (or why it is not shown) beside the
    whole study's, reliable change, themes voiced at the site, coverage, reach, caveat.

    ``headline``, ``flow``, ``study_headline`` and ``theme_counts``: what the site report
    computed (its headline with ``withheld`` when the pairs are hidden;
    :func:`spanalysis.report.site_content.site_flow`; the whole study's
    :func:`spanalysis.change.outcomes.headline`;
    :func:`spanalysis.report.site_content.site_theme_counts`), so that the sentences show
    exactly what the report's tables and figures show; each is computed here when not given.
    """
    from spanalysis.change import outcomes, quality
    from spanalysis.report.site_content import site_flow

    s = whole.for_site(site_name)
    if flow is None:
        flow = site_flow(whole, site_name)
    flow = flow.set_index("stage") if "stage" in flow.columns else flow
    h = headline if headline is not None else site_headline(whole, site_name, flow, confidence)
    points = [("change", change_sentence(s, h, where=f"At {site_name}, "))]
    if h.get("not_measured"):
        points.append(("baseline", baseline_sentence(s, h["instrument"], h["scale"],
                                                     confidence)))
    else:
        study_h = (study_headline if study_headline is not None
                   else outcomes.headline(whole, confidence))
        if study_h.get("change_mean") is not None:
            points.append(("study", f"Across the whole study the mean change was "
                           f"{signed_number(study_h['change_mean'])} points "
                           f"({round(100 * confidence)}% CI {signed_number(study_h['ci_low'])} to "
                           f"{signed_number(study_h['ci_high'])})."))
        if h.get("withheld") is None and h.get("change_mean") is not None:
            points.append(("reliable", reliable_sentence(s, whole=whole, confidence=confidence)))
    interviewed = flow.at["Interviewed", "published"] if "Interviewed" in flow.index else 0
    points.append(("themes", themes_sentence(s, site_name=site_name, whole=whole,
                                             interviewed=interviewed, counts=theme_counts)))
    stage = quality.both_stage(s)
    pairs = flow.at[stage, "published"] if stage in flow.index else 0
    points.append(("attrition", attrition_sentence(s, flow.at["Referred", "published"], pairs)))
    return _finish(points, s)


# --------------------------------------------------------------------------- the index

def index_points(summaries: dict, study) -> Points:
    """Main points of the index page, from the summaries the whole-study notebooks wrote.

    ``summaries`` maps a notebook name (``01_data_quality`` ...) to its summary (already
    protected: counts 1 to k-1 are "<k"). Each notebook may carry its own main points
    (``main_points``: topic -> sentence); the index takes the change from report 02 (built
    here from its ``primary`` headline when report 02 wrote no sentences), reliable change
    from 02, themes from 03, the fit of the two strands from 04 (else coverage from 03) and
    the reach from 02 (it follows report 02's pair of time points), else from 01.
    """
    def said(name, topic):
        return ((summaries.get(name) or {}).get("main_points") or {}).get(topic)

    points = []
    primary = (summaries.get("02_outcome_change") or {}).get("primary")
    change = said("02_outcome_change", "change")
    if change is None and primary:
        change = change_sentence(study, primary)
    points.append(("change", change))
    points.append(("reliable", said("02_outcome_change", "reliable")))
    points.append(("themes", said("03_qualitative_benefits", "themes")))
    # whether the questionnaires capture the themes: one point (the fit of the covered themes
    # and the themes no item covers), so that the list keeps to six
    capture = [said("04_integration", "fit"),
               said("04_integration", "coverage") or said("03_qualitative_benefits", "coverage")]
    points.append(("fit", " ".join(c for c in capture if c) or None))
    quality = summaries.get("01_data_quality") or {}
    # report 02's, which follows its pair of time points (the same as report 01's for the
    # first and the last), else report 01's
    attrition = said("02_outcome_change", "attrition") or said("01_data_quality", "attrition")
    if attrition is None and "referred" in quality:
        attrition = attrition_sentence(study, quality["referred"], quality.get("pairs", 0))
    points.append(("attrition", attrition))
    return _finish(points, study)


# --------------------------------------------------------------------------- site reports

def mostly_suppressed(shown: Iterable) -> bool:
    """Whether most cells of a count table would be hidden (shown as "<k" or "[c]").

    Zeros are not counted either way (a zero is shown, but says nothing). Such a table is
    replaced by a sentence (reporting.md: "A table that is mostly suppressed cells is
    replaced by a sentence saying so").

    >>> mostly_suppressed(["<5", "[c]", "12", "0"]), mostly_suppressed(["<5", "12", "20"])
    (True, False)
    """
    cells = [str(v) for v in shown]
    nonzero = [c for c in cells if c != "0"]
    hidden = [c for c in nonzero if not c.replace(",", "").isdigit()]
    return bool(nonzero) and len(hidden) > len(nonzero) / 2


def mostly_suppressed_sentence(what: str, labels: Iterable, shown: Iterable, k: int) -> str:
    """The sentence that replaces a mostly suppressed table: what it would have shown, the
    cells that can be shown, and why the rest cannot (plain text).

    >>> mostly_suppressed_sentence("themes voiced at Hillview", ["Hope", "Trust"],
    ...                            ["<5", "12"], 5)[:71]
    'Most counts of the table of themes voiced at Hillview would be hidden, '
    """
    pairs = [(str(lab), str(v)) for lab, v in zip(labels, shown)]
    visible = [f"{lab} ({v})" for lab, v in pairs if v.replace(",", "").isdigit() and v != "0"]
    return (f"Most counts of the table of {what} would be hidden, so it is not shown. "
            + (f"The counts that can be shown: {'; '.join(visible)}. " if visible else "")
            + f"The others are fewer than {k} people, or are hidden so that another site's "
              "small number cannot be worked out.")


def site_suppression_notes(study, site_name: str, *, flow: pd.DataFrame,
                           theme_counts: pd.DataFrame, headline: dict) -> list[str]:
    """What a site report does not show, and why, one sentence each (plain text)."""
    k = study.min_cell_size
    notes = []
    flow = flow.reset_index() if "stage" not in flow.columns else flow
    small = [str(r.stage) for r in flow.itertuples() if 0 < int(r.n) < k]
    forced = [str(r.stage) for r in flow.itertuples()
              if bool(r.hidden) and int(r.n) >= k]
    if small:
        notes.append(f"Participant flow: {len(small)} of {len(flow)} stages have fewer than "
                     f"{k} people and are shown as \"<{k}\" ({_series_list(small)}).")
    if forced:
        notes.append(f"Participant flow: {_series_list(forced)} "
                     f"{'is' if len(forced) == 1 else 'are'} hidden (\"[c]\") because the "
                     "whole-study table by site hides it, so that a smaller site's count "
                     "cannot be worked out.")
    if headline.get("withheld") == "complementary":
        notes.append("Change on the primary outcome: withheld, because its number of people "
                     "is hidden in the whole-study table by site.")
    elif headline.get("small_group"):
        notes.append(f"Change on the primary outcome: withheld, because fewer than {k} people "
                     "answered at both time points.")
    if len(theme_counts):
        n = theme_counts["n_voiced"].astype(int)
        small_t = int(((n > 0) & (n < k)).sum())
        forced_t = int((theme_counts["hidden"].astype(bool) & (n >= k)).sum())
        if small_t:
            notes.append(f"Themes: {small_t} of {len(theme_counts)} themes were voiced by "
                         f"fewer than {k} people here and their counts are not shown.")
        if forced_t:
            notes.append(f"Themes: {forced_t} more theme count"
                         f"{'s are' if forced_t != 1 else ' is'} hidden because the "
                         "whole-study table by site hides them.")
    if study.qualitative is not None:
        notes.append(f"Joint display: comparisons of people who voiced a theme with those who "
                     f"did not are withheld where either group has fewer than {k} people.")
    if not [n for n in notes if not n.startswith("Joint display")]:
        notes.insert(0, f"No count in this report is below {k}; nothing else is hidden.")
    return notes
