"""REFI-QDA fidelity (issue 20, item 6): ATLAS.ti projects without texts, bare .qde files,
participant links from cases and variables, source types, and `qual import` writing the
study's own qualitative format. Every project here is written by the test."""
from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xmlschema
import yaml
from conftest import DEMO, folder_digest

import spanalysis
from spanalysis.cli import main as cli_main
from spanalysis.errors import InputError, ValidationError
from spanalysis.qual.commands import (
    STUDY_FILES,
    add_import_arguments,
    qual_import,
    run_import,
)
from spanalysis.qual.refi import RefiQdaWarning, read_qdpx, write_qdpx
from spanalysis.qual.refi_links import type_from_name, type_from_value

NS = "urn:QDA-XML:project:1.0"
# guesses are warned about on purpose; tests that check them use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore::spanalysis.qual.refi.RefiQdaWarning")
REFERENCE_XSD = Path(__file__).parent / "reference" / "Project.xsd"
G = {k: f"{i:08x}-0000-4000-8000-{i:012x}" for i, k in enumerate(
    ["user1", "code1", "code2", "src1", "src2", "src3", "sel1", "sel2", "sel3", "cod1",
     "cod2", "cod3", "var1", "var2", "case1", "case2", "set1", "set2", "set3", "set4"],
    start=1)}

TEXT1 = "=Well, it helped.\r\nI felt less alone after the group."
TEXT2 = "- I went twice. The walk was good."


# --------------------------------------------------------------------------- builders


def project_xml(sources_xml, extra_before="", extra_after="", codes=None):
    codes = codes or (f'<Code guid="{G["code1"]}" name="=Risk" isCodable="true"/>'
                      f'<Code guid="{G["code2"]}" name="-Low mood" isCodable="true"/>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="{NS}" name="T">'
            f'<Users><User guid="{G["user1"]}" name="Ann"/></Users>'
            f'<CodeBook><Codes>{codes}</Codes></CodeBook>{extra_before}'
            f'<Sources>{sources_xml}</Sources>{extra_after}</Project>').encode("utf-8")


def text_source(guid, name, selections, path="auto", body=""):
    """A TextSource pointing to internal://<guid>.txt (``path='auto'``), to ``path``, or
    (``path=None``) to nothing; ``selections`` are (sel, start, end, coding, code)."""
    if path == "auto":
        path = f"internal://{guid}.txt"
    attr = f' plainTextPath="{path}"' if path else ""
    sels = "".join(
        f'<PlainTextSelection guid="{g}" startPosition="{a}" endPosition="{b}" '
        f'creatingUser="{G["user1"]}"><Coding guid="{cg}" creatingUser="{G["user1"]}">'
        f'<CodeRef targetGUID="{code}"/></Coding></PlainTextSelection>'
        for g, a, b, cg, code in selections)
    return f'<TextSource guid="{guid}" name="{name}"{attr}>{sels}{body}</TextSource>'


def make_qdpx(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def atlas_xml():
    """An ATLAS.ti-like project: two interviews without texts (paths to files the archive
    lacks), attributes as Sets, participants named by an attribute, not by the case."""
    # "=Well" is TEXT1[0:5]; "less alone" starts at 17 + 2 (CRLF) + 7 ("I felt ") = 26
    assert TEXT1.index("less alone") == 26
    # "The walk" in TEXT2: "- I went twice. " is 16 characters
    assert TEXT2.index("The walk") == 16
    s1 = text_source(G["src1"], "Interview 03", [
        (G["sel1"], 0, 5, G["cod1"], G["code1"]),
        (G["sel2"], 26, 36, G["cod2"], G["code2"])])
    s2 = text_source(G["src2"], "Interview 07", [(G["sel3"], 16, 24, G["cod3"], G["code1"])],
                     path=None)
    sets = (f'<Sets><Set guid="{G["set1"]}" name="participant: SP0003">'
            f'<MemberSource targetGUID="{G["src1"]}"/></Set>'
            f'<Set guid="{G["set2"]}" name="participant: SP0007">'
            f'<MemberSource targetGUID="{G["src2"]}"/></Set>'
            f'<Set guid="{G["set3"]}" name="gender: female">'
            f'<MemberSource targetGUID="{G["src1"]}"/></Set></Sets>')
    return project_xml(s1 + s2, extra_after=sets)


@pytest.fixture
def atlas(tmp_path):
    path = make_qdpx(tmp_path / "atlas.qdpx", [("Trial.qde", atlas_xml()), ("sources/", b"")])
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "Interview 03.txt").write_bytes(b"\xef\xbb\xbf" + TEXT1.encode("utf-8"))
    (texts / "interview 07.txt").write_bytes(TEXT2.encode("utf-8"))  # other case: still found
    return path, texts


