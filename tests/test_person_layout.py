"""``layout: person`` (issue 20: 1): one row per participant, each time point's items in their
own columns (``WEMWBSa`` at baseline, ``WEMWBSa_fu`` at follow-up), listed per time point under
``items:`` in ``study.yaml``. The loader reshapes it into the table of the other layouts before
the usual checks, so a person-layout study scores exactly as the same study in wide layout, and
every message names the file, its own row and its own column.

Every file is written here, in ``tmp_path``: the synthetic demo (``data/demo``) and the small
study of ``conftest.py``, pivoted to one row per person under other column names.
"""
from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest

from conftest import DEMO, folder_digest
from spanalysis import load_study, validate_study
from spanalysis.errors import ValidationError

LETTERS = "abcdefghijklmn"
KEYS = ("participant_id", "timepoint", "completed_date")
SUFFIX = {"baseline": "", "followup": "_fu"}
DATE = {"baseline": "date_t1", "followup": "date_t2"}


def own_name(item: str, timepoint: str) -> str:
    """The export's name for an item: wemwbs_2 -> WEMWBSb / WEMWBSb_fu, gse_3 -> GSE3 /
    GSE3_fu, anything else upper case with the suffix."""
    stem, _, number = item.rpartition("_")
    if stem == "wemwbs":
        name = "WEMWBS" + LETTERS[int(number) - 1]
    elif stem == "gse":
        name = "GSE" + number
    else:
        name = item.upper()
    return name + SUFFIX[timepoint]


