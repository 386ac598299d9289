"""Codebook (YAML and REFI-QDA .qdc), sources and coded segments."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from spanalysis.errors import InputError, ValidationError
from spanalysis.qual.codebook import (
    CODEBOOK_COLUMNS,
    code_guid,
    read_codebook,
    read_qdc,
    write_codebook,
    write_qdc,
)
from spanalysis.qual.segments import read_segments, read_sources

FIXTURES = Path(__file__).parent / "fixtures" / "qual"


# --------------------------------------------------------------------------- codebook.yaml


def test_read_codebook_fixture():
    book = read_codebook(FIXTURES / "codebook.yaml")
    assert list(book.columns) == CODEBOOK_COLUMNS
    assert book["id"].tolist() == ["valued", "hope", "hope_future", "distress"]
    assert book["parent"].isna().tolist() == [True, True, False, True]
    assert book.loc[2, "parent"] == "hope"
    assert book.loc[0, "keywords"] == ["listened", "valued", "alone"]
    assert book.loc[2, "keywords"] == []
    assert book["sensitive"].tolist() == [False, False, False, True]
    assert book["sensitive"].dtype == bool
    assert book.loc[2, "colour"] != book.loc[2, "colour"]  # missing colour is NaN
    assert book.loc[1, "inclusion"] == ""                   # missing free text is empty


def _write(tmp_path, text):
    path = tmp_path / "codebook.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("yaml_text, column, words", [
    ("codes:\n  - {id: a, name: A}\n  - {id: a, name: B}\n", "id", ["code 2", "'a'", "earlier"]),
    ("codes:\n  - {id: a, name: A, parent: zz}\n", "parent", ["code 1", "not a code"]),
    ("codes:\n  - {id: a, name: A, parent: b}\n  - {id: b, name: B, parent: a}\n", "parent",
     ["cycle", "a -> b -> a"]),
    ("codes:\n  - {id: a, name: A, colour: blue}\n", "colour", ["#RRGGBB", "'blue'"]),
    ("codes:\n  - {id: a, name: A, colour: '#12345'}\n", "colour", ["#RRGGBB"]),
    ("codes:\n  - {id: a, name: A, defintion: typo}\n", "defintion", ["unknown key"]),
    ("codes:\n  - {id: a}\n", "name", ["no name"]),
    ("codes:\n  - {id: a, name: A, sensitive: maybe}\n", "sensitive", ["true or false"]),
    ("codes:\n  - {name: A}\n", "id", ["no id"]),
])
def test_codebook_errors_name_file_code_and_field(tmp_path, yaml_text, column, words):
    with pytest.raises(ValidationError) as info:
        read_codebook(_write(tmp_path, yaml_text))
    issue = info.value.errors[0]
    assert issue.file == "codebook.yaml"
    assert issue.column == column
    message = str(issue)
    for word in words:
        assert word in message, message
    assert "line" in issue.message  # YAML line of the offending code


def test_codebook_not_yaml_or_wrong_shape(tmp_path):
    with pytest.raises(InputError, match="not valid YAML"):
        read_codebook(_write(tmp_path, "codes: [unclosed\n"))
    with pytest.raises(InputError, match="codes"):
        read_codebook(_write(tmp_path, "- just a list\n"))
    with pytest.raises(InputError, match="unknown top-level key"):
        read_codebook(_write(tmp_path, "codes:\n  - {id: a, name: A}\nextra: 1\n"))


def test_codebook_refuses_aliases_and_repeated_keys(tmp_path):
    """Issue 19 (24): the codebook is read by the strict loader, like study.yaml: an alias
    (the start of an "alias bomb") and a key given twice (silently last-wins in PyYAML)
    are errors naming the line."""
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\ncodes:\n  - {id: c, name: *b}\n"
    with pytest.raises(InputError, match="aliases .* are not allowed") as info:
        read_codebook(_write(tmp_path, bomb))
    assert "line" in str(info.value)
    with pytest.raises(InputError, match="duplicate key 'name'"):
        read_codebook(_write(tmp_path, "codes:\n  - {id: a, name: A, name: B}\n"))


def test_write_codebook_round_trip(tmp_path):
    book = read_codebook(FIXTURES / "codebook.yaml")
    out = write_codebook(book, tmp_path / "out" / "codebook.yaml")
    pd.testing.assert_frame_equal(read_codebook(out), book)
    assert not list((tmp_path / "out").glob(".*part"))  # no temporary file left behind


# --------------------------------------------------------------------------- .qdc


def test_qdc_round_trip_and_stable_guids(tmp_path):
    book = read_codebook(FIXTURES / "codebook.yaml")
    first = write_qdc(book, tmp_path / "a.qdc")
    second = write_qdc(book, tmp_path / "b.qdc")
    assert first.read_bytes() == second.read_bytes()  # deterministic
    pd.testing.assert_frame_equal(read_qdc(first), book)
    xml = first.read_text(encoding="utf-8")
    assert 'xmlns="urn:QDA-XML:codebook:1.0"' in xml
    assert code_guid("hope") in xml
    assert "<Sets" not in xml
    # nesting: the child code is written inside its parent
    parent_at = xml.index(f'guid="{code_guid("hope")}"')
    child_at = xml.index(f'guid="{code_guid("hope_future")}"')
    closing = xml.index("</Code>", parent_at)
    assert parent_at < child_at < xml.index("</Code>", closing + 1)


FOREIGN_QDC = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="{ns}" origin="NVivo 14">
  <Codes>
    <Code guid="11111111-1111-1111-1111-111111111111" name="Hope" isCodable="true" color="#abc">
      <Description>Looking forward.</Description>
      <Code guid="22222222-2222-2222-2222-222222222222" name="Other" isCodable="true"/>
    </Code>
    <Code guid="33333333-3333-3333-3333-333333333333" name="Trust in services!" isCodable="true">
      <Code guid="44444444-4444-4444-4444-444444444444" name="Other" isCodable="false"/>
    </Code>
  </Codes>
  <Sets/>
</CodeBook>
"""


