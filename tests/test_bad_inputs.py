"""The bad-input corpus: one broken input per case, across every kind of file spanalysis reads.

Each case builds a study (the small hand-made one from conftest, or a copy of the demo study
for qualitative files), breaks one thing, runs the command a user would run, and asserts:

* exit status 2;
* the message names what is wrong (file, row or key, value, expectation);
* no traceback is printed;
* every input file is byte-for-byte unchanged.
"""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from conftest import DEMO, write_study

from spanalysis.cli import main


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]  # makes the inputs in a folder, returns the argv
    fragments: tuple[str, ...]


# --------------------------------------------------------------------------- builders

def tiny(edit: Callable[[Path], None], layout: str = "wide"):
    def build(tmp: Path) -> list[str]:
        folder = write_study(tmp / "study", layout)
        edit(folder)
        return ["validate", str(folder)]
    return build


def demo(edit: Callable[[Path], None], command: str = "validate"):
    def build(tmp: Path) -> list[str]:
        folder = tmp / "study"
        shutil.copytree(DEMO, folder)
        edit(folder)
        return [command, str(folder)]
    return build


def sub(name: str, old: str, new: str, count: int = 1):
    def edit(folder: Path):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")
    return edit


def cell(name: str, row: int, column: str, value: str):
    """Set one CSV cell (row as a spreadsheet numbers it: header = 1)."""
    def edit(folder: Path):
        path = folder / name
        lines = path.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        cells = lines[row - 1].split(",")
        cells[header.index(column)] = value
        lines[row - 1] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return edit


def raw_bytes(name: str, data: bytes, manifest_old: str | None = None,
              manifest_new: str | None = None):
    def edit(folder: Path):
        (folder / name).write_bytes(data)
        if manifest_old:
            sub("study.yaml", manifest_old, manifest_new)(folder)
    return edit


def replace_file(old_name: str, new_name: str, data: bytes):
    def edit(folder: Path):
        (folder / old_name).unlink()
        (folder / new_name).write_bytes(data)
        sub("study.yaml", old_name, new_name)(folder)
    return edit


def custom_instrument(text: str):
    def edit(folder: Path):
        (folder / "instruments").mkdir()
        (folder / "instruments" / "local.yaml").write_text(text, encoding="utf-8")
        sub("study.yaml", "instruments: [wemwbs, gse]\n",
            "instruments: [wemwbs, gse]\ncustom_instruments: [instruments/local.yaml]\n")(folder)
    return edit


GOOD_CUSTOM = """\
id: local_scale
name: Local scale
version: "1"
citation: Local study team
licence: none
items:
  - {id: local_1, stem: I felt fine, min: 1, max: 3}
  - {id: local_2, stem: I felt good, min: 1, max: 3}
scales:
  - id: total
    name: Total
    method: sum
    direction: higher
    missing: {rule: complete}
"""


def crosswalk(text: str):
    def edit(folder: Path):
        (folder / "qualitative" / "crosswalk.yaml").write_text(text, encoding="utf-8")
        sub("study.yaml", "    names: qualitative/names.txt\n",
            "    names: qualitative/names.txt\n    crosswalk: qualitative/crosswalk.yaml\n")(folder)
    return edit


def qdpx(members: dict[str, bytes]):
    def build(tmp: Path) -> list[str]:
        path = tmp / "project.qdpx"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return ["qual", "import", str(path), "--out", str(tmp / "out")]
    return build


def not_a_zip(tmp: Path) -> list[str]:
    (tmp / "project.qdpx").write_text("this is not a zip archive")
    return ["qual", "import", str(tmp / "project.qdpx"), "--out", str(tmp / "out")]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol3;"/>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&xxe;"/>"""

MINIMAL_PROJECT = b"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="p"/>"""


def report(extra: list[str]):
    def build(tmp: Path) -> list[str]:
        folder = write_study(tmp / "study")
        return ["report", str(folder), "--out", str(tmp / "out")] + extra
    return build


# --------------------------------------------------------------------------- the corpus

