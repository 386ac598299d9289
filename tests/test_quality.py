"""Flow, reach, engagement, timing and missingness on the hand-built tiny study, with every
expected number counted by hand from tests/conftest.py."""
import pandas as pd
import pytest

from spanalysis import load_study
from spanalysis.change import quality


@pytest.fixture
def study(make_study):
    return load_study(make_study())


def test_flow_counts(study):
    flow = quality.flow_counts(study, interviewed={"SP001", "SP999"})
    # 4 referred; all 4 answered at baseline; SP001 and SP002 at follow-up; SP001 interviewed
    assert flow["n"].tolist() == [4, 4, 2, 2, 1]
    assert flow["percent_of_referred"].tolist() == [100.0, 100.0, 50.0, 50.0, 25.0]


def test_flow_by_site(study):
    table = quality.flow_by_site(study)
    assert table.loc["Riverside"].tolist() == [2, 2, 2, 2]
    assert table.loc["Hillview"].tolist() == [2, 2, 0, 0]


def test_reach(study):
    reach = quality.reach(study)
    gender = reach[reach["attribute"] == "gender"].set_index("value")["n"]
    assert gender.to_dict() == {"Female": 2, "Male": 2}
    imd = reach[reach["attribute"] == "imd_quintile"]
    assert imd["percent"].sum() == pytest.approx(100)


def test_engagement(study):
    eng = quality.engagement(study)
    # Riverside sessions 4 and 6 -> median 5; Hillview 2 and 0 -> median 1
    assert eng.loc["Riverside", "median"] == 5 and eng.loc["Hillview", "median"] == 1
    assert eng.loc["Hillview", "sessions 0"] == 1 and eng.loc["Riverside", "sessions 4-6"] == 2


def test_followup_timing(study):
    timing = quality.followup_timing(study)
    # SP001: 2025-01-10 -> 2025-04-12 = 92 days; SP002: 2025-01-15 -> 2025-04-20 = 95 days
    assert timing.loc["followup", "n"] == 2
    assert timing.loc["followup", "median"] == 93.5
    assert timing.loc["followup", "target_days"] == 90


def test_item_missingness(study):
    miss = quality.item_missingness(study).set_index(["instrument", "timepoint"])
    row = miss.loc[("wemwbs", "followup")]
    # two follow-up respondents x 14 items, one blank (SP002 wemwbs_14)
    assert row["respondents"] == 2 and row["respondents_with_missing"] == 1
    assert row["percent_items_missing"] == pytest.approx(100 / 28)
    by_item = quality.item_missingness_by_item(study)
    assert by_item.loc["wemwbs_14", "followup"] == 50.0
    assert by_item.loc["wemwbs_14", "baseline"] == 0.0


def test_missingness_figure_has_alt_text(study):
    fig, alt = quality.missingness_figure(study)
    assert "wemwbs_14 at followup: 50.0%" in alt
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_issues_table(study):
    table = quality.issues_table(study.issues)
    assert list(table.columns) == ["level", "file", "row", "column", "value", "expected", "message"]


def test_issues_table_rows_are_whole_numbers_shown_without_decimals():
    """A finding about a whole file has no row: the others must still show row 7, not 7.00."""
    from spanalysis.errors import Issue
    from spanalysis.report.display import show_table

    issues = [Issue("warning", "read as Windows-1252", file="a.csv", row=7),
              Issue("warning", "2 partial responses", file="a.csv", column="Finished")]
    table = quality.issues_table(issues)
    assert str(table["row"].dtype) == "Int64"
    assert table["row"].iloc[0] == 7 and pd.isna(table["row"].iloc[1])
    html = show_table(table[["file", "row", "message"]], caption="Warnings", show=False)
    assert ">7<" in html and "7.00" not in html
    assert "NA" not in html and "–" in html      # the finding without a row: a dash


def test_for_site_restricts_every_table(study):
    sub = study.for_site("Hillview")
    assert set(sub.participants["participant_id"]) == {"SP003", "SP004"}
    assert set(sub.responses["participant_id"]) == {"SP003", "SP004"}
    assert sub.service_use.empty
    assert study.for_site("all") is study