# --------------------------------------------------------------------------- 1 no texts


def test_textless_project_keeps_codes_cases_variables_and_says_codings_need_texts(atlas):
    path, _ = atlas
    with pytest.warns(RefiQdaWarning, match=r"2 source\(s\) have no text in the project, so "
                                            r"they and their 3 coding\(s\) were left out"):
        out = read_qdpx(path)
    assert out["codebook"]["name"].tolist() == ["=Risk", "-Low mood"]
    assert out["sources"].empty and out["segments"].empty
    assert out["missing_texts"].values.tolist() == [[G["src1"], "Interview 03", 2],
                                                    [G["src2"], "Interview 07", 1]]
    assert out["cases"][["case", "source_name"]].values.tolist() == [
        ["Interview 03", "Interview 03"], ["Interview 07", "Interview 07"]]
    assert out["variables"].values.tolist() == [
        ["Interview 03", "participant", "SP0003", "Text"],
        ["Interview 07", "participant", "SP0007", "Text"],
        ["Interview 03", "gender", "female", "Text"]]
    # the case made up for a source's attributes takes its participant variable
    assert out["cases"]["participant_id"].tolist() == ["SP0003", "SP0007"]
    assert any("texts=" in w.expected for w in out["warnings"])


def test_texts_folder_supplies_the_texts(atlas):
    path, texts = atlas
    (texts / "Unrelated.txt").write_text("nothing", encoding="utf-8")
    with pytest.warns(RefiQdaWarning, match=r"1 file\(s\) in the folder of texts match no "
                                            r"source.*Unrelated.txt"):
        out = read_qdpx(path, texts=texts)
    assert out["missing_texts"].empty
    assert out["sources"]["text"].tolist() == [TEXT1, TEXT2]   # BOM dropped, CRLF kept
    seg = out["segments"].set_index("segment_id")
    assert seg.loc[G["cod1"], "text"] == "=Well"
    assert seg.loc[G["cod2"], "text"] == "less alone"
    assert seg.loc[G["cod3"], "text"] == "The walk"
    assert out["sources"]["participant_id"].tolist() == ["SP0003", "SP0007"]
    assert out["sources"]["source_type"].tolist() == ["interview", "interview"]


def test_a_supplied_text_too_short_is_an_error_naming_the_source(atlas):
    path, texts = atlas
    (texts / "Interview 03.txt").write_text("short", encoding="utf-8")
    with pytest.raises(ValidationError, match="Interview 03.*outside its text") as info:
        read_qdpx(path, texts=texts)
    assert info.value.issues[0].column == "PlainTextSelection"


def test_texts_folder_must_exist_and_be_utf8(atlas, tmp_path):
    path, texts = atlas
    with pytest.raises(InputError, match="folder of source texts") as info:
        read_qdpx(path, texts=tmp_path / "nowhere")
    assert info.value.issue.column == "texts"
    (texts / "Interview 03.txt").write_bytes(b"caf\xe9")
    with pytest.raises(InputError, match="not valid UTF-8") as info:
        read_qdpx(path, texts=texts)
    assert info.value.issue.file == "texts/Interview 03.txt"


