"""Answers as people type them (issue 20: 2): an answer may be its label from the instrument's
definition (case and spaces ignored), dates may be date-times, Excel serial numbers or SPSS
dates. The demo written that way scores exactly as the plain demo."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import DEMO, folder_digest
from spanalysis import instruments, load_study, validate_study


def _scores(folder) -> pd.DataFrame:
    return load_study(folder).scores


def _errors(folder):
    return [i for i in validate_study(folder) if i.level == "error"]


def _labels(study_instruments) -> dict:
    return {it.id: dict(it.labels) for inst in study_instruments.values() for it in inst.items
            if it.labels}


def _as_typed(frame: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """Every labelled code as its label, spelled as people do (case and spaces varying)."""
    out = frame.copy()
    spellings = [lambda s: s, str.upper, str.lower, lambda s: f"  {s.replace(' ', '  ')} "]
    for col, options in labels.items():
        if col not in out.columns:
            continue
        values = out[col]
        written = values.map(lambda v: "" if pd.isna(v) else str(int(v)))
        for k, (code, label) in enumerate(options.items()):
            hit = (values == code).to_numpy()
            written[hit] = spellings[k % len(spellings)](label)
        out[col] = written
    return out


def test_the_demo_typed_as_people_type_scores_as_the_plain_demo(tmp_path):
    export = tmp_path / "demo"
    shutil.copytree(DEMO, export)
    plain = load_study(DEMO)
    responses = pd.read_csv(DEMO / "responses.csv", dtype={"participant_id": str})
    items = [c for c in responses.columns
             if c not in ("participant_id", "timepoint", "completed_date")]
    typed = _as_typed(responses, _labels(plain.instruments))
    for col in items:   # "not answered" written as -99
        typed[col] = typed[col].where(responses[col].notna(), "-99")
    # date-times: ISO with T, with a space, and DD/MM/YYYY HH:MM, in turn
    done = pd.to_datetime(responses["completed_date"])
    forms = [done.dt.strftime("%Y-%m-%dT%H:%M:%S"), (done + pd.Timedelta("13h05min"))
             .dt.strftime("%Y-%m-%d %H:%M:%S"), (done + pd.Timedelta("23h59min"))
             .dt.strftime("%d/%m/%Y %H:%M")]
    typed["completed_date"] = np.select([np.arange(len(done)) % 3 == k for k in range(3)],
                                        forms)
    typed["completed_date"] = typed["completed_date"].where(done.notna(), "")
    typed["Duration (in seconds)"] = 312
    typed["Q99_TEXT"] = "free text"
    typed.to_csv(export / "responses.csv", index=False)
    people = pd.read_csv(DEMO / "participants.csv", dtype=str)
    people["referral_date"] = pd.to_datetime(people["referral_date"]).dt.strftime(
        "%d/%m/%Y 09:15")
    people.to_csv(export / "participants.csv", index=False)
    yaml = (export / "study.yaml").read_text()
    (export / "study.yaml").write_text(yaml.replace("    layout: wide",
                                                    "    layout: wide\n    missing: [-99]"))
    assert "None of the time" in (export / "responses.csv").read_text()
    before = folder_digest(export)
    assert _errors(export) == []
    study = load_study(export)
    pd.testing.assert_frame_equal(study.scores, plain.scores)
    pd.testing.assert_frame_equal(study.responses, plain.responses)
    pd.testing.assert_frame_equal(study.participants, plain.participants)
    assert folder_digest(export) == before


def test_a_label_that_is_no_label_names_file_row_column_value_and_the_labels(make_study):
    folder = make_study()
    text = (folder / "responses.csv").read_text().splitlines()
    cells = text[2].split(",")   # row 3: SP001 follow-up
    cells[3] = "Often"           # wemwbs_1: a label
    cells[4] = "Quite often"     # wemwbs_2: no label of WEMWBS
    text[2] = ",".join(cells)
    (folder / "responses.csv").write_text("\n".join(text) + "\n")
    err = _errors(folder)
    assert len(err) == 1
    e = err[0]
    assert (e.file, e.row, e.column, e.value) == ("responses.csv", 3, "wemwbs_2", "Quite often")
    assert "not a number, nor one of its labels" in e.message
    assert "1 = None of the time" in e.expected and "5 = All of the time" in e.expected


def test_labels_in_a_long_file(make_study):
    plain = make_study(layout="long", name="plain")
    folder = make_study(layout="long", name="typed")
    text = (folder / "responses.csv").read_text()
    text = text.replace("SP001,baseline,wemwbs_1,3,", "SP001,baseline,wemwbs_1,some of the TIME,")
    text = text.replace("SP001,baseline,gse_1,2,", "SP001,baseline,gse_1, Hardly  true ,")
    (folder / "responses.csv").write_text(text)
    assert _errors(folder) == []
    pd.testing.assert_frame_equal(_scores(folder), _scores(plain))
    (folder / "responses.csv").write_text(text.replace("SP001,baseline,gse_2,2,",
                                                       "SP001,baseline,gse_2,Often,"))
    err = _errors(folder)
    assert len(err) == 1 and (err[0].row, err[0].column, err[0].value) == (17, "value", "Often")
    assert "gse_2" in err[0].message and "2 = Hardly true" in err[0].expected


def test_labels_are_looked_up_once_per_distinct_value():
    from spanalysis.study.answers import labels_to_codes

    raw = pd.Series(["Often", "  often ", "3", None, "RARELY", "Sometimes"] * 1000)
    labels = tuple(instruments.load("wemwbs").items[0].labels.items())
    out = labels_to_codes(raw, labels)
    assert out.iloc[:6].tolist()[:3] == [4.0, 4.0, "3"] and out.iloc[4] == 2.0
    assert pd.isna(out.iloc[3]) and out.iloc[5] == "Sometimes"


def test_excel_serial_dates_in_an_xlsx(make_study):
    plain = make_study(name="plain")
    folder = make_study(name="xlsx")
    people = pd.read_csv(folder / "participants.csv", dtype=str)
    referral = load_study(plain).participants["referral_date"].to_numpy()
    serial = (referral - np.datetime64("1899-12-30")) / np.timedelta64(1, "D") + 0.25  # 06:00
    people["referral_date"] = serial
    people.to_excel(folder / "participants.xlsx", index=False)
    (folder / "participants.csv").unlink()
    yaml = (folder / "study.yaml").read_text()
    (folder / "study.yaml").write_text(yaml.replace("participants: participants.csv",
                                                    "participants: participants.xlsx"))
    assert _errors(folder) == []
    got = load_study(folder).participants["referral_date"]
    want = load_study(plain).participants["referral_date"]
    pd.testing.assert_series_equal(got, want)
    pd.testing.assert_frame_equal(_scores(folder), _scores(plain))


def test_spss_dates_and_labels(make_study):
    pyreadstat = pytest.importorskip("pyreadstat")
    plain = make_study(name="plain")
    folder = make_study(name="sav")
    people = pd.read_csv(folder / "participants.csv", dtype=str)
    people["referral_date"] = load_study(plain).participants["referral_date"].dt.date
    people["imd_quintile"] = people["imd_quintile"].astype(float)
    people["sessions_attended"] = people["sessions_attended"].astype(float)
    pyreadstat.write_sav(people, str(folder / "participants.sav"))
    responses = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    responses["completed_date"] = pd.to_datetime(responses["completed_date"]) + pd.Timedelta(
        "10h")
    pyreadstat.write_sav(responses, str(folder / "responses.sav"),
                         variable_value_labels={"wemwbs_1": {1: "None of the time", 4: "Often"}})
    for name in ("participants", "responses"):
        (folder / f"{name}.csv").unlink()
    yaml = (folder / "study.yaml").read_text()
    yaml = yaml.replace("participants: participants.csv", "participants: participants.sav")
    (folder / "study.yaml").write_text(yaml.replace("path: responses.csv",
                                                    "path: responses.sav"))
    assert _errors(folder) == []
    pd.testing.assert_frame_equal(_scores(folder), _scores(plain))
