"""Every validation case in docs/study-format.md: the message names file, row, column and
value; the command exits with status 2 and no traceback; the study folder is unchanged."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import folder_digest

from spanalysis import ValidationError, load_study
from spanalysis.cli import main
from spanalysis.study import validate_study


def replace_in(path, old, new, count=1):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def errors_of(folder):
    return [i for i in validate_study(folder) if i.level == "error"]


def assert_cli_rejects(folder, capsys, *fragments):
    """The CLI exits 2, prints every fragment, prints no traceback, writes nothing."""
    before = folder_digest(folder)
    code = main(["validate", str(folder)])
    captured = capsys.readouterr()
    assert code == 2
    text = captured.err + captured.out
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert "Traceback" not in text
    assert folder_digest(folder) == before


def only_error(folder):
    errs = errors_of(folder)
    assert len(errs) == 1, [str(e) for e in errs]
    return errs[0]


def test_valid_study_loads(make_study):
    folder = make_study()
    before = folder_digest(folder)
    study = load_study(folder)
    assert len(study.participants) == 4
    assert list(study.responses["timepoint"].cat.categories) == ["baseline", "followup"]
    assert study.responses.shape[0] == 6
    # 14 WEMWBS + 10 GSE item columns, as floats
    assert study.responses["wemwbs_14"].dtype == "float64"
    # DD/MM/YYYY referral dates are read day first (UK)
    assert study.participants.loc[3, "referral_date"] == pd.Timestamp("2025-03-02")
    assert folder_digest(folder) == before
    # SP004 has no follow-up: not an error
    assert not [i for i in study.issues if i.level == "error"]


def test_long_layout_gives_the_same_wide_table(make_study):
    wide = load_study(make_study("wide", "w")).responses
    long = load_study(make_study("long", "l")).responses
    key = ["participant_id", "timepoint"]
    a = wide.sort_values(key).reset_index(drop=True)
    b = long.sort_values(key).reset_index(drop=True)[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False,
                                  check_column_type=False)


def test_missing_file(make_study, capsys):
    folder = make_study()
    (folder / "service_use.csv").unlink()
    err = only_error(folder)
    assert err.file == "study.yaml" and "service_use" in err.message
    assert err.value == "service_use.csv"
    assert_cli_rejects(folder, capsys, "study.yaml", "file not found", "service_use.csv")


def test_missing_manifest(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert_cli_rejects(tmp_path / "empty", capsys, "study.yaml", "no study manifest")


def test_manifest_unknown_key_is_named_with_its_line(make_study, capsys):
    folder = make_study()
    replace_in(folder / "study.yaml", "min_cell_size: 5", "min_cel_size: 5")
    err = only_error(folder)
    assert err.file == "study.yaml"
    assert err.row == 10  # the line of the misspelt key
    assert "privacy.min_cel_size" in err.message and "min_cell_size" in err.expected
    assert_cli_rejects(folder, capsys, "study.yaml, row 10", "unknown key")


@pytest.mark.parametrize("value, words", [(1, "withholds nothing"), (0, "not a valid"),
                                          (-3, "not a valid")])
def test_manifest_min_cell_size_below_two_is_refused(make_study, capsys, value, words):
    """Issue 19 (27): min_cell_size 1 passed validate, then the reports failed (and would
    have withheld nothing). validate refuses it, naming the key and its line."""
    folder = make_study()
    replace_in(folder / "study.yaml", "min_cell_size: 5", f"min_cell_size: {value}")
    err = only_error(folder)
    assert err.file == "study.yaml" and err.row == 10
    assert "privacy.min_cell_size" in err.message and words in err.message
    assert "at least 2" in err.expected
    assert_cli_rejects(folder, capsys, "study.yaml, row 10", words)


def test_manifest_rounding_is_read_and_checked(make_study):
    """Issue 19 (11): privacy.rounding (NHS Digital rounds every published count to 5)."""
    folder = make_study()
    assert load_study(folder).rounding is None
    replace_in(folder / "study.yaml", "min_cell_size: 5", "min_cell_size: 5\n  rounding: 5")
    assert load_study(folder).rounding == 5
    replace_in(folder / "study.yaml", "rounding: 5", "rounding: 1")
    err = only_error(folder)
    assert "privacy.rounding" in err.message and "at least 2" in err.expected
    replace_in(folder / "study.yaml", "rounding: 1", "rounding: 20")   # 5..9 would show as 0
    err = only_error(folder)
    assert "would show counts of 5 and more as 0" in err.message
    assert "min_cell_size of at least 10" in err.expected


@pytest.mark.parametrize("name", ["all", "ALL", " None "])
def test_a_site_cannot_be_called_all_or_none(make_study, capsys, name):
    """Issue 19 (23): a site named 'all' got the whole study's figures ('all' is the whole
    study's value of the site parameter and of --sites)."""
    folder = make_study()
    replace_in(folder / "study.yaml", "sites: [Riverside, Hillview]",
               f"sites: [Riverside, Hillview, '{name}']")
    err = only_error(folder)
    assert err.file == "study.yaml" and "cannot be a site name" in err.message
    assert_cli_rejects(folder, capsys, "cannot be a site name")


