"""Command functions: qual import / export (REFI-QDA round trip) and agreement.

Expected numbers come from the raw demo CSV files, counted here with pandas.
"""
import zipfile
from collections import Counter

import pandas as pd
import pytest
from conftest import DEMO, folder_digest

from spanalysis.commands import IMPORT_FILES, agreement, qual_export, qual_import
from spanalysis.errors import InputError, SpanalysisError
from spanalysis.qual.agreement import AGREEMENT_COLUMNS, coding_agreement
from spanalysis.qual.refi import write_qdpx

RAW_SEGMENTS = pd.read_csv(DEMO / "qualitative" / "segments.csv", keep_default_na=False)
RAW_SOURCES = pd.read_csv(DEMO / "qualitative" / "sources.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roundtrip")
    before = folder_digest(DEMO)
    assert qual_export(DEMO, folder / "demo.qdpx") == 0
    assert qual_import(folder / "demo.qdpx", folder / "imported") == 0
    assert folder_digest(DEMO) == before  # the study folder is only read
    return folder


def test_export_import_round_trip_preserves_segments_and_texts(round_trip, capsys):
    out = round_trip / "imported"
    assert sorted(p.name for p in out.iterdir()) == sorted(IMPORT_FILES)
    seg = pd.read_csv(out / "segments.csv", keep_default_na=False)
    assert list(seg.columns) == ["segment_id", "source_id", "source_name", "case", "code_id",
                                 "code_name", "coder", "start", "end", "text"]
    assert len(seg) == len(RAW_SEGMENTS)
    key = ["code_id", "coder", "start", "end", "text"]
    assert Counter(map(tuple, seg[key].to_numpy().tolist())) == \
        Counter(map(tuple, RAW_SEGMENTS[key].to_numpy().tolist()))
    sources = pd.read_csv(out / "sources.csv", keep_default_na=False)
    assert sorted(sources["source_name"]) == sorted(RAW_SOURCES["source_name"])
    assert len(sources) == len(RAW_SOURCES) > 0
    for name, text in zip(sources["source_name"], sources["text"]):
        path = RAW_SOURCES.loc[RAW_SOURCES["source_name"] == name, "path"].iloc[0]
        raw = (DEMO / "qualitative" / path).read_text(encoding="utf-8-sig")
        assert text == raw


def test_cases_are_interviewed_participants_with_attributes(round_trip):
    out = round_trip / "imported"
    cases = pd.read_csv(out / "cases.csv", keep_default_na=False)
    interviews = RAW_SOURCES[RAW_SOURCES["source_type"] == "interview"]
    assert set(cases["case"]) == set(interviews["participant_id"])
    variables = pd.read_csv(out / "variables.csv", keep_default_na=False, dtype=str)
    people = pd.read_csv(DEMO / "participants.csv", dtype=str).set_index("participant_id")
    site = variables[variables["variable"] == "site"].set_index("case")["value"]
    assert (site == people.loc[site.index, "site"]).all()
    imd = variables[variables["variable"] == "imd_quintile"]
    assert set(imd["type"]) == {"Integer"}
    assert (imd.set_index("case")["value"] == people.loc[imd["case"], "imd_quintile"]).all()
    codebook = pd.read_csv(out / "codebook.csv", keep_default_na=False)
    assert len(codebook) == len(pd.read_csv(out / "codebook.csv"))
    assert "step back" in codebook.set_index("id").loc["space_to_think", "keywords"]


def test_commands_print_one_line_summaries(tmp_path, capsys):
    qual_export(DEMO, tmp_path / "x.qdpx")
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert line.startswith(f"exported {len(RAW_SOURCES)} sources, {len(RAW_SEGMENTS)} coded")
    qual_import(tmp_path / "x.qdpx", tmp_path / "in")
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and line.startswith(f"imported {len(RAW_SOURCES)} sources")


def test_export_refuses_bad_outputs_and_studies_without_qualitative_data(tmp_path, make_study):
    with pytest.raises(InputError, match=r"\.qdpx"):
        qual_export(DEMO, tmp_path / "out.zip")
    with pytest.raises(InputError, match="inside the study folder"):
        qual_export(DEMO, DEMO / "export.qdpx")
    assert not (DEMO / "export.qdpx").exists()
    with pytest.raises(InputError, match="no qualitative material"):
        qual_export(make_study(), tmp_path / "tiny.qdpx")


