"""Survey platforms' exports read as they come (issue 20: 3): Qualtrics CSV (three header rows,
``ResponseId``, partial responses kept and counted, Windows-1252), REDCap (``record_id``,
``redcap_event_name`` as the time point, repeat, ``*_complete`` and checkbox columns left out)
and Microsoft Forms XLSX (``ID``, question text as headers). Each export is built here from the
small study of ``conftest.py`` and scores exactly as that study."""
from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from conftest import folder_digest
from spanalysis import instruments, load_study, validate_study

WEMWBS = instruments.load("wemwbs")
GSE = instruments.load("gse")


def _errors(folder):
    return [i for i in validate_study(folder) if i.level == "error"]


def _scores(folder, ids: dict | None = None) -> pd.DataFrame:
    scores = load_study(folder).scores.copy()
    if ids:
        scores["participant_id"] = scores["participant_id"].map(ids)
    return scores


def _plain(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "responses.csv", dtype=str, keep_default_na=False)


def _labelled(value: str, item) -> str:
    """An answer as the choice text, when the code has one."""
    return item.labels.get(float(value), value) if value else value


def _manifest(folder, old, new):
    text = (folder / "study.yaml").read_text()
    assert old in text
    (folder / "study.yaml").write_text(text.replace(old, new))


def _rename_participants(folder, ids: dict, column="participant_id"):
    people = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    people["participant_id"] = people["participant_id"].map(ids)
    people.rename(columns={"participant_id": column}).to_csv(folder / "participants.csv",
                                                             index=False)
    service = pd.read_csv(folder / "service_use.csv", dtype=str)
    service["participant_id"] = service["participant_id"].map(ids)
    service.to_csv(folder / "service_use.csv", index=False)


# ------------------------------------------------------------------------------ Qualtrics
def _qualtrics(plain: pd.DataFrame, ids: dict, id_column="ResponseId") -> bytes:
    """A Qualtrics CSV export: metadata first, the items as Q1_1.., Q2_1.., the WEMWBS answers
    as choice text, three header rows, Windows-1252 (the question text has a curly quote)."""
    n = len(plain)
    meta = {"StartDate": [f"{d} 09:00:00" for d in plain["completed_date"]],
            "EndDate": [f"{d} 09:12:40" for d in plain["completed_date"]],
            "Status": ["IP Address"] * n, "IPAddress": ["192.0.2.1"] * n,
            "Progress": ["100"] * n, "Duration (in seconds)": ["760"] * n,
            "Finished": ["1", "1", "1", "0", "1", "1"][:n],
            "RecordedDate": [f"{d} 09:12:41" for d in plain["completed_date"]],
            id_column: plain["participant_id"].map(ids).tolist(),
            "wave": plain["timepoint"].tolist()}
    header_text = {k: k for k in meta}
    for i, item in enumerate(WEMWBS.items, 1):
        meta[f"Q1_{i}"] = [_labelled(v, item) for v in plain[item.id]]
        header_text[f"Q1_{i}"] = f"Over the last 2 weeks \u2019 - {item.stem}"
    for i, item in enumerate(GSE.items, 1):
        meta[f"Q2_{i}"] = plain[item.id].tolist()
        header_text[f"Q2_{i}"] = f"How true is this?\n{item.stem}"
    meta["Q3_TEXT"] = ["anything else"] * n
    header_text["Q3_TEXT"] = "Anything else? - Text"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(meta))
    writer.writerow([header_text[k] for k in meta])
    writer.writerow(['{"ImportId":"%s"}' % (k if not k.startswith("Q") else "QID" + k[1:])
                     for k in meta])
    for r in range(n):
        writer.writerow([meta[k][r] for k in meta])
    return out.getvalue().encode("cp1252")


def _qualtrics_items() -> str:
    pairs = [f"{it.id}: Q1_{i}" for i, it in enumerate(WEMWBS.items, 1)]
    pairs += [f"{it.id}: Q2_{i}" for i, it in enumerate(GSE.items, 1)]
    return "{" + ", ".join(pairs) + "}"


