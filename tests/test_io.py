"""Readers: CSV encodings (UTF-8, BOM, Windows-1252), XLSX, SPSS .sav, Parquet; atomic writes."""
from __future__ import annotations

import os

import pandas as pd
import pytest
from conftest import PARTICIPANTS, folder_digest, replace_in_file  # noqa: F401

from spanalysis import InputError, ValidationError, load_study
from spanalysis.io import (
    atomic_write,
    detect_encoding,
    neutralise_formulas,
    read_table,
    write_table,
)

ACCENTED = PARTICIPANTS.replace("SP003,Hillview,2025-02-01,65-79,Female",
                                "SP003,Hillview,2025-02-01,65-79,Femme \u2013 Zo\u00eb")


def test_utf8_is_read_as_utf8(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(ACCENTED, encoding="utf-8")
    table = read_table(path, text_columns=["participant_id"])
    assert table.encoding == "utf-8" and not table.issues
    assert table.frame.loc[2, "gender"] == "Femme \u2013 Zo\u00eb"


def test_utf8_with_bom(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ACCENTED.encode("utf-8"))
    table = read_table(path)
    assert table.encoding == "utf-8-sig"
    assert list(table.frame.columns)[0] == "participant_id"  # BOM not glued to the name
    assert table.frame.loc[2, "gender"] == "Femme \u2013 Zo\u00eb"


def test_windows_1252_is_detected_and_warned(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(ACCENTED.encode("cp1252"))
    table = read_table(path)
    assert table.encoding == "cp1252"
    # the en dash is 0x96 and e-diaeresis 0xEB in Windows-1252: decoded, not garbled
    assert table.frame.loc[2, "gender"] == "Femme \u2013 Zo\u00eb"
    assert len(table.issues) == 1 and table.issues[0].level == "warning"
    assert table.issues[0].row == 4 and "Windows-1252" in table.issues[0].message


@pytest.mark.parametrize("where", ["text", "number"])
def test_windows_1252_far_into_a_large_file_is_detected(tmp_path, where):
    # The parser reads a large file in pieces (in threads); a Windows-1252 byte in the last
    # row, in a text or an otherwise numeric column, must still send the file to detection.
    rows = 300_000
    last = "Zo\u00eb" if where == "text" else "4\u00e9"
    body = "".join(f"SP{i:07d},Hillview,{i % 7}\n" for i in range(rows - 1))
    data = ("participant_id,site,score\n" + body
            + (f"SP9999999,{last},1\n" if where == "text" else f"SP9999999,Hillview,{last}\n"))
    path = tmp_path / "big.csv"
    path.write_bytes(data.encode("cp1252"))
    table = read_table(path, text_columns=["participant_id"])
    assert table.encoding == "cp1252" and len(table.frame) == rows
    assert table.issues[0].row == rows + 1
    column = "site" if where == "text" else "score"
    assert table.frame[column].iloc[-1] == last


def test_text_far_down_a_number_column_is_kept_without_a_pandas_warning(tmp_path):
    import warnings

    rows = 300_000
    body = "".join(f"SP{i:07d},{i % 5 + 1}\n" for i in range(rows - 1))
    path = tmp_path / "big.csv"
    path.write_text("participant_id,wemwbs_1\n" + body + "SP9999999,often\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # any warning fails the test
        table = read_table(path, text_columns=["participant_id"])
    assert str(table.frame["wemwbs_1"].iloc[-1]) == "often"
    assert int(table.frame["wemwbs_1"].iloc[0]) == 1


def test_bom_then_bytes_that_are_not_utf8_are_an_error(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ACCENTED.encode("cp1252"))
    with pytest.raises(InputError) as info:
        read_table(path)
    assert "byte order mark but is not valid UTF-8" in str(info.value)
    assert info.value.issue.row == 4


def test_bytes_that_are_neither_encoding_are_an_error(tmp_path):
    path = tmp_path / "p.csv"
    data = PARTICIPANTS.encode("utf-8").replace(b"Hillview,2025-02-01", b"Hill\x81view,2025-02-01")
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert info.value.issue.row == 4
    assert "neither UTF-8 nor Windows-1252" in str(info.value)


def test_detect_encoding_plain_ascii():
    assert detect_encoding(b"a,b\n1,2\n", "x.csv") == (None, "utf-8", [])


def test_leading_zeros_kept_in_identifiers(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("participant_id,site\n0001,A\n0002,B\n")
    table = read_table(path, text_columns=["participant_id"])
    assert list(table.frame["participant_id"]) == ["0001", "0002"]


def test_unsupported_extension(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(path)


def _as_frame():
    from io import StringIO

    return pd.read_csv(StringIO(PARTICIPANTS), dtype=str)


def _study_with_participants(make_study, writer, ext):
    folder = make_study()
    (folder / "participants.csv").unlink()
    writer(_as_frame(), folder / f"participants{ext}")
    replace_in_file(folder / "study.yaml", "participants: participants.csv",
                    f"participants: participants{ext}")
    return folder


def test_xlsx_participants(make_study):
    folder = _study_with_participants(make_study, lambda df, p: df.to_excel(p, index=False),
                                      ".xlsx")
    study = load_study(folder)
    assert list(study.participants["participant_id"]) == ["SP001", "SP002", "SP003", "SP004"]
    assert study.participants.loc[3, "referral_date"] == pd.Timestamp("2025-03-02")


def test_parquet_participants(make_study):
    folder = _study_with_participants(make_study, lambda df, p: df.to_parquet(p), ".parquet")
    study = load_study(folder)
    assert study.participants["imd_quintile"].tolist() == [1, 2, 3, 5]


def test_spss_value_labels_applied_to_attributes_not_items(make_study):
    import pyreadstat  # a dependency: never skipped
    folder = make_study()
    df = _as_frame()
    df["gender"] = df["gender"].map({"Female": 1, "Male": 2}).astype(float)
    df["imd_quintile"] = df["imd_quintile"].astype(float)
    df["sessions_attended"] = df["sessions_attended"].astype(float)
    (folder / "participants.csv").unlink()
    pyreadstat.write_sav(df, str(folder / "participants.sav"),
                         variable_value_labels={"gender": {1: "Female", 2: "Male"}})
    # responses as .sav too: wemwbs_1 carries value labels that must NOT replace the codes
    responses = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    (folder / "responses.csv").unlink()
    pyreadstat.write_sav(responses, str(folder / "responses.sav"),
                         variable_value_labels={"wemwbs_1": {1: "None of the time",
                                                             5: "All of the time"}})
    replace_in_file(folder / "study.yaml", "participants: participants.csv",
                    "participants: participants.sav")
    replace_in_file(folder / "study.yaml", "path: responses.csv", "path: responses.sav")
    before = folder_digest(folder)
    study = load_study(folder)
    assert study.participants["gender"].tolist() == ["Female", "Male", "Female", "Male"]
    assert study.responses["wemwbs_1"].tolist()[:2] == [3.0, 4.0]
    assert folder_digest(folder) == before


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("half a fi")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_write_table_neutralises_formulas(tmp_path):
    frame = pd.DataFrame({"quote": ["=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "fine", "-x"],
                          "n": [1, -2, 3, 4, 5]})
    path = write_table(frame, tmp_path / "t.csv")
    back = pd.read_csv(path)
    assert back["quote"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1", "'@SUM(A1)", "fine",
                                      "'-x"]
    assert back["n"].tolist() == [1, -2, 3, 4, 5]  # numbers are data, not formulas


def test_neutralise_formulas_leaves_input_alone():
    frame = pd.DataFrame({"a": ["=1"]})
    neutralise_formulas(frame)
    assert frame.loc[0, "a"] == "=1"


# -- damaged and unusual files (issue 19, items 22, 26 and 28) ------------------------------
def _error(path) -> InputError:
    with pytest.raises(InputError) as info:
        read_table(path)
    return info.value


def test_a_header_naming_a_column_twice_is_an_error_not_renamed(tmp_path):
    """pandas would silently call the second one ``site.1``."""
    path = tmp_path / "p.csv"
    path.write_text("participant_id,site,site\nSP1,A,B\n", encoding="utf-8")
    issue = _error(path).issue
    assert (issue.message, issue.row, issue.column) == ("the header names this column twice",
                                                        1, "site")


def test_a_nul_byte_is_reported_on_its_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"participant_id,site\nSP1,A\nSP2,B\x00\nSP3,C\n")
    issue = _error(path).issue
    assert "NUL byte" in issue.message and issue.row == 3 and issue.file == "p.csv"


def test_a_byte_order_mark_inside_the_file_is_reported_on_its_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfparticipant_id,site\nSP1,A\n\xef\xbb\xbfSP2,B\n")
    issue = _error(path).issue
    assert "byte order mark inside" in issue.message and issue.row == 3


@pytest.mark.parametrize("sep", [",", "\t"])
def test_utf16_text_as_excel_writes_it_is_read_correctly(tmp_path, sep):
    """Excel's "Unicode text" is UTF-16 with a byte order mark, tab-separated."""
    path = tmp_path / "p.csv"
    text = sep.join(["participant_id", "name"]) + "\r\n" + sep.join(["SP1", "Zoë"]) + "\r\n"
    path.write_bytes(text.encode("utf-16"))
    table = read_table(path, text_columns=["participant_id"])
    assert list(table.frame.columns) == ["participant_id", "name"]
    assert table.frame.iloc[0].tolist() == ["SP1", "Zoë"]
    assert table.encoding == "utf-16"


def test_a_header_with_too_many_columns_is_refused_at_once(tmp_path):
    from spanalysis.io import MAX_COLUMNS

    path = tmp_path / "p.csv"
    path.write_text(",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)) + "\n", encoding="utf-8")
    issue = _error(path).issue
    assert issue.message == "the header has too many columns"
    assert issue.value == f"{MAX_COLUMNS + 1} columns"


def test_xlsx_formulas_without_saved_values_are_named(tmp_path):
    """openpyxl writes formulas without results (as a script would): they would read as
    blank, so the cells are named instead."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["participant_id", "score"])
    sheet.append(["SP1", 3])
    sheet.append(["SP2", "=B2+1"])
    path = tmp_path / "p.xlsx"
    book.save(path)
    issue = _error(path).issue
    assert issue.message.startswith("formula cells have no saved value")
    assert issue.value == "B3"


def test_an_oversized_workbook_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import spanalysis.io as sio

    path = tmp_path / "p.xlsx"
    pd.DataFrame({"participant_id": ["SP1"] * 50}).to_excel(path, index=False)
    monkeypatch.setattr(sio, "MAX_XLSX_UNZIPPED", 100)
    issue = _error(path).issue
    assert issue.message == "the workbook is too large to read" and "MB unzipped" in issue.value


def test_yaml_aliases_and_repeated_keys_are_refused():
    """An alias bomb (each line doubling the last) and a key given twice are refused by the
    loader every YAML file goes through; plain YAML reads as usual."""
    import yaml

    from spanalysis.io import load_yaml

    bomb = "a: &a [x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}]\n"
                                      for p, c in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(yaml.YAMLError, match="aliases"):
        load_yaml(bomb)
    with pytest.raises(yaml.YAMLError, match="duplicate key 'site'"):
        load_yaml("site: A\nsite: B\n")
    assert load_yaml("sites: [A, B]\nn: 5\n") == {"sites": ["A", "B"], "n": 5}


def test_study_yaml_with_an_alias_or_a_repeated_key_is_a_clear_error(make_study):
    folder = make_study()
    text = (folder / "study.yaml").read_text(encoding="utf-8")
    (folder / "study.yaml").write_text(text + "name: again\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_study(folder)
    (issue,) = info.value.issues
    assert "duplicate key 'name'" in issue.message
    assert issue.row == len(text.splitlines()) + 1  # the repeated key's own line
