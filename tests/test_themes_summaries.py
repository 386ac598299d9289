"""Theme summaries: code frequencies per group (normalised) and code co-occurrence.

Expected values are worked by hand on small tables (arithmetic in comments), checked against
scipy's Jaccard distance, and on the demo study against counts made directly from the raw
CSV files with pandas.
"""
import math

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO
from matplotlib.figure import Figure
from scipy.spatial.distance import jaccard as jaccard_distance

from spanalysis.errors import InputError
from spanalysis.qual.themes import (
    code_cooccurrence,
    code_frequencies,
    cooccurrence_heatmap,
    participant_code_matrix,
)

SOURCES = pd.DataFrame({
    "source_id": ["I1", "I2", "I3", "O1"],
    "source_type": ["interview", "interview", "interview", "observation"],
    "participant_id": ["P1", "P2", "P3", None],
    "site": ["A", "A", "B", "A"],
})
SEGMENTS = pd.DataFrame({
    # I1 is double-coded: coder a gives hope twice, coder b once -> counts max(2, 1) = 2
    "source_id": ["I1", "I1", "I1", "I3", "O1", "I2"],
    "coder": ["a", "a", "b", "a", "a", "b"],
    "code_id": ["hope", "hope", "hope", "hope", "hope", "social"],
})
PARTICIPANTS = pd.DataFrame({"participant_id": ["P1", "P2", "P3"],
                             "gender": ["F", "M", "F"]})


def _row(table, **where):
    mask = np.ones(len(table), dtype=bool)
    for k, v in where.items():
        mask &= (table[k] == v).to_numpy()
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


def test_frequencies_by_site_are_normalised_by_group_size():
    f = code_frequencies(SEGMENTS, SOURCES, by="site")
    assert list(f.columns[:2]) == ["site", "code_id"]
    a_hope = _row(f, site="A", code_id="hope")
    # site A sources: I1, I2, O1 (3); participants P1, P2 (2)
    # hope in A: I1 (max(2, 1) = 2 segments) + O1 (1) = 3 segments, 2 sources, 1 participant
    assert (a_hope.segments, a_hope.sources, a_hope.participants) == (3, 2, 1)
    assert (a_hope.group_sources, a_hope.group_participants) == (3, 2)
    assert a_hope.percent_participants == pytest.approx(100 * 1 / 2)
    assert a_hope.percent_sources == pytest.approx(100 * 2 / 3)
    assert a_hope.segments_per_source == pytest.approx(3 / 3)
    b_social = _row(f, site="B", code_id="social")  # a real zero, not a missing row
    assert (b_social.segments, b_social.participants, b_social.group_participants) == (0, 0, 1)
    assert b_social.percent_participants == 0.0
    assert len(f) == 4  # 2 sites x 2 codes


def test_frequencies_by_participant_attribute_drop_sources_without_a_person():
    f = code_frequencies(SEGMENTS, SOURCES, by="gender", participants=PARTICIPANTS)
    women_hope = _row(f, gender="F", code_id="hope")
    # women: P1 (I1) and P3 (I3) both voiced hope -> 2 of 2 = 100%; O1 has no person
    assert (women_hope.participants, women_hope.group_participants) == (2, 2)
    assert women_hope.segments == 3  # I1: 2, I3: 1 (O1 not counted)
    assert women_hope.percent_participants == 100.0
    men_social = _row(f, gender="M", code_id="social")
    assert men_social.percent_participants == 100.0


def test_frequencies_by_source_type_and_overall():
    f = code_frequencies(SEGMENTS, SOURCES, by="source_type")
    obs = _row(f, source_type="observation", code_id="hope")
    assert obs.group_participants == 0 and math.isnan(obs.percent_participants)
    assert obs.percent_sources == 100.0
    overall = code_frequencies(SEGMENTS, SOURCES)
    assert list(overall.columns[:1]) == ["code_id"] and len(overall) == 2
    hope = _row(overall, code_id="hope")
    assert (hope.segments, hope.sources, hope.participants) == (4, 3, 2)


def test_frequencies_single_coder_and_matrix_agree():
    f = code_frequencies(SEGMENTS, SOURCES, coder="b")
    assert _row(f, code_id="hope").segments == 1  # only coder b's one hope segment in I1
    interview = code_frequencies(SEGMENTS, SOURCES, source_types=("interview",))
    voiced = participant_code_matrix(SEGMENTS, SOURCES, binary=True).sum()
    for code, n in voiced.items():
        assert _row(interview, code_id=code).participants == n


def test_frequencies_reject_unknown_grouping_and_coder():
    with pytest.raises(InputError, match="grouping column"):
        code_frequencies(SEGMENTS, SOURCES, by="gender")  # no participants table given
    with pytest.raises(InputError, match="coder"):
        code_frequencies(SEGMENTS, SOURCES, coder="zz")


