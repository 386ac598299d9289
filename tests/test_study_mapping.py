"""A study's own column names, "not answered" codes and extra columns (issue 20: 1), on the
small hand-made study of ``conftest.py``: mapped, it scores exactly as the plain study."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import folder_digest
from spanalysis import load_study, validate_study


def _edit(path, old, new, count=-1):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _scores(folder) -> pd.DataFrame:
    scores = load_study(folder).scores
    return scores.astype({c: str for c in ("participant_id", "timepoint", "instrument",
                                            "scale", "status")}).reset_index(drop=True)


def _drop_participants_column(folder, position: int) -> list[str]:
    """participants.csv without its column at ``position`` (0-based); the lines written."""
    lines = (folder / "participants.csv").read_text().splitlines()
    cut = [",".join(c for j, c in enumerate(r.split(",")) if j != position) for r in lines]
    (folder / "participants.csv").write_text("\n".join(cut) + "\n")
    return cut


def _errors(folder):
    return [i for i in validate_study(folder) if i.level == "error"]


@pytest.fixture
def plain_and_copy(make_study):
    return make_study(name="plain"), make_study(name="export")


def test_own_id_and_item_names_score_as_the_plain_study(plain_and_copy):
    plain, export = plain_and_copy
    for name in ("participants.csv", "responses.csv", "service_use.csv"):
        _edit(export / name, "participant_id", "ResponseId", count=1)
    _edit(export / "responses.csv", "timepoint", "wave", count=1)
    letters = "abcdefghijklmn"
    header = (export / "responses.csv").read_text().splitlines()[0]
    renamed = header
    for i in range(14, 0, -1):   # wemwbs_14 before wemwbs_1
        renamed = renamed.replace(f"wemwbs_{i}", f"WEMWBS{letters[i - 1]}")
    _edit(export / "responses.csv", header, renamed, count=1)
    items = ", ".join(f"wemwbs_{i}: WEMWBS{letters[i - 1]}" for i in range(1, 15))
    _edit(export / "study.yaml", "  participants: participants.csv",
          "  participants:\n    path: participants.csv\n    columns: {participant_id: ResponseId}")
    _edit(export / "study.yaml", "    layout: wide",
          "    layout: wide\n    columns: {participant_id: ResponseId, timepoint: wave}\n"
          f"    items: {{{items}}}")
    _edit(export / "study.yaml", "    window_months: 6",
          "    window_months: 6\n    columns: {participant_id: ResponseId}")
    before = folder_digest(export)
    assert _errors(export) == []
    pd.testing.assert_frame_equal(_scores(export), _scores(plain))
    assert folder_digest(export) == before   # the export is read, never changed


def test_missing_codes_are_blanks(plain_and_copy):
    plain, export = plain_and_copy
    # SP002's follow-up has wemwbs_14 blank in the plain study: -99 in the export
    _edit(export / "responses.csv", "SP002,followup,2025-04-20," + "3," * 13 + ",",
          "SP002,followup,2025-04-20," + "3," * 13 + "-99,")
    err = _errors(export)
    assert len(err) == 1 and err[0].column == "wemwbs_14" and err[0].value == -99
    _edit(export / "study.yaml", "    layout: wide", "    layout: wide\n    missing: [-99, NA]")
    assert _errors(export) == []
    pd.testing.assert_frame_equal(_scores(export), _scores(plain))


def test_missing_code_as_text_and_as_number():
    from spanalysis.study.mapping import is_missing_code

    column = pd.Series(["-99", " NA ", "3", None, "-99.0", "na"])
    assert is_missing_code(column, [-99, "NA"]).tolist() == [True, True, False, False, True,
                                                              False]
    assert is_missing_code(pd.Series([-99.0, 3.0, None]), [-99]).tolist() == [True, False,
                                                                              False]


def test_extra_export_columns_are_a_warning_listing_them(plain_and_copy):
    plain, export = plain_and_copy
    lines = (export / "responses.csv").read_text().splitlines()
    lines = [lines[0] + ",Duration (in seconds),Finished"] + [r + ",312,1" for r in lines[1:]]
    (export / "responses.csv").write_text("\n".join(lines) + "\n")
    issues = validate_study(export)
    assert [i for i in issues if i.level == "error"] == []
    extra = [i for i in issues if "not items" in i.message]
    assert len(extra) == 1
    assert extra[0].value == "Duration (in seconds), Finished" and extra[0].row == 1
    pd.testing.assert_frame_equal(_scores(export), _scores(plain))


def test_mapping_to_a_column_the_file_lacks_names_it(plain_and_copy):
    _, export = plain_and_copy
    _edit(export / "study.yaml", "    layout: wide",
          "    layout: wide\n    items: {wemwbs_1: WEMWBS_A}")
    err = _errors(export)
    assert len(err) == 1
    assert (err[0].file, err[0].row, err[0].column) == ("responses.csv", 1, "WEMWBS_A")
    assert "maps 'wemwbs_1' to a column this file does not have" in err[0].message


def test_mapping_onto_a_name_the_file_already_has_is_an_error(plain_and_copy):
    _, export = plain_and_copy
    _edit(export / "study.yaml", "    layout: wide",
          "    layout: wide\n    items: {wemwbs_1: wemwbs_2}")
    messages = [i.message for i in _errors(export)]
    assert any("already has a column 'wemwbs_1'" in m for m in messages), messages


@pytest.mark.parametrize("entry, words", [
    ("columns: [participant_id]", "should map names"),
    ("missing: [[-99]]", "not a missing-value code"),
    ("items: {wemwbs_1: ''}", "should name a column"),
])
def test_mapping_entries_are_checked(make_study, entry, words):
    folder = make_study()
    _edit(folder / "study.yaml", "    layout: wide", f"    layout: wide\n    {entry}")
    messages = [str(i) for i in _errors(folder)]
    assert len(messages) == 1 and words in messages[0], messages
    assert "files.responses" in messages[0]


def test_a_single_site_study_needs_no_site_column(make_study):
    folder = make_study()
    _edit(folder / "study.yaml", "sites: [Riverside, Hillview]", "sites: [Riverside]")
    cut = _drop_participants_column(folder, 1)
    assert "site" not in cut[0]
    assert _errors(folder) == []
    assert load_study(folder).participants["site"].tolist() == ["Riverside"] * 4


def test_several_sites_need_the_site_column(make_study):
    folder = make_study()
    _drop_participants_column(folder, 1)
    err = _errors(folder)
    assert len(err) == 1 and (err[0].row, err[0].column) == (1, "site")


def test_no_referral_date_skips_its_checks_and_says_so(make_study):
    folder = make_study()
    _drop_participants_column(folder, 2)
    issues = validate_study(folder)
    assert [i for i in issues if i.level == "error"] == []
    said = [i for i in issues if i.column == "referral_date"]
    assert len(said) == 1 and said[0].level == "warning" and "not checked" in said[0].message
    study = load_study(folder)
    assert study.participants["referral_date"].isna().all() and len(study.scores)