def pivot(responses: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """A wide-layout responses table (one row per person and time point) as one row per
    person: ``record_id``, then each time point's date and items under the export's names;
    and the ``items:`` mapping per time point. People in the order they first appear."""
    items = [c for c in responses.columns if c not in KEYS]
    out = pd.DataFrame({"record_id": list(dict.fromkeys(responses["participant_id"]))})
    mapping = {}
    for tp in SUFFIX:
        part = responses[responses["timepoint"] == tp].rename(columns={
            "participant_id": "record_id", "completed_date": DATE[tp],
            **{c: own_name(c, tp) for c in items}}).drop(columns="timepoint")
        out = out.merge(part, on="record_id", how="left")
        mapping[tp] = {c: own_name(c, tp) for c in items}
    return out, mapping


def person_yaml(mapping: dict, extra: str = "") -> str:
    lines = ["    layout: person", "    columns: {participant_id: record_id}", "    items:"]
    for tp, items in mapping.items():
        lines.append(f"      {tp}: {{" + ", ".join(f"{k}: {v}" for k, v in items.items())
                     + "}")
    lines.append("    completed_date: {" + ", ".join(f"{k}: {v}" for k, v in DATE.items())
                 + "}")
    return "\n".join(lines) + ("\n" + extra if extra else "")


def to_person(folder, extra: str = "", edit=None):
    """Rewrite ``folder``'s responses.csv (wide) in person layout, and its study.yaml to say
    so; ``edit`` may change the pivoted table first. The rows written (header first)."""
    responses = pd.read_csv(folder / "responses.csv", dtype=str, keep_default_na=False)
    table, mapping = pivot(responses)
    if edit is not None:
        table = edit(table)
    table.to_csv(folder / "responses.csv", index=False)
    manifest = (folder / "study.yaml").read_text()
    assert "    layout: wide" in manifest
    (folder / "study.yaml").write_text(manifest.replace("    layout: wide",
                                                        person_yaml(mapping, extra)))
    with open(folder / "responses.csv", newline="") as handle:
        return list(csv.reader(handle))


def sorted_scores(study) -> pd.DataFrame:
    key = ["participant_id", "timepoint", "instrument", "scale"]
    return study.scores.sort_values(key).reset_index(drop=True)


def errors(folder):
    return [i for i in validate_study(folder) if i.level == "error"]


def score(study, pid, timepoint, instrument="wemwbs", scale="total"):
    s = study.scores
    hit = s[(s.participant_id == pid) & (s.timepoint == timepoint)
            & (s.instrument == instrument) & (s.scale == scale)]
    assert len(hit) == 1, hit
    return float(hit.score.iloc[0])


# ----------------------------------------------------------------------------- the demo
def test_the_demo_in_person_layout_scores_exactly_as_the_plain_demo(tmp_path):
    export = tmp_path / "demo"
    shutil.copytree(DEMO, export)
    rows = to_person(export)
    header = rows[0]
    assert header[:2] == ["record_id", "date_t1"] and "WEMWBSa_fu" in header
    assert "timepoint" not in header and "wemwbs_1" not in header
    assert len(rows) - 1 == 400                      # one row per person (400 in the demo)
    before = folder_digest(export)
    assert errors(export) == []
    plain, person = load_study(DEMO), load_study(export)
    pd.testing.assert_frame_equal(sorted_scores(person), sorted_scores(plain))
    key = ["participant_id", "timepoint"]
    pd.testing.assert_frame_equal(
        person.responses.sort_values(key).reset_index(drop=True),
        plain.responses.sort_values(key).reset_index(drop=True))
    assert folder_digest(export) == before           # the export is read, never changed


# ----------------------------------------------------------------------------- the small study
def test_small_study_scores_as_the_plain_study_with_hand_sums(make_study):
    plain, export = make_study(name="plain"), make_study(name="person")
    rows = to_person(export)
    # SP003 and SP004 have no follow-up: their follow-up cells are all blank
    assert rows[3][0] == "SP003" and set(rows[3][rows[0].index("date_t2"):]) == {""}
    assert errors(export) == []
    study = load_study(export)
    pd.testing.assert_frame_equal(sorted_scores(study), sorted_scores(load_study(plain)))
    assert score(study, "SP001", "followup") == 56        # 14 answers of 4
    assert score(study, "SP001", "baseline", "gse") == 20   # 10 answers of 2
    # every item of SP003's follow-up blank: no response at the follow-up
    at = study.responses[study.responses.participant_id == "SP003"]
    assert list(at.timepoint.astype(str)) == ["baseline"]
    # the responses' rows keep the file's rows: SP002 is row 3 at both time points
    sp002 = study.responses[study.responses.participant_id == "SP002"]
    assert list(sp002.index + 2) == [3, 3]


def test_a_bad_follow_up_answer_names_the_file_row_and_own_column(make_study):
    folder = make_study()

    def damage(table):
        table.loc[table.record_id == "SP002", "WEMWBSb_fu"] = "9"       # range 1..5
        table.loc[table.record_id == "SP001", "GSE3_fu"] = "lots"
        table.loc[table.record_id == "SP001", "date_t2"] = "31/02/2025"
        return table

    to_person(folder, edit=damage)
    found = {(e.file, e.row, e.column, e.value): e for e in errors(folder)}
    assert set(found) == {("responses.csv", 3, "WEMWBSb_fu", 9),   # a column of numbers
                          ("responses.csv", 2, "GSE3_fu", "lots"),
                          ("responses.csv", 2, "date_t2", "31/02/2025")}
    e = found[("responses.csv", 3, "WEMWBSb_fu", 9)]
    assert "answer to wemwbs_2 is outside the item's range" in e.message
    assert "1" in e.expected and "5" in e.expected
    assert str(e).startswith("responses.csv, row 3, column 'WEMWBSb_fu'")
    assert "not a number" in found[("responses.csv", 2, "GSE3_fu", "lots")].message
    assert "not a date" in found[("responses.csv", 2, "date_t2", "31/02/2025")].message


def test_a_follow_up_before_the_referral_names_its_date_column(make_study):
    folder = make_study()

    def early(table):   # SP001 was referred on 2025-01-10
        table.loc[table.record_id == "SP001", "date_t2"] = "2025-01-01"
        return table

    to_person(folder, edit=early)
    (e,) = errors(folder)
    assert (e.row, e.column) == (2, "date_t2")
    assert "follow-up questionnaire dated before the participant's referral" in e.message


def test_a_time_point_the_study_does_not_declare_is_an_error(make_study):
    folder = make_study()
    to_person(folder)
    text = (folder / "study.yaml").read_text().replace("      followup: {", "      week6: {")
    (folder / "study.yaml").write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_study(folder)
    # the follow-up's date column now names a time point with no items: a second error
    e, dates = caught.value.issues
    assert "completed_date.followup': a date for a time point with no items" in dates.message
    assert e.file == "study.yaml"
    assert "files.responses.items.week6" in e.message and "not a time point" in e.message
    assert e.value == "week6" and "baseline, followup" in e.expected
    assert e.row == text.splitlines().index(
        next(line for line in text.splitlines() if "week6" in line)) + 1


def test_missing_codes_and_answer_labels(make_study):
    plain, folder = make_study(name="plain"), make_study(name="typed")

    def typed(table):
        # SP002's follow-up wemwbs_14 is blank in the plain study: -99 here
        table.loc[table.record_id == "SP002", "WEMWBSn_fu"] = "-99"
        # SP001's follow-up WEMWBS answers of 4 written as WEMWBS's label for 4
        for c in LETTERS:
            table.loc[table.record_id == "SP001", f"WEMWBS{c}_fu"] = " often "
        # SP003's follow-up: every cell -99 or blank, so no response at the follow-up
        for col in [c for c in table.columns if c.endswith("_fu")]:
            table.loc[table.record_id == "SP003", col] = "-99"
        return table

    to_person(folder, extra="    missing: [-99]", edit=typed)
    assert errors(folder) == []
    study = load_study(folder)
    pd.testing.assert_frame_equal(sorted_scores(study), sorted_scores(load_study(plain)))
    assert score(study, "SP001", "followup") == 56       # "often" = 4, 14 x 4
    assert pd.isna(score(study, "SP002", "followup"))    # -99: WEMWBS needs all 14
    assert "followup" not in set(study.responses.loc[
        study.responses.participant_id == "SP003", "timepoint"].astype(str))


def test_a_label_that_is_no_label_names_the_own_column(make_study):
    folder = make_study()

    def bad(table):
        table.loc[table.record_id == "SP004", "WEMWBSc"] = "Quite often"
        return table

    to_person(folder, edit=bad)
    (e,) = errors(folder)
    assert (e.file, e.row, e.column, e.value) == ("responses.csv", 5, "WEMWBSc",
                                                  "Quite often")
    assert "not a number, nor one of its labels" in e.message
    assert "4 = Often" in e.expected


# ----------------------------------------------------------------------------- other errors
@pytest.mark.parametrize("find, replace, key, fragment", [
    ("    columns: {participant_id: record_id}",
     "    columns: {participant_id: record_id, timepoint: wave}",
     "files.responses.columns.timepoint", "not a column of a person-layout"),
    ("    completed_date: {baseline: date_t1, followup: date_t2}",
     "    completed_date: {baseline: date_t1, followup: date_t2, followup3: d3}",
     "files.responses.completed_date.followup3", "not a time point"),
    ("    completed_date: {baseline: date_t1, followup: date_t2}",
     "    completed_date: date_t1", "files.responses.completed_date", "should map time points"),
    ("    completed_date: {baseline: date_t1, followup: date_t2}",
     "    events: {a: baseline}", "files.responses.events", "no event column"),
])
def test_manifest_mistakes_of_a_person_layout(make_study, find, replace, key, fragment):
    folder = make_study()
    to_person(folder)
    text = (folder / "study.yaml").read_text()
    assert find in text
    (folder / "study.yaml").write_text(text.replace(find, replace))
    (e,) = errors(folder)
    assert key in e.message and fragment in e.message and e.file == "study.yaml"


def test_flat_items_under_layout_person_and_dates_per_time_point_elsewhere(make_study):
    folder = make_study()
    text = (folder / "study.yaml").read_text()
    (folder / "study.yaml").write_text(text.replace(
        "    layout: wide", "    layout: person\n    items: {wemwbs_1: WEMWBSa}"))
    (e,) = errors(folder)
    assert "items are listed per time point" in e.message
    assert "baseline: {wemwbs_1: WEMWBSa}" in e.expected
    other = make_study(name="wide")
    (other / "study.yaml").write_text((other / "study.yaml").read_text().replace(
        "    layout: wide", "    layout: wide\n    completed_date: {baseline: d1}"))
    (e,) = errors(other)
    assert "only for layout: person" in e.message and "columns: {completed_date" in e.expected


def test_mapping_errors_name_the_files_column(make_study):
    folder = make_study()
    to_person(folder)
    text = (folder / "study.yaml").read_text()
    text = text.replace("gse_10: GSE10_fu", "gse_10: GSE10_followup")    # no such column
    text = text.replace("gse_9: GSE9_fu", "gse_9: GSE9")                 # baseline's column
    (folder / "study.yaml").write_text(text)
    found = {(e.column, e.message) for e in errors(folder)}
    assert ("GSE10_followup", "study.yaml maps 'gse_10' at followup to a column this file "
            "does not have") in found
    assert ("GSE9", "study.yaml maps two names to the same column") in found


def test_ids_unknown_or_repeated_are_said_once_per_row_naming_the_id_column(make_study):
    folder = make_study()

    def ids(table):
        table.loc[table.record_id == "SP003", "record_id"] = "SP009"      # unknown
        return pd.concat([table, table[table.record_id == "SP001"]], ignore_index=True)

    to_person(folder, edit=ids)
    found = sorted((e.row, e.column, e.value, e.message) for e in errors(folder))
    assert found == [
        (2, "record_id", "SP001", "the same participant appears on more than one row"),
        (4, "record_id", "SP009",
         "responses for a participant who is not in the participants file"),
        (6, "record_id", "SP001", "the same participant appears on more than one row")]


def test_an_instrument_partly_at_a_time_point_and_unmapped_columns(make_study):
    folder = make_study()

    def extra(table):
        table["Duration"] = "300"
        return table

    to_person(folder, edit=extra)
    text = (folder / "study.yaml").read_text().replace(", gse_10: GSE10_fu", "")
    (folder / "study.yaml").write_text(text)
    issues = validate_study(folder)
    (e,) = [i for i in issues if i.level == "error"]
    assert e.message.startswith("at time point 'followup':") and e.column == "gse_10"
    (w,) = [i for i in issues if i.level == "warning" and "left out" in i.message]
    # GSE10_fu is no longer mapped, so it is an unmapped column of the file too
    assert w.value == "GSE10_fu, Duration"


def test_an_instrument_asked_at_one_time_point_only(make_study):
    """GSE only at the baseline: no GSE score at the follow-up, nothing else changed."""
    folder = make_study()

    def no_gse_fu(table):
        return table.drop(columns=[f"GSE{i}_fu" for i in range(1, 11)])

    to_person(folder, edit=no_gse_fu)
    text = (folder / "study.yaml").read_text()
    text = text.replace(", " + ", ".join(f"gse_{i}: GSE{i}_fu" for i in range(1, 11)), "")
    (folder / "study.yaml").write_text(text)
    assert errors(folder) == []
    study = load_study(folder)
    assert score(study, "SP002", "baseline", "gse") == 20   # 10 x 2
    assert score(study, "SP001", "followup") == 56          # WEMWBS still there: 14 x 4
    gse_fu = study.scores[(study.scores.instrument == "gse")
                          & (study.scores.timepoint == "followup")]
    assert len(gse_fu) == 4                                 # SP001, SP002 x total, mean
    assert gse_fu.score.isna().all() and set(gse_fu.status) == {"not_administered"}