def test_outside_path_is_never_followed_but_the_texts_folder_can_supply_it(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("=Well secret", encoding="utf-8")
    src = text_source(G["src1"], "Interview 03", [(G["sel1"], 0, 5, G["cod1"], G["code1"])],
                      path=f"absolute://{secret}")
    path = make_qdpx(tmp_path / "abs.qdpx", [("project.qde", project_xml(src))])
    with pytest.raises(InputError, match="outside the archive"):
        read_qdpx(path)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "Interview 03.txt").write_text(TEXT1, encoding="utf-8")
    out = read_qdpx(path, texts=texts)
    assert out["segments"]["text"].tolist() == ["=Well"]     # the folder's text, not secret


def test_text_link_out_of_the_folder_refused(atlas, tmp_path):
    path, texts = atlas
    outside = tmp_path / "outside.txt"
    outside.write_text(TEXT1, encoding="utf-8")
    (texts / "Interview 03.txt").unlink()
    (texts / "Interview 03.txt").symlink_to(outside)
    with pytest.raises(InputError, match="outside the folder of texts"):
        read_qdpx(path, texts=texts)


# --------------------------------------------------------------------------- 2 bare .qde


def test_bare_qde_reads_as_the_archive_does_recognised_by_content(atlas, tmp_path):
    path, texts = atlas
    want = read_qdpx(path, texts=texts)
    for name in ("Trial.qde", "project.xml", "looks-like.qdpx"):   # the name is not looked at
        bare = tmp_path / name
        bare.write_bytes(atlas_xml())
        got = read_qdpx(bare, texts=texts)
        for key in ("codebook", "sources", "segments", "cases", "variables"):
            pd.testing.assert_frame_equal(got[key], want[key])
    zipped = tmp_path / "archive.qde"          # a ZIP named .qde is read as an archive
    zipped.write_bytes(path.read_bytes())
    pd.testing.assert_frame_equal(read_qdpx(zipped, texts=texts)["segments"],
                                  want["segments"])


def test_bare_qde_keeps_the_hostile_input_protections(tmp_path):
    bomb = tmp_path / "bomb.qde"
    bomb.write_bytes(b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]>'
                     b'<Project xmlns="urn:QDA-XML:project:1.0">&a;</Project>')
    with pytest.raises(InputError, match="unsafe XML"):
        read_qdpx(bomb)
    big = tmp_path / "big.qde"
    big.write_bytes(atlas_xml())
    with pytest.raises(InputError, match="more than the limit of 100") as info:
        read_qdpx(big, max_size=100)
    assert info.value.issue.file == "big.qde"
    junk = tmp_path / "junk.qde"
    junk.write_bytes(b"\x00\x01 not xml, not zip")
    with pytest.raises(InputError, match="neither a .qdpx \\(ZIP\\) archive nor a project XML"):
        read_qdpx(junk)
    broken = tmp_path / "broken.qde"
    broken.write_bytes(b"<Project><Sources>")
    with pytest.raises(InputError, match="not well-formed XML") as info:
        read_qdpx(broken)
    assert info.value.issue.file == "broken.qde"


# --------------------------------------------------------------------------- 3 participants


def _cases_project(tmp_path):
    s1 = text_source(G["src1"], "Interview A", [], path=None, body="")
    s2 = text_source(G["src2"], "Interview B", [], path=None)
    s3 = text_source(G["src3"], "Interview C", [], path=None)
    # inline texts: PlainTextContent must come before selections
    s1, s2, s3 = (s.replace('">', '"><PlainTextContent>Some text.</PlainTextContent>', 1)
                  for s in (s1, s2, s3))
    before = (f'<Variables><Variable guid="{G["var1"]}" name="Study ID" typeOfVariable="Text"/>'
              f'<Variable guid="{G["var2"]}" name="age" typeOfVariable="Integer"/></Variables>'
              f'<Cases><Case guid="{G["case1"]}" name="Maria"><VariableValue><VariableRef '
              f'targetGUID="{G["var2"]}"/><IntegerValue>67</IntegerValue></VariableValue>'
              f'<VariableValue><VariableRef targetGUID="{G["var1"]}"/><TextValue>SP0012'
              f'</TextValue></VariableValue><SourceRef targetGUID="{G["src1"]}"/></Case>'
              f'<Case guid="{G["case2"]}" name="SP0017"><SourceRef targetGUID="{G["src2"]}"/>'
              f'</Case></Cases>')
    xml = project_xml(s1 + s2 + s3, extra_before=before)
    return make_qdpx(tmp_path / "cases.qdpx", [("project.qde", xml)])


