"""The "Main points" that open every report and the index (issue 22, items 1 and 3).

The sentences' numbers are checked against independent computations on the raw files
(scipy's paired t-test on WEMWBS totals summed from the responses CSV, as test_outcomes.py
does; the Jacobson & Truax threshold worked by hand; theme counts from segments.csv), the
wording against hand-checked phrases, and every builder on several study shapes of
test_study_shapes.py (one time point, no qualitative data, no interviews, a site of three
people, a lower-is-better primary outcome, a primary outcome without a MID).
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO
from scipy import stats
from test_study_shapes import (lower_is_better_primary, manifest, no_interviews,
                               no_mid_primary, no_qualitative, one_timepoint, read_csv,
                               suppressed_site, three_timepoints, write_csv)

from spanalysis import integrate, load_study
from spanalysis.change import outcomes
from spanalysis.report import main_figures, main_points
from spanalysis.report.main_points import CAVEAT, change_sentence

WEMWBS = [f"wemwbs_{i}" for i in range(1, 15)]
#: a count of people from 1 to 4 printed in a sentence (the demo's k is 5)
SMALL = re.compile(r"\b[1-4] (people|person|interviewed)\b|\b[1-4] \(\d+%\)")


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def _copy(tmp_path, replace=None):
    folder = tmp_path / "study"
    shutil.copytree(DEMO, folder)
    if replace:
        path = folder / "study.yaml"
        text = path.read_text(encoding="utf-8")
        assert replace[0] in text
        path.write_text(text.replace(*replace), encoding="utf-8")
    return folder


def _raw_wemwbs(folder=DEMO):
    raw = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    raw["total"] = raw[WEMWBS].sum(axis=1, min_count=14)  # complete responses only
    return raw.pivot(index="participant_id", columns="timepoint", values="total")


def texts(points):
    return [text for _, text in points]


# --------------------------------------------------------------------------- the change

def test_change_sentence_matches_scipy_on_raw_sums(demo):
    wide = _raw_wemwbs()
    pairs = wide[["baseline", "followup"]].dropna()
    ref = stats.ttest_rel(pairs["followup"], pairs["baseline"])
    ci = ref.confidence_interval(0.95)
    mean = float((pairs["followup"] - pairs["baseline"]).mean())
    points = main_points.outcome_change(demo, whole=demo)
    change = dict(points)["change"]
    assert change.startswith(
        f"Scores on the Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS) rose by {mean:.1f} "
        f"points on average (95% CI {ci.low:.1f} to {ci.high:.1f}) among the {len(pairs)} "
        "people with scores at both baseline and followup")
    assert (mean, round(ci.low, 1), round(ci.high, 1), len(pairs)) == (
        pytest.approx(5.336, abs=1e-3), 4.5, 6.2, 226)
    # the interval lies above the published MID of 3 points (Maheswaran et al. 2012)
    assert ci.low > 3
    assert "more than the 3-point change people notice as important" in change
    assert points[-1] == ("caveat", CAVEAT)
    assert 3 <= len(points) <= 6


def test_report_02s_pre_and_post_are_the_pair_described(tmp_path):
    folder = tmp_path / "study"
    three_timepoints(folder)
    # three people answered at followup and six months but not at baseline, so that the
    # pairs (followup, six_months) and (baseline, six_months) differ
    path = folder / "responses.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    later = raw.loc[raw["timepoint"] == "six_months", "participant_id"].iloc[:3]
    raw = raw[~(raw["participant_id"].isin(later) & (raw["timepoint"] == "baseline"))]
    raw.to_csv(path, index=False)
    study = load_study(folder)
    wide = _raw_wemwbs(folder)
    for pre, post in (("baseline", "followup"), ("", ""), ("baseline", "six_months")):
        a, b = pre or "baseline", post or "six_months"
        pairs = wide[[a, b]].dropna()
        ci = stats.ttest_rel(pairs[b], pairs[a]).confidence_interval(0.95)
        change = dict(main_points.outcome_change(study, whole=study, pre=pre, post=post))
        assert f"(95% CI {ci.low:.1f} to {ci.high:.1f}) among the {len(pairs)} people with " \
               f"scores at both {a} and {b}" in change["change"], (pre, post)
    # the attrition point follows the pair too: people who answered any item at both,
    # counted here from the raw responses file
    raw = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    items = [c for c in raw.columns if c not in ("participant_id", "timepoint",
                                                  "completed_date")]
    answered = raw[raw[items].notna().any(axis=1)].groupby("participant_id")["timepoint"]
    seen = answered.agg(set)
    referred = len(pd.read_csv(folder / "participants.csv"))
    for pre, post in (("followup", "six_months"), ("", "")):
        a, b = pre or "baseline", post or "six_months"
        both = int(seen.map(lambda tps: {a, b} <= tps).sum())
        points = dict(main_points.outcome_change(study, whole=study, pre=pre, post=post))
        assert points["attrition"].startswith(
            f"Of the {referred} people referred, {both} ({100 * both / referred:.0f}%) "
            f"answered at both {a} and {b};"), (pre, post, points["attrition"])
    # six_months repeats followup's answers (the shape's construction): no change at all,
    # so no interval can be computed, and the sentence says so
    assert (wide["six_months"] - wide["followup"]).dropna().eq(0).all()
    change = dict(main_points.outcome_change(study, whole=study, pre="followup",
                                             post="six_months"))
    assert change["change"] == ("The change on the Warwick-Edinburgh Mental Wellbeing Scale "
                                "(WEMWBS) could not be estimated from these data.")


HEAD = {"instrument": "wemwbs", "scale": "total", "n_pairs": 40, "small_group": False,
        "confidence": 0.95}


@pytest.mark.parametrize("numbers, phrase", [
    ((5.34, 4.47, 6.21), "rose by 5.3 points on average (95% CI 4.5 to 6.2) among the 40 "
                         "people with scores at both baseline and followup: more than the "
                         "3-point change"),
    ((3.6, 0.2, 6.9), ": on average more than the 3-point change people notice as important "
                      "(the minimal important difference), though the interval reaches below "
                      "it."),
    ((1.0, 0.5, 1.5), ": less than the 3-point change"),
    ((2.5, 1.0, 4.0), ": on average less than the 3-point change people notice as important "
                      "(the minimal important difference), though the interval reaches "
                      "beyond it."),
    ((0.4, -0.5, 1.3), "changed little on average: the mean change was +0.4 points (95% CI "
                       "\u22120.5 to +1.3) among the 40 people with scores at both baseline "
                       "and followup, an interval that includes no change; so any average "
                       "change is smaller than the 3-point change"),
    ((3.2, -1.7, 8.2), "; it is too wide to tell whether the change reaches the 3-point"),
    ((-2.0, -3.0, -1.0), "fell by 2.0 points on average (95% CI 1.0 to 3.0) among the 40 "
                         "people with scores at both baseline and followup, a worsening: "
                         "less than the 3-point change"),
])
def test_change_sentence_phrases(demo, numbers, phrase):
    h = dict(HEAD, change_mean=numbers[0], ci_low=numbers[1], ci_high=numbers[2])
    assert phrase in change_sentence(demo, h)


def test_lower_is_better_scale_improves_when_it_falls_and_no_mid_is_said(demo):
    h = {"instrument": "ucla3", "scale": "total", "n_pairs": 48, "small_group": False,
         "change_mean": -0.9, "ci_low": -1.3, "ci_high": -0.5, "confidence": 0.95}
    text = change_sentence(demo, h)
    assert text.startswith("Scores on the Three-item UCLA Loneliness Scale")
    assert ("fell by 0.9 points on average (95% CI 0.5 to 1.3) among the 48 people with "
            "scores at both baseline and followup, an improvement, as lower scores are "
            "better.") in text
    assert text.endswith("No minimal important difference is published for this scale, so "
                         "whether the change is large enough for people to notice cannot be "
                         "judged against one.")
    assert "ucla3" not in text  # the instrument's name, never its id


def test_small_or_hidden_numbers_of_pairs_are_never_printed(demo):
    small = change_sentence(demo, dict(HEAD, n_pairs=3, small_group=True))
    assert small == ("Fewer than 5 people have scores on the Warwick-Edinburgh Mental "
                     "Wellbeing Scale (WEMWBS) at both time points, so its change is not "
                     "reported.")
    assert "3" not in small
    assert "Fewer than 5" in change_sentence(demo, dict(HEAD, n_pairs="<5", small_group=True))
    hidden = change_sentence(demo, dict(HEAD, n_pairs="[c]", withheld="complementary"),
                             where="At Hillview PCN, ")
    assert hidden.startswith("At Hillview PCN, the change on the Warwick-Edinburgh") \
        and "not shown" in hidden and "[c]" not in hidden


def test_sentences_name_time_points_by_their_labels(tmp_path):
    """study.yaml's ``label:`` of a time point, not its id, in the main points' prose."""
    folder = _copy(tmp_path, ("- id: followup\n", "- id: followup\n  label: 3 months\n"))
    study = load_study(folder)
    assert study.timepoint_label("followup") == "3 months"
    assert study.timepoint_label("baseline") == "baseline"     # no label: the id
    points = dict(main_points.outcome_change(study, whole=study))
    assert "people with scores at both baseline and 3 months" in points["change"]
    assert "answered at both baseline and 3 months" in points["attrition"]
    assert "followup" not in points["change"] + points["attrition"]


def test_counts_are_rounded_as_the_tables_are(tmp_path):
    study = load_study(_copy(tmp_path, ("min_cell_size: 5", "min_cell_size: 5\n  rounding: 5")))
    assert study.rounding == 5
    points = dict(main_points.outcome_change(study, whole=study))
    assert "among the 225 people" in points["change"]          # 226 to the nearest 5
    assert "Of the 400 people referred, 270 (68%)" in points["attrition"]
    assert not re.search(r"\b226\b", " ".join(points.values()))


def test_reliable_change_counts_match_jacobson_truax_by_hand(tmp_path):
    # the demo with WEMWBS only and k = 2, so that every count of the one-row table is shown;
    # the threshold from the baseline SD of every complete WEMWBS total and the published
    # reliability r (Jacobson & Truax 1991): 1.96 * SD * sqrt(2) * sqrt(1 - r)
    folder = _copy(tmp_path, ("min_cell_size: 5", "min_cell_size: 2"))
    responses = read_csv(folder / "responses.csv")
    write_csv(responses[["participant_id", "timepoint", "completed_date"] + WEMWBS],
              folder / "responses.csv")
    manifest(folder, lambda m: m.update(instruments=["wemwbs"]))
    study = load_study(folder)
    # the reliability is a published one of the definition: Cronbach's alpha 0.91 or the
    # one-week test-retest 0.83 (both Tennant et al. 2007), whichever the package judges by
    _, summary = outcomes.reliable_change_table(study)
    reliability = float(summary.set_index("scale").loc["total", "reliability_used"])
    assert reliability in (0.91, 0.83)
    wide = _raw_wemwbs()
    sd = float(wide["baseline"].dropna().std(ddof=1))
    threshold = 1.96 * sd * np.sqrt(2) * np.sqrt(1 - reliability)
    change = (wide["followup"] - wide["baseline"]).dropna()
    better, worse = int((change > threshold).sum()), int((change < -threshold).sum())
    n = len(change)
    text = main_points.reliable_sentence(study)
    assert text == (f"Of the {n} people with scores on the Warwick-Edinburgh Mental Wellbeing "
                    f"Scale (WEMWBS) at both time points, {better} ({100 * better / n:.0f}%) "
                    "improved by more than measurement error alone would explain (a reliable "
                    f"improvement) and {worse} ({100 * worse / n:.0f}%) got reliably worse.")


def test_reliable_change_hides_what_report_02s_table_hides(demo):
    # at k = 5 the demo's table hides its deteriorations (fewer than 5) and, to protect
    # them, the improvements: the sentence gives neither number
    from spanalysis.privacy import disclosure

    _, summary = outcomes.reliable_change_table(demo)
    counts = outcomes.reliable_change_counts(summary)
    shown = disclosure.suppress_counts(counts, 5, totals="column").loc["wemwbs total"]
    text = main_points.reliable_sentence(demo)
    assert shown["reliable deterioration"] == "<5" and shown["reliable improvement"] == "[c]"
    improved = int(counts.loc["wemwbs total", "reliable improvement"])
    assert str(improved) not in text
    assert "fewer than 5 (percentage withheld) got reliably worse" in text
    assert "how many improved by more than measurement error alone would explain is not shown" \
        in text


# --------------------------------------------------------------------------- themes

def test_themes_sentence_counts_people_in_interviews_from_the_raw_files(demo):
    qual = DEMO / "qualitative"
    sources = pd.read_csv(qual / "sources.csv", dtype=str)
    segments = pd.read_csv(qual / "segments.csv", dtype=str)
    codebook = demo.qualitative.codebook.set_index("id")["name"]
    interviews = sources[sources["source_type"] == "interview"]
    coded = segments.merge(interviews[["source_id", "participant_id"]], on="source_id")
    people = coded.groupby("code_id")["participant_id"].nunique().rename(index=codebook)
    people = people.sort_values(ascending=False, kind="stable")
    top = people.head(3)
    text = main_points.themes_sentence(demo)
    n_interviewed = interviews["participant_id"].nunique()
    first, second, third = top.index
    assert text == (f"In interviews, people most often described {first[0].lower()}{first[1:]} "
                    f"({top.iloc[0]} of the {n_interviewed} people interviewed), "
                    f"{second[0].lower()}{second[1:]} ({top.iloc[1]}) and "
                    f"{third[0].lower()}{third[1:]} ({top.iloc[2]}).")
    assert text.startswith("In interviews, people most often described being listened to "
                           "(41 of the 60 people interviewed)")


def test_coverage_and_fit_name_the_themes_no_questionnaire_covers(demo):
    assert main_points.coverage_sentence(demo).startswith(
        "No questionnaire item in this study covers changing family dynamics or "
        "re-establishing trust in statutory services")
    sbs = integrate.side_by_side(demo, quotes=0)
    fit = dict(main_points.fit_sentences(sbs))
    confirmed = sbs.loc[sbs["fit"] == "confirmation", "theme_label"]
    assert len(confirmed) and all(main_points._lower_first(t) in fit["fit"] for t in confirmed)
    assert "(expansion)" in fit["coverage"] and "changing family dynamics" in fit["coverage"]


def test_theme_names_from_the_codebook_are_escaped_when_shown(demo):
    text = main_points.show_main_points(
        [("themes", "People described [hope](https://e.x) <b>often</b>."), ("a", "B."),
         ("caveat", CAVEAT)], show=False)
    lines = text.splitlines()
    assert lines[0] == "## Main points" and lines[1] == ""
    assert len([line for line in lines if line.startswith("- ")]) == 3
    assert "[hope](" not in text and "<b>" not in text and "&#91;hope&#93;" in text


# --------------------------------------------------------------------------- the reports

def test_every_demo_report_has_three_to_six_points_with_the_caveat_last(demo):
    sbs = integrate.side_by_side(demo, quotes=0)
    cases = integrate.case_level(demo)
    lists = {"01": main_points.data_quality(demo), "02": main_points.outcome_change(demo),
             "03": main_points.qualitative(demo),
             "04": main_points.integration(demo, sbs=sbs, cases=cases),
             "site": main_points.site(demo, "Riverside PCN")}
    for name, points in lists.items():
        assert 3 <= len(points) <= main_points.MAX_POINTS, name
        assert points[-1][0] == "caveat", name
        assert all(text[0].isupper() and text.endswith(".") for text in texts(points)), name
        assert not SMALL.search(" ".join(texts(points))), name
    assert "25 interviewed" not in " ".join(texts(lists["04"]))
    divergent = dict(lists["04"])["divergent"]
    n_positive = int((cases["divergence"] == "positive").sum())
    assert f"{n_positive} described two or more benefits" in divergent


def test_site_points_beside_the_whole_study(demo):
    points = dict(main_points.site(demo, "Riverside PCN"))
    whole = outcomes.headline(demo)
    site = outcomes.headline(demo.for_site("Riverside PCN"))
    assert points["change"].startswith(
        f"At Riverside PCN, scores on the Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS) "
        f"rose by {site['change_mean']:.1f} points")
    assert points["study"] == (f"Across the whole study the mean change was "
                               f"+{whole['change_mean']:.1f} points (95% CI "
                               f"+{whole['ci_low']:.1f} to +{whole['ci_high']:.1f}).")
    fig, alt = main_figures.site_against_study_figure(demo, "Riverside PCN", site)
    assert f"+{site['change_mean']:.1f} points" in alt and f"+{whole['change_mean']:.1f}" in alt
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        f"Riverside PCN ({site['n_pairs']} people)", f"Whole study ({whole['n_pairs']} people)"]
    withheld = {"instrument": "wemwbs", "scale": "total", "n_pairs": "[c]",
                "withheld": "complementary"}
    fig, alt = main_figures.site_against_study_figure(demo, "Riverside PCN", withheld)
    assert "Riverside PCN: withheld" in alt
    assert fig.axes[0].get_yticklabels()[0].get_text() == "Riverside PCN"


def test_mostly_suppressed_site_tables_and_what_is_not_shown(demo):
    from spanalysis import report

    themes = report.site_theme_counts(demo, "Riverside PCN")
    assert main_points.mostly_suppressed(themes["published"])  # most are "<5"
    sentence = main_points.mostly_suppressed_sentence("themes voiced at Riverside PCN",
                                                      themes["theme"], themes["published"], 5)
    shown = themes[themes["published"].map(lambda v: isinstance(v, int) and v > 0)]
    for row in shown.itertuples():
        assert f"{row.theme} ({row.published})" in sentence
    assert "<5" not in sentence
    flow = report.site_flow(demo, "Riverside PCN")
    assert not main_points.mostly_suppressed(flow["shown"])
    notes = main_points.site_suppression_notes(demo, "Riverside PCN", flow=flow,
                                               theme_counts=themes,
                                               headline=outcomes.headline(demo))
    small = int(((themes["n_voiced"] > 0) & (themes["n_voiced"] < 5)).sum())
    assert f"Themes: {small} of {len(themes)} themes were voiced by fewer than 5 people" \
        in " ".join(notes)


def test_index_points_from_the_summaries(demo):
    primary = outcomes.headline(demo)
    summaries = {"01_data_quality": {"referred": 400, "pairs": 270},
                 "02_outcome_change": {"primary": primary},
                 "03_qualitative_benefits": {"main_points": {"themes": "Themes sentence."}},
                 "04_integration": {"main_points": {"fit": "Fit sentence.",
                                                    "coverage": "Coverage sentence."}}}
    points = main_points.index_points(summaries, demo)
    assert [topic for topic, _ in points] == ["change", "themes", "fit", "attrition", "caveat"]
    assert dict(points)["fit"] == "Fit sentence. Coverage sentence."
    assert dict(points)["change"] == change_sentence(demo, primary)
    # report 02's own sentences win when it wrote them; withheld counts stay withheld
    summaries["02_outcome_change"]["main_points"] = {"change": "C.", "reliable": "R."}
    summaries["01_data_quality"] = {"referred": 400, "pairs": "<5"}
    points = dict(main_points.index_points(summaries, demo))
    assert points["change"] == "C." and points["reliable"] == "R."
    assert "fewer than 5 (percentage withheld) answered" in points["attrition"]
    # report 02's attrition point (it follows 02's pair of time points) wins over 01's
    summaries["01_data_quality"]["main_points"] = {"attrition": "From 01."}
    assert dict(main_points.index_points(summaries, demo))["attrition"] == "From 01."
    summaries["02_outcome_change"]["main_points"]["attrition"] = "From 02."
    assert dict(main_points.index_points(summaries, demo))["attrition"] == "From 02."


# --------------------------------------------------------------------------- study shapes

SHAPES = {"one_timepoint": one_timepoint, "no_qualitative": no_qualitative,
          "no_interviews": no_interviews, "suppressed_site": suppressed_site,
          "lower_is_better_primary": lower_is_better_primary, "no_mid_primary": no_mid_primary}


@pytest.fixture(scope="module", params=list(SHAPES))
def shape(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param) / "study"
    SHAPES[request.param](folder)
    return request.param, folder, load_study(folder)


def _all_points(s):
    why = outcomes.why_no_change(s)
    ready = s.qualitative is not None and len(s.interviewed) > 0 and why is None
    sbs = cases = None
    if ready:
        prim = integrate.scale_key(s, None)
        sd, rel = outcomes.rc_settings(outcomes.study_thresholds(s, [prim[0]]),
                                       published_only=True)
        sbs = integrate.side_by_side(s, quotes=0)
        cases = integrate.case_level(s, primary=prim, sd=sd, reliability=rel)
    out = {"01": main_points.data_quality(s), "02": main_points.outcome_change(s, whole=s),
           "03": main_points.qualitative(s),
           "04": main_points.integration(s, sbs=sbs, cases=cases, why_not=why, ready=ready)}
    for site in s.sites:
        out[site] = main_points.site(s, site)
    return out


def test_every_shape_gets_three_to_six_points(shape):
    name, folder, s = shape
    lists = _all_points(s)
    for report, points in lists.items():
        assert 3 <= len(points) <= 6, (name, report, points)
        assert points[-1][0] == "caveat", (name, report)
        assert not SMALL.search(" ".join(texts(points))), (name, report, points)
        assert "nan" not in " ".join(texts(points)).lower().split(), (name, report)
    every = " ".join(" ".join(texts(p)) for p in lists.values())
    if name == "one_timepoint":
        change = dict(lists["02"])
        assert change["change"].startswith("This study has one time point (baseline)")
        baseline = _raw_wemwbs(folder)["baseline"].dropna()
        half = stats.t.ppf(0.975, len(baseline) - 1) * stats.sem(baseline)
        assert change["baseline"] == (
            f"At baseline, the mean score on the Warwick-Edinburgh Mental Wellbeing Scale "
            f"(WEMWBS) was {baseline.mean():.1f} (95% CI {baseline.mean() - half:.1f} to "
            f"{baseline.mean() + half:.1f}) among {len(baseline)} people.")
        assert "before-and-after" not in every and "one time point, with no control group" \
            in every
    elif name == "no_qualitative":
        assert "This study has no qualitative material" in dict(lists["03"])["themes"]
        assert "limits" not in dict(lists["03"])   # no interviews to caution about
    elif name == "no_interviews":
        assert "has no interviews" in dict(lists["03"])["themes"]
    elif name == "suppressed_site":
        small = dict(lists["Brackenridge PCN"])
        assert small["change"].startswith("Fewer than 5 people have scores")
        assert small["attrition"].startswith("Fewer than 5 people were referred here")
    elif name == "lower_is_better_primary":
        assert "fell by" in dict(lists["02"])["change"]
        assert "an improvement, as lower scores are better" in dict(lists["02"])["change"]
    elif name == "no_mid_primary":
        assert "No minimal important difference is published" in dict(lists["02"])["change"]
        assert "not classified" in dict(lists["02"])["reliable"]


def test_the_index_opens_with_the_main_points_and_an_interval_chart(demo):
    from types import SimpleNamespace

    from bs4 import BeautifulSoup

    from spanalysis.report import index

    primary = outcomes.headline(demo)
    site = outcomes.headline(demo.for_site("Riverside PCN"))
    results = [SimpleNamespace(kind="study", name="01_data_quality", status="ok",
                               summary={"referred": 400, "pairs": 270}),
               SimpleNamespace(kind="study", name="02_outcome_change", status="ok",
                               summary={"primary": primary}),
               SimpleNamespace(kind="site", name="site_report", site="Riverside PCN",
                               status="ok", summary={"referred": 90, "pairs": 56,
                                                     "primary": site, "themes": []})]
    soup = BeautifulSoup(index._main_points(results, demo), "html.parser")
    heading = soup.find("h2")
    assert heading.get_text() == "Main points"
    items = [li.get_text() for li in heading.find_next_sibling("ul").find_all("li")]
    assert len(items) >= 3 and items[0] == change_sentence(demo, primary)
    figure = BeautifulSoup(index._figure(results, demo, 5), "html.parser").find("img")
    assert figure["src"].startswith("data:image/svg+xml;base64,")
    assert f"Whole study: +{primary['change_mean']:.1f} (95% CI +{primary['ci_low']:.1f}" \
        in figure["alt"]
    assert f"Riverside PCN: +{site['change_mean']:.1f}" in figure["alt"]
