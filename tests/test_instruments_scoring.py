"""Scoring: every expected value is worked by hand (arithmetic in comments) or read from the
reference files, never taken from the code under test."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanalysis import instruments as I
from spanalysis.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "instruments"
# the published table, shipped with the tests (tests/reference/README.md gives its source)
REFERENCE_CSV = Path(__file__).parent / "reference" / "swemwbs_conversion.csv"
PACKAGED_CSV = ROOT / "spanalysis" / "instruments" / "definitions" / "swemwbs_conversion.csv"
nan = np.nan


def frame(rows: list[dict], timepoint="baseline") -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out.insert(0, "timepoint", timepoint)
    out.insert(0, "participant_id", [f"p{k}" for k in range(len(rows))])
    return out


def by(scores: pd.DataFrame, scale: str) -> pd.DataFrame:
    return scores[scores.scale == scale].reset_index(drop=True)


# ------------------------------------------------------------------ output format ----------
def test_output_columns_and_types():
    df = frame([{f"ucla3_{k}": 2 for k in (1, 2, 3)}])
    out = I.score(df, "ucla3")
    assert list(out.columns) == ["participant_id", "timepoint", "instrument", "scale", "score",
                                 "items_answered", "items_expected", "status"]
    for col in ("participant_id", "timepoint", "instrument", "scale", "status"):
        assert isinstance(out[col].dtype, pd.CategoricalDtype), col
    assert list(out.status.cat.categories) == list(I.STATUSES)
    assert out.loc[0, "score"] == 6.0  # 2 + 2 + 2


# ------------------------------------------------------------------ SWEMWBS ----------------
# The published raw-to-metric conversion (Stewart-Brown et al. 2009; Warwick guidance), as in
# shared/reference/swemwbs_conversion.csv, written out here so the test does not depend on the
# file the code reads.
PUBLISHED_SWEMWBS = [
    (7, 7.00), (8, 9.51), (9, 11.25), (10, 12.40), (11, 13.33), (12, 14.08),
    (13, 14.75), (14, 15.32), (15, 15.84), (16, 16.36), (17, 16.88), (18, 17.43),
    (19, 17.98), (20, 18.59), (21, 19.25), (22, 19.98), (23, 20.73), (24, 21.54),
    (25, 22.35), (26, 23.21), (27, 24.11), (28, 25.03), (29, 26.02), (30, 27.03),
    (31, 28.13), (32, 29.31), (33, 30.70), (34, 32.55), (35, 35.00),
]


def _reference_table() -> list[tuple[int, float]]:
    with open(REFERENCE_CSV, newline="") as fh:  # it agrees with the values written out above
        from_file = [(int(r["raw"]), float(r["metric"])) for r in csv.DictReader(fh)]
    assert from_file == PUBLISHED_SWEMWBS
    return PUBLISHED_SWEMWBS


def test_packaged_conversion_table_is_the_reference():
    assert PACKAGED_CSV.read_bytes() == REFERENCE_CSV.read_bytes()


def test_swemwbs_all_29_conversions_and_raw_sum():
    table = _reference_table()
    assert [r for r, _ in table] == list(range(7, 36))  # 29 rows, raw 7..35
    # Anchor values typed from the reference table (Stewart-Brown 2009 / Warwick guidance).
    anchors = dict(table)
    assert (anchors[7], anchors[21], anchors[28], anchors[35]) == (7.00, 19.25, 25.03, 35.00)
    rows = []
    for raw, _ in table:
        # Spread raw over 7 items of 1..5: each starts at 1, then add 1 to items in turn.
        extra = raw - 7
        items = [1 + extra // 7 + (1 if k < extra % 7 else 0) for k in range(7)]
        assert sum(items) == raw and max(items) <= 5
        rows.append({f"swemwbs_{k + 1}": v for k, v in enumerate(items)})
    out = I.score(frame(rows), "swemwbs")
    metric, raw_scale = by(out, "metric"), by(out, "raw")
    assert metric.score.tolist() == [m for _, m in table]
    assert raw_scale.score.tolist() == [float(r) for r, _ in table]
    assert set(metric.status) == {"ok"} and set(metric.items_answered) == {7}


def test_swemwbs_derived_from_wemwbs_items():
    # WEMWBS answers where items 1,2,3,6,7,9,11 are 3,3,3,3,3,3,3 (sum 21 -> metric 19.25
    # in the reference table) and the other seven items are 5 (which must be ignored).
    w = {f"wemwbs_{k}": (3 if k in (1, 2, 3, 6, 7, 9, 11) else 5) for k in range(1, 15)}
    out = I.score(frame([w]), "swemwbs")
    assert by(out, "raw").score[0] == 21.0
    assert by(out, "metric").score[0] == dict(_reference_table())[21] == 19.25


def test_swemwbs_incomplete_is_not_converted():
    w = {f"swemwbs_{k}": 3 for k in range(1, 8)}
    w["swemwbs_4"] = nan
    out = I.score(frame([w, {k: nan for k in w}]), "swemwbs")
    m, r = by(out, "metric"), by(out, "raw")
    assert m.status.tolist() == ["incomplete_for_lookup", "not_administered"]
    assert m.score.isna().all() and r.score.isna().all()
    assert r.status.tolist() == ["too_few_items", "not_administered"]
    assert m.items_answered.tolist() == [6, 0] and m.items_expected.tolist() == [7, 7]


def test_swemwbs_own_columns_take_precedence_and_partial_columns_are_an_error():
    row = {f"wemwbs_{k}": 1 for k in range(1, 15)} | {f"swemwbs_{k}": 5 for k in range(1, 8)}
    assert by(I.score(frame([row]), "swemwbs"), "raw").score[0] == 35.0  # 7 x 5
    del row["swemwbs_7"]
    with pytest.raises(InputError, match="swemwbs_7"):
        I.score(frame([row]), "swemwbs")


# ------------------------------------------------------------------ WEMWBS -----------------
def test_wemwbs_complete_cases_by_default_and_explicit_prorating():
    full = {f"wemwbs_{k}": (k % 5) + 1 for k in range(1, 15)}
    # k = 1..14 -> 2,3,4,5,1,2,3,4,5,1,2,3,4,5; sum = 15 + 15 + (2+3+4+5) = 44
    one_missing = dict(full, wemwbs_14=nan)
    out = by(I.score(frame([full, one_missing]), "wemwbs"), "total")
    assert out.score[0] == 44.0 and out.status[0] == "ok"
    assert math.isnan(out.score[1]) and out.status[1] == "too_few_items"
    prorating = I.load("wemwbs").with_missing_rule("total", "max_missing", max_missing=1,
                                                   prorate=True)
    out = by(I.score(frame([full, one_missing]), prorating), "total")
    # 13 answered, sum 44 - 5 = 39, mean 3, prorated 3 x 14 = 42
    assert out.score.tolist() == [44.0, 42.0]
    assert out.status.tolist() == ["ok", "prorated"]


# ------------------------------------------------------------------ GSE --------------------
def test_gse_missing_rule_at_6_7_and_10_answered():
    ten = [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]                     # sum 23, mean 2.3
    seven = [4, 4, 3, 2, 3, 4, 2, nan, nan, nan]             # sum 22, mean 22/7
    six = [4, 4, 3, 2, 3, 4, nan, nan, nan, nan]             # 6 answered: no score
    rows = [{f"gse_{k + 1}": v for k, v in enumerate(r)} for r in (ten, seven, six)]
    out = I.score(frame(rows), "gse")
    total, mean = by(out, "total"), by(out, "mean")
    assert total.score[0] == 23.0 and total.status[0] == "ok"
    assert total.score[1] == pytest.approx(22 / 7 * 10)       # 31.428571..., mean x 10
    assert total.score[1] == pytest.approx(31.4285714286)
    assert total.status[1] == "prorated"
    assert math.isnan(total.score[2]) and total.status[2] == "too_few_items"
    assert mean.score[0] == pytest.approx(2.3) and mean.status[0] == "ok"
    assert mean.score[1] == pytest.approx(3.1428571429) and mean.status[1] == "prorated"
    assert math.isnan(mean.score[2]) and mean.status[2] == "too_few_items"
    assert total.items_answered.tolist() == [10, 7, 6]
    assert total.items_expected.tolist() == [10, 10, 10]


# ------------------------------------------------------------------ De Jong Gierveld ------
# Coding 1 yes, 2 more or less, 3 no. Items: 1 E, 2 S, 3 S, 4 E, 5 S, 6 E.
# E scores 1 for yes/more or less (1, 2); S scores 1 for no/more or less (3, 2).
DJG_CASES = [
    # answers                    total  emo  soc  statuses (total, emo, soc)
    ([2, 2, 2, 2, 2, 2],          6,    3,   3,   ("ok", "ok", "ok")),        # all "more or less"
    ([3, 1, 1, 3, 1, 3],          0,    0,   0,   ("ok", "ok", "ok")),        # not lonely at all
    ([1, 1, 3, 3, 2, 3],          3,    1,   2,   ("ok", "ok", "ok")),
    # item1 E yes ->1; item2 S yes ->0; item3 S no ->1; item4 E no ->0; item5 S m/l ->1;
    # item6 E no ->0: emotional 1, social 2, total 3
    ([1, nan, 3, 3, 2, 3],        3,    1,   nan, ("partial", "ok", "too_few_items")),
    # one item missing: total = count over the 5 answered (1 + 1 + 0 + 1 + 0 = 3)
    ([nan, nan, 3, 3, 2, 3],      nan,  nan, nan, ("too_few_items",) * 3),
    ([nan] * 6,                   nan,  nan, nan, ("not_administered",) * 3),
    ([1, 3, 3, 1, 3, 1],          6,    3,   3,   ("ok", "ok", "ok")),        # yes to E, no to S
]


def test_djg6_scoring_subscales_and_missing_rules():
    rows = [{f"djg6_{k + 1}": v for k, v in enumerate(c[0])} for c in DJG_CASES]
    out = I.score(frame(rows), "djg6")
    for name, col in (("total", 1), ("emotional", 2), ("social", 3)):
        got = by(out, name)
        expected = [c[col] for c in DJG_CASES]
        np.testing.assert_array_equal(got.score.to_numpy(), np.array(expected, dtype=float))
        assert got.status.tolist() == [c[4][col - 1] for c in DJG_CASES], name


def test_djg6_categories_as_bands():
    # Totals 0..6 built from emotional items only plus social items; expected categories from
    # the manual: 0-1 not lonely, 2-4 moderately lonely, 5-6 severely lonely.
    rows = []
    for total in range(7):
        lonely = [1] * total + [0] * (6 - total)        # which items score 1
        ans = []
        for k, hit in enumerate(lonely, start=1):
            emotional = k in (1, 4, 6)
            ans.append((1 if emotional else 3) if hit else (3 if emotional else 1))
        rows.append({f"djg6_{k + 1}": v for k, v in enumerate(ans)})
    out = I.assign_bands(I.score(frame(rows), "djg6"), ["djg6"])
    t = by(out, "total")
    assert t.score.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert t.band.tolist() == ["not lonely"] * 2 + ["moderately lonely"] * 3 + \
        ["severely lonely"] * 2
    assert by(out, "emotional").band.isna().all()  # subscales have no bands


# ------------------------------------------------------------------ reverse scoring -------
def test_reverse_scored_items_in_custom_fixture():
    inst = I.load(FIX / "mood5.yaml")
    rows = [
        {"mood5_1": 4, "mood5_2": 1, "mood5_3": 3, "mood5_4": 0, "mood5_5": 2},
        # reversed: item2 0+4-1 = 3, item4 0+4-0 = 4 -> 4 + 3 + 3 + 4 + 2 = 16
        {"mood5_1": 4, "mood5_2": 1, "mood5_3": nan, "mood5_4": 0, "mood5_5": 2},
        # 4 answered (rule >= 4): 4 + 3 + 4 + 2 = 13, mean 3.25, prorated 3.25 x 5 = 16.25
        {"mood5_1": 0, "mood5_2": 4, "mood5_3": nan, "mood5_4": nan, "mood5_5": 0},
        # 3 answered: too few
        {"mood5_1": 0, "mood5_2": 4, "mood5_3": 0, "mood5_4": 4, "mood5_5": 0},
        # worst possible: 0 + 0 + 0 + 0 + 0 = 0
    ]
    out = I.score(frame(rows), inst)
    assert out.score.tolist()[:2] == [16.0, 16.25] and math.isnan(out.score[2])
    assert out.score[3] == 0.0
    assert out.status.tolist() == ["ok", "prorated", "too_few_items", "ok"]


# ------------------------------------------------------------------ ONS4 bands ------------
def test_ons4_every_band_boundary():
    values = list(range(11))
    rows = [{"ons4_satisfaction": v, "ons4_worthwhile": v, "ons4_happy": v,
             "ons4_anxious": v} for v in values]
    out = I.assign_bands(I.score(frame(rows), "ons4"), I.registry(["ons4"]))
    # measures.md: satisfaction/worthwhile/happiness 0-4 low, 5-6 medium, 7-8 high,
    # 9-10 very high; anxiety 0-1 very low, 2-3 low, 4-5 medium, 6-10 high.
    positive = ["low"] * 5 + ["medium"] * 2 + ["high"] * 2 + ["very high"] * 2
    anxiety = ["very low"] * 2 + ["low"] * 2 + ["medium"] * 2 + ["high"] * 5
    for scale in ("satisfaction", "worthwhile", "happy"):
        assert by(out, scale).band.tolist() == positive, scale
    assert by(out, "anxious").band.tolist() == anxiety
    assert by(out, "anxious").score.tolist() == [float(v) for v in values]
    assert set(out.scale) == {"satisfaction", "worthwhile", "happy", "anxious"}  # no composite


# ------------------------------------------------------------------ UCLA-3 / ONS lonely ---
def test_ucla3_and_ons_lonely():
    rows = [{"ucla3_1": 1, "ucla3_2": 1, "ucla3_3": 1, "ons_lonely": 5},
            {"ucla3_1": 3, "ucla3_2": 3, "ucla3_3": 3, "ons_lonely": 1},
            {"ucla3_1": 2, "ucla3_2": nan, "ucla3_3": 3, "ons_lonely": nan}]
    out = I.score_all(frame(rows), ["ucla3", "ons_lonely"])
    u = out[out.instrument == "ucla3"]
    assert u.score.tolist()[:2] == [3.0, 9.0] and math.isnan(u.score.tolist()[2])
    assert u.status.tolist() == ["ok", "ok", "too_few_items"]
    o = out[out.instrument == "ons_lonely"]
    assert o.score.tolist()[:2] == [5.0, 1.0] and o.status.tolist()[2] == "not_administered"


# ------------------------------------------------------------------ MYCaW -----------------
def test_mycaw_profile_and_optional_second_concern():
    rows = [{"mycaw_concern1": 4, "mycaw_concern2": nan, "mycaw_wellbeing": 2},
            {"mycaw_concern1": 4, "mycaw_concern2": 5, "mycaw_wellbeing": 2},
            {"mycaw_concern1": 4, "mycaw_concern2": 5, "mycaw_wellbeing": nan}]
    out = I.score(frame(rows), "mycaw")
    p = by(out, "profile")
    # (4 + 2) / 2 = 3; (4 + 5 + 2) / 3 = 11/3; wellbeing missing -> no profile
    assert p.score[0] == 3.0 and p.score[1] == pytest.approx(11 / 3)
    assert math.isnan(p.score[2])
    assert p.status.tolist() == ["ok", "ok", "too_few_items"]
    assert p.items_expected.tolist() == [2, 3, 3]
    c2 = by(out, "concern2")
    assert c2.status.tolist() == ["not_administered", "ok", "ok"]


# ------------------------------------------------------------------ GAS -------------------
def test_gas_tscore_unweighted_by_hand():
    # T = 50 + 10 * sum(w x) / sqrt(0.7 * sum(w^2) + 0.3 * (sum w)^2)
    # 3 goals at 0, +1, -1, w = 1: sum(wx) = 0 -> T = 50
    assert I.gas_tscore([0, 1, -1]) == pytest.approx(50.0)
    # 3 goals at +1, +1, -1: sum(wx) = 1; denominator sqrt(0.7*3 + 0.3*9) = sqrt(4.8)
    #   = 2.190890; T = 50 + 10/2.190890 = 54.564355
    assert I.gas_tscore([1, 1, -1]) == pytest.approx(54.564355, abs=1e-6)
    # 3 goals at +2, +1, 0: sum(wx) = 3; T = 50 + 30/2.190890 = 63.693064
    assert I.gas_tscore([2, 1, 0]) == pytest.approx(63.693064, abs=1e-6)
    # 1 goal: denominator sqrt(0.7 + 0.3) = 1, so T = 50 + 10 x
    assert I.gas_tscore([1]) == pytest.approx(60.0)
    assert I.gas_tscore([-2]) == pytest.approx(30.0)


def test_gas_tscore_weighted_by_hand():
    # levels +1, -1, +2 with weights 2, 1, 3:
    # sum(wx) = 2 - 1 + 6 = 7; sum(w^2) = 4 + 1 + 9 = 14; (sum w)^2 = 36
    # den = sqrt(0.7*14 + 0.3*36) = sqrt(9.8 + 10.8) = sqrt(20.6) = 4.538722
    # T = 50 + 70 / 4.538722 = 50 + 15.422843 = 65.422843
    assert I.gas_tscore([1, -1, 2], [2, 1, 3]) == pytest.approx(65.422843, abs=1e-6)
    # a blank weight counts as 1: weights (None, 1, 3) == (1, 1, 3)
    assert I.gas_tscore([1, -1, 2], [None, 1, 3]) == pytest.approx(I.gas_tscore([1, -1, 2],
                                                                                [1, 1, 3]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.1, max_value=9), min_size=1, max_size=5),
       st.floats(min_value=0, max_value=0.9))
def test_gas_all_goals_met_gives_50(weights, rho):
    assert I.gas_tscore([0] * len(weights), weights, rho=rho) == pytest.approx(50.0)


def test_gas_through_score_with_blank_goals_and_weights():
    rows = [
        {"gas_1": 0, "gas_2": 1, "gas_3": -1},                       # T = 50 (see above)
        {"gas_1": 1, "gas_2": -1, "gas_3": 2, "gas_1_weight": 2, "gas_3_weight": 3},
        # weights 2, blank(=1), 3 -> 65.422843 as worked above
        {"gas_1": nan},                                              # no goals
        {"gas_1": 1},                                                # one goal at +1 -> 60
    ]
    out = I.score(frame(rows), "gas")   # gas_4, gas_5 and some weight columns are absent
    assert out.score[0] == pytest.approx(50.0)
    assert out.score[1] == pytest.approx(65.422843, abs=1e-6)
    assert math.isnan(out.score[2]) and out.score[3] == pytest.approx(60.0)
    assert out.status.tolist() == ["ok", "ok", "not_administered", "ok"]
    assert out.items_answered.tolist() == [3, 3, 0, 1]
    assert out.items_expected.tolist() == [3, 3, 0, 1]


def test_gas_bad_levels_and_weights():
    with pytest.raises(InputError, match="outside"):
        I.gas_tscore([3])
    with pytest.raises(InputError, match="greater than 0"):
        I.gas_tscore([1], [0])
    with pytest.raises(InputError) as exc:
        I.score(frame([{"gas_1": 1, "gas_1_weight": 0}]), "gas")
    assert exc.value.issue.column == "gas_1_weight"
    with pytest.raises(InputError) as exc:
        I.score(frame([{"gas_1": 0.5}]), "gas")
    assert exc.value.issue.column == "gas_1" and "whole number" in str(exc.value)


def test_gas_first_bad_weight_named_row_first_then_goal():
    """The first weight <= 0 of a goal that is set is named: the earliest row, and within
    it the first goal (a weight of a goal not set is not looked at)."""
    rows = [{"gas_1": 1, "gas_2": 0, "gas_3": nan, "gas_2_weight": 1, "gas_3_weight": 0},
            {"gas_1": 1, "gas_2": 1, "gas_3": 1, "gas_2_weight": -1, "gas_3_weight": 0},
            {"gas_1": 1, "gas_2": 1, "gas_3": 1, "gas_1_weight": 0}]
    with pytest.raises(InputError) as exc:
        I.score(frame(rows), "gas")
    assert exc.value.issue.column == "gas_2_weight" and exc.value.issue.value == -1
    assert "participant p1" in str(exc.value)


def test_gas_weighted_table_equals_the_one_person_formula():
    """Goal by goal over a table (blank levels, blank weights, absent columns) gives each
    row what gas_tscore gives that person."""
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(300):
        row = {}
        for g in range(1, 5):  # gas_5 and its weight are absent
            if rng.random() < 0.7:
                row[f"gas_{g}"] = int(rng.integers(-2, 3))
            if rng.random() < 0.5:
                row[f"gas_{g}_weight"] = float(rng.integers(1, 10))
        rows.append(row)
    out = I.score(frame(rows), "gas")
    for k, row in enumerate(rows):
        goals = [g for g in range(1, 5) if f"gas_{g}" in row]
        if not goals:
            assert math.isnan(out.score[k]) and out.status[k] == "not_administered"
            continue
        want = I.gas_tscore([row[f"gas_{g}"] for g in goals],
                            [row.get(f"gas_{g}_weight") for g in goals])
        assert out.score[k] == pytest.approx(want, rel=1e-12)
        assert out.items_answered[k] == out.items_expected[k] == len(goals)


# ------------------------------------------------------------------ custom YAML -----------
def test_study_local_custom_instrument_scores_correctly():
    inst = I.registry([], custom_paths=[FIX / "community_connect.yaml"])["community_connect"]
    rows = [{"cc_1": 4, "cc_2": 3, "cc_3": 1, "cc_4": 4},
            # cc_3 reversed: 1 + 4 - 1 = 4 -> total 4 + 3 + 4 + 4 = 15
            # lookup (fixture table scaled = (raw - 4) * 100 / 12): (15 - 4) * 100/12 = 91.67
            # isolated items (answers as recorded: cc_1 == 1, cc_2 == 1, cc_3 == 4,
            # cc_4 == 1): none -> 0; belonging mean (4 + 4)/2 = 4
            {"cc_1": 1, "cc_2": 1, "cc_3": 4, "cc_4": 2},
            # total 1 + 1 + 1 + 2 = 5 -> scaled (5-4)*100/12 = 8.33; isolated 3; belonging 1.5
            {"cc_1": 2, "cc_2": nan, "cc_3": 2, "cc_4": 2}]
            # incomplete: total too_few (complete rule), lookup incomplete, isolated 0 of 3
            # answered -> too_few_items (complete rule); belonging (2+2)/2 = 2
    out = I.assign_bands(I.score(frame(rows), inst), [inst])
    total = by(out, "total")
    assert total.score.tolist()[:2] == [15.0, 5.0] and math.isnan(total.score[2])
    assert total.band.tolist()[:2] == ["high", "low"]
    scaled = by(out, "scaled")
    assert scaled.score.tolist()[:2] == [91.67, 8.33]
    assert scaled.status.tolist() == ["ok", "ok", "incomplete_for_lookup"]
    assert by(out, "isolated_items").score.tolist()[:2] == [0.0, 3.0]
    assert by(out, "belonging").score.tolist() == [4.0, 1.5, 2.0]


# ------------------------------------------------------------------ bad input -------------
def _wemwbs_row(**changes):
    row = {f"wemwbs_{k}": 3 for k in range(1, 15)}
    row.update(changes)
    return row


def test_items_missing_from_data():
    df = frame([_wemwbs_row()]).drop(columns=["wemwbs_14", "wemwbs_2"])
    with pytest.raises(InputError) as exc:
        I.score(df, "wemwbs")
    assert "wemwbs_2" in str(exc.value) and "wemwbs_14" in str(exc.value)
    assert exc.value.issue.column == "wemwbs_2"


@pytest.mark.parametrize("value, fragment", [(6, "found 6"), (0, "found 0"), (2.5, "found 2.5")])
def test_response_outside_range_is_refused(value, fragment):
    df = frame([_wemwbs_row(), _wemwbs_row(wemwbs_3=value)])
    with pytest.raises(InputError) as exc:
        I.score(df, "wemwbs", source="responses.csv")
    text = str(exc.value)
    assert "wemwbs_3" in text and fragment in text
    assert "expected a whole number from 1 to 5" in text
    assert "participant p1" in text and "responses.csv" in text


def test_non_numeric_response_is_refused_but_blank_text_is_missing():
    df = frame([_wemwbs_row(wemwbs_5="three")])
    with pytest.raises(InputError) as exc:
        I.score(df, "wemwbs")
    assert "not a number" in str(exc.value) and "'three'" in str(exc.value)
    df = frame([_wemwbs_row(wemwbs_5=" ")])
    out = I.score(df, "wemwbs")
    assert out.status[0] == "too_few_items" and out.items_answered[0] == 13


def test_missing_key_columns_and_service_use_in_score():
    with pytest.raises(InputError, match="timepoint"):
        I.score(pd.DataFrame({"participant_id": ["a"], "ucla3_1": [1]}), "ucla3")
    with pytest.raises(InputError, match="score_service_use"):
        I.score(frame([{"x": 1}]), "service_use")


# ------------------------------------------------------------------ long layout -----------
def test_long_layout_gives_the_same_scores_as_wide():
    wide = frame([{"ucla3_1": 1, "ucla3_2": 2, "ucla3_3": 3},
                  {"ucla3_1": 3, "ucla3_2": nan, "ucla3_3": 3}])
    long = wide.melt(id_vars=["participant_id", "timepoint"], var_name="item",
                     value_name="value").dropna(subset=["value"])
    a, b = I.score(wide, "ucla3"), I.score(long, "ucla3")
    pd.testing.assert_frame_equal(a.astype({"participant_id": str, "timepoint": str}),
                                  b.astype({"participant_id": str, "timepoint": str}))
    dup = pd.concat([long, long.iloc[[0]]])
    with pytest.raises(InputError, match="twice"):
        I.score(dup, "ucla3")


# ------------------------------------------------------------------ service use -----------
def test_service_use_tidy_format():
    su = pd.DataFrame({"participant_id": ["a", "a", "b", "b"],
                       "service": ["gp_consultations", "gp_consultations", "ae_attendances",
                                   "gp_consultations"],
                       "period": ["before", "after", "before", "after"],
                       "count": [6, 2, 1, nan]})
    out = I.score_service_use(su, ["baseline", "month3", "month6"])
    assert list(out.columns) == list(I.SCORE_COLUMNS)
    assert out.timepoint.astype(str).tolist() == ["baseline", "month6", "baseline", "month6"]
    assert out.scale.astype(str).tolist() == su.service.tolist()
    assert out.score.tolist()[:3] == [6.0, 2.0, 1.0] and math.isnan(out.score[3])
    assert out.status.tolist() == ["ok", "ok", "ok", "not_administered"]
    assert set(out.instrument) == {"service_use"}
    with pytest.raises(InputError) as exc:
        I.score_service_use(su.assign(period=["before", "during", "after", "after"]), ["t0"])
    assert exc.value.issue.row == 3 and exc.value.issue.column == "period"
    for bad_counts in ([1, -2, 0, 0], [1.0, 1.5, 0.0, nan], [-1.0, 2.0, 0.0, nan],
                       pd.array([1, None, -3, 0], dtype="Int64")):
        with pytest.raises(InputError, match="whole number") as exc:
            I.score_service_use(su.assign(count=bad_counts), ["t0", "t1"])
        assert exc.value.issue.column == "count"
    whole = I.score_service_use(su.assign(count=pd.array([6, 2, None, 0], dtype="Int64")),
                                ["t0", "t1"])
    assert whole["items_answered"].tolist() == [1, 1, 0, 1]
    assert whole["status"].tolist() == ["ok", "ok", "not_administered", "ok"]
    with pytest.raises(InputError, match="twice"):
        I.score_service_use(pd.concat([su, su.iloc[[0]]]), ["t0", "t1"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["gp", "ae", "nurse", "111"]), min_size=1, max_size=30),
       st.permutations(["gp", "ae", "nurse", "111", "unused"]))
def test_service_use_with_categorical_services_equals_text(services, category_order):
    """A categorical service column (as the study loader hands it over, in any category
    order, with unused categories) scores exactly as the same services written as text:
    scale categories in order of first appearance, only those that occur."""
    n = len(services)
    su = pd.DataFrame({"participant_id": [f"P{i}" for i in range(n)], "service": services,
                       "period": ["before"] * n, "count": np.arange(n, dtype=float)})
    text = I.score_service_use(su, ["t0", "t1"])
    coded = I.score_service_use(
        su.assign(service=pd.Categorical(services, categories=category_order)), ["t0", "t1"])
    pd.testing.assert_frame_equal(coded, text)
    assert list(text["scale"].cat.categories) == list(dict.fromkeys(services))


# ------------------------------------------------------------------ size ------------------
def test_all_builtins_on_10000_rows():
    rng = np.random.default_rng(20240501)
    n = 10_000
    cols: dict[str, np.ndarray] = {}
    for name in I.builtin_ids():
        inst = I.load(name)
        if name == "swemwbs":
            continue  # derived from the WEMWBS columns
        for it in inst.items:
            if it.role == "weight":
                v = rng.choice([1.0, 2.0, 3.0, nan], n)
            else:
                v = rng.integers(int(it.min), int(it.max) + 1, n).astype(float)
                v[rng.random(n) < 0.05] = nan
            cols[it.id] = v
    df = pd.DataFrame({"participant_id": [f"P{k // 2:05d}" for k in range(n)],
                       "timepoint": np.tile(["baseline", "followup"], n // 2), **cols})
    regs = I.registry(I.builtin_ids())
    out = I.score_all(df, regs)
    n_scales = sum(len(i.scales) for i in regs.values() if i.id != "service_use")
    assert len(out) == n * n_scales
    assert out.groupby(["instrument", "scale"], observed=True).size().eq(n).all()
    # Independent check of one scale: WEMWBS total = row sum where all 14 answered.
    w = df[[f"wemwbs_{k}" for k in range(1, 15)]]
    expected = w.sum(axis=1, min_count=14).where(w.notna().all(axis=1))
    got = out[(out.instrument == "wemwbs") & (out.scale == "total")].score.to_numpy()
    np.testing.assert_array_equal(got, expected.to_numpy())
    # ... and the ONS anxiety item passes straight through.
    got = out[(out.instrument == "ons4") & (out.scale == "anxious")].score.to_numpy()
    np.testing.assert_array_equal(got, df.ons4_anxious.to_numpy())


def test_first_error_is_in_instrument_order_then_row_order():
    """With errors in several instruments of a large table, the error raised is the first
    one in instrument order (then row order)."""
    n = 200_000
    rng = np.random.default_rng(11)
    data = {f"wemwbs_{k}": rng.integers(1, 6, n).astype(float) for k in range(1, 15)}
    data.update({f"gse_{k}": rng.integers(1, 5, n).astype(float) for k in range(1, 11)})
    df = pd.DataFrame(data)
    df.insert(0, "timepoint", "baseline")
    df.insert(0, "participant_id", [f"p{k}" for k in range(n)])
    late, early = n // 2 + 20_000, 42_000
    bad = df.copy()
    bad.loc[late, "wemwbs_2"] = 9   # a later row of the first instrument ...
    bad.loc[early + 8_000, "gse_4"] = 7
    bad.loc[early, "wemwbs_9"] = 0   # ... and the first bad row of the first instrument
    with pytest.raises(InputError) as exc:
        I.score_all(bad, ["wemwbs", "gse"])
    assert exc.value.issue.column == "wemwbs_9" and f"participant p{early}" in str(exc.value)
    with pytest.raises(InputError) as exc:
        I.score_all(bad, ["gse", "wemwbs"])
    assert exc.value.issue.column == "gse_4" and f"participant p{early + 8_000}" in str(exc.value)
    # the first instrument's only error, in a later row, still comes before the second's
    bad.loc[early, "wemwbs_9"] = 3
    with pytest.raises(InputError) as exc:
        I.score_all(bad, ["wemwbs", "gse"])
    assert exc.value.issue.column == "wemwbs_2" and f"participant p{late}" in str(exc.value)


@pytest.mark.parametrize("rows", [5, 200_000])
def test_first_bad_answer_is_named_row_first(rows):
    """With several bad answers, the one reported is in the earliest row (then the earliest
    item), in a small table and in a large one."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"participant_id": [f"p{i}" for i in range(rows)],
                       "timepoint": "baseline"})
    for k in range(1, 15):
        df[f"wemwbs_{k}"] = rng.integers(1, 6, rows).astype(float)
    df.loc[rows - 2, "wemwbs_2"] = 9.0      # a later row, an earlier item
    df.loc[rows - 3, "wemwbs_13"] = 3.5     # the earliest bad row: this one is named
    with pytest.raises(InputError) as exc:
        I.score_all(df, ["wemwbs"])
    assert exc.value.issue.column == "wemwbs_13"
    assert f"participant p{rows - 3}" in str(exc.value) and "found 3.5" in str(exc.value)


@pytest.mark.parametrize("rows", [4, 200_000])
def test_blank_keys_are_refused_in_a_fixed_order(rows):
    """A blank participant id is reported before anything else, a bad answer before a blank
    time point, in one thread and in parallel chunks alike."""
    def table():
        df = pd.DataFrame({"participant_id": [f"p{i}" for i in range(rows)],
                           "timepoint": "baseline"})
        for k in range(1, 15):
            df[f"wemwbs_{k}"] = 3.0
        return df

    df = table()
    df.loc[2, "timepoint"] = None
    with pytest.raises(InputError, match="blank 'timepoint'") as exc:
        I.score_all(df, ["wemwbs"])
    assert exc.value.issue.row == 4
    df.loc[1, "wemwbs_4"] = 7.0
    with pytest.raises(InputError, match="outside the range of item 'wemwbs_4'"):
        I.score_all(df, ["wemwbs"])
    df.loc[3, "participant_id"] = None
    with pytest.raises(InputError, match="blank 'participant_id'") as exc:
        I.score_all(df, ["wemwbs"])
    assert exc.value.issue.row == 5