def test_cases_link_sources_to_participants_by_name_or_variable(tmp_path):
    path = _cases_project(tmp_path)
    out = read_qdpx(path, participant_ids=["SP0012", "SP0017", "SP0099"])
    src = out["sources"].set_index("source_name")
    # Maria: not an id, but her variable "Study ID" is; SP0017: the case name is the id;
    # Interview C: in no case
    assert src.loc["Interview A", "participant_id"] == "SP0012"
    assert src.loc["Interview B", "participant_id"] == "SP0017"
    assert pd.isna(src.loc["Interview C", "participant_id"])
    assert out["cases"].set_index("case")["participant_id"].to_dict() == {
        "Maria": "SP0012", "SP0017": "SP0017"}
    # without the study's ids a case's name is the participant, as before
    plain = read_qdpx(path)
    assert plain["sources"]["participant_id"].tolist()[:2] == ["Maria", "SP0017"]


def test_case_matching_no_participant_or_several_is_a_warning(tmp_path):
    path = _cases_project(tmp_path)
    with pytest.warns(RefiQdaWarning, match=r"1 case\(s\) match no participant id.*'Maria'"):
        out = read_qdpx(path, participant_ids=["SP0017"])
    assert pd.isna(out["sources"].loc[0, "participant_id"])
    # "67" and "SP0012" both ids: ambiguous, linked to none, and said
    with pytest.warns(RefiQdaWarning, match=r"naming several participants.*Maria \(67, SP0012\)"):
        out = read_qdpx(path, participant_ids=["SP0012", "67", "SP0017"])
    assert pd.isna(out["sources"].loc[0, "participant_id"])


# --------------------------------------------------------------------------- 4 source types


def test_type_words():
    assert [type_from_value(v) for v in ("Interview", " focus group ", "Field notes",
                                         "OBSERVATION", "Minutes", "document", "survey")] == [
        "interview", "interview", "observation", "observation", "document", "document", None]
    assert [type_from_name(n) for n in ("Interview 3", "Observation notes", "Field notes 2",
                                        "Minutes of the steering group", "Transcript 4")] == [
        "interview", "observation", "observation", "document", None]


def test_source_types_from_variables_sets_names_and_default(tmp_path):
    def src(key, name, body=""):
        return (f'<TextSource guid="{G[key]}" name="{name}"><PlainTextContent>Some text.'
                f'</PlainTextContent>{body}</TextSource>')
    typed = (f'<VariableValue><VariableRef targetGUID="{G["var1"]}"/><TextValue>Observation'
             f'</TextValue></VariableValue>')
    sources = (src("src1", "Transcript 1", typed) + src("src2", "Transcript 2")
               + src("src3", "Field notes week 2"))
    more = "".join(
        f'<TextSource guid="{g}" name="{n}"><PlainTextContent>x</PlainTextContent></TextSource>'
        for g, n in [("00000000-0000-4000-8000-0000000000a1", "Minutes March"),
                     ("00000000-0000-4000-8000-0000000000a2", "Transcript 5"),
                     ("00000000-0000-4000-8000-0000000000a3", "Notes 9"),
                     ("00000000-0000-4000-8000-0000000000a4", "Interview 4")])
    before = (f'<Variables><Variable guid="{G["var1"]}" name="Source_Type" '
              f'typeOfVariable="Text"/></Variables>')
    sets = (f'<Sets><Set guid="{G["set1"]}" name="Interviews"><MemberSource '
            f'targetGUID="{G["src2"]}"/></Set><Set guid="{G["set2"]}" name="type: survey">'
            f'<MemberSource targetGUID="00000000-0000-4000-8000-0000000000a2"/></Set></Sets>')
    path = make_qdpx(tmp_path / "types.qdpx", [("project.qde", project_xml(
        sources + more, extra_before=before, extra_after=sets))])
    with pytest.warns(RefiQdaWarning) as record:
        out = read_qdpx(path)
    assert out["sources"].set_index("source_name")["source_type"].to_dict() == {
        "Transcript 1": "observation",      # a source variable "Source_Type"
        "Transcript 2": "interview",        # member of the Set "Interviews"
        "Field notes week 2": "observation",  # guessed from the name
        "Minutes March": "document",          # guessed from the name
        "Transcript 5": "document",           # "survey" is no type; nothing else: default
        "Notes 9": "document",                # default
        "Interview 4": "interview"}           # guessed from the name
    messages = [str(w.message) for w in record]
    guessed = next(m for m in messages if "guessed from the name" in m)
    assert "3 source(s)" in guessed and "'Field notes week 2 -> observation'" in guessed
    assert "'Minutes March -> document'" in guessed and "Interview 4" in guessed
    default = next(m for m in messages if "taken as documents" in m)
    assert "2 source(s)" in default and "'Transcript 5', 'Notes 9'" in default
    assert any("Transcript 5 (type: survey)" in m for m in messages)
    # the type variable is the source's type, not a made-up case's variable
    assert "Source_Type" not in set(out["variables"]["variable"])
    assert out["cases"].empty