def test_import_refuses_bad_input_and_neutralises_formulas(tmp_path):
    bad = tmp_path / "not.qdpx"
    bad.write_text("hello", encoding="utf-8")
    with pytest.raises(SpanalysisError):
        qual_import(bad, tmp_path / "o")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="folder"):
        qual_import(bad, a_file)
    text = "=HYPERLINK(\"http://x\") is what I typed"
    project = {"codebook": pd.DataFrame({"id": ["hope"], "name": ["Hope"]}),
               "sources": pd.DataFrame({"source_id": ["S1"], "source_name": ["I1"],
                                        "text": [text]}),
               "segments": pd.DataFrame({"segment_id": ["g"], "source_id": ["S1"],
                                         "coder": ["a"], "code_id": ["hope"], "start": [0],
                                         "end": [len(text)]})}
    write_qdpx(project, tmp_path / "f.qdpx")
    qual_import(tmp_path / "f.qdpx", tmp_path / "f")
    seg = pd.read_csv(tmp_path / "f" / "segments.csv")
    assert seg.loc[0, "text"] == "'" + text  # a spreadsheet will not run it
    with zipfile.ZipFile(tmp_path / "f.qdpx") as zf:
        assert any(n.endswith(".qde") for n in zf.namelist())


def test_agreement_prints_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "agreement.csv"
    assert agreement(DEMO, unit="source", out=out) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].split()[:3] == ["code_id", "units_compared", "units_coded_by_any"]
    assert printed[-1].startswith("agreement of coder_a, coder_b on ")
    table = pd.read_csv(out)
    assert list(table.columns) == AGREEMENT_COLUMNS
    # units compared (whole sources) = sources coded by both coders, from the raw file
    both = RAW_SEGMENTS.groupby("source_id")["coder"].nunique()
    assert (table["units_compared"] == int((both == 2).sum())).all()
    # the written table is coding_agreement's own output
    from spanalysis.study import load_study

    q = load_study(DEMO).qualitative
    expected = coding_agreement(q.segments, q.sources, unit="source")
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_agreement_rejects_unknown_coder_unit_and_output(tmp_path):
    with pytest.raises(InputError, match="unknown coder"):
        agreement(DEMO, coders="coder_a,coder_z")
    with pytest.raises(InputError, match="unit"):
        agreement(DEMO, unit="paragraph")
    with pytest.raises(InputError, match="unsupported output"):
        agreement(DEMO, out=tmp_path / "a.xlsx")
    with pytest.raises(InputError, match="inside the study folder"):
        agreement(DEMO, out=DEMO / "agreement.csv")


# ------------------------------------------------ issue 20, 6: import into the study format


def test_demo_round_trip_through_the_study_format(tmp_path):
    """Export the demo, import it with spanalysis.qual.commands.qual_import into a copy of
    the demo, point the copy's study.yaml at the import: the qualitative material loads with
    the original's types, participants, sites, texts and segments (the source ids become
    GUIDs and the dates, which REFI-QDA does not carry, are blank)."""
    import shutil
    import warnings

    import yaml

    from spanalysis.qual.commands import qual_import as import_to_study
    from spanalysis.qual.refi import RefiQdaWarning
    from spanalysis.study import load_study

    study = tmp_path / "study"
    shutil.copytree(DEMO, study)
    assert qual_export(DEMO, tmp_path / "demo.qdpx") == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefiQdaWarning)   # types written: nothing guessed
        assert import_to_study(tmp_path / "demo.qdpx", study / "imported",
                               participants=study / "participants.csv") == 0
    manifest = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    manifest["files"]["qualitative"].update({"codebook": "imported/codebook.yaml",
                                             "sources": "imported/sources.csv",
                                             "segments": "imported/segments.csv"})
    (study / "study.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False),
                                      encoding="utf-8")
    original = load_study(DEMO).qualitative
    imported = load_study(study).qualitative
    cols = ["source_type", "participant_id", "site", "text"]
    a = original.sources.set_index("source_name")[cols].sort_index()
    b = imported.sources.set_index("source_name")[cols].sort_index()
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert imported.sources["date"].isna().all()
    name_a = dict(zip(original.sources["source_id"], original.sources["source_name"]))
    name_b = dict(zip(imported.sources["source_id"], imported.sources["source_name"]))
    key = ["code_id", "coder", "start", "end", "text"]

    def keyed(seg, names):
        return Counter((names[s], *row) for s, row in
                       zip(seg["source_id"], seg[key].to_numpy().tolist()))
    assert keyed(imported.segments, name_b) == keyed(original.segments, name_a)
    assert len(imported.segments) == len(RAW_SEGMENTS)
    pd.testing.assert_frame_equal(imported.codebook, original.codebook)
    assert imported.interviewed == original.interviewed
