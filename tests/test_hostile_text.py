"""Hostile text in every free-text field that reaches a report, and determinism.

A copy of the demo study gets HTML and script in its study name, a site name, a participant
attribute, a codebook name and definition, and the coded passages of a theme (so that quotes
carry them). Every rendered page must show them as text: no script element, no event
handler, no element injected from the data.

Two runs on the same inputs must give the same HTML apart from the run date.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup
from conftest import DEMO

from spanalysis import report as rp

SCRIPT = "<script>alert(3)</script>"          # 25 characters, the length replaced in quotes
SITE = "Riverside <img src=x onerror=alert(1)> PCN"
NAME = "Demo <script>alert(4)</script>"
CODE_NAME = "Being listened to <b onmouseover=alert(2)>"
GENDER = "<i>Female</i>"


def poison(study: Path) -> None:
    manifest = yaml.safe_load((study / "study.yaml").read_text("utf-8"))
    manifest["name"] = NAME
    manifest["sites"] = [SITE if s == "Riverside PCN" else s for s in manifest["sites"]]
    (study / "study.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), "utf-8")

    people = pd.read_csv(study / "participants.csv", dtype=str, keep_default_na=False)
    people.loc[people["site"] == "Riverside PCN", "site"] = SITE
    people.loc[people["gender"] == "Female", "gender"] = GENDER
    people.to_csv(study / "participants.csv", index=False)

    qual = study / "qualitative"
    sources = pd.read_csv(qual / "sources.csv", dtype=str, keep_default_na=False)
    sources.loc[sources["site"] == "Riverside PCN", "site"] = SITE
    sources.to_csv(qual / "sources.csv", index=False)

    book = yaml.safe_load((qual / "codebook.yaml").read_text("utf-8"))
    for code in book["codes"]:
        if code["id"] == "being_listened_to":
            code["name"] = CODE_NAME
            code["definition"] = code["definition"] + " " + SCRIPT
    (qual / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False), "utf-8")

    # the start of every interview passage coded with the theme becomes a script tag (same
    # length, so every offset stays valid); segment texts are then re-cut from the new text
    segments = pd.read_csv(qual / "segments.csv", dtype={"start": int, "end": int},
                           keep_default_na=False)
    interviews = set(sources.loc[sources["source_type"] == "interview", "source_id"])
    chosen = segments[(segments["code_id"] == "being_listened_to")
                      & segments["source_id"].isin(interviews)
                      & (segments["end"] - segments["start"] >= 60)]
    assert not chosen.empty     # there are passages to poison
    paths = dict(zip(sources["source_id"], sources["path"]))
    texts = {}
    for source_id, group in chosen.groupby("source_id"):
        path = qual / paths[source_id]
        text = path.read_text("utf-8")
        for start in sorted(set(group["start"])):
            text = text[:start] + SCRIPT + text[start + len(SCRIPT):]
        path.write_text(text, "utf-8")
        texts[source_id] = text
    for i, row in segments.iterrows():
        if row["source_id"] in texts:
            segments.at[i, "text"] = texts[row["source_id"]][row["start"]:row["end"]]
    segments.to_csv(qual / "segments.csv", index=False)


@pytest.fixture(scope="module")
def poisoned_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    study = root / "study"
    shutil.copytree(DEMO, study)
    poison(study)
    out = root / "out"
    result = rp.build_reports(study, out, sites=SITE, jobs=2, progress=False)
    return result, out


def pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_every_report_renders(poisoned_run):
    result, out = poisoned_run
    assert result.ok, [(r.name, r.error) for r in result.results if r.status != "ok"]
    assert len(pages(out)) == 6  # index, 4 study reports, 1 site report


def test_no_text_from_the_data_runs_or_becomes_markup(poisoned_run):
    _, out = poisoned_run
    assert len(pages(out)) == 6  # index, 4 study reports, 1 site report
    for page in pages(out):
        markup = page.read_text("utf-8")
        soup = BeautifulSoup(markup, "html.parser")
        assert soup.find("script") is None, page.name
        tags = soup.find_all(True)
        assert tags and soup.find("main"), page.name
        for tag in tags:
            assert not [a for a in tag.attrs if a.lower().startswith("on")], (page.name, tag)
        assert not soup.find("img", src="x"), page.name
        assert not soup.find("b", attrs={"onmouseover": True}), page.name
        assert re.search(r"<script>\s*alert", markup) is None, page.name


def test_the_hostile_text_is_shown_as_text(poisoned_run):
    _, out = poisoned_run
    shown = {p.name: BeautifulSoup(p.read_text("utf-8"), "html.parser").get_text(" ")
             for p in pages(out)}
    assert len(shown) == 6  # index, 4 study reports, 1 site report
    everything = " ".join(shown.values())
    assert NAME in everything                       # study name
    assert "onerror=alert(1)" in everything          # site name
    assert GENDER in shown["01_data_quality.html"]   # participant attribute
    assert "onmouseover=alert(2)" in shown["03_qualitative_benefits.html"]  # codebook name
    assert SCRIPT in shown["03_qualitative_benefits.html"]  # a quote


def test_two_runs_give_identical_html_apart_from_the_run_date(poisoned_run, tmp_path):
    _, first = poisoned_run
    study = first.parent / "study"
    second = tmp_path / "again"
    rp.build_reports(study, second, sites=SITE, jobs=2, progress=False)

    def normalised(path: Path) -> str:
        text = path.read_text("utf-8")
        # the run date and time, and how long a report took, are the only things that vary
        text = re.sub(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z| UTC)?",
                      "<date>", text)
        # the index says when it was written as a reader would write it (26 November 2026, 03:40 UTC)
        text = re.sub(r"\d{2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} UTC", "<date>", text)
        return re.sub(r"\d+(\.\d+)? s\b", "<seconds>", text)

    assert len(pages(first)) == len(pages(second)) == 6
    for page in pages(first):
        twin = second / page.relative_to(first)
        assert normalised(page) == normalised(twin), page.name


MARKDOWN_SITE = "[x](https://e.x) ![](x.png) *North*"


def _render_markdown(text: str) -> BeautifulSoup:
    import nbformat

    from spanalysis.report.render import notebook_to_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show_markdown(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": text})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Report"), cell]
    html = notebook_to_html(nb, title="t", provenance={})
    return BeautifulSoup(html, "html.parser")


def test_escape_markdown_keeps_data_as_text():
    # issue 19: 15: a value from the data never becomes a link, an image or emphasis
    from spanalysis.report.display import escape_markdown

    soup = _render_markdown(f"**Site:** {escape_markdown(MARKDOWN_SITE)}. **Study:** "
                            f"{escape_markdown('# A <b>study</b>' + chr(10) + '- item')}")
    body = soup.find("main") or soup
    assert not body.find("a", href=re.compile("e\\.x")) and not body.find("img")
    assert not body.find("em") and not body.find("h1", string=re.compile("A"))
    text = body.get_text(" ")
    assert MARKDOWN_SITE in text and "# A <b>study</b> - item" in text
    assert escape_markdown("Riverside PCN") == "Riverside PCN"


def test_notebooks_build_markdown_through_the_escape_helper():
    import nbformat

    folder = Path(__file__).resolve().parents[1] / "notebooks"
    notebooks = sorted(folder.glob("*.ipynb"))
    assert len(notebooks) == 5
    for path in notebooks:
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                           if c.cell_type == "code")
        assert "html.escape(" not in source, path.name
        assert "escape_markdown(" in source, path.name