def test_written_source_types_survive_a_round_trip_and_validate(tmp_path):
    codebook = pd.DataFrame({"id": ["risk"], "name": ["=Risk"]})
    sources = pd.DataFrame({"source_id": ["S1", "S2"], "source_name": ["P1", "Walk"],
                            "text": [TEXT1, TEXT2],
                            "source_type": ["interview", "observation"]})
    segments = pd.DataFrame({"segment_id": ["g1"], "source_id": ["S1"], "coder": ["AB"],
                             "code_id": ["risk"], "start": [0], "end": [5]})
    out = write_qdpx({"codebook": codebook, "sources": sources, "segments": segments},
                     tmp_path / "t.qdpx")
    with zipfile.ZipFile(out) as zf:
        xmlschema.XMLSchema(str(REFERENCE_XSD)).validate(io.BytesIO(zf.read("project.qde")))
    with _no_refi_warnings():
        back = read_qdpx(out)
    assert back["sources"]["source_type"].tolist() == ["interview", "observation"]
    assert back["variables"].empty and back["cases"].empty


class _no_refi_warnings:
    """Fails if a RefiQdaWarning is issued inside the block."""

    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings(record=True)
        self.record = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        refi = [w for w in self.record if issubclass(w.category, RefiQdaWarning)]
        assert not refi, [str(w.message) for w in refi]


# --------------------------------------------------------------------------- 5 qual import