def test_qualtrics_export_with_response_id_scores_as_the_plain_study(make_study):
    plain, export = make_study(name="plain"), make_study(name="qualtrics")
    ids = {f"SP00{k}": f"R_00{k}" for k in range(1, 5)}
    (export / "export.csv").write_bytes(_qualtrics(_plain(export), ids))
    (export / "responses.csv").unlink()
    _rename_participants(export, ids)
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: export.csv\n    layout: wide\n"
              "    columns: {timepoint: wave, completed_date: EndDate}\n"
              f"    items: {_qualtrics_items()}")
    before = folder_digest(export)
    issues = validate_study(export)
    assert [i for i in issues if i.level == "error"] == []
    warnings = [str(i) for i in issues]
    assert any("Windows-1252" in w for w in warnings)
    assert any("1 partial response(s) (Finished = 0) are kept" in w for w in warnings)
    extra = [i for i in issues if "not items" in i.message]
    assert len(extra) == 1 and "Q3_TEXT" in extra[0].value and "ResponseId" not in \
        extra[0].value
    study = load_study(export)
    assert study.partial_responses == 1
    assert len(study.responses) == 6   # the partial response kept
    back = {v: k for k, v in ids.items()}
    pd.testing.assert_frame_equal(_scores(export, back), _scores(plain))
    assert folder_digest(export) == before


def test_qualtrics_rows_are_the_files_own(make_study):
    export = make_study(name="qualtrics")
    ids = {f"SP00{k}": f"SP00{k}" for k in range(1, 5)}
    raw = _qualtrics(_plain(export), ids).decode("cp1252")
    lines = raw.split("\r\n")
    header = next(csv.reader([lines[0]]))
    # the 4th data record (SP002 follow-up) is the file's row 7 (after the header, question
    # text and ImportId rows), whatever lines the question text spans
    record = next(csv.reader([lines[6]]))
    assert record[header.index("ResponseId")] == "SP002"
    record[header.index("Q2_3")] = "7"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(record)
    lines[6] = buffer.getvalue()
    (export / "export.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: export.csv\n    layout: wide\n"
              f"    columns: {{timepoint: wave}}\n    items: {_qualtrics_items()}")
    err = _errors(export)
    assert len(err) == 1
    assert (err[0].file, err[0].row, err[0].column, err[0].value) == (
        "export.csv", 7, "gse_3", 7)


def test_a_mapped_id_wins_over_response_id(make_study):
    plain, export = make_study(name="plain"), make_study(name="qualtrics")
    ids = {f"SP00{k}": f"SP00{k}" for k in range(1, 5)}
    data = _qualtrics(_plain(export), ids, id_column="pid").decode("cp1252")
    lines = data.split("\r\n")
    # a ResponseId column of its own, different for every response
    lines[0] = lines[0].replace("RecordedDate,", "RecordedDate,ResponseId,")
    lines[1] = lines[1].replace("RecordedDate,", "RecordedDate,Response ID,")
    lines[2] = lines[2].replace('"{""ImportId"":""RecordedDate""}",',
                                '"{""ImportId"":""RecordedDate""}","{""ImportId"":""_r""}",')
    for k in range(3, len(lines) - 1):
        parts = lines[k].split(",")
        parts.insert(8, f"R_{k}")
        lines[k] = ",".join(parts)
    (export / "export.csv").write_text("\r\n".join(lines), encoding="utf-8")
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: export.csv\n    layout: wide\n"
              "    columns: {participant_id: pid, timepoint: wave}\n"
              f"    items: {_qualtrics_items()}")
    issues = validate_study(export)
    assert [i for i in issues if i.level == "error"] == []
    extra = [i for i in issues if "not items" in i.message]
    assert "ResponseId" in extra[0].value
    pd.testing.assert_frame_equal(_scores(export).drop(columns=[]), _scores(plain))


