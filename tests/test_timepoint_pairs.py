"""Time points (issue 20, item 5): change between a chosen pair of time points (``pre`` and
``post``; default the first and the last), change between each pair of consecutive time points
when there are three or more, and a pair at which nobody answered twice said in plain words,
never shown as a table of zeros.

The numbers are checked against ``scipy.stats.ttest_rel`` on totals summed by hand (pandas
``sum`` over the item columns) from a small responses file the test writes: ten people, three
time points, WEMWBS (14 items scored 1-5, total = sum) and GSE (10 items scored 1-4, total =
sum; Schwarzer & Jerusalem 1995).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spanalysis import load_study
from spanalysis.change import outcomes
from spanalysis.cli import main
from spanalysis.errors import InputError

TIMEPOINTS = ["baseline", "followup", "six_months"]
ITEMS = {"wemwbs": (14, 5), "gse": (10, 4)}     # instrument: (number of items, top score)
PEOPLE = [f"P{i:02d}" for i in range(1, 11)]

MANIFEST = """\
id: three
name: Three time points
timepoints:
  - id: baseline
  - id: followup
    target_days: 90
  - id: six_months
    target_days: 180
instruments: [wemwbs, gse]
sites: [Riverside, Hillview]
privacy:
  min_cell_size: 5
files:
  participants: participants.csv
  responses:
    path: responses.csv
    layout: wide
"""

#: who answered at each time point. P09 skips the follow-up and comes back at six months.
ANSWERED = {"baseline": PEOPLE, "followup": PEOPLE[:8], "six_months": PEOPLE[:6] + ["P09"]}
#: the same, with nobody at both the follow-up and six months
GAP = {"baseline": PEOPLE, "followup": PEOPLE[:5], "six_months": PEOPLE[5:]}


def write_three(folder, answered=ANSWERED, seed=20):
    """A three-time-point study written from scratch; item answers drawn at random, later
    time points drifting upwards so that the changes differ from pair to pair."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text(MANIFEST, encoding="utf-8")
    people = pd.DataFrame({
        "participant_id": PEOPLE, "site": ["Riverside"] * 5 + ["Hillview"] * 5,
        "referral_date": [f"2025-01-{d:02d}" for d in range(1, 11)], "age_band": "35-49",
        "gender": "Female", "imd_quintile": 3, "sessions_attended": 4})
    people.to_csv(folder / "participants.csv", index=False)
    rows = []
    for step, tp in enumerate(TIMEPOINTS):
        for pid in answered[tp]:
            row = {"participant_id": pid, "timepoint": tp,
                   "completed_date": (pd.Timestamp("2025-02-01")
                                      + pd.Timedelta(days=90 * step)).strftime("%Y-%m-%d")}
            for instrument, (n, top) in ITEMS.items():
                lean = rng.integers(0, 2) + (step if instrument == "wemwbs" else -step) * 0.3
                values = np.clip(np.round(rng.normal(top / 2 + lean, 1.0, n)), 1, top)
                row.update({f"{instrument}_{i}": int(v) for i, v in enumerate(values, 1)})
            rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "responses.csv", index=False)
    return folder


def hand_totals(folder) -> dict[str, pd.DataFrame]:
    """Each instrument's total (the sum of its items) per person (rows) and time point
    (columns), from the responses file as written."""
    raw = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    out = {}
    for instrument, (n, _) in ITEMS.items():
        items = [f"{instrument}_{i}" for i in range(1, n + 1)]
        total = raw.assign(total=raw[items].sum(axis=1))
        out[instrument] = total.pivot(index="participant_id", columns="timepoint",
                                      values="total").reindex(columns=TIMEPOINTS)
    return out