@pytest.mark.parametrize("ns", ["urn:QDA-XML:codebook:1.0", "urn:QDA-XML:codebook:1:0",
                                "urn:QDA-XML:codebook:0:4"])
def test_read_foreign_qdc_namespaces_nesting_and_empty_sets(tmp_path, ns):
    path = tmp_path / "nvivo.qdc"
    path.write_text(FOREIGN_QDC.format(ns=ns), encoding="utf-8")
    book = read_qdc(path)
    assert book["name"].tolist() == ["Hope", "Other", "Trust in services!", "Other"]
    # ids from names; the second "Other" is made unique in document order
    assert book["id"].tolist() == ["hope", "other", "trust_in_services", "other_2"]
    assert book["parent"].tolist()[1] == "hope"
    assert book["parent"].tolist()[3] == "trust_in_services"
    assert book.loc[0, "definition"] == "Looking forward."
    assert book.loc[0, "colour"] == "#aabbcc"  # #abc shorthand expanded


def test_qdc_wrong_namespace_and_entities_refused(tmp_path):
    path = tmp_path / "x.qdc"
    path.write_text(FOREIGN_QDC.format(ns="urn:something:else"), encoding="utf-8")
    with pytest.raises(InputError, match="not a REFI-QDA codebook"):
        read_qdc(path)
    path.write_text('<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaa">]>'
                    '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/></CodeBook>')
    with pytest.raises(InputError, match="unsafe XML"):
        read_qdc(path)


def test_description_keeps_multiline_fields(tmp_path):
    book = read_codebook(FIXTURES / "codebook.yaml")
    book.loc[0, "inclusion"] = "First line\nInclusion: not a label, a continuation"
    book.loc[0, "definition"] = "Para one.\n\nPara two."
    back = read_qdc(write_qdc(book, tmp_path / "m.qdc"))
    assert back.loc[0, "inclusion"] == book.loc[0, "inclusion"]
    assert back.loc[0, "definition"] == "Para one.\n\nPara two."


# --------------------------------------------------------------------------- sources


def test_read_sources_bom_dropped_crlf_kept():
    sources = read_sources(FIXTURES / "sources.csv")
    assert sources["source_id"].tolist() == ["INT01", "OBS01"]
    text = sources.loc[0, "text"]
    assert not text.startswith("\ufeff")
    assert "\r\n" in text  # line ends as stored
    # 35 characters of the first sentence, then CR and LF (2 characters): "She" at 37
    assert text.index("She") == 37
    assert sources.loc[1, "date"] == pd.Timestamp("2024-03-14")  # DD/MM/YYYY parsed
    assert sources.loc[1, "participant_id"] != sources.loc[1, "participant_id"]  # blank


def _copy_fixture(tmp_path):
    folder = tmp_path / "qual"
    shutil.copytree(FIXTURES, folder)
    return folder