def test_demo_percent_of_interviewed_participants_matches_raw_files():
    from spanalysis.study import load_study

    study = load_study(DEMO)
    q = study.qualitative
    f = code_frequencies(q.segments, q.sources, by="site", source_types=("interview",))
    # independent count straight from the CSV files
    src = pd.read_csv(DEMO / "qualitative" / "sources.csv")
    seg = pd.read_csv(DEMO / "qualitative" / "segments.csv")
    src = src[src["source_type"] == "interview"]
    voiced = (seg.merge(src, on="source_id").groupby(["site", "code_id"])["participant_id"]
              .nunique())
    interviewed = src.groupby("site")["participant_id"].nunique()
    for (site, code), n in voiced.items():
        row = _row(f, site=site, code_id=code)
        assert row.participants == n
        assert row.group_participants == interviewed[site]
        assert row.percent_participants == pytest.approx(100 * n / interviewed[site])
    assert set(f["site"]) == set(interviewed.index)


# --------------------------------------------------------------------------- co-occurrence

COSEG = pd.DataFrame({
    "source_id": ["S1", "S1", "S1", "S2", "S2", "S3", "S1"],
    "coder": ["x", "x", "x", "x", "x", "x", "y"],
    "code_id": ["hope", "valued", "social", "hope", "valued", "valued", "social"],
    "start": [0, 5, 30, 0, 50, 0, 0],
    "end": [10, 20, 40, 10, 60, 10, 10],
})


def test_cooccurrence_by_source_hand_worked():
    t = code_cooccurrence(COSEG, unit="source").set_index(["code_a", "code_b"])
    # sources: hope {S1, S2}, social {S1}, valued {S1, S2, S3}
    hv = t.loc[("hope", "valued")]
    assert (hv.n_a, hv.n_b, hv.n_ab) == (2, 3, 2)
    assert hv.jaccard == pytest.approx(2 / (2 + 3 - 2))      # = 2/3
    assert hv.c_coefficient == pytest.approx(2 / 3)           # same formula on sources
    assert t.loc[("hope", "social")].jaccard == pytest.approx(1 / (2 + 1 - 1))    # 0.5
    assert t.loc[("social", "valued")].jaccard == pytest.approx(1 / (1 + 3 - 1))  # 1/3


def test_cooccurrence_by_overlap_hand_worked():
    t = code_cooccurrence(COSEG, unit="overlap").set_index(["code_a", "code_b"])
    hv = t.loc[("hope", "valued")]
    # segments: hope 2, valued 3; overlapping pairs by the same coder: S1 hope [0,10) with
    # valued [5,20) -> n_ab = 1; c = 1 / (2 + 3 - 1) = 0.25
    assert (hv.n_a, hv.n_b, hv.n_ab) == (2, 3, 1)
    assert hv.c_coefficient == pytest.approx(0.25)
    # characters: hope 10 + 10 = 20, valued 15 + 10 + 10 = 35, both: [5,10) = 5
    # Jaccard = 5 / (20 + 35 - 5) = 0.1
    assert hv.jaccard == pytest.approx(0.1)
    # coder y's social [0,10) overlaps coder x's hope [0,10) but different coders do not
    # co-occur
    hs = t.loc[("hope", "social")]
    assert hs.n_ab == 0 and hs.c_coefficient == 0.0 and hs.jaccard == 0.0


def test_c_coefficient_can_exceed_one_as_atlas_ti_warns():
    seg = pd.DataFrame({"source_id": ["S"] * 5, "coder": ["x"] * 5,
                        "code_id": ["a", "b", "b", "b", "a"],
                        "start": [0, 0, 20, 40, 5], "end": [100, 10, 30, 50, 15]})
    t = code_cooccurrence(seg, unit="overlap").iloc[0]
    # a: [0,100) and [5,15) (2 segments); b: 3 segments; pairs overlapping:
    # [0,100) with all three b (3) + [5,15) with b [0,10) (1) = 4; c = 4 / (2 + 3 - 4) = 4
    assert (t.n_a, t.n_b, t.n_ab) == (2, 3, 4)
    assert t.c_coefficient == pytest.approx(4.0)
    # characters: a covers [0,100) = 100 (the inner [5,15) is inside, not added twice);
    # b covers 30; both = 30 -> Jaccard 30 / (100 + 30 - 30) = 0.3
    assert t.jaccard == pytest.approx(0.3)


def test_cooccurrence_source_unit_matches_scipy_jaccard_on_demo():
    seg = pd.read_csv(DEMO / "qualitative" / "segments.csv")
    t = code_cooccurrence(seg, unit="source")
    carries = pd.crosstab(seg["source_id"], seg["code_id"]) > 0
    for row in t.itertuples():
        u, v = carries[row.code_a].to_numpy(), carries[row.code_b].to_numpy()
        if (u | v).any():
            assert row.jaccard == pytest.approx(1 - jaccard_distance(u, v))
        assert row.n_ab == int((u & v).sum())


def test_cooccurrence_rejects_unknown_unit():
    with pytest.raises(InputError, match="unit"):
        code_cooccurrence(COSEG, unit="paragraph")


def test_heatmap_returns_figure_with_title_and_alt_text():
    table = code_cooccurrence(COSEG, unit="source")
    fig = cooccurrence_heatmap(table, labels={"hope": "Offering hope"})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "Code co-occurrence (C-coefficient)"
    assert {t.get_text() for t in ax.get_xticklabels()} == {"Offering hope", "social", "valued"}
    # strongest pair is hope-valued, 2/3
    assert fig.alt_text == ("Code co-occurrence (C-coefficient) of 3 codes. Strongest pair: "
                            "Offering hope and valued (0.67).")
    with pytest.raises(InputError):
        cooccurrence_heatmap(table, value="lift")