# ------------------------------------------------------------------------------ REDCap
def _redcap(plain: pd.DataFrame, ids: dict, events: dict) -> pd.DataFrame:
    out = pd.DataFrame({"record_id": plain["participant_id"].map(ids),
                        "redcap_event_name": plain["timepoint"].map(events),
                        "redcap_repeat_instrument": "", "redcap_repeat_instance": ""})
    out["completed_date"] = plain["completed_date"]
    for col in plain.columns[3:]:
        out[col] = plain[col]
    out["wemwbs_complete"] = 2
    out["reasons___1"] = [1, 0, 1, 0, 0, 1]
    out["reasons___2"] = [0, 0, 1, 1, 0, 0]
    return out


@pytest.mark.parametrize("declared", [False, True])
def test_redcap_events_become_time_points(make_study, declared):
    plain, export = make_study(name="plain"), make_study(name="redcap")
    ids = {f"SP00{k}": str(k) for k in range(1, 5)}
    events = {"baseline": "baseline_arm_1", "followup": "3_month_followup_arm_1"}
    _redcap(_plain(export), ids, events).to_csv(export / "redcap.csv", index=False)
    (export / "responses.csv").unlink()
    _rename_participants(export, ids, column="record_id")
    text = "    path: redcap.csv\n    layout: wide"
    if declared:
        text += "\n    events: {baseline_arm_1: baseline, 3_month_followup_arm_1: followup}"
    _manifest(export, "    path: responses.csv\n    layout: wide", text)
    issues = validate_study(export)
    assert [i for i in issues if i.level == "error"] == []
    order = [i for i in issues if "order they first appear" in i.message]
    assert len(order) == (0 if declared else 1)
    if not declared:
        assert order[0].value == ("baseline_arm_1 -> baseline, "
                                  "3_month_followup_arm_1 -> followup")
    extra = next(i for i in issues if "not items" in i.message).value
    assert extra == ("redcap_repeat_instrument, redcap_repeat_instance, wemwbs_complete, "
                     "reasons___1, reasons___2")
    back = {v: k for k, v in ids.items()}
    pd.testing.assert_frame_equal(_scores(export, back), _scores(plain))


def test_redcap_repeating_instrument_rows_without_answers_are_left_out(make_study):
    """A session log kept as a REDCap repeating instrument: its rows share the record and
    event of the questionnaire's row but hold no item answers. They are left out with a
    warning (not reported as a participant answering twice), and the scores are the plain
    study's; the export itself is unchanged."""
    plain, export = make_study(name="plain"), make_study(name="redcap")
    ids = {f"SP00{k}": str(k) for k in range(1, 5)}
    events = {"baseline": "baseline_arm_1", "followup": "3_month_followup_arm_1"}
    table = _redcap(_plain(export), ids, events)
    log = table.iloc[[0, 0, 2]][["record_id", "redcap_event_name"]].reindex(
        columns=table.columns)              # every other cell blank
    log["redcap_repeat_instrument"] = "session_log"
    log["redcap_repeat_instance"] = [1, 2, 1]
    pd.concat([table, log]).to_csv(export / "redcap.csv", index=False)
    before = (export / "redcap.csv").read_bytes()
    (export / "responses.csv").unlink()
    _rename_participants(export, ids, column="record_id")
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: redcap.csv\n    layout: wide")
    issues = validate_study(export)
    assert [i for i in issues if i.level == "error"] == []
    left_out = [i for i in issues if "repeating instruments" in i.message]
    assert len(left_out) == 1 and left_out[0].message.startswith("3 row(s)")
    assert left_out[0].value == "session_log"
    back = {v: k for k, v in ids.items()}
    pd.testing.assert_frame_equal(_scores(export, back), _scores(plain))
    assert (export / "redcap.csv").read_bytes() == before


def test_redcap_repeating_rows_with_answers_stay_and_a_repeat_is_reported(make_study):
    """A questionnaire row marked as a repeat instance, with answers, is no session log: it
    stays, and as it repeats a participant and time point the usual error names its row."""
    export = make_study(name="redcap")
    ids = {f"SP00{k}": str(k) for k in range(1, 5)}
    events = {"baseline": "baseline_arm_1", "followup": "3_month_followup_arm_1"}
    table = _redcap(_plain(export), ids, events)
    again = table.iloc[[0]].copy()
    again["redcap_repeat_instrument"] = "wellbeing"
    again["redcap_repeat_instance"] = 2
    pd.concat([table, again]).to_csv(export / "redcap.csv", index=False)
    (export / "responses.csv").unlink()
    _rename_participants(export, ids, column="record_id")
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: redcap.csv\n    layout: wide")
    err = _errors(export)
    assert err and all("more than one row" in e.message for e in err)
    assert {e.row for e in err} == {2, 2 + len(table)}