def check_against_scipy(row, totals, pre, post, confidence=0.95):
    both = totals[[pre, post]].dropna()
    ref = stats.ttest_rel(both[post], both[pre])
    ci = ref.confidence_interval(confidence)
    assert row["n_pairs"] == len(both)
    assert row["pre_mean"] == pytest.approx(both[pre].mean())
    assert row["post_mean"] == pytest.approx(both[post].mean())
    assert row["change_mean"] == pytest.approx((both[post] - both[pre]).mean())
    assert (row["change_ci_low"], row["change_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row["t"] == pytest.approx(ref.statistic)
    assert row["p"] == pytest.approx(ref.pvalue)


@pytest.fixture
def three(tmp_path):
    return write_three(tmp_path / "three")


@pytest.fixture
def gap(tmp_path):
    return write_three(tmp_path / "gap", answered=GAP)


# --------------------------------------------------------------------------- consecutive pairs

@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_consecutive_changes_match_ttest_rel_on_hand_sums(three, confidence):
    study = load_study(three)
    assert study.timepoints == TIMEPOINTS
    totals = hand_totals(three)
    table = outcomes.consecutive_changes(study, confidence=confidence)
    assert list(table.columns) == outcomes.CONSECUTIVE_COLUMNS
    assert list(dict.fromkeys(zip(table["pre"], table["post"]))) == [
        ("baseline", "followup"), ("followup", "six_months")]
    # two pairs x three scales (WEMWBS total; GSE total and its mean), one row each
    assert len(table) == 6
    keyed = table.set_index(["pre", "post", "instrument", "scale"])
    for pre, post in outcomes.consecutive_pairs(study):
        for instrument in ITEMS:
            check_against_scipy(keyed.loc[(pre, post, instrument, "total")],
                                totals[instrument], pre, post, confidence)
        # the GSE mean is the total over 10 items: the same test, a tenth of the change
        mean, total = keyed.loc[(pre, post, "gse", "mean")], keyed.loc[(pre, post, "gse",
                                                                        "total")]
        assert mean["change_mean"] == pytest.approx(total["change_mean"] / 10)
        assert mean["p"] == pytest.approx(total["p"])
        # Holm within the pair over two outcomes (the GSE total and mean are one; Holm
        # 1979): the smaller p doubled, the larger p at least that
        p = {i: keyed.loc[(pre, post, i, "total"), "p"] for i in ITEMS}
        holm = {i: keyed.loc[(pre, post, i, "total"), "p_holm"] for i in ITEMS}
        low, high = sorted(p, key=p.get)
        assert holm[low] == pytest.approx(min(1, 2 * p[low]))
        assert holm[high] == pytest.approx(min(1, max(2 * p[low], p[high])))
        assert mean["p_holm"] == pytest.approx(holm["gse"])
    # the pairs' sizes: 8 people at baseline and follow-up, 6 at follow-up and six months
    assert table.groupby(["pre", "post"])["n_pairs"].max().to_dict() == {
        ("baseline", "followup"): 8, ("followup", "six_months"): 6}


def test_consecutive_changes_of_two_time_points_and_of_one_instrument(three, tmp_path):
    study = load_study(three)
    only = outcomes.consecutive_changes(study, ["gse"])
    assert set(only["instrument"]) == {"gse"} and len(only) == 4
    with pytest.raises(InputError, match="not scored"):
        outcomes.consecutive_changes(study, ["phq9"])
    assert outcomes.consecutive_pairs(study) == [("baseline", "followup"),
                                                 ("followup", "six_months")]


# --------------------------------------------------------------------------- a chosen pair

def test_the_chosen_pair_is_the_one_measured(three):
    study = load_study(three)
    totals = hand_totals(three)
    for pre, post in [(None, None), ("", ""), ("baseline", "followup"),
                      ("followup", "six_months"), ("baseline", None), (None, "followup")]:
        table = outcomes.change_table(study, pre=pre, post=post)
        table = table[table["scale"] == "total"].set_index("instrument")
        want = (pre or "baseline", post or "six_months")
        for instrument in ITEMS:
            check_against_scipy(table.loc[instrument], totals[instrument], *want)
        assert outcomes.why_no_change(study, pre, post) is None
    head = outcomes.headline(study, pre="followup", post="six_months")
    both = totals["wemwbs"][["followup", "six_months"]].dropna()
    assert (head["pre"], head["post"], head["n_pairs"]) == ("followup", "six_months", len(both))
    assert head["change_mean"] == pytest.approx((both["six_months"] - both["followup"]).mean())
    pairs = outcomes.score_pairs(study, "wemwbs", "total", pre="followup", post="six_months")
    assert pairs["pre"].to_dict() == both["followup"].to_dict()
    assert pairs["post"].to_dict() == both["six_months"].to_dict()


def test_site_table_reliable_change_and_attrition_follow_the_chosen_pair(three):
    study = load_study(three)
    totals = hand_totals(three)["wemwbs"]
    site = study.participants.set_index("participant_id")["site"]
    by_site = outcomes.site_table(study, "wemwbs", "total", pre="followup", post="six_months")
    both = totals[["followup", "six_months"]].dropna()
    assert by_site.set_index("site")["n_pairs"].to_dict() == \
        both.groupby(site.reindex(both.index)).size().to_dict()

    rc, summary = outcomes.reliable_change_table(study, ["wemwbs"], pre="followup",
                                                 post="six_months")
    rc = rc[rc["scale"] == "total"].set_index("participant_id")
    assert rc["pre"].to_dict() == both["followup"].to_dict()
    assert rc["change"].to_dict() == (both["six_months"] - both["followup"]).to_dict()
    # Jacobson & Truax (1991): SD of everyone's score at ``pre``, here the follow-up
    sd = totals["followup"].dropna().std(ddof=1)
    r = rc["reliability_used"].iloc[0]
    assert rc["sd_used"].iloc[0] == pytest.approx(sd)
    assert rc["sd_source"].iloc[0] == f"study SD at followup (n={totals['followup'].count()})"
    assert rc["threshold"].iloc[0] == pytest.approx(1.959964 * sd * np.sqrt(2 * (1 - r)),
                                                    rel=1e-6)
    default, _ = outcomes.reliable_change_table(study, ["wemwbs"])
    assert default["sd_source"].iloc[0].startswith("study baseline SD")

    sens = outcomes.attrition_sensitivity(study, ["wemwbs"], pre="followup", post="six_months")
    sens = sens[sens["scale"] == "total"].set_index("analysis")
    completers = sens.loc["completers"]
    bocf = sens.loc["baseline observation carried forward"]
    at_pre = totals["followup"].count()
    assert (completers["n_pairs"], bocf["n_pairs"], bocf["n_carried_forward"]) == (
        len(both), at_pre, at_pre - len(both))
    assert bocf["change_mean"] == pytest.approx(completers["change_mean"] * len(both) / at_pre)


CALLS = {
    "change_table": lambda s, a, b: outcomes.change_table(s, pre=a, post=b),
    "why_no_change": lambda s, a, b: outcomes.why_no_change(s, a, b),
    "headline": lambda s, a, b: outcomes.headline(s, pre=a, post=b),
    "reliable_change_table": lambda s, a, b: outcomes.reliable_change_table(s, pre=a, post=b),
    "attrition_sensitivity": lambda s, a, b: outcomes.attrition_sensitivity(s, pre=a, post=b),
    "site_table": lambda s, a, b: outcomes.site_table(s, "wemwbs", "total", pre=a, post=b),
    "site_model": lambda s, a, b: outcomes.site_model(s, "wemwbs", "total", pre=a, post=b),
    "score_pairs": lambda s, a, b: outcomes.score_pairs(s, "wemwbs", "total", pre=a, post=b),
    "holm_family_size": lambda s, a, b: outcomes.holm_family_size(s, pre=a, post=b),
}


@pytest.mark.parametrize("call", CALLS, ids=str)
@pytest.mark.parametrize("pre,post,message,value", [
    ("month9", None, "the pre time point is not one of the study's time points", "'month9'"),
    (None, "Followup", "the post time point is not one of the study's time points",
     "'Followup'"),
    ("six_months", "followup", "pre must come before post", "'six_months'"),
    ("followup", "followup", "pre and post are the same time point", "'followup'"),
])
def test_an_unknown_or_reversed_pair_is_one_clear_error(three, call, pre, post, message,
                                                        value):
    study = load_study(three)
    with pytest.raises(InputError) as caught:
        CALLS[call](study, pre, post)
    text = str(caught.value)
    assert message in text and f"found {value}" in text
    assert "baseline, followup, six_months" in text      # the study's time points, in order
    assert "\n" not in text


# --------------------------------------------------------------------------- nobody twice

def test_a_pair_nobody_answered_twice_is_said_in_words(gap):
    study = load_study(gap)
    assert outcomes.why_no_change(study) is None          # baseline to six months: 5 people
    assert outcomes.why_no_change(study, "followup", "six_months") == (
        "No one has questionnaire scores at both followup and six_months (the time points "
        "chosen), so change between them cannot be measured; the scores at followup are "
        "described instead.")
    with pytest.raises(InputError, match="no one has scores at both followup and six_months"):
        outcomes.change_table(study, pre="followup", post="six_months")
    head = outcomes.headline(study, pre="followup", post="six_months")
    assert head["n_pairs"] == 0 and head["not_measured"].startswith("No one has")
    # the consecutive table leaves the empty pair out rather than show zeros
    table = outcomes.consecutive_changes(study)
    assert set(zip(table["pre"], table["post"])) == {("baseline", "followup")}
    totals = hand_totals(gap)
    for instrument, row in table[table["scale"] == "total"].set_index("instrument").iterrows():
        check_against_scipy(row, totals[instrument], "baseline", "followup")
    # the report describes the scores at pre instead: the follow-up's, as summed by hand
    described = outcomes.baseline_table(study, timepoint="followup").set_index(
        ["instrument", "scale"])
    at = totals["wemwbs"]["followup"].dropna()
    assert described.loc[("wemwbs", "total"), "n"] == len(at)
    assert described.loc[("wemwbs", "total"), "mean"] == pytest.approx(at.mean())
    with pytest.raises(InputError, match="not one of the study's time points"):
        outcomes.baseline_table(study, timepoint="month9")


def test_one_time_point_with_a_chosen_pair_is_an_error(tmp_path):
    one = write_three(tmp_path / "one", answered={"baseline": PEOPLE, "followup": [],
                                                  "six_months": []})
    text = (one / "study.yaml").read_text(encoding="utf-8")
    text = text.replace("  - id: followup\n    target_days: 90\n", "").replace(
        "  - id: six_months\n    target_days: 180\n", "")
    (one / "study.yaml").write_text(text, encoding="utf-8")
    study = load_study(one)
    assert study.timepoints == ["baseline"]
    assert outcomes.why_no_change(study, "", "").startswith("This study has one time point")
    assert outcomes.consecutive_changes(study).empty
    with pytest.raises(InputError, match="'followup'"):
        outcomes.why_no_change(study, None, "followup")


# --------------------------------------------------------------------------- the command line

def test_change_command_with_pre_and_post(three, tmp_path, capsys):
    out = tmp_path / "change.csv"
    assert main(["change", str(three), "--out", str(out), "--pre", "followup",
                 "--post", "six_months", "--missing", "completers"]) == 0
    assert "from followup to six_months" in capsys.readouterr().out
    table = pd.read_csv(out).query("scale == 'total'").set_index("instrument")
    totals = hand_totals(three)
    for instrument in ITEMS:
        check_against_scipy(table.loc[instrument], totals[instrument], "followup", "six_months")
    assert main(["change", str(three), "--out", str(out), "--post", "followup",
                 "--missing", "completers"]) == 0
    check_against_scipy(pd.read_csv(out).query("scale == 'total'").set_index("instrument")
                        .loc["wemwbs"], totals["wemwbs"], "baseline", "followup")


@pytest.mark.parametrize("options,message", [
    (["--pre", "month9"], "the pre time point is not one of the study's time points (found "
                          "'month9'; expected one of baseline, followup, six_months"),
    (["--post", "week2"], "found 'week2'"),
    (["--pre", "six_months", "--post", "baseline"], "pre must come before post"),
    (["--pre", "baseline", "--post", "baseline"], "pre and post are the same time point"),
])
def test_change_command_refuses_a_bad_pair_on_one_line(three, tmp_path, capsys, options,
                                                       message):
    out = tmp_path / "change.csv"
    assert main(["change", str(three), "--out", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_change_command_on_a_pair_nobody_answered_twice(gap, tmp_path, capsys):
    out = tmp_path / "change.csv"
    assert main(["change", str(gap), "--out", str(out), "--pre", "followup",
                 "--post", "six_months"]) == 2
    err = capsys.readouterr().err
    assert "no one has scores at both followup and six_months" in err
    assert err.count("\n") == 1 and not out.exists()


# --------------------------------------------------------------------------- notebook 02

def _outputs(nb: dict) -> str:
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append("".join(data.get("text/markdown", "")) + "".join(data.get("text/html", "")))
            assert out.get("output_type") != "error", out
    return "\n".join(texts)


def test_notebook_02_reports_the_chosen_pair_and_the_consecutive_pairs(tmp_path):
    import papermill
    from test_study_shapes import three_timepoints

    from spanalysis.report.jobs import NOTEBOOKS_DIR

    folder = tmp_path / "three"
    three_timepoints(folder)
    summary = tmp_path / "summary.json"
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS_DIR / "02_outcome_change.ipynb"), str(out),
                               parameters={"study": str(folder), "pre": "baseline",
                                           "post": "followup", "summary_path": str(summary)},
                               kernel_name="spanalysis", progress_bar=False, cwd=str(tmp_path))
    text = _outputs(json.loads(out.read_text(encoding="utf-8")))
    assert "**Comparison:** baseline to followup." in text
    assert "Mean change from baseline to followup" in text
    assert "Mean change between consecutive time points" in text
    # a row of the consecutive table: the second pair
    assert '<th scope="row">followup</th><td>six_months</td>' in text
    study = load_study(folder)
    head = json.loads(summary.read_text(encoding="utf-8"))["primary"]
    want = outcomes.change_table(study, ["wemwbs"], pre="baseline", post="followup",
                                 wilcoxon=False).query("scale == 'total'").iloc[0]
    assert (head["pre"], head["post"], head["n_pairs"]) == ("baseline", "followup",
                                                            int(want["n_pairs"]))
    assert head["change_mean"] == pytest.approx(want["change_mean"])
    default = outcomes.change_table(study, ["wemwbs"]).query("scale == 'total'").iloc[0]
    assert default["n_pairs"] != want["n_pairs"]   # the chosen pair is not the default one

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(NOTEBOOKS_DIR / "02_outcome_change.ipynb"),
                                   str(tmp_path / "bad.ipynb"),
                                   parameters={"study": str(folder), "pre": "six_months",
                                               "post": "baseline"},
                                   kernel_name="spanalysis", progress_bar=False,
                                   cwd=str(tmp_path))
    assert caught.value.ename == "InputError"
    assert "pre must come before post" in caught.value.evalue
    assert "baseline, followup, six_months" in caught.value.evalue
