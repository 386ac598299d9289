"""``spanalysis init FILE... --out DIR`` (issue 20: 4): a study folder drafted from survey
exports, checked by ``spanalysis validate`` and scored against hand sums.

Every export is built here by hand (never a copy of real data). The hand sums are written in
the comments next to the expected totals.
"""
from __future__ import annotations

import csv
import hashlib

import pandas as pd
import pytest
import yaml

from spanalysis.cli import main
from spanalysis.errors import InputError
from spanalysis.study import load_study
from spanalysis.study.draft import DEFAULT_SITE, draft_study, timepoint_names
from spanalysis.study.draft_match import normal_text

LETTERS = "abcdefghijklmn"
WEMWBS_STEMS = [
    "I've been feeling optimistic about the future", "I've been feeling useful",
    "I've been feeling relaxed", "I've been feeling interested in other people",
    "I've had energy to spare", "I've been dealing with problems well",
    "I've been thinking clearly", "I've been feeling good about myself",
    "I've been feeling close to other people", "I've been feeling confident",
    "I've been able to make up my own mind about things", "I've been feeling loved",
    "I've been interested in new things", "I've been feeling cheerful"]
WEMWBS_LABELS = {1: "None of the time", 2: "Rarely", 3: "Some of the time", 4: "Often",
                 5: "All of the time"}