def test_an_event_that_is_no_time_point_names_it(make_study):
    export = make_study(name="redcap")
    ids = {f"SP00{k}": str(k) for k in range(1, 5)}
    events = {"baseline": "baseline_arm_1", "followup": "3_month_followup_arm_1"}
    _redcap(_plain(export), ids, events).to_csv(export / "redcap.csv", index=False)
    _rename_participants(export, ids, column="record_id")
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: redcap.csv\n    layout: wide\n    events: {baseline_arm_1: baseline}")
    err = _errors(export)
    assert len(err) == 2   # both follow-ups
    assert (err[0].row, err[0].column, err[0].value) == (3, "timepoint",
                                                         "3_month_followup_arm_1")
    assert "unknown time point" in err[0].message


# ------------------------------------------------------------------------------ Forms
def test_microsoft_forms_xlsx_scores_as_the_plain_study(make_study):
    plain, export = make_study(name="plain"), make_study(name="forms")
    responses = _plain(export)
    ids = {f"SP00{k}": str(k) for k in range(1, 5)}
    n = len(responses)
    start = pd.to_datetime(responses["completed_date"]) + pd.Timedelta("9h")
    forms = pd.DataFrame({"ID": responses["participant_id"].map(ids).astype(int),
                          "Start time": start, "Completion time": start + pd.Timedelta("8min"),
                          "Email": ["anonymous"] * n, "Name": [""] * n,
                          "Last modified time": [""] * n,
                          "Which questionnaire is this?": responses["timepoint"]})
    for item in WEMWBS.items + GSE.items:
        forms[item.stem] = [_labelled(v, item) for v in responses[item.id]]
    forms.to_excel(export / "forms.xlsx", index=False)
    (export / "responses.csv").unlink()
    _rename_participants(export, ids)
    items = ", ".join(f'{it.id}: "{it.stem}"' for it in WEMWBS.items + GSE.items)
    _manifest(export, "    path: responses.csv\n    layout: wide",
              "    path: forms.xlsx\n    layout: wide\n"
              "    columns: {timepoint: Which questionnaire is this?, "
              "completed_date: Completion time}\n"
              f"    items: {{{items}}}")
    issues = validate_study(export)
    assert [i for i in issues if i.level == "error"] == []
    back = {v: k for k, v in ids.items()}
    pd.testing.assert_frame_equal(_scores(export, back), _scores(plain))


def test_platforms_are_recognised_by_their_headers_not_file_names():
    from spanalysis.study.platforms import recognise

    assert recognise(["StartDate", "EndDate", "Finished", "ResponseId", "Q1"]) == "qualtrics"
    assert recognise(["pid", "Q1"], header_rows=3) == "qualtrics"
    assert recognise(["record_id", "redcap_event_name", "x"]) == "redcap"
    assert recognise(["study_id", "redcap_event_name"]) == "redcap"
    assert recognise(["ID", "Start time", "Completion time", "Email"]) == "forms"
    assert recognise(["participant_id", "timepoint", "ResponseId"]) is None


def test_redcap_checkbox_reasons_become_referral_reasons(make_study):
    folder = make_study()
    people = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    people["referral_reasons___1"] = ["1", "0", "1", "0"]
    people["referral_reasons___3"] = ["Checked", "Unchecked", "0", "1"]
    people.to_csv(folder / "participants.csv", index=False)
    assert _errors(folder) == []
    got = load_study(folder).participants
    assert got["referral_reasons"].iloc[0] == "1;3" and pd.isna(got["referral_reasons"].iloc[1])
    assert got["referral_reasons"].tolist()[2:] == ["1", "3"]
    assert not any(c.startswith("referral_reasons___") for c in got.columns)