def _demo_copy(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(DEMO, study)
    manifest = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    manifest["files"]["qualitative"] = {"codebook": "imported/codebook.yaml",
                                        "sources": "imported/sources.csv",
                                        "segments": "imported/segments.csv"}
    (study / "study.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False),
                                      encoding="utf-8")
    return study


def test_qual_import_writes_the_study_format_and_the_demo_loads_it(atlas, tmp_path, capsys):
    path, texts = atlas
    study = _demo_copy(tmp_path)
    before_project, before_texts = path.read_bytes(), folder_digest(texts)
    people = pd.read_csv(study / "participants.csv", dtype=str).set_index("participant_id")
    assert qual_import(path, study / "imported", texts=texts,
                       participants=study / "participants.csv") == 0
    assert path.read_bytes() == before_project and folder_digest(texts) == before_texts
    out = study / "imported"
    assert sorted(p.name for p in out.iterdir()) == sorted(STUDY_FILES)
    assert sorted(p.name for p in (out / "sources").iterdir()) == ["Interview 03.txt",
                                                                  "Interview 07.txt"]
    # the texts exactly as read: no BOM, CRLF kept, the leading '=' and '-' not escaped
    assert (out / "sources" / "Interview 03.txt").read_bytes() == TEXT1.encode("utf-8")
    assert (out / "sources" / "Interview 07.txt").read_bytes() == TEXT2.encode("utf-8")
    raw = (out / "segments.csv").read_text(encoding="utf-8")
    assert "'=" not in raw and ",=Well" in raw
    assert (out / "sources.csv").read_text(encoding="utf-8").splitlines()[0] == \
        "source_id,source_name,source_type,participant_id,site,date,path"

    assert [i for i in spanalysis.validate_study(study) if i.level == "error"] == []
    assert cli_main(["validate", str(study)]) == 0
    qual = spanalysis.load_study(study).qualitative
    src = qual.sources.set_index("source_name")
    assert src["participant_id"].to_dict() == {"Interview 03": "SP0003",
                                               "Interview 07": "SP0007"}
    assert src["source_type"].tolist() == ["interview", "interview"]
    assert src.loc["Interview 03", "site"] == people.loc["SP0003", "site"]
    assert src.loc["Interview 03", "text"] == TEXT1
    assert src.loc["Interview 07", "text"] == TEXT2
    assert qual.interviewed == {"SP0003", "SP0007"}
    seg = qual.segments.set_index("segment_id")
    assert seg.loc[G["cod1"], ["text", "start", "end", "coder"]].tolist() == ["=Well", 0, 5,
                                                                             "Ann"]
    assert seg.loc[G["cod2"], "text"] == "less alone"
    assert seg.loc[G["cod3"], "text"] == "The walk"
    assert qual.codebook["name"].tolist() == ["=Risk", "-Low mood"]
    assert seg.loc[G["cod2"], "code_id"] == qual.codebook.set_index("name").loc[
        "-Low mood", "id"]
    printed = capsys.readouterr()
    assert "imported 2 sources (2 interview), 3 coded segments and 2 codes" in printed.out
    assert "2 sources linked to participants" in printed.out


def test_qual_import_without_texts_says_what_is_missing(atlas, tmp_path, capsys):
    path, _ = atlas
    assert qual_import(path, tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "2 source(s) have no text in the project" in err and "3 coding(s)" in err
    assert pd.read_csv(tmp_path / "out" / "segments.csv").empty
    assert list((tmp_path / "out" / "sources").iterdir()) == []


def test_qual_import_replaces_only_a_previous_import(atlas, tmp_path):
    path, texts = atlas
    out = tmp_path / "out"
    qual_import(path, out, texts=texts)
    (out / "sources" / "stale.txt").write_text("old", encoding="utf-8")
    qual_import(path, out, texts=texts)                  # a previous import: replaced whole
    assert not (out / "sources" / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    (out / "notes.docx").write_bytes(b"mine")
    with pytest.raises(InputError, match="holds files an import does not write") as info:
        qual_import(path, out, texts=texts)
    assert info.value.issue.value == "notes.docx" and (out / "notes.docx").exists()
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="must be a folder"):
        qual_import(path, afile)


def test_qual_import_bad_input_names_file_column_value(atlas, tmp_path):
    path, texts = atlas
    people = tmp_path / "people.csv"
    people.write_text("id,site\nSP0003,Riverside PCN\n", encoding="utf-8")
    with pytest.raises(InputError, match="no participant_id column") as info:
        qual_import(path, tmp_path / "out", participants=people)
    assert (info.value.issue.file, info.value.issue.column) == ("people.csv", "participant_id")
    bad = make_qdpx(tmp_path / "bad.qdpx", [("project.qde", atlas_xml().replace(
        b'startPosition="0"', b'startPosition="zero"'))])
    with pytest.raises(InputError, match="not whole numbers") as info:
        qual_import(bad, tmp_path / "out", texts=texts)
    assert info.value.issue.column == "PlainTextSelection" and "zero" in info.value.issue.value
    assert not (tmp_path / "out").exists()


def test_command_line_arguments(atlas, tmp_path):
    import argparse

    path, texts = atlas
    parser = argparse.ArgumentParser()
    add_import_arguments(parser)
    args = parser.parse_args([str(path), "--out", str(tmp_path / "o"), "--texts", str(texts)])
    assert run_import(args) == 0
    assert len(pd.read_csv(tmp_path / "o" / "segments.csv")) == 3
