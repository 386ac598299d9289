"""Every report renders for every valid study, not only the demo's shape (issue 21, item 1).

Each shape is cut from the demo by the test (its files rewritten in a temporary folder), then
rendered through ``spanalysis report`` (the four whole-study reports and every site report).
The run must succeed, and no executed notebook may hold an error output or a traceback. Most
shapes start from two or three small sites of the demo so that the whole set renders in a few
minutes.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import DEMO

from spanalysis import load_study
from spanalysis.cli import main

SMALL_SITES = ["Kestrel Moor PCN", "Saltmarsh Coast PCN", "Brackenridge PCN"]


# --------------------------------------------------------------------------- editing a study

def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def manifest(folder: Path, change) -> None:
    path = folder / "study.yaml"
    m = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(m)
    path.write_text(yaml.safe_dump(m, sort_keys=False), encoding="utf-8")


def keep_people(folder: Path, keep) -> None:
    """Keep the participants for which ``keep(participants)`` is True, and every row of
    every file that belongs to them (sources of people dropped, and their codings, go too;
    sources linked to no participant stay when their site stays)."""
    people = read_csv(folder / "participants.csv")
    people = people[keep(people)]
    ids, sites = set(people["participant_id"]), set(people["site"])
    write_csv(people, folder / "participants.csv")
    for name in ("responses.csv", "service_use.csv"):
        if (folder / name).exists():
            rows = read_csv(folder / name)
            write_csv(rows[rows["participant_id"].isin(ids)], folder / name)
    qual = folder / "qualitative"
    if qual.exists():
        sources = read_csv(qual / "sources.csv")
        kept = sources["participant_id"].isin(ids) | (
            (sources["participant_id"] == "") & (sources["site"].isin(sites)
                                                 | (sources["site"] == "")))
        write_csv(sources[kept], qual / "sources.csv")
        segments = read_csv(qual / "segments.csv")
        write_csv(segments[segments["source_id"].isin(set(sources.loc[kept, "source_id"]))],
                  qual / "segments.csv")
    manifest(folder, lambda m: m.update(sites=[s for s in m["sites"] if s in sites]))


def small_sites(folder: Path, sites=SMALL_SITES) -> Path:
    shutil.copytree(DEMO, folder)
    keep_people(folder, lambda p: p["site"].isin(sites))
    return folder


def drop_qualitative(folder: Path) -> None:
    shutil.rmtree(folder / "qualitative")
    manifest(folder, lambda m: m["files"].pop("qualitative"))


def edit_sources(folder: Path, change) -> None:
    path = folder / "qualitative" / "sources.csv"
    write_csv(change(read_csv(path)), path)


def edit_codebook(folder: Path, change) -> None:
    path = folder / "qualitative" / "codebook.yaml"
    book = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(book)
    path.write_text(yaml.safe_dump(book, sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------- the shapes

def single_site(folder):
    """One site, and a participants file with the ids alone, as ``spanalysis init`` drafts it
    from a one-site export: no site column (a single-site study needs none: issue 20, item
    1), no referral date, characteristics or sessions attended."""
    small_sites(folder, ["Kestrel Moor PCN"])
    people = read_csv(folder / "participants.csv")
    write_csv(people[["participant_id"]], folder / "participants.csv")
    edit_sources(folder, lambda s: s.drop(columns="site"))
    assert yaml.safe_load((folder / "study.yaml").read_text())["sites"] == ["Kestrel Moor PCN"]


def one_timepoint(folder):
    small_sites(folder)
    responses = read_csv(folder / "responses.csv")
    write_csv(responses[responses["timepoint"] == "baseline"], folder / "responses.csv")
    manifest(folder, lambda m: m.update(timepoints=[{"id": "baseline"}]))


def three_timepoints(folder):
    small_sites(folder)
    responses = read_csv(folder / "responses.csv")
    later = responses[responses["timepoint"] == "followup"].copy()
    later["timepoint"] = "six_months"
    later["completed_date"] = (pd.to_datetime(later["completed_date"])
                               + pd.Timedelta(days=90)).dt.strftime("%Y-%m-%d")
    write_csv(pd.concat([responses, later.iloc[::2]]), folder / "responses.csv")
    manifest(folder, lambda m: m.update(timepoints=[
        {"id": "baseline"}, {"id": "followup", "target_days": 90},
        {"id": "six_months", "target_days": 180}]))


def no_qualitative(folder):
    small_sites(folder)
    drop_qualitative(folder)


def no_interviews(folder):
    small_sites(folder)
    sources = read_csv(folder / "qualitative" / "sources.csv")
    kept = sources[sources["source_type"] != "interview"]
    assert len(kept) and set(kept["source_type"]) <= {"observation", "document"}
    edit_sources(folder, lambda s: kept)
    segments = read_csv(folder / "qualitative" / "segments.csv")
    write_csv(segments[segments["source_id"].isin(set(kept["source_id"]))],
              folder / "qualitative" / "segments.csv")


def unlinked_interviews(folder):
    small_sites(folder)
    edit_sources(folder, lambda s: s.assign(participant_id=""))


def bare_codebook(folder):
    small_sites(folder)

    def strip(book):
        for code in book["codes"]:
            for key in ("definition", "inclusion", "exclusion", "example", "keywords",
                        "parent", "colour", "sensitive"):
                code.pop(key, None)
        book["codes"] = [c for c in book["codes"] if c["id"] != "benefits"]
    edit_codebook(folder, strip)


def no_coding(folder):
    small_sites(folder)
    path = folder / "qualitative" / "segments.csv"
    write_csv(read_csv(path).iloc[0:0], path)


def theme_nobody_voiced(folder):
    small_sites(folder)
    path = folder / "qualitative" / "segments.csv"
    segments = read_csv(path)
    write_csv(segments[segments["code_id"] != "hope"], path)


def no_crosswalk_match(folder):
    small_sites(folder)
    # GSE only: the built-in crosswalk maps no benefit theme to any of its items
    responses = read_csv(folder / "responses.csv")
    keep = ["participant_id", "timepoint", "completed_date"] + [
        c for c in responses.columns if c.startswith("gse_")]
    write_csv(responses[keep], folder / "responses.csv")
    manifest(folder, lambda m: m.update(instruments=["gse"]))


def no_service_use(folder):
    small_sites(folder)
    (folder / "service_use.csv").unlink()
    manifest(folder, lambda m: m["files"].pop("service_use"))


def one_instrument(folder):
    small_sites(folder)
    responses = read_csv(folder / "responses.csv")
    keep = ["participant_id", "timepoint", "completed_date"] + [
        c for c in responses.columns if c.startswith("wemwbs_")]
    write_csv(responses[keep], folder / "responses.csv")
    manifest(folder, lambda m: m.update(instruments=["wemwbs"]))


def no_mid_primary(folder):
    # ONS loneliness (one item, no published MID and no reliability) as the primary outcome
    small_sites(folder)
    manifest(folder, lambda m: m.update(primary_outcome={"instrument": "ons_lonely",
                                                         "scale": "lonely"}))


def lower_is_better_primary(folder):
    small_sites(folder)
    manifest(folder, lambda m: m.update(primary_outcome={"instrument": "ucla3",
                                                         "scale": "total"}))


def suppressed_site(folder):
    # one site with 3 participants: below the minimum cell size of 5
    small_sites(folder)
    people = read_csv(folder / "participants.csv")
    small = people[people["site"] == "Brackenridge PCN"]["participant_id"].iloc[3:]
    keep_people(folder, lambda p: ~p["participant_id"].isin(set(small)))
    assert (read_csv(folder / "participants.csv")["site"] == "Brackenridge PCN").sum() == 3


def twelve_people(folder):
    shutil.copytree(DEMO, folder)
    people = read_csv(folder / "participants.csv")
    chosen = set(people.groupby("site").head(2)["participant_id"].iloc[:12])
    keep_people(folder, lambda p: p["participant_id"].isin(chosen))
    assert len(read_csv(folder / "participants.csv")) == 12


def site_of_one(folder):
    small_sites(folder)
    people = read_csv(folder / "participants.csv")
    extra = people[people["site"] == "Brackenridge PCN"]["participant_id"].iloc[1:]
    keep_people(folder, lambda p: ~p["participant_id"].isin(set(extra)))
    assert (read_csv(folder / "participants.csv")["site"] == "Brackenridge PCN").sum() == 1


def no_followups(folder):
    small_sites(folder)
    responses = read_csv(folder / "responses.csv")
    write_csv(responses[responses["timepoint"] == "baseline"], folder / "responses.csv")


SHAPES = {
    "single_site": single_site, "one_timepoint": one_timepoint,
    "three_timepoints": three_timepoints, "no_qualitative": no_qualitative,
    "no_interviews": no_interviews, "unlinked_interviews": unlinked_interviews,
    "bare_codebook": bare_codebook, "no_coding": no_coding,
    "theme_nobody_voiced": theme_nobody_voiced, "no_crosswalk_match": no_crosswalk_match,
    "no_service_use": no_service_use, "one_instrument": one_instrument,
    "no_mid_primary": no_mid_primary, "lower_is_better_primary": lower_is_better_primary,
    "suppressed_site": suppressed_site, "twelve_people": twelve_people,
    "site_of_one": site_of_one, "no_followups": no_followups,
}


def errors_in(notebook: Path) -> list[str]:
    """Error outputs and tracebacks in an executed notebook."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = json.dumps(out)
            if out.get("output_type") == "error" or "Traceback (most recent call last)" in text:
                found.append(f"{notebook.name}: {text[:300]}")
    return found


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_report_renders(shape, tmp_path):
    study = tmp_path / "study"
    SHAPES[shape](study)
    loaded = load_study(study)  # the shape is a valid study
    out = tmp_path / "out"
    status = main(["report", str(study), "--out", str(out), "--jobs", "2", "--no-progress"])
    notebooks = sorted(out.rglob("*.ipynb"))
    expected = 4 + len(loaded.sites)
    assert len(notebooks) == expected, [p.name for p in notebooks]
    problems = [p for nb in notebooks for p in errors_in(nb)]
    assert problems == []
    assert status == 0
    htmls = sorted(out.rglob("*.html"))
    assert len(htmls) == expected + 1  # and the index
    for page in htmls:
        text = page.read_text(encoding="utf-8")
        assert "Traceback" not in text and "FAILED" not in text, page.name
    if shape == "no_qualitative":   # sections with nothing to show are left out of the HTML
        qual = (out / "study" / "03_qualitative_benefits.html").read_text(encoding="utf-8")
        joint = (out / "study" / "04_integration.html").read_text(encoding="utf-8")
        for heading in ("The codebook", "Themes that occur together", "Agreement between coders",
                        "In participants' words", "Glossary"):
            assert f">{heading}<" not in qual.replace("&#39;", "'"), heading
        for heading in ("Measurement coverage", "Statistics by themes", "Quote matrix"):
            assert heading not in joint, heading
        assert "Interviewed:</strong> none (no qualitative material)" in joint
        assert "About this report" in qual and "Reporting checklist (GRAMMS)" in joint
        flow = (out / "study" / "01_data_quality.html").read_text(encoding="utf-8")
        assert ">Interviewed<" not in flow     # no row or column of zeros for interviews
        for page in (out / "sites").glob("*.html"):
            text = page.read_text(encoding="utf-8")
            assert ">Interviewed<" not in text and ">Themes voiced<" not in text, page.name
            assert ">Joint display<" not in text and "Joint display:" not in text, page.name
            assert ">Reach<" in text and ">What is not shown, and why<" in text, page.name
    if shape == "single_site":     # report 01 says what the participants file lacks
        flow = (out / "study" / "01_data_quality.html").read_text(encoding="utf-8")
        for said in ("records no characteristics at referral", "does not record the sessions "
                     "attended", "has no referral dates, so the time from referral"):
            assert said in flow, said
        assert "Days from referral to questionnaire" not in flow


