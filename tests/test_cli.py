"""The command line: demo, validate, score, kernel; exit statuses and no tracebacks."""
from __future__ import annotations

import pandas as pd
from conftest import DEMO, folder_digest

from spanalysis.cli import main


def test_demo_command_writes_a_valid_study(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--participants", "60", "--sites", "3", "--seed", "7"]) == 0
    assert "wrote the demo study" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
    people = pd.read_csv(out / "participants.csv")
    assert len(people) == 60 and people["site"].nunique() == 3


def test_demo_command_refuses_bad_arguments(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "d"), "--participants", "3"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_validate_the_committed_demo(capsys):
    before = folder_digest(DEMO)
    assert main(["validate", str(DEMO)]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    assert folder_digest(DEMO) == before


def test_validate_json(capsys, make_study):
    import json

    folder = make_study()
    (folder / "participants.csv").write_text(
        (folder / "participants.csv").read_text().replace("2025-02-01", "soon"))
    assert main(["validate", str(folder), "--json"]) == 2
    found = json.loads(capsys.readouterr().out)
    assert found[0]["row"] == 4 and found[0]["column"] == "referral_date"


def test_score_command_csv_and_parquet(tmp_path):
    for name in ("scores.csv", "scores.parquet"):
        assert main(["score", str(DEMO), "--out", str(tmp_path / name)]) == 0
    csv = pd.read_csv(tmp_path / "scores.csv")
    parquet = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(csv) == len(parquet)
    assert list(csv.columns) == ["participant_id", "timepoint", "instrument", "scale", "score",
                                 "items_answered", "items_expected", "status"]
    # WEMWBS total of the first participant at baseline, summed here from the raw file
    raw = pd.read_csv(DEMO / "responses.csv")
    first = raw.iloc[0]
    items = [f"wemwbs_{i}" for i in range(1, 15)]
    row = csv[(csv["participant_id"] == first["participant_id"])
              & (csv["timepoint"] == first["timepoint"]) & (csv["instrument"] == "wemwbs")]
    if first[items].notna().all():
        assert row["score"].iloc[0] == first[items].sum()


def test_usage_errors_exit_2(capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["score"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_unknown_study_folder(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s.csv")]) == 2
    assert "study folder not found" in capsys.readouterr().err


def test_reliable_command_counts_and_wilson_intervals(tmp_path, capsys):
    """`spanalysis reliable`: WEMWBS reliable improvers counted here from the raw file
    (Jacobson & Truax 1991: a change beyond z x SD x sqrt(2) x sqrt(1 - r), z = 1.96 the normal
    quantile of 0.975 (unrounded, scipy), the baseline SD
    of everyone scored, r = 0.83 the published test-retest reliability, Tennant et al. 2007),
    and the percentages' Wilson intervals against statsmodels."""
    import numpy as np
    from statsmodels.stats.proportion import proportion_confint

    out = tmp_path / "reliable.csv"
    assert main(["reliable", str(DEMO), "--out", str(out)]) == 0
    assert "wrote reliable change" in capsys.readouterr().out
    table = pd.read_csv(out).set_index(["instrument", "scale"])
    raw = pd.read_csv(DEMO / "responses.csv", dtype={"participant_id": str})
    raw["total"] = raw[[f"wemwbs_{i}" for i in range(1, 15)]].sum(axis=1, min_count=14)
    wide = raw.pivot(index="participant_id", columns="timepoint", values="total")
    from scipy.stats import norm

    threshold = norm.ppf(0.975) * wide["baseline"].std(ddof=1) * np.sqrt(2) * np.sqrt(1 - 0.83)
    change = (wide["followup"] - wide["baseline"]).dropna()
    row = table.loc[("wemwbs", "total")]
    assert row["threshold"] == __import__("pytest").approx(threshold)
    assert row["n"] == len(change)
    assert row["n_reliable_improvement"] == int((change > threshold).sum())
    assert row["n_reliable_deterioration"] == int((change < -threshold).sum())
    for confidence in (0.95, 0.9):
        if confidence != 0.95:
            assert main(["reliable", str(DEMO), "--out", str(out), "--confidence",
                         str(confidence)]) == 0
            row = pd.read_csv(out).set_index(["instrument", "scale"]).loc[("wemwbs", "total")]
        for what in ("improvement", "deterioration"):
            low, high = proportion_confint(row[f"n_reliable_{what}"], row["n"],
                                           alpha=1 - confidence, method="wilson")
            assert row[f"pct_reliable_{what}_ci_low"] == __import__("pytest").approx(100 * low)
            assert row[f"pct_reliable_{what}_ci_high"] == __import__("pytest").approx(100 * high)


def test_reliable_command_refuses_a_bad_confidence_or_time_point(tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["reliable", str(DEMO), "--out", str(out), "--confidence", "95"]) == 2
    assert "confidence level out of range" in capsys.readouterr().err
    assert main(["reliable", str(DEMO), "--out", str(out), "--pre", "week_99"]) == 2
    err = capsys.readouterr().err
    assert "week_99" in err and "Traceback" not in err
    assert not out.exists()