CASES = [
    # study.yaml
    Case("manifest-not-yaml", tiny(sub("study.yaml", "id: tiny", "id: [tiny")),
         ("study.yaml", "not valid YAML")),
    Case("manifest-unknown-key", tiny(sub("study.yaml", "instruments:", "instrumnets:")),
         ("study.yaml, row 7", "unknown key", "instruments")),
    Case("manifest-min-cell-size-text", tiny(sub("study.yaml", "min_cell_size: 5", "min_cell_size: five")),
         ("privacy.min_cell_size", "'five'", "whole number")),
    Case("manifest-timepoints-not-list", tiny(sub("study.yaml", "timepoints:\n  - id: baseline\n  - id: followup\n    target_days: 90",
                                                  "timepoints: baseline")),
         ("timepoints", "list of time points")),
    Case("manifest-duplicate-timepoint", tiny(sub("study.yaml", "  - id: followup", "  - id: baseline")),
         ("timepoints[1].id", "listed twice", "'baseline'")),
    Case("manifest-path-escapes-folder", tiny(sub("study.yaml", "participants: participants.csv",
                                                  "participants: ../participants.csv")),
         ("files.participants.path", "outside the study folder")),
    Case("manifest-unknown-layout", tiny(sub("study.yaml", "layout: wide", "layout: tall")),
         ("files.responses.layout", "unknown layout", "'tall'")),
    Case("manifest-unknown-instrument", tiny(sub("study.yaml", "[wemwbs, gse]", "[wembws, gse]")),
         ("wembws", "wemwbs")),
    Case("manifest-missing", lambda tmp: (tmp.joinpath("s").mkdir() or ["validate", str(tmp / "s")]),
         ("no study manifest",)),
    # participants
    Case("participants-missing-column", tiny(sub("participants.csv", "participant_id,", "pid,")),
         ("participants.csv, row 1, column 'participant_id'", "required column missing")),
    Case("participants-blank-id", tiny(cell("participants.csv", 3, "participant_id", "")),
         ("participants.csv, row 3, column 'participant_id'", "blank")),
    Case("participants-duplicate-id", tiny(cell("participants.csv", 3, "participant_id", "SP001")),
         ("row 3, column 'participant_id'", "more than once", "'SP001'")),
    Case("participants-nhs-number", tiny(lambda f: [sub(n, "SP003", "9434765919")(f)
                                                    for n in ("participants.csv", "responses.csv")]),
         ("row 4, column 'participant_id'", "valid NHS number")),
    Case("participants-bad-date", tiny(cell("participants.csv", 2, "referral_date", "2025-13-45")),
         ("row 2, column 'referral_date'", "not a date", "'2025-13-45'")),
    Case("participants-imd-out-of-range", tiny(cell("participants.csv", 2, "imd_quintile", "7")),
         ("row 2, column 'imd_quintile'", "out of range", "1 (most deprived) to 5")),
    Case("participants-negative-sessions", tiny(cell("participants.csv", 5, "sessions_attended", "-1")),
         ("row 5, column 'sessions_attended'", "out of range")),
    Case("participants-site-variant", tiny(cell("participants.csv", 2, "site", "RIVERSIDE")),
         ("row 2, column 'site'", "only by case or spaces", "'Riverside'")),
    Case("participants-undeclared-site", tiny(cell("participants.csv", 2, "site", "Lakeside")),
         ("row 2, column 'site'", "not declared", "'Lakeside'")),
    # responses, wide
    Case("wide-out-of-range", tiny(cell("responses.csv", 2, "gse_4", "5")),
         ("responses.csv, row 2, column 'gse_4'", "outside the item's range", "from 1 to 4")),
    Case("wide-not-a-number", tiny(cell("responses.csv", 4, "wemwbs_2", "two")),
         ("row 4, column 'wemwbs_2'", "not a number", "'two'")),
    Case("wide-unknown-item", tiny(sub("responses.csv", "wemwbs_14", "wemwbs_15")),
         ("row 1, column 'wemwbs_14'", "no column for 1 item(s) of 'wemwbs'",
          "wemwbs_15", "not items of the study's instruments")),
    Case("wide-duplicate-row", tiny(cell("responses.csv", 3, "timepoint", "baseline")),
         ("row 3, column 'timepoint'", "more than one row")),
    Case("wide-unknown-timepoint", tiny(cell("responses.csv", 3, "timepoint", "month3")),
         ("row 3, column 'timepoint'", "unknown time point", "'month3'")),
    Case("wide-unknown-participant", tiny(cell("responses.csv", 6, "participant_id", "SP404")),
         ("row 6, column 'participant_id'", "not in the participants file", "'SP404'")),
    Case("wide-followup-before-referral", tiny(cell("responses.csv", 3, "completed_date", "2024-12-31")),
         ("row 3, column 'completed_date'", "before the participant's referral")),
    # responses, long
    Case("long-duplicate-item", tiny(sub("responses.csv", "SP001,baseline,wemwbs_2,", "SP001,baseline,wemwbs_1,"),
                                     layout="long"),
         ("responses.csv, row 3, column 'item'", "appear more than once")),
    Case("long-unknown-item", tiny(sub("responses.csv", "SP001,baseline,gse_1,", "SP001,baseline,gse_01,"),
                                   layout="long"),
         ("column 'item'", "not an item", "'gse_01'")),
    Case("long-not-a-number", tiny(sub("responses.csv", "SP001,baseline,wemwbs_1,3", "SP001,baseline,wemwbs_1,x"),
                                   layout="long"),
         ("responses.csv, row 2, column 'value'", "not a number")),
    Case("long-declared-but-wide-file", tiny(sub("study.yaml", "layout: wide", "layout: long")),
         ("column 'item'", "required column missing")),
    # file formats
    Case("csv-invalid-bytes", tiny(raw_bytes("service_use.csv", b"participant_id,service,period,count\n"
                                             b"SP001,gp\x81,before,5\n")),
         ("service_use.csv, row 2", "neither UTF-8 nor Windows-1252")),
    Case("csv-wrong-field-count", tiny(sub("participants.csv", "SP002,Riverside,", "SP002,River,side,")),
         ("participants.csv, row 3", "number of fields")),
    Case("csv-empty", tiny(raw_bytes("service_use.csv", b"")),
         ("service_use.csv", "empty")),
    Case("xlsx-damaged", tiny(replace_file("participants.csv", "participants.xlsx", b"PK\x03\x04 not really")),
         ("participants.xlsx", "could not read the workbook")),
    Case("sav-damaged", tiny(replace_file("participants.csv", "participants.sav", b"$FL2 broken")),
         ("participants.sav", "could not read the SPSS file")),
    Case("parquet-damaged", tiny(replace_file("participants.csv", "participants.parquet", b"PAR1 broken")),
         ("participants.parquet", "could not read the Parquet file")),
    Case("unsupported-extension", tiny(replace_file("participants.csv", "participants.txt", b"a,b\n")),
         ("participants.txt", "unsupported file type")),
    # service use
    Case("service-unknown-period", tiny(sub("service_use.csv", "SP001,gp_consultations,after", "SP001,gp_consultations,during")),
         ("service_use.csv, row 3, column 'period'", "unknown period", "'during'")),
    Case("service-negative-count", tiny(sub("service_use.csv", "SP002,gp_consultations,before,2", "SP002,gp_consultations,before,-2")),
         ("service_use.csv, row 4, column 'count'", "out of range")),
    # study-specific instrument definitions
    Case("instrument-bad-method", tiny(custom_instrument(GOOD_CUSTOM.replace("method: sum", "method: total"))),
         ("local.yaml", "method", "'total'")),
    Case("instrument-unknown-key", tiny(custom_instrument(GOOD_CUSTOM.replace("direction: higher", "direction: higher\n    colour: red"))),
         ("local.yaml", "colour")),
    Case("instrument-shadows-builtin", tiny(custom_instrument(GOOD_CUSTOM.replace("id: local_scale", "id: wemwbs"))),
         ("wemwbs", "built-in")),
    Case("instrument-range-reversed", tiny(custom_instrument(GOOD_CUSTOM.replace("min: 1, max: 3}", "min: 3, max: 1}", 1))),
         ("local.yaml", "items[0]")),
    # codebook, sources, segments (copies of the demo study)
    Case("codebook-duplicate-id", demo(sub("qualitative/codebook.yaml", "- id: hope\n", "- id: space_to_think\n")),
         ("codebook.yaml", "space_to_think")),
    Case("codebook-unknown-parent", demo(sub("qualitative/codebook.yaml", "parent: benefits", "parent: benefitz")),
         ("codebook.yaml", "parent", "'benefitz'")),
    Case("codebook-bad-colour", demo(sub("qualitative/codebook.yaml", "colour: '#66C2A5'", "colour: teal")),
         ("codebook.yaml", "colour", "'teal'")),
    Case("segments-offset-outside", demo(sub("qualitative/segments.csv", "SEG00001,DOC01,coder_a,waiting_lists,673,773",
                                             "SEG00001,DOC01,coder_a,waiting_lists,673,999999")),
         ("segments.csv, row 2", "end")),
    Case("segments-text-mismatch", demo(sub("qualitative/segments.csv", "the service currently aims",
                                            "the service never aims")),
         ("segments.csv, row 2, column 'text'",)),
    Case("segments-unknown-code", demo(sub("qualitative/segments.csv", "SEG00001,DOC01,coder_a,waiting_lists",
                                           "SEG00001,DOC01,coder_a,waiting_list")),
         ("segments.csv, row 2, column 'code_id'", "'waiting_list'")),
    Case("segments-blank-coder", demo(sub("qualitative/segments.csv", "SEG00001,DOC01,coder_a,", "SEG00001,DOC01,,")),
         ("segments.csv, row 2, column 'coder'",)),
    Case("sources-missing-text-file", demo(lambda f: (f / "qualitative" / "sources" / "INT001.txt").unlink()),
         ("sources.csv", "INT001")),
    # crosswalk declared in study.yaml
    Case("crosswalk-unknown-theme", demo(crosswalk("themes:\n  hopefulness:\n    items: [wemwbs_1]\n")),
         ("crosswalk.yaml", "hopefulness")),
    Case("crosswalk-unknown-item", demo(crosswalk("themes:\n  hope:\n    items: [wemwbs_99]\n")),
         ("crosswalk.yaml", "wemwbs_99")),
    # REFI-QDA projects
    Case("qdpx-not-a-zip", not_a_zip, ("project.qdpx", "ZIP) archive")),
    Case("qdpx-zip-slip", qdpx({"project.qde": MINIMAL_PROJECT, "../evil.txt": b"x"}),
         ("../evil.txt",)),
    Case("qdpx-entity-expansion", qdpx({"project.qde": BILLION_LAUGHS}), ("project.qde", "entit")),
    Case("qdpx-external-entity", qdpx({"project.qde": EXTERNAL_ENTITY}), ("project.qde", "entit")),
    Case("qdpx-no-project-xml", qdpx({"sources/a.txt": b"hello"}), ("project.qdpx", ".qde")),
    # report parameters
    Case("report-unknown-site", report(["--sites", "Nowhere"]), ("Nowhere",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, capsys):
    argv = case.build(tmp_path)
    inputs = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code = main(argv)
    out = capsys.readouterr()
    text = out.err + out.out
    assert code == 2, text
    for fragment in case.fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert "Traceback" not in text
    for path, data in inputs.items():
        assert path.read_bytes() == data, f"{path} was changed"


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
    kinds = {c.id.split("-")[0] for c in CASES}
    assert {"manifest", "participants", "wide", "long", "csv", "xlsx", "sav", "parquet",
            "service", "instrument", "codebook", "segments", "sources", "crosswalk", "qdpx",
            "report"} <= kinds