def write_csv(path, header, rows, extra_header_rows=()):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(extra_header_rows)
        writer.writerows(rows)
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_init(capsys, *args):
    code = main(["init", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def validates(folder, capsys) -> bool:
    code = main(["validate", str(folder)])
    capsys.readouterr()
    return code == 0


def score(study, pid, timepoint, instrument="wemwbs", scale="total"):
    s = study.scores
    hit = s[(s.participant_id == pid) & (s.timepoint == timepoint)
            & (s.instrument == instrument) & (s.scale == scale)]
    assert len(hit) == 1, hit
    return float(hit.score.iloc[0])


def wemwbs_answers(person: int, shift: int = 0) -> list[int]:
    """Person p's 14 answers: (p + k + shift) mod 5 + 1 for items k = 0..13."""
    return [(person + k + shift) % 5 + 1 for k in range(14)]


# ----------------------------------------------------------------------------- wide person
def test_one_row_per_person_with_letter_suffixes_two_sets_and_gse(tmp_path, capsys):
    """WEMWBSa..WEMWBSn (baseline) and WEMWBSa_fu..WEMWBSn_fu (follow-up) on one row per
    person, GSE1..GSE10 once, 6 people, -99 for "not answered"."""
    header = (["ID", "age"] + [f"WEMWBS{c}" for c in LETTERS]
              + [f"WEMWBS{c}_fu" for c in LETTERS] + [f"GSE{i}" for i in range(1, 11)])
    rows = []
    for p in range(1, 7):
        gse = [(p + i) % 4 + 1 for i in range(10)]
        rows.append([f"P{p:02d}", 30 + p] + wemwbs_answers(p) + wemwbs_answers(p, 2) + gse)
    rows[5][2 + 14 + 3] = -99            # P06's follow-up item 4 not answered
    export = write_csv(tmp_path / "evaluation.csv", header, rows)
    before = digest(export)
    out = tmp_path / "study"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert digest(export) == before                       # the original is untouched
    assert digest(out / "evaluation.csv") == before        # and copied byte for byte
    assert "WEMWBSa .. WEMWBSn (by name) -> baseline" in printed
    assert "WEMWBSa_fu .. WEMWBSn_fu (by name) -> followup" in printed
    assert "GSE1 .. GSE10 (by name) -> baseline" in printed
    assert "left unmapped (1 column(s)): age" in printed
    assert "participants.csv was drafted" in printed
    manifest = yaml.safe_load((out / "study.yaml").read_text())
    assert [t["id"] for t in manifest["timepoints"]] == ["baseline", "followup"]
    assert manifest["instruments"] == ["wemwbs", "gse"]
    assert manifest["sites"] == [DEFAULT_SITE]
    assert manifest["files"]["responses"]["missing"] == [-99]
    assert "# guess" in (out / "study.yaml").read_text()
    assert validates(out, capsys)
    study = load_study(out)
    # P01 baseline: (1 + k) % 5 + 1 for k = 0..13 = 2,3,4,5,1, 2,3,4,5,1, 2,3,4,5
    # -> 15 + 15 + 14 = 44
    assert score(study, "P01", "baseline") == 44
    # P01 follow-up (shift 2): 4,5,1,2,3, 4,5,1,2,3, 4,5,1,2 -> 15 + 15 + 12 = 42
    assert score(study, "P01", "followup") == 42
    # P01 GSE: (1 + i) % 4 + 1 for i = 0..9 = 2,3,4,1, 2,3,4,1, 2,3 -> 10 + 10 + 5 = 25
    assert score(study, "P01", "baseline", "gse") == 25
    # P06's follow-up has a -99: WEMWBS counts complete responses only, so no total
    assert pd.isna(score(study, "P06", "followup"))
    assert set(study.participants.participant_id) == {f"P{p:02d}" for p in range(1, 7)}


# ----------------------------------------------------------------------------- long layout
def test_long_layout_with_a_wave_column_numeric_suffixes_and_a_participants_export(
        tmp_path, capsys):
    """One row per person and wave (``wave`` 1 / 2), items ``wemwbs_01``.. as labels, and a
    participants export with the site and the referral date."""
    header = ["participant_id", "wave", "EndDate"] + [f"Q_wemwbs_{k:02d}" for k in range(1, 15)]
    rows = []
    for p in range(1, 5):
        for wave, shift in ((2, 1), (1, 0)):   # follow-up rows first: order by wave number
            rows.append([f"S{p}", wave, f"0{wave}/0{p}/2025 10:00"]
                        + [WEMWBS_LABELS[a] for a in wemwbs_answers(p, shift)])
    export = write_csv(tmp_path / "waves.csv", header, rows)
    people = write_csv(tmp_path / "people.csv", ["participant_id", "Site", "date_referred"],
                       [[f"S{p}", "Riverside" if p < 3 else "Hillview", "2024-12-01"]
                        for p in range(1, 5)])
    out = tmp_path / "drafted"
    code, printed, _ = run_init(capsys, export, people, "--out", out)
    assert code == 0, printed
    assert "time point: 'wave' (1 -> baseline, 2 -> followup)" in printed
    assert "participants: people.csv" in printed
    manifest = yaml.safe_load((out / "study.yaml").read_text())
    responses = manifest["files"]["responses"]
    assert responses["path"] == "waves.csv"                 # read as it is: no copy needed
    assert responses["columns"] == {"timepoint": "wave", "completed_date": "EndDate"}
    assert responses["items"]["wemwbs_1"] == "Q_wemwbs_01"
    assert responses["events"] == {"1": "baseline", "2": "followup"}
    assert manifest["files"]["participants"]["columns"] == {"site": "Site",
                                                            "referral_date": "date_referred"}
    assert manifest["sites"] == ["Riverside", "Hillview"]
    assert validates(out, capsys)
    study = load_study(out)
    # S3 baseline: (3 + k) % 5 + 1 = 4,5,1,2,3,4,5,1,2,3,4,5,1,2 -> 42
    assert score(study, "S3", "baseline") == 42
    # S3 follow-up (shift 1): 5,1,2,3,4,5,1,2,3,4,5,1,2,3 -> 41
    assert score(study, "S3", "followup") == 41


def test_redcap_export_events_in_the_order_they_appear(tmp_path, capsys):
    header = (["record_id", "redcap_event_name"] + [f"ucla3_{k}" for k in (1, 2, 3)]
              + ["ucla3_complete"])
    rows = [[1, "baseline_arm_1", 1, 2, 3, 2], [1, "3_month_followup_arm_1", 1, 1, 2, 2],
            [2, "baseline_arm_1", 3, 3, 3, 2], [2, "3_month_followup_arm_1", 2, "UNK", 1, 2]]
    export = write_csv(tmp_path / "redcap.csv", header, rows)
    out = tmp_path / "rc"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "(REDCap export)" in printed
    manifest = yaml.safe_load((out / "study.yaml").read_text())
    assert manifest["files"]["responses"]["events"] == {
        "baseline_arm_1": "baseline", "3_month_followup_arm_1": "followup"}
    assert manifest["files"]["responses"]["missing"] == ["UNK"]
    # the reports' sentences name the time points as the export did, without REDCap's arm
    assert manifest["timepoints"] == [{"id": "baseline"},
                                      {"id": "followup", "label": "3 month followup"}]
    assert validates(out, capsys)
    study = load_study(out)
    assert [study.timepoint_label(t) for t in study.timepoints] == ["baseline",
                                                                    "3 month followup"]
    assert score(study, "1", "followup", "ucla3") == 4      # 1 + 1 + 2
    assert score(study, "2", "baseline", "ucla3") == 9      # 3 + 3 + 3


# ----------------------------------------------------------------------------- question text
def test_qualtrics_three_header_rows_items_found_by_question_text(tmp_path, capsys):
    """Q1_1..Q1_14 with the wording in the second header row (a matrix: question - item);
    item 2 worded "I have been feeling useful", only close to the definition's: a guess."""
    meta = ["StartDate", "EndDate", "Status", "Progress", "Duration (in seconds)", "Finished",
            "RecordedDate", "ResponseId"]
    items = [f"Q1_{k}" for k in range(1, 15)]
    wording = ["Below are some statements - " + s for s in WEMWBS_STEMS]
    wording[1] = "Below are some statements - I have been feeling useful"
    questions = meta + wording
    import_ids = [f'{{"ImportId":"{c}"}}' for c in meta] + [
        f'{{"ImportId":"QID1_{k}"}}' for k in range(1, 15)]
    rows = []
    for p in range(1, 4):
        rows.append(["2025-03-01 09:00:00", "2025-03-01 09:10:00", 0, 100, 600, 1,
                     "2025-03-01 09:10:00", f"R_{p}abc"]
                    + [WEMWBS_LABELS[a] for a in wemwbs_answers(p)])
    export = write_csv(tmp_path / "qualtrics.csv", meta + items, rows, [questions, import_ids])
    before = digest(export)
    out = tmp_path / "q"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert digest(export) == before and digest(out / "qualtrics.csv") == before
    assert "(Qualtrics export)" in printed
    assert "Q1_1 .. Q1_14 (by question text, some of it only close (guess))" in printed
    text = (out / "study.yaml").read_text()
    assert "wemwbs_2: \"Q1_2\"  # guess: wording only close to 'I've been feeling useful'" \
        in text
    assert "ResponseId, which differs at every response" in printed
    manifest = yaml.safe_load(text)
    responses = manifest["files"]["responses"]
    assert responses["path"] == "qualtrics_drafted.csv"     # a copy with a timepoint column
    assert responses["columns"] == {"participant_id": "ResponseId",
                                    "completed_date": "EndDate"}
    assert responses["items"]["wemwbs_14"] == "Q1_14"
    assert validates(out, capsys)
    study = load_study(out)
    # R_2abc, written as labels: (2 + k) % 5 + 1 = 3,4,5,1,2, 3,4,5,1,2, 3,4,5,1
    # -> 15 + 15 + 13 = 43
    assert score(study, "R_2abc", "baseline") == 43


def test_qualtrics_study_id_question_is_preferred_to_the_response_id(tmp_path, capsys):
    """A study id asked as a question (Q2, "What is your study ID?" in the second header row)
    and a wave in embedded data: two responses per person, so ResponseId (one per response)
    would pair no one. A question ending in "id" alone ("Have you been paid?") is not taken."""
    meta = ["EndDate", "Finished", "ResponseId", "Q1", "Q2", "Wave"]
    items = [f"Q5_{k}" for k in range(1, 15)]
    questions = ["End Date", "Finished", "Response ID", "Have you been paid?",
                 "What is your study ID?", "Wave"] + [
        "Below are some statements - " + s for s in WEMWBS_STEMS]
    import_ids = [f'{{"ImportId":"{c}"}}' for c in meta + items]
    rows = []
    for p in range(1, 4):
        for wave, shift in (("T1", 0), ("T2", 1)):
            rows.append(["2025-03-01 09:10:00", 1, f"R_{p}{wave}x", "No", f"LW{p:02d}", wave]
                        + wemwbs_answers(p, shift))
    export = write_csv(tmp_path / "qualtrics.csv", meta + items, rows, [questions, import_ids])
    out = tmp_path / "q"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "participant id: 'Q2' (by its question text)" in printed
    assert "ResponseId, which differs at every response" not in printed
    text = (out / "study.yaml").read_text()
    assert 'participant_id: "Q2"  # the participant id (guess, by its question text)' in text
    assert validates(out, capsys)
    study = load_study(out)
    assert sorted(study.participants["participant_id"]) == ["LW01", "LW02", "LW03"]
    # LW02: (2 + k) % 5 + 1 = 3,4,5,1,2 x2, 3,4,5,1 -> 43; one later: (3 + k) % 5 + 1 -> 4,5,1,2,3
    # x2, 4,5,1,2 -> 15 + 15 + 12 = 42
    assert score(study, "LW02", "baseline") == 43
    assert score(study, "LW02", "followup") == 42


def test_microsoft_forms_headers_are_the_question_text(tmp_path, capsys):
    """A Forms XLSX: ID, Start time, Completion time, ..., a study-id question and the UCLA-3
    questions as headers; the study id question is preferred to Forms' response number."""
    frame = pd.DataFrame({
        "ID": [1, 2, 3], "Start time": ["2025-01-02 10:00"] * 3,
        "Completion time": ["2025-01-02 10:05"] * 3, "Email": ["anonymous"] * 3,
        "Name": [None] * 3, "Your study ID": ["A1", "A2", "A3"],
        "How often do you feel that you lack companionship?": [1, 2, 3],
        "How often do you feel left out?": [1, 3, 3],
        "How often do you feel isolated from others?": [2, 2, 3]})
    export = tmp_path / "forms.xlsx"
    frame.to_excel(export, index=False)
    out = tmp_path / "f"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "participant id: 'Your study ID'" in printed
    assert "ucla3: 3 columns" in printed
    assert validates(out, capsys)
    assert score(load_study(out), "A2", "baseline", "ucla3") == 7    # 2 + 3 + 2


# ----------------------------------------------------------------------------- no id column
def test_no_id_column_rows_are_numbered_in_a_copy(tmp_path, capsys):
    header = [f"gse{i}" for i in range(1, 11)] + ["comments"]
    rows = [[1, 2, 3, 4, 1, 2, 3, 4, 1, 2, "fine"], [4] * 10 + [""], [2] * 10 + ["ok"]]
    export = write_csv(tmp_path / "gse only.csv", header, rows)
    before = digest(export)
    out = tmp_path / "n"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "has no participant id column" in printed and "rows are numbered" in printed
    assert "participant id: none (rows numbered)" in printed
    assert digest(out / "gse only.csv") == before == digest(export)
    copy = pd.read_csv(out / "gse only_drafted.csv", dtype=str)
    assert list(copy.columns[:2]) == ["participant_id", "timepoint"]
    assert list(copy.participant_id) == ["1", "2", "3"]
    assert list(copy.columns[2:]) == header                 # every column of the export kept
    assert validates(out, capsys)
    study = load_study(out)
    assert score(study, "1", "baseline", "gse") == 23      # 1+2+3+4+1+2+3+4+1+2
    assert score(study, "2", "baseline", "gse") == 40      # 4 x 10


# ----------------------------------------------------------------------------- refusals
def test_a_non_empty_out_is_refused_and_left_alone(tmp_path, capsys):
    export = write_csv(tmp_path / "e.csv", ["id"] + [f"ucla3_{k}" for k in (1, 2, 3)],
                       [["a", 1, 2, 3]])
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run_init(capsys, export, "--out", out)
    assert code == 2
    assert "exists and is not empty" in err and "--out" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_init(capsys, export, "--out", empty)[0] == 0
    assert (empty / "study.yaml").is_file()


def test_an_export_with_no_recognisable_instrument_is_a_clear_error(tmp_path, capsys):
    export = write_csv(tmp_path / "other.csv", ["id", "q1", "q2", "mood"], [["a", 1, 2, 3]])
    out = tmp_path / "none"
    code, _, err = run_init(capsys, export, "--out", out)
    assert code == 2
    assert "no instrument recognised in other.csv" in err
    assert "WEMWBS1, wemwbs_1, WEMWBSa" in err
    assert not out.exists()                                 # nothing written
    with pytest.raises(InputError, match="export not found"):
        draft_study([tmp_path / "missing.csv"], tmp_path / "x")
    with pytest.raises(InputError, match="unsupported export type"):
        (tmp_path / "a.txt").write_text("x")
        draft_study([tmp_path / "a.txt"], tmp_path / "x")


def test_an_incomplete_set_is_named_and_left_unmapped(tmp_path, capsys):
    header = ["participant_id"] + [f"wemwbs_{k}" for k in range(1, 8)] + [
        f"ucla3_{k}" for k in (1, 2, 3)]
    export = write_csv(tmp_path / "part.csv", header, [["p1"] + [3] * 7 + [1, 2, 3]])
    out = tmp_path / "p"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "not every item of wemwbs was found" in printed
    assert "wemwbs_1" in printed.split("left unmapped")[1]
    assert yaml.safe_load((out / "study.yaml").read_text())["instruments"] == ["ucla3"]


# ----------------------------------------------------------------------------- helpers
def test_timepoint_names_and_wording_normalised():
    assert timepoint_names(1) == ["baseline"]
    assert timepoint_names(4) == ["baseline", "followup", "followup2", "followup3"]
    assert normal_text("I\u2019ve  been FEELING useful!") == normal_text("Ive been feeling useful")


def test_spss_variable_labels_are_question_text(tmp_path, capsys):
    """An SPSS file whose item variables (v1..v3) carry the UCLA-3 wording as labels."""
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame({"pid": ["x1", "x2"], "v1": [1.0, 3.0], "v2": [2.0, 3.0],
                          "v3": [1.0, -9.0]})
    export = tmp_path / "survey.sav"
    pyreadstat.write_sav(frame, str(export), column_labels=[
        "Participant", "How often do you feel that you lack companionship?",
        "How often do you feel left out?", "How often do you feel isolated from others?"])
    before = digest(export)
    out = tmp_path / "s"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert digest(out / "survey.sav") == before == digest(export)
    assert "ucla3: 3 columns v1 .. v3 (by question text)" in printed
    assert "participant id: 'pid'" in printed
    assert yaml.safe_load((out / "study.yaml").read_text())["files"]["responses"][
        "missing"] == [-9]
    assert validates(out, capsys)
    study = load_study(out)
    assert score(study, "x1", "baseline", "ucla3") == 4       # 1 + 2 + 1
    assert pd.isna(score(study, "x2", "baseline", "ucla3"))   # -9: not answered


# ----------------------------------------------------------------------------- sites
def test_a_site_column_in_the_responses_becomes_the_participants_sites(tmp_path, capsys):
    """REDCap's data access group (how multi-site REDCap projects record the site): each
    participant's site, in the order the sites first appear; the column is not 'unmapped'."""
    header = (["record_id", "redcap_event_name", "redcap_data_access_group"]
              + [f"ucla3_{k}" for k in (1, 2, 3)])
    rows = [[1, "baseline_arm_1", "north_pcn", 1, 2, 3], [1, "followup_arm_1", "north_pcn", 1, 1, 2],
            [2, "baseline_arm_1", "south_pcn", 3, 3, 3], [2, "followup_arm_1", "", 2, 2, 1],
            [3, "baseline_arm_1", "north_pcn", 2, 2, 2]]
    export = write_csv(tmp_path / "redcap.csv", header, rows)
    out = tmp_path / "rc"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "site: 'redcap_data_access_group' (3 participants, 2 sites" in printed
    unmapped = next((ln for ln in printed.splitlines() if ln.startswith("left unmapped")), "")
    assert "redcap_data_access_group" not in unmapped
    manifest = yaml.safe_load((out / "study.yaml").read_text())
    assert manifest["sites"] == ["north_pcn", "south_pcn"]
    assert validates(out, capsys)
    study = load_study(out)
    assert dict(zip(study.participants["participant_id"], study.participants["site"])) == {
        "1": "north_pcn", "2": "south_pcn", "3": "north_pcn"}


def test_a_site_column_with_two_sites_for_one_person_is_not_guessed(tmp_path, capsys):
    header = ["record_id", "redcap_event_name", "site"] + [f"ucla3_{k}" for k in (1, 2, 3)]
    rows = [[1, "baseline_arm_1", "North", 1, 2, 3], [1, "followup_arm_1", "South", 1, 1, 2],
            [2, "baseline_arm_1", "South", 3, 3, 3]]
    export = write_csv(tmp_path / "redcap.csv", header, rows)
    out = tmp_path / "rc"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert ("'site' in redcap.csv looks like the site, but 1 participant(s) have more than "
            "one value there: it is not mapped") in printed
    assert yaml.safe_load((out / "study.yaml").read_text())["sites"] == [DEFAULT_SITE]
    assert validates(out, capsys)


def test_an_unmapped_date_column_is_listed_once(tmp_path, capsys):
    header = ["ResponseId", "EndDate"] + [f"WEMWBS{k}" for k in range(1, 15)] + [
        f"WEMWBS{k}_fu" for k in range(1, 15)]
    rows = [[f"R_{p}", "2025-01-0%d 10:00" % (p + 1)] + wemwbs_answers(p) + wemwbs_answers(p, 1)
            for p in range(3)]
    export = write_csv(tmp_path / "person.csv", header, rows)
    code, printed, _ = run_init(capsys, export, "--out", tmp_path / "out")
    assert code == 0, printed
    unmapped = next(ln for ln in printed.splitlines() if ln.startswith("left unmapped"))
    assert unmapped.count("EndDate") == 1, unmapped


def test_personal_details_in_an_export_are_pointed_out_and_never_read(tmp_path, capsys):
    from spanalysis.study.draft import personal_columns

    assert personal_columns(["RecipientEmail", "IPAddress", "Name", "patient_dob", "site_name",
                             "Q_site", "Progress", "LocationLatitude", "NHS Number"]) == [
        "RecipientEmail", "IPAddress", "Name", "patient_dob", "LocationLatitude", "NHS Number"]
    header = (["ResponseId", "RecipientEmail", "Name"] + [f"WEMWBS{k}" for k in range(1, 15)])
    rows = [[f"R_{p}", f"person{p}@example.org", f"Person {p}"] + wemwbs_answers(p)
            for p in range(3)]
    export = write_csv(tmp_path / "survey.csv", header, rows)
    out = tmp_path / "out"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "RecipientEmail, Name in survey.csv look like personal details" in printed
    assert validates(out, capsys)
    study = load_study(out)
    held = [str(v) for frame in (study.responses, study.participants)
            for v in frame.to_numpy(dtype=object).ravel()]
    assert not any("example.org" in v or v.startswith("Person ") for v in held)
    assert not {"RecipientEmail", "Name"} & set(study.responses.columns)


@pytest.mark.parametrize("date_name", ["Timestamp", "submitdate", "Date"])
def test_a_date_column_named_as_google_forms_limesurvey_or_plainly(tmp_path, capsys, date_name):
    """Google Forms writes the completion time as ``Timestamp``, LimeSurvey as
    ``submitdate``; many hand-made sheets call it ``Date``: each becomes completed_date."""
    header = ["participant_id", "timepoint", date_name] + [f"WEMWBS{i}" for i in range(1, 15)]
    rows = [[f"P{p}", tp, f"2025-0{m}-1{p} 10:0{p}:00"] + wemwbs_answers(p, m)
            for p in range(1, 4) for tp, m in (("baseline", 1), ("followup", 4))]
    export = write_csv(tmp_path / "export.csv", header, rows)
    code, out, _ = run_init(capsys, export, "--out", tmp_path / "study")
    assert code == 0
    assert f"completed date: '{date_name}'" in out
    manifest = yaml.safe_load((tmp_path / "study" / "study.yaml").read_text("utf-8"))
    assert manifest["files"]["responses"]["columns"]["completed_date"] == date_name
    study = load_study(tmp_path / "study")
    done = study.responses.set_index(["participant_id", "timepoint"])["completed_date"]
    assert done[("P2", "followup")] == pd.Timestamp("2025-04-12")   # the day, time dropped


def test_redcap_export_with_a_session_log_drafts_a_study_that_validates(tmp_path, capsys):
    """REDCap: record_id, events, a data access group and a repeating session log (rows with
    redcap_repeat_instrument filled and no answers), GSE items written as labels."""
    labels = ["Not at all true", "Hardly true", "Moderately true", "Exactly true"]
    header = (["record_id", "redcap_event_name", "redcap_data_access_group",
               "redcap_repeat_instrument", "redcap_repeat_instance"]
              + [f"gse_{i}" for i in range(1, 11)] + ["gse_complete", "contact_notes"])
    rows = []
    for p in range(1, 4):
        for event, step in (("baseline_arm_1", 0), ("month_3_arm_1", 1)):
            # answers (p + i + step) % 4 + 1, written as the labels
            rows.append([p, event, "hill_street", "", ""]
                        + [labels[(p + i + step) % 4] for i in range(10)] + [2, ""])
        rows.append([p, "baseline_arm_1", "hill_street", "session_log", 1] + [""] * 11
                    + ["phoned"])
    export = write_csv(tmp_path / "redcap.csv", header, rows)
    out = tmp_path / "r"
    code, printed, _ = run_init(capsys, export, "--out", out)
    assert code == 0, printed
    assert "(REDCap export)" in printed and "spanalysis validate: 0 error(s)" in printed
    assert validates(out, capsys)
    study = load_study(out)
    left_out = [i for i in study.warnings if "repeating instruments" in i.message]
    assert len(left_out) == 1 and left_out[0].message.startswith("3 row(s)")
    # record 2 at baseline: (2 + i) % 4 + 1 for i = 0..9 = 3,4,1,2,3,4,1,2,3,4 -> 27
    assert score(study, "2", "baseline", "gse") == 27
    # at month 3: (3 + i) % 4 + 1 = 4,1,2,3,4,1,2,3,4,1 -> 25
    assert score(study, "2", "followup", "gse") == 25