def test_read_sources_errors(tmp_path):
    folder = _copy_fixture(tmp_path)
    (folder / "sources.csv").write_text(
        "source_id,source_name,source_type,participant_id,site,date,path\n"
        "A,,interview,P1,R,2024-01-01,sources/int01.txt\n"
        "A,,interview,P2,R,2024-13-01,sources/missing.txt\n"
        "B,,focus group,943 476 5919,R,,sources/obs01.txt\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        read_sources(folder / "sources.csv")
    found = {(i.row, i.column) for i in info.value.errors}
    assert (3, "source_id") in found          # duplicate
    assert (3, "date") in found               # month 13
    assert (3, "path") in found               # missing file
    assert (4, "source_type") in found        # not interview/observation/document
    assert (4, "participant_id") in found     # a valid NHS number is not a pseudonym


# --------------------------------------------------------------------------- segments


def test_read_segments_fixture():
    sources = read_sources(FIXTURES / "sources.csv")
    book = read_codebook(FIXTURES / "codebook.yaml")
    seg = read_segments(FIXTURES / "segments.csv", sources, book)
    assert len(seg) == 6
    assert seg["start"].dtype == "int64"
    text = dict(zip(sources["source_id"], sources["text"]))
    assert all(text[s][a:b] == t for s, a, b, t in
               zip(seg["source_id"], seg["start"], seg["end"], seg["text"]))
    # the emoji counts as ONE character: "hope" (4) + space + emoji (1) + " and plans" (10)
    row = seg.set_index("segment_id").loc["seg04"]
    assert (row["start"], row["end"]) == (78, 94)


def _segments_with(tmp_path, lines):
    folder = _copy_fixture(tmp_path)
    header = "segment_id,source_id,coder,code_id,start,end,text\n"
    (folder / "segments.csv").write_text(header + "".join(lines), encoding="utf-8")
    return (folder / "segments.csv", read_sources(folder / "sources.csv"),
            read_codebook(folder / "codebook.yaml"))


def test_read_segments_reports_each_problem_with_row_and_column(tmp_path):
    path, sources, book = _segments_with(tmp_path, [
        "s1,INT01,AB,valued,37,65,She actually listened to me.\n",     # row 2: fine
        "s2,INT01,AB,valued,36,64,She actually listened to me\n",      # row 3: CRLF as one
        "s3,INT01,,valued,37,65,\n",                                    # row 4: no coder
        "s4,INT01,AB,nosuch,37,65,\n",                                  # row 5: unknown code
        "s5,NOPE,AB,valued,0,5,\n",                                     # row 6: unknown source
        "s6,INT01,AB,valued,abc,5.5,\n",                                # row 7: not integers
        "s7,INT01,AB,valued,10,9999,\n",                                # row 8: beyond text
        "s8,INT01,AB,valued,20,20,\n",                                  # row 9: empty span
        "s1,INT01,AB,valued,0,1,I\n",                                   # row 10: duplicate id
    ])
    with pytest.raises(ValidationError) as info:
        read_segments(path, sources, book)
    errors = info.value.errors
    found = {(i.row, i.column) for i in errors}
    assert (3, "text") in found
    assert (4, "coder") in found
    assert (5, "code_id") in found
    assert (6, "source_id") in found
    assert (7, "start") in found and (7, "end") in found
    assert (8, "end") in found
    assert (9, "end") in found
    assert (10, "segment_id") in found
    assert not any(i.row == 2 for i in errors)
    mismatch = next(i for i in errors if i.row == 3)
    # both the cell and the source's slice are shown
    assert "She actually listened to me" in str(mismatch.value)
    assert "\\nShe actually listened to m" in mismatch.expected  # slice starts at the LF
    assert all(i.file == "segments.csv" for i in errors)


def test_blank_text_is_filled_from_source(tmp_path):
    path, sources, book = _segments_with(tmp_path, ["s1,OBS01,AB,valued,0,3,\n"])
    seg = read_segments(path, sources, book)
    assert seg.loc[0, "text"] == "The"


@pytest.mark.parametrize("how", ["dots", "absolute", "link"])
def test_source_paths_outside_the_sources_folder_are_refused(tmp_path, how):
    """Issue 19 (18): sources.csv could name ../../secret.txt, whose text then appeared in
    published quotes. A path that leaves the folder of sources.csv (by '..', an absolute
    path or a symbolic link) is an error naming the row, and nothing is read from it."""
    study = tmp_path / "study"
    (study / "sources").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret text", encoding="utf-8")
    (study / "sources" / "ok.txt").write_text("an interview", encoding="utf-8")
    if how == "dots":
        rel = "../secret.txt"
    elif how == "absolute":
        rel = str(secret)
    else:
        (study / "sources" / "link.txt").symlink_to(secret)
        rel = "sources/link.txt"
    (study / "sources.csv").write_text(
        "source_id,source_name,source_type,participant_id,site,date,path\n"
        "S1,One,document,,,,sources/ok.txt\n"
        f"S2,Two,document,,,,{rel}\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        read_sources(study / "sources.csv")
    errors = info.value.errors
    assert len(errors) == 1
    assert (errors[0].row, errors[0].column) == (3, "path")
    assert "outside the folder of sources.csv" in errors[0].message
    assert "secret text" not in str(info.value)