def test_manifest_missing_required_key(make_study):
    folder = make_study()
    replace_in(folder / "study.yaml", "instruments: [wemwbs, gse]\n", "")
    err = only_error(folder)
    assert "instruments" in err.message and "missing" in err.message


def test_missing_column(make_study, capsys):
    folder = make_study()
    text = (folder / "participants.csv").read_text().replace("site,", "place,", 1)
    (folder / "participants.csv").write_text(text)
    errs = errors_of(folder)
    assert any(e.file == "participants.csv" and e.row == 1 and e.column == "site"
               and "required column missing" in e.message for e in errs)
    assert_cli_rejects(folder, capsys, "participants.csv, row 1, column 'site'")


def test_duplicate_participant(make_study, capsys):
    folder = make_study()
    replace_in(folder / "participants.csv", "SP004,", "SP003,")
    errs = errors_of(folder)
    dup = [e for e in errs if "more than once" in e.message]
    assert {e.row for e in dup} == {4, 5}
    assert all(e.column == "participant_id" and e.value == "SP003" for e in dup)
    assert_cli_rejects(folder, capsys, "participants.csv, row 5, column 'participant_id'",
                       "'SP003'")


def test_duplicate_participant_timepoint_wide(make_study, capsys):
    folder = make_study()
    replace_in(folder / "responses.csv", "SP002,followup", "SP002,baseline")
    errs = [e for e in errors_of(folder) if "more than one row" in e.message]
    assert {e.row for e in errs} == {4, 5}
    assert all(e.file == "responses.csv" and e.value == "baseline" for e in errs)
    assert_cli_rejects(folder, capsys, "responses.csv, row 5, column 'timepoint'")


def test_duplicate_item_long(make_study, capsys):
    folder = make_study("long")
    # line 2 is SP001 baseline wemwbs_1; line 3 is SP001 baseline wemwbs_2: make it a repeat
    replace_in(folder / "responses.csv", "SP001,baseline,wemwbs_2,", "SP001,baseline,wemwbs_1,")
    errs = [e for e in errors_of(folder) if "appear more than once" in e.message]
    assert {e.row for e in errs} == {2, 3}
    assert all(e.column == "item" and e.value == "wemwbs_1" for e in errs)
    assert_cli_rejects(folder, capsys, "responses.csv, row 3, column 'item'")


def test_value_outside_range(make_study, capsys):
    folder = make_study()
    lines = (folder / "responses.csv").read_text().splitlines()
    cells = lines[2].split(",")  # row 3: SP001 follow-up
    cells[3 + 6] = "7"  # wemwbs_7
    lines[2] = ",".join(cells)
    (folder / "responses.csv").write_text("\n".join(lines) + "\n")
    err = only_error(folder)
    assert (err.file, err.row, err.column, err.value) == ("responses.csv", 3, "wemwbs_7", 7)
    assert "from 1 to 5" in err.expected
    assert_cli_rejects(folder, capsys, "responses.csv, row 3, column 'wemwbs_7'", "found 7",
                       "a whole number from 1 to 5")