def caqdas_as_exported(folder):
    """A REFI-QDA project as a CAQDAS program exports it: its own code names (150 codes,
    three levels deep, no keywords or definitions, no 'benefits' parent), a few long sources
    (the demo's interviews of a site run together), no participant links."""
    import numpy as np

    from spanalysis.qual.refi import write_qdpx

    small_sites(folder)
    qual = folder / "qualitative"
    sources = read_csv(qual / "sources.csv")
    interviews = sources[sources["source_type"] == "interview"]
    texts = {site: "\n\n".join((qual / p).read_text(encoding="utf-8")
                               for p in group["path"])
             for site, group in interviews.groupby("site")}
    ids = [f"C{i:03d}" for i in range(150)]
    parent = [None if i < 5 else ids[(i - 5) // 5] if i < 30 else ids[5 + (i - 30) // 5]
              for i in range(150)]
    codebook = pd.DataFrame({"id": ids, "name": [f"Node {i} \u2013 as named" for i in range(150)],
                             "parent": parent})
    rng = np.random.default_rng(7)
    rows = []
    for n, (site, text) in enumerate(texts.items()):
        for j in range(60):
            start = int(rng.integers(0, len(text) - 200))
            rows.append({"segment_id": f"S{n}-{j}", "source_id": f"SRC{n}", "coder": "NVivo user",
                         "code_id": ids[int(rng.integers(30, 150))], "start": start,
                         "end": start + int(rng.integers(20, 200))})
    project = {"codebook": codebook,
               "sources": pd.DataFrame({"source_id": [f"SRC{n}" for n in range(len(texts))],
                                        "source_name": [f"Interview transcripts {s}" for s in texts],
                                        "text": list(texts.values())}),
               "segments": pd.DataFrame(rows)}
    shutil.rmtree(qual)
    qual.mkdir()
    write_qdpx(project, qual / "project.qdpx")
    manifest(folder, lambda m: m["files"].update(
        qualitative={"refi_qda": "qualitative/project.qdpx"}))


SHAPES["caqdas_as_exported"] = caqdas_as_exported
