"""Display helpers: disclosure is applied to every table they render."""
import json

import numpy as np
import pandas as pd

from spanalysis.privacy import disclosure
from spanalysis.report.display import (
    column_label,
    count_text,
    percent_text,
    show_counts,
    show_stats,
    show_table,
    write_summary,
)


def test_count_text_and_percent_text():
    assert count_text(3, 5) == "fewer than 5"
    assert count_text(0, 5) == "0" and count_text(1234, 5) == "1,234"
    assert percent_text(20, 40, 5) == "20 (50%)"
    # 38 of 40 would reveal that 2 did not: withheld
    assert percent_text(38, 40, 5) == "38 (percentage withheld)"
    assert percent_text(2, 40, 5) == "fewer than 5 (percentage withheld)"


def test_show_counts_never_shows_a_small_count():
    table = pd.DataFrame({"Yes": [3, 20, 14], "No": [15, 25, 9]}, index=["A", "B", "C"])
    markup = show_counts(table, 5, caption="Test", show=False)
    assert disclosure.scan_html_for_small_counts(markup, 5) == []
    assert "&lt;5" in markup


def test_show_stats_withholds_small_groups():
    table = pd.DataFrame({"site": ["A", "B", "C"], "n": [3, 30, 40], "mean": [9.5, 1.25, 2.0]})
    markup = show_stats(table, "n", 5, caption="Means", show=False)
    assert "9.50" not in markup and "&lt;5" in markup
    assert "2.00" in markup  # the largest group stays visible
    assert "withheld" in markup


def test_show_table_escapes_text():
    table = pd.DataFrame({"quote": ["<script>alert(1)</script>"], "value": [1.0]})
    markup = show_table(table, caption="<b>cap</b>", show=False)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert "&lt;b&gt;cap" in markup


def test_column_label():
    assert column_label("percent_items_missing") == "Percent items missing"
    assert column_label("change_ci_low") == "Change CI low"


def test_write_summary(tmp_path):
    import numpy as np

    path = write_summary(tmp_path / "s.json", {"n": np.int64(30), "x": np.float64("nan")}, 5)
    assert json.loads(path.read_text()) == {"n": 30, "x": None}
    assert write_summary("", {"n": 1}, 5) is None


def test_a_summary_obeys_the_small_count_rule(tmp_path):
    # issue 19: 10: counts 1 to k-1 are written as "<k" at any depth; 0 and settings are kept
    import numpy as np

    summary = {"report": "site_report", "k": 5, "referred": 12, "pairs": np.int64(4),
               "interviewed": 0, "warnings": 3, "primary": {"n_pairs": 4, "small_group": True,
                                                            "confidence": 0.95},
               "themes": [{"theme": "hope", "n_voiced": 3}, {"theme": "calm", "n_voiced": 7}]}
    path = write_summary(tmp_path / "site.summary.json", summary, 5)
    assert json.loads(path.read_text()) == {
        "report": "site_report", "k": 5, "referred": 12, "pairs": "<5", "interviewed": 0,
        "warnings": "<5", "primary": {"n_pairs": "<5", "small_group": True, "confidence": 0.95},
        "themes": [{"theme": "hope", "n_voiced": "<5"}, {"theme": "calm", "n_voiced": 7}]}
    rounded = write_summary(tmp_path / "r.summary.json", {"referred": 12, "pairs": 3}, 5,
                            rounding=5)
    assert json.loads(rounded.read_text()) == {"referred": 10, "pairs": "<5"}


def test_report_local_participant_labels_and_their_key(tmp_path):
    # issue 19: 12
    from spanalysis.report.display import participant_label, write_participant_key

    labels = {}
    shown = [participant_label(labels, f"SP{i:04d}") for i in range(28)]
    assert shown[:3] == ["Participant A", "Participant B", "Participant C"]
    assert shown[25:] == ["Participant Z", "Participant AA", "Participant AB"]
    assert participant_label(labels, "SP0001") == "Participant B"
    key = write_participant_key(tmp_path / "04_integration.summary.json", labels)
    assert key == tmp_path / "04_integration_participant_key.csv"
    table = pd.read_csv(key, dtype=str)
    assert list(table.columns) == ["label", "participant_id"] and len(table) == 28
    assert table.iloc[27].tolist() == ["Participant AB", "SP0027"]
    assert write_participant_key("", labels) is None


def test_formatting_rules_worked_by_hand():
    # issue 19: 4: p as "< 0.001" or three decimals; effect sizes two decimals; counts and df
    # integers; a non-zero value never rounds to zero without "<"; no scientific notation
    from spanalysis.report.display import format_count, format_effect, format_p, format_value

    assert format_p(0.001) == "0.001"
    assert format_p(0.0004) == "< 0.001"
    assert format_p(0.0312) == "0.031" and format_p(1.0) == "1.000" and format_p(0.0) == "0.000"
    assert format_effect(-0.03) == "-0.03" and format_effect(0.456) == "0.46"
    assert format_effect(0.004) == "< 0.01" and format_effect(-0.004) == "> -0.01"
    assert format_count(225.0) == "225" and format_count(1234) == "1,234"
    assert format_value(-0.03, 1) == "> -0.1" and format_value(0.0, 2) == "0.00"
    assert format_value(0.00002, 2) == "< 0.01" and "e" not in format_value(1.5e7, 2)
    assert format_value(1.5e7, 2) == "15,000,000.00"
    assert format_value(float("nan"), 2) == "–"


def test_show_table_formats_by_column():
    table = pd.DataFrame({"scale": ["total"], "df": [225.0], "t": [2.5], "p": [0.001],
                          "p_holm": [0.0004], "wilcoxon_p": [0.0312], "d_z": [-0.03],
                          "n_pairs": [226.0], "change_mean": [0.00002]})
    markup = show_table(table, caption="Test", show=False, decimals=1)
    cells = [c.rsplit("<td>", 1)[1] for c in markup.split("</td>")[:-1]]
    assert cells == ["225", "2.5", "0.001", "&lt; 0.001", "0.031", "-0.03", "226", "&lt; 0.1"]
    assert "e-" not in markup


def test_show_table_says_why_a_value_is_missing():
    table = pd.DataFrame({"theme": ["hope", "trust"], "cohen_kappa": [np.nan, 0.5],
                          "krippendorff_alpha_all": [np.nan, 0.25]})
    markup = show_table(table, caption="Agreement", show=False,
                        missing={"krippendorff_alpha_all": "not estimable"})
    cells = [c.rsplit("<td>", 1)[1] for c in markup.split("</td>")[:-1]]
    assert cells == ["–", "not estimable", "0.50", "0.25"]