def test_value_not_numeric(make_study, capsys):
    folder = make_study()
    lines = (folder / "responses.csv").read_text().splitlines()
    cells = lines[4].split(",")  # row 5: SP002 follow-up
    cells[3 + 14 + 2] = "often"  # gse_3
    lines[4] = ",".join(cells)
    (folder / "responses.csv").write_text("\n".join(lines) + "\n")
    err = only_error(folder)
    assert (err.row, err.column, err.value) == (5, "gse_3", "often")
    assert "not a number" in err.message
    assert_cli_rejects(folder, capsys, "row 5, column 'gse_3'", "'often'")


def test_value_not_whole_number(make_study):
    folder = make_study()
    lines = (folder / "responses.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[3] = "2.5"
    lines[1] = ",".join(cells)
    (folder / "responses.csv").write_text("\n".join(lines) + "\n")
    err = only_error(folder)
    assert (err.row, err.column, err.value) == (2, "wemwbs_1", 2.5)


def test_unknown_timepoint(make_study, capsys):
    folder = make_study()
    replace_in(folder / "responses.csv", "SP002,followup", "SP002,follow-up")
    err = only_error(folder)
    assert (err.row, err.column, err.value) == (5, "timepoint", "follow-up")
    assert "baseline, followup" in err.expected
    assert_cli_rejects(folder, capsys, "unknown time point", "'follow-up'")


def test_unknown_item_column_wide(make_study, capsys):
    """A column that is no item is left out with a warning (exports carry many: issue 20);
    the item it should have been is then missing, an error naming it."""
    folder = make_study()
    replace_in(folder / "responses.csv", "gse_10", "gse_11")
    err = only_error(folder)
    assert (err.row, err.column) == (1, "gse_10") and "no column for 1 item(s) of 'gse'" \
        in err.message
    warning = [i for i in validate_study(folder) if i.level == "warning"
               and "not items" in i.message]
    assert len(warning) == 1 and warning[0].value == "gse_11"
    assert_cli_rejects(folder, capsys, "column 'gse_10'", "no column for 1 item(s)")


def test_unknown_item_long(make_study, capsys):
    folder = make_study("long")
    replace_in(folder / "responses.csv", "SP003,baseline,gse_4,", "SP003,baseline,gse4,")
    err = only_error(folder)
    assert err.column == "item" and err.value == "gse4"
    lines = (folder / "responses.csv").read_text().splitlines()
    assert lines[err.row - 1].startswith("SP003,baseline,gse4,")
    assert_cli_rejects(folder, capsys, f"row {err.row}, column 'item'")


def test_responses_for_unknown_participant(make_study, capsys):
    folder = make_study()
    replace_in(folder / "responses.csv", "SP003,baseline", "SP030,baseline")
    errs = errors_of(folder)
    err = [e for e in errs if "not in the participants file" in e.message]
    assert len(err) == 1 and (err[0].row, err[0].value) == (6, "SP030")
    assert_cli_rejects(folder, capsys, "responses.csv, row 6, column 'participant_id'")


def test_service_use_for_unknown_participant(make_study):
    folder = make_study()
    replace_in(folder / "service_use.csv", "SP002,gp_consultations,after", "SP009,gp_consultations,after")
    err = only_error(folder)
    assert (err.file, err.row, err.value) == ("service_use.csv", 5, "SP009")


def test_site_differs_only_by_case_or_space(make_study, capsys):
    folder = make_study()
    replace_in(folder / "participants.csv", "SP003,Hillview", "SP003,hillview ")
    err = only_error(folder)
    assert (err.row, err.column, err.value) == (4, "site", "hillview")
    assert "case or spaces" in err.message and "'Hillview'" in err.expected
    assert_cli_rejects(folder, capsys, "participants.csv, row 4, column 'site'")


def test_manifest_sites_differing_by_case(make_study):
    folder = make_study()
    replace_in(folder / "study.yaml", "[Riverside, Hillview]", "[Riverside, Hillview, riverside]")
    err = only_error(folder)
    assert err.file == "study.yaml" and "case or spaces" in err.message


def test_undeclared_site(make_study):
    folder = make_study()
    replace_in(folder / "participants.csv", "SP003,Hillview", "SP003,Lakeside")
    err = only_error(folder)
    assert (err.row, err.column, err.value) == (4, "site", "Lakeside")


def test_unparseable_date(make_study, capsys):
    folder = make_study()
    replace_in(folder / "participants.csv", "2025-02-01", "1st Feb")
    err = only_error(folder)
    assert (err.row, err.column, err.value) == (4, "referral_date", "1st Feb")
    assert_cli_rejects(folder, capsys, "column 'referral_date'", "not a date")


def test_date_times_with_mixed_utc_offsets_are_read_as_written(make_study):
    """Issue 19 (25): date-times with different UTC offsets (a summer and a winter export)
    were a pandas traceback. Each is taken on the day it was written (the offset is dropped,
    not applied: 23:30 at -05:00 stays that day, not the next in UTC)."""
    folder = make_study()
    replace_in(folder / "responses.csv", "2025-01-10", "2025-01-10T09:15:00+00:00")
    replace_in(folder / "responses.csv", "2025-04-12", "2025-04-12T23:30:00-05:00")
    replace_in(folder / "responses.csv", "2025-04-20", "2025-04-20 08:00:00+0100")
    replace_in(folder / "responses.csv", "2025-03-02", "2025-03-02T10:00Z")
    assert [i for i in validate_study(folder) if i.level == "error"] == []
    done = load_study(folder).responses.set_index(["participant_id", "timepoint"])
    assert [str(done.at[key, "completed_date"].date()) for key in
            [("SP001", "baseline"), ("SP001", "followup"), ("SP002", "followup"),
             ("SP004", "baseline")]] == ["2025-01-10", "2025-04-12", "2025-04-20", "2025-03-02"]


def test_a_date_with_a_trailing_number_is_not_a_date_time(make_study):
    """Only a time of day may carry an offset: '2025-04-12-05' is not a date."""
    folder = make_study()
    replace_in(folder / "responses.csv", "2025-04-12", "2025-04-12-05")
    err = only_error(folder)
    assert (err.column, err.value) == ("completed_date", "2025-04-12-05")


def test_responses_with_a_header_only_cannot_be_analysed(make_study, capsys):
    """Issue 21 (2): a study with no answers at all fails validate, saying what is missing,
    rather than passing and rendering half a report."""
    folder = make_study()
    header = (folder / "responses.csv").read_text().splitlines()[0]
    (folder / "responses.csv").write_text(header + "\n")
    err = only_error(folder)
    assert (err.file, err.row) == ("responses.csv", 2) and "no rows" in err.message
    assert_cli_rejects(folder, capsys, "responses.csv, row 2", "header but no rows")


def test_no_participant_with_a_baseline_cannot_be_analysed(make_study):
    folder = make_study()
    lines = (folder / "responses.csv").read_text().splitlines()
    (folder / "responses.csv").write_text(
        "\n".join([lines[0]] + [r for r in lines[1:] if ",baseline," not in r]) + "\n")
    err = only_error(folder)
    assert (err.file, err.column) == ("responses.csv", "timepoint")
    assert "no participant has a questionnaire at the baseline ('baseline')" in err.message


def test_segments_with_a_header_only_mean_no_coding_yet(tmp_path):
    """Issue 21 (2): a header-only segments.csv was a pandas traceback in validate; it is
    sources without coding, an empty segment table."""
    from spanalysis.qual.segments import SEGMENT_COLUMNS, read_segments

    path = tmp_path / "segments.csv"
    path.write_text(",".join(SEGMENT_COLUMNS) + "\n")
    sources = pd.DataFrame({"source_id": ["S1"], "text": ["some words"]})
    codebook = pd.DataFrame({"id": ["hope"]})
    seg = read_segments(path, sources, codebook)
    assert list(seg.columns) == SEGMENT_COLUMNS and len(seg) == 0
    assert seg["start"].dtype == np.int64 and seg["end"].dtype == np.int64


def test_followup_before_referral(make_study, capsys):
    folder = make_study()
    replace_in(folder / "responses.csv", "2025-04-20", "2024-12-20")
    err = only_error(folder)
    assert (err.file, err.row, err.column) == ("responses.csv", 5, "completed_date")
    assert "2024-12-20" in str(err.value) and "2025-01-15" in str(err.value)
    assert_cli_rejects(folder, capsys, "before the participant's referral")


def test_nhs_number_as_participant_id(make_study, capsys):
    folder = make_study()
    # 943 476 5919 is valid: 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299;
    # 299 mod 11 = 2; 11 - 2 = 9 = the check digit.
    for name in ("participants.csv", "responses.csv"):
        text = (folder / name).read_text().replace("SP004", "9434765919")
        (folder / name).write_text(text)
    err = only_error(folder)
    assert (err.row, err.column) == (5, "participant_id")
    assert "9434765919" not in str(err)  # the number itself is not echoed
    assert_cli_rejects(folder, capsys, "valid NHS number")


@pytest.mark.parametrize("written", ["943.476.5919", "943 476 5919", "943-476-5919",
                                     "943\u00a0476\u00a05919"])
def test_nhs_number_written_with_separators_as_participant_id(make_study, written):
    """An NHS number written with dots, spaces, non-breaking spaces or dashes is still one
    (the same check digit as above), and is refused as a participant id."""
    folder = make_study()
    for name in ("participants.csv", "responses.csv"):
        text = (folder / name).read_text().replace("SP004", written)
        (folder / name).write_text(text)
    err = only_error(folder)
    assert (err.row, err.column) == (5, "participant_id") and "NHS number" in err.message
    assert "5919" not in str(err)


def test_nhs_like_number_with_wrong_check_digit_is_accepted(make_study):
    folder = make_study()
    for name in ("participants.csv", "responses.csv"):
        text = (folder / name).read_text().replace("SP004", "9434765918")
        (folder / name).write_text(text)
    assert errors_of(folder) == []


def test_csv_wrong_number_of_fields(make_study, capsys):
    folder = make_study()
    replace_in(folder / "participants.csv", "SP003,Hillview,", "SP003,Hill,view,")
    err = only_error(folder)
    assert err.row == 4 and "number of fields" in err.message
    assert_cli_rejects(folder, capsys, "participants.csv, row 4")


def test_many_errors_are_summarised(make_study):
    folder = make_study()
    text = (folder / "responses.csv").read_text()
    lines = text.splitlines()
    header = lines[0]
    rows = []
    for i in range(30):
        cells = lines[1].split(",")
        cells[0] = "SP001"
        cells[1] = "baseline"
        cells[3] = "9"
        rows.append(",".join(cells))
    (folder / "responses.csv").write_text("\n".join([header] + rows) + "\n")
    errs = [e for e in errors_of(folder) if e.column == "wemwbs_1"]
    assert len(errs) == 11  # ten examples and one count of the rest
    assert "20 more row(s)" in errs[-1].message


def test_warnings_do_not_stop_loading(make_study):
    folder = make_study()
    replace_in(folder / "study.yaml", "[Riverside, Hillview]", "[Riverside, Hillview, Lakeside]")
    study = load_study(folder)
    assert any("Lakeside" == w.value for w in study.warnings)


def test_load_study_raises_validation_error_with_all_issues(make_study):
    folder = make_study()
    replace_in(folder / "participants.csv", "2025-02-01", "never")
    replace_in(folder / "responses.csv", "SP002,followup", "SP002,later")
    with pytest.raises(ValidationError) as info:
        load_study(folder)
    assert len(info.value.errors) == 2
    assert re.search(r"2 error\(s\)", str(info.value))


def test_messages_keep_file_order_when_files_are_checked_side_by_side(make_study):
    """The three files are checked in two threads; the messages still come file by file
    (participants, responses, service use, then the checks across files) and two runs give
    exactly the same list."""
    folder = make_study()
    replace_in(folder / "participants.csv", "SP002,Riverside,2025-01-15",
               "SP002,Riverside,2025-13-45")                       # participants: bad date
    replace_in(folder / "responses.csv", "SP003,baseline", "SP003,midway")   # unknown time point
    replace_in(folder / "service_use.csv", "SP002,gp_consultations,after,2",
               "SP002,gp_consultations,later,2")                  # unknown period
    replace_in(folder / "service_use.csv", "SP001,gp_consultations,before,5",
               "SP099,gp_consultations,before,5")                 # across files: unknown person
    first = [str(i) for i in validate_study(folder)]
    assert first == [str(i) for i in validate_study(folder)]
    files = [i.file for i in validate_study(folder) if i.level == "error"]
    assert files == ["participants.csv", "responses.csv", "service_use.csv", "service_use.csv"]
    messages = [i.message for i in validate_study(folder) if i.level == "error"]
    assert messages[:3] == ["not a date", "unknown time point", "unknown period"]
    assert "not in the participants file" in messages[3]


def test_scores_categories_are_the_scored_participants_only(make_study):
    """A participant with no questionnaire and no service use is not a category of the score
    table."""
    folder = make_study()
    with open(folder / "participants.csv", "a", encoding="utf-8") as fh:
        fh.write("SP005,Hillview,2025-03-05,35-49,Female,2,0\n")
    study = load_study(folder)
    scores = study.scores
    assert "SP005" not in set(scores["participant_id"].cat.categories)
    assert set(scores["participant_id"].cat.categories) == {"SP001", "SP002", "SP003", "SP004"}


def test_an_impossible_calendar_date_is_not_a_date(make_study):
    """31 February does not exist: it is reported, not rolled over to 2 March."""
    folder = make_study()
    replace_in(folder / "participants.csv", "02/03/2025", "31/02/2025")
    errors = errors_of(folder)
    assert [(e.message, e.row, e.column, e.value) for e in errors] == [
        ("not a date", 5, "referral_date", "31/02/2025")]


def test_study_shows_a_short_summary_in_a_notebook(make_study):
    """The repr is one line, the HTML a small table: sites, time points, instruments and
    how many people answered at each time point (counted by hand from conftest's files)."""
    study = load_study(make_study())
    text = repr(study)
    assert "\n" not in text and len(text) < 300
    assert "4 participants" in text and "baseline 4" in text and "followup 2" in text
    page = study._repr_html_()
    assert "<table>" in page and "baseline: 4 people; followup: 2 people" in page
    assert "Riverside" in page and "Hillview" in page
    assert study.summary()["n_at_timepoint"] == {"baseline": 4, "followup": 2}


def test_sites_differing_only_in_unicode_form_or_by_look_alike_letters_are_refused(make_study):
    """'Café' typed with a combining accent is the same site as 'Café'; a name with a
    Cyrillic 'а' among Latin letters is refused (it would look like another site)."""
    folder = make_study()
    replace_in(folder / "study.yaml", "sites: [Riverside, Hillview]",
               "sites: [Riverside, Hillview, Cafe\u0301, Caf\u00e9]")
    errors = errors_of(folder)
    assert any("site names differ only by case or spaces" in e.message for e in errors)
    folder = make_study()
    replace_in(folder / "study.yaml", "sites: [Riverside, Hillview]",
               "sites: [Riverside, Hillview, Riversid\u0435]")
    (error,) = [e for e in errors_of(folder) if "alphabets" in e.message]
    assert "CYRILLIC" in str(error.value) and "LATIN" in str(error.value)


def test_a_primary_outcome_naming_no_scale_fails_validate(make_study):
    folder = make_study()
    text = (folder / "study.yaml").read_text(encoding="utf-8")
    (folder / "study.yaml").write_text(
        text + "primary_outcome: {instrument: wemwbs, scale: totl}\n", encoding="utf-8")
    (error,) = errors_of(folder)
    assert error.message == "the primary outcome is not a scale of its instrument"
    assert error.value == "totl" and "total" in error.expected
