"""The report pipeline: batch papermill runs, offline HTML, site reports, the index.

The demo study is rendered once per module (``--jobs 2``) into a temporary folder; the
incremental, failure, kernel and Dask tests use tiny fixture notebooks or two sites so the
module stays well under three minutes on two cores.

Fixture notebooks are stored as ``tests/fixtures/report/<set>/*.nbjson`` (not ``.ipynb``) so
that ``pytest --nbval-lax`` does not collect a notebook that is meant to fail; each test copies
a set into a temporary ``notebooks`` folder under the names the runner looks for.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from conftest import DEMO, fixture_notebooks
from scipy import stats

from spanalysis import report as rp
from spanalysis.cli import main
from spanalysis.errors import InputError
from spanalysis.privacy import disclosure
from spanalysis.report import fingerprints, render
from spanalysis.study import load_study

BUDGET = 1.5 * 1024 * 1024      # bytes per site report (issue 7)


def copy_demo(dest: Path) -> Path:
    shutil.copytree(DEMO, dest)
    return dest


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# =============================================================================================
# End to end on the demo study (rendered once)
# =============================================================================================

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    study = copy_demo(root / "demo")
    out = root / "out"
    start = time.perf_counter()
    status = main(["report", str(study), "--out", str(out), "--jobs", "2", "--no-progress"])
    return {"study": study, "out": out, "status": status,
            "seconds": time.perf_counter() - start, "loaded": load_study(study)}


def test_demo_every_report_and_the_index_exist(demo_run):
    out, study = demo_run["out"], demo_run["loaded"]
    assert demo_run["status"] == 0
    assert (out / "index.html").is_file()
    expected_study = [n for n in rp.STUDY_NOTEBOOKS if (rp.NOTEBOOKS_DIR / f"{n}.ipynb").is_file()]
    assert len(expected_study) == 4
    assert sorted(p.stem for p in (out / "study").glob("*.html")) == sorted(expected_study)
    site_html = sorted((out / "sites").glob("*.html"))
    assert len(site_html) == len(study.sites) == 8
    assert {p.stem for p in site_html} == {rp.site_slug(s) for s in study.sites}
    for html_path in [*site_html, *((out / "study").glob("*.html"))]:
        # executed notebook, log, summary and run record beside every report
        for suffix in (".ipynb", ".log", ".summary.json", ".run.json"):
            assert html_path.with_suffix(suffix).is_file(), html_path.with_suffix(suffix)
    assert not [p for p in all_files(out) if ".part" in p.name]   # no temporary leftovers


def test_demo_every_table_passes_the_disclosure_scan(demo_run):
    k = demo_run["loaded"].min_cell_size
    pages = sorted(demo_run["out"].rglob("*.html"))
    assert len(pages) == 13     # the index, 4 study reports and 8 site reports
    tables = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        tables += text.count("<table")
        assert disclosure.scan_html_for_small_counts(text, k) == [], page.name
    assert tables > 30          # the scan really looked at tables


def test_demo_reports_are_offline_small_and_do_not_expose_paths(demo_run):
    out, study_dir = demo_run["out"], demo_run["study"]
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 13     # the index, 4 study reports and 8 site reports
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert render.external_references(text) == [], page.name
        assert "<script" not in text.lower()
        # the researcher's folders are not in a report (inputs are named relative to the study)
        assert str(study_dir) not in text and str(out) not in text, page.name
    site_pages = sorted((out / "sites").glob("*.html"))
    assert len(site_pages) == 8
    for page in site_pages:
        assert page.stat().st_size < BUDGET, (page.name, page.stat().st_size)


def test_demo_qualitative_reports_keep_every_section(demo_run):
    """The demo has qualitative material: no section of reports 03 and 04 is left out as
    empty (the hide-if-empty tag leaves out only sections with nothing to show)."""
    def headings(name):
        page = demo_run["out"] / "study" / f"{name}.html"
        soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
        return [h.get_text(" ", strip=True) for h in soup.find("main").find_all("h2")]

    tagged = {}
    for name in ("03_qualitative_benefits", "04_integration"):
        nb = json.loads((rp.NOTEBOOKS_DIR / f"{name}.ipynb").read_text("utf-8"))
        tagged[name] = [c["source"][0].lstrip("# ").strip() for c in nb["cells"]
                        if "hide-if-empty" in c["metadata"].get("tags", [])
                        and c["source"][0].startswith("## ")]
        assert len(tagged[name]) >= 6, name
        shown = headings(name)
        assert [h for h in tagged[name] if h not in shown] == [], name


def test_site_report_content_and_provenance(demo_run):
    out, study = demo_run["out"], demo_run["loaded"]
    soup = BeautifulSoup((out / "sites" / "riverside-pcn.html").read_text("utf-8"), "html.parser")
    assert soup.html["lang"] == "en-GB"
    headings = [h.get_text(" ", strip=True) for h in soup.find_all("h2")]
    for section in ("Reach", "Change on the primary outcome", "Themes voiced", "Joint display"):
        assert section in headings
    assert soup.find("table", class_="sp-joint") is not None
    # sensitive quotes are left out of site reports by default
    assert soup.find("details", class_="sp-sensitive") is None
    # provenance footer: every input file relative to the study folder, with its SHA-256
    footer = soup.find(id="provenance").find_parent()
    text = footer.get_text(" ", strip=True)
    participants = study.path / "participants.csv"
    assert "participants.csv" in text and fingerprints.file_sha256(participants) in text
    assert "qualitative/segments.csv" in text


def test_index_headline_figures_match_an_independent_computation(demo_run):
    """People referred per site counted straight from participants.csv; mean change on WEMWBS
    total with a t interval computed with scipy from the scores (not by spanalysis.change)."""
    out, study = demo_run["out"], demo_run["loaded"]
    soup = BeautifulSoup((out / "index.html").read_text("utf-8"), "html.parser")
    table = soup.find_all("table")[1]
    heads = [th.get_text(" ", strip=True) for th in table.find("thead").find_all("th")]
    rows = {tr.find("th").get_text(strip=True): [td.get_text(" ", strip=True)
                                                  for td in tr.find_all("td")]
            for tr in table.find("tbody").find_all("tr")}
    assert len(study.sites) == 8
    assert list(rows) == sorted(study.sites)     # the default ordering: by name
    col = {h: i - 1 for i, h in enumerate(heads)}     # first column is the <th>
    raw = pd.read_csv(study.path / "participants.csv", dtype=str)
    per_site = raw["site"].value_counts()
    for site in study.sites:       # every demo site has 20 or more referrals: nothing hidden
        assert rows[site][col["People referred"]] == str(per_site[site])
        assert rows[site][col["Status"]] == "Ready"
    # Mean change for Riverside PCN: paired WEMWBS totals, follow-up minus baseline.
    scores = study.scores
    one = scores[(scores["instrument"] == "wemwbs") & (scores["scale"] == "total")]
    wide = one.pivot_table(index="participant_id", columns="timepoint", values="score",
                           observed=True)
    site_ids = raw.loc[raw["site"] == "Riverside PCN", "participant_id"]
    d = (wide["followup"] - wide["baseline"]).reindex(site_ids).dropna()
    n, mean, se = len(d), d.mean(), d.std(ddof=1) / len(d) ** 0.5
    low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=se)   # mean +/- t(0.975, n-1) SE
    assert rows["Riverside PCN"][col["Pairs on the primary outcome"]] == str(n)
    expected = f"{mean:+.1f} (95% CI {low:+.1f} to {high:+.1f})".replace("-", "\u2212")
    assert rows["Riverside PCN"][col["Mean change on WEMWBS total (14-70)"]] == expected


# ---------------------------------------------------------------------------------------------
# What the reports show: small counts in JSON, participant ids (issue 19: 10, 12)
# ---------------------------------------------------------------------------------------------

def small_study(dest: Path) -> Path:
    """The demo cut to 21 people at two sites (14 and 7, half of them interviewed), so that
    many counts in the reports are between 1 and 4."""
    import yaml

    shutil.copytree(DEMO, dest)
    people = pd.read_csv(dest / "participants.csv", dtype=str, keep_default_na=False)
    qual = dest / "qualitative"
    sources = pd.read_csv(qual / "sources.csv", dtype=str, keep_default_na=False)
    interviewed = set(sources["participant_id"]) - {""}
    sites = ["Riverside PCN", "Hillview PCN"]
    keep = []
    for site, n in zip(sites, (14, 7)):
        here = people[people["site"] == site]
        first = here[here["participant_id"].isin(interviewed)]["participant_id"].head(n // 2 + 2)
        rest = here[~here["participant_id"].isin(first)]["participant_id"]
        keep += list(first) + list(rest.head(n - len(first)))
    people[people["participant_id"].isin(keep)].to_csv(dest / "participants.csv", index=False)
    for name in ("responses.csv", "service_use.csv"):
        table = pd.read_csv(dest / name, dtype=str, keep_default_na=False)
        table[table["participant_id"].isin(keep)].to_csv(dest / name, index=False)
    documents = (sources["participant_id"] == "") & sources["site"].isin(["", *sites])
    sources = sources[sources["participant_id"].isin(keep) | documents]
    sources.to_csv(qual / "sources.csv", index=False)
    segments = pd.read_csv(qual / "segments.csv", dtype=str, keep_default_na=False)
    segments[segments["source_id"].isin(sources["source_id"])].to_csv(qual / "segments.csv",
                                                                      index=False)
    manifest = yaml.safe_load((dest / "study.yaml").read_text("utf-8"))
    manifest["sites"] = sites
    (dest / "study.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), "utf-8")
    return dest


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    study = small_study(root / "small")
    out = root / "out"
    status = main(["report", str(study), "--out", str(out), "--sites", "Hillview PCN",
                   "--jobs", "2", "--no-progress"])
    return {"study": study, "out": out, "status": status, "loaded": load_study(study)}


def _small_counts(value, k: int, where: str = "", key=None) -> list[str]:
    """Every count from 1 to k-1 in a JSON value (settings such as k are no counts)."""
    if isinstance(value, dict):
        return [x for name, v in value.items() for x in _small_counts(v, k, f"{where}.{name}",
                                                                       name)]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _small_counts(v, k, f"{where}[{i}]",
                                                                       key)]
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < k \
            and key not in ("k", "min_cell_size", "rounding"):
        return [f"{where} = {value}"]
    return []


@pytest.mark.parametrize("run", ["demo_run", "small_run"])
def test_every_json_beside_the_reports_hides_small_counts(run, request):
    # issue 19: 10: the same small-count rule as the HTML ("<k" for 1 to k-1; 0 may show)
    r = request.getfixturevalue(run)
    assert r["status"] == 0
    k = r["loaded"].min_cell_size
    summaries = sorted(r["out"].rglob("*.summary.json"))
    # the 4 study reports and the site reports (8 in the demo, Hillview PCN in the small run)
    assert len(summaries) == (12 if run == "demo_run" else 5)
    assert len(summaries) == len(list(r["out"].rglob("*.html"))) - 1     # all but the index
    leaks = [f"{p.name}{x}" for p in summaries
             for x in _small_counts(json.loads(p.read_text("utf-8")), k)]
    index = json.loads((r["out"] / "index.json").read_text("utf-8"))
    assert len(index["reports"]) == len(summaries)
    leaks += [f"index.json {report['name']}{x}" for report in index["reports"]
              for x in _small_counts(report["summary"], k)]
    assert leaks == []
    if run == "small_run":  # withheld counts are written as "<5", and the index still reads
        site = json.loads(next(r["out"].rglob("sites/*.summary.json")).read_text("utf-8"))
        assert site["primary"]["n_pairs"] == f"<{k}" and site["referred"] == 7
        # a site summary lists only the themes its report shows a count for (issue 19: 11)
        assert all(t["n_voiced"] >= k for t in site["themes"]), site["themes"]
        page = (r["out"] / "index.html").read_text("utf-8")
        assert disclosure.scan_html_for_small_counts(page, k) == []


def _shown_text(page: Path) -> str:
    """What a page shows and holds in attributes (embedded images' data left out)."""
    soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
    attrs = [str(v) for tag in soup.find_all(True) for v in tag.attrs.values()
             if not str(v).startswith("data:")]
    return soup.get_text(" ") + " " + " ".join(attrs)


@pytest.mark.parametrize("run", ["demo_run", "small_run"])
def test_no_participant_id_in_any_rendered_html(run, request):
    # issue 19: 12: reviewer-facing pages use Participant A, B, ...; the key is beside the
    # executed notebooks, for the analyst
    import re

    r = request.getfixturevalue(run)
    ids = set(r["loaded"].participants["participant_id"].astype(str))
    pages = sorted(r["out"].rglob("*.html"))
    assert len(pages) == (13 if run == "demo_run" else 6)   # index, 4 study, 8 or 1 site
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, sorted(ids)))
                         + r")(?![0-9])")
    for page in pages:
        found = pattern.findall(_shown_text(page))
        assert found == [], (page.name, found[:5])
    keys = sorted(r["out"].rglob("*_participant_key.csv"))
    assert [p.name for p in keys] == ["03_qualitative_benefits_participant_key.csv",
                                      "04_integration_participant_key.csv"]
    for key in keys:
        assert (key.parent / key.name.replace("_participant_key.csv", ".ipynb")).is_file()
        table = pd.read_csv(key, dtype=str)
        assert len(table) > 0 and set(table["participant_id"]) <= ids
        assert table["label"].is_unique and table["participant_id"].is_unique
        shown = _shown_text(key.parent / key.name.replace("_participant_key.csv", ".html"))
        assert all(label in shown for label in table["label"])
        for page in pages:
            assert key.name not in page.read_text("utf-8")


def _quotes_shown(page: Path) -> list[str]:
    """The quotes of report 04: "In their words" lines and the Quote column of its tables."""
    import re

    soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
    quotes = [m for li in soup.find_all("li") if "In their words" in li.get_text()
              for m in re.findall("\u201c(.+?)\u201d", li.get_text())]
    for table in soup.find_all("table"):
        heads = [th.get_text(strip=True) for th in table.find("thead").find_all("th")]
        if "In their words" in heads:   # the quote column's heading (report.glossary)
            at = heads.index("In their words")
            quotes += [tr.find_all(["th", "td"])[at].get_text(strip=True)
                       for tr in table.find("tbody").find_all("tr")]
    return [q for q in quotes if q]


@pytest.mark.parametrize("run", ["demo_run", "small_run"])
def test_no_quote_appears_twice_in_a_report(run, request):
    # issue 19: 13: the side-by-side display, the divergent cases and the quote matrix of
    # report 04 share no quote
    r = request.getfixturevalue(run)
    quotes = _quotes_shown(r["out"] / "study" / "04_integration.html")
    assert len(quotes) >= (30 if run == "demo_run" else 6)
    assert len(set(quotes)) == len(quotes), [q for q in quotes if quotes.count(q) > 1][:3]


def test_rerun_skips_everything_and_is_fast(demo_run):
    out = demo_run["out"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.html") if p.name != "index.html"}
    assert len(before) == 12    # 4 study reports and 8 site reports
    start = time.perf_counter()
    result = rp.build_reports(demo_run["study"], out, jobs=2, progress=False)
    seconds = time.perf_counter() - start
    assert result.ok and result.count("skipped") == len(result.results) == len(before)
    assert {p: p.stat().st_mtime_ns for p in before} == before      # nothing rewritten
    assert seconds < demo_run["seconds"] / 3, (seconds, demo_run["seconds"])
    # the index still shows every report and its figures, read from the stored summaries
    index = (out / "index.html").read_text("utf-8")
    # one row per whole-study report, and per site one row in each ordering of the site table
    from spanalysis.report.index import ORDERINGS
    n_sites = sum(p.parent.name == "sites" for p in before)
    assert n_sites and index.count("Ready (unchanged)") == len(before) + (
        len(ORDERINGS) - 1) * n_sites
    assert "Riverside PCN" in index and "Being listened to" in index


# =============================================================================================
# Incremental runs, on two sites of a copy of the demo
# =============================================================================================

def test_force_and_changed_input_rerun(tmp_path):
    study = copy_demo(tmp_path / "demo")
    out = tmp_path / "out"
    args = dict(sites="Riverside PCN,Hillview PCN", study_reports=False, jobs=2,
                progress=False)
    first = rp.build_reports(study, out, **args)
    assert [r.status for r in first.results] == ["ok", "ok"]
    assert [r.status for r in rp.build_reports(study, out, **args).results] == ["skipped"] * 2
    assert [r.status for r in rp.build_reports(study, out, force=True, **args).results] == \
        ["ok", "ok"]
    # change one input file: every report depends on every input, so both rerun
    names = study / "qualitative" / "names.txt"
    names.write_text(names.read_text("utf-8") + "Zebedee\n", encoding="utf-8")
    assert [r.status for r in rp.build_reports(study, out, **args).results] == ["ok", "ok"]
    # a report whose output was deleted (e.g. an interrupted run) is made again, others skipped
    (out / "sites" / "hillview-pcn.html").unlink()
    again = rp.build_reports(study, out, **args)
    assert [r.status for r in again.results] == ["skipped", "ok"]


def test_an_interrupted_run_leaves_no_partial_file_and_resumes(tmp_path):
    """A run killed while writing leaves only temporary ``.part`` files (never a half-written
    report under its real name); the next run removes them and renders what is missing."""
    study = copy_demo(tmp_path / "demo")
    out = tmp_path / "out"
    (out / "sites").mkdir(parents=True)
    stale = out / "sites" / ".riverside-pcn.html.abc123.part"
    stale.write_text("<html><body>half", encoding="utf-8")
    result = rp.build_reports(study, out, sites="Riverside PCN", study_reports=False,
                              jobs=1, progress=False)
    assert result.ok and not stale.exists()
    html_text = (out / "sites" / "riverside-pcn.html").read_text("utf-8")
    assert html_text.rstrip().endswith("</html>")


# =============================================================================================
# Failures
# =============================================================================================

def test_a_failing_report_does_not_stop_the_others(tmp_path, capsys):
    nbs = fixture_notebooks("failing", tmp_path / "notebooks")
    out = tmp_path / "out"
    result = rp.build_reports(DEMO, out, notebooks_dir=nbs, sites="Riverside PCN", jobs=2,
                              progress=False)
    status = {r.name: r for r in result.results}
    assert not result.ok
    assert status["01_data_quality"].status == "ok"
    assert status["riverside-pcn"].status == "ok"
    failed = status["02_outcome_change"]
    assert failed.status == "failed"
    assert failed.cell == 4            # markdown, parameters, display, raise: the 4th cell
    assert failed.error == "ValueError: boom <script>alert(1)</script>"
    # no report under the real name, but the executed notebook and the log for analysts
    assert not (out / "study" / "02_outcome_change.html").exists()
    assert (out / "study" / "02_outcome_change.ipynb").is_file()
    log = (out / "study" / "02_outcome_change.log").read_text("utf-8")
    assert "ValueError" in log and "cell 4" in log
    assert not [p for p in all_files(out) if ".part" in p.name]
    # the index shows the failure with its cell and message, escaped
    index = (out / "index.html").read_text("utf-8")
    soup = BeautifulSoup(index, "html.parser")
    assert soup.find("script") is None
    row = next(tr for tr in soup.find_all("tr") if "Report that fails" in tr.get_text())
    text = row.get_text(" ", strip=True)
    assert "FAILED" in text and "cell 4" in text
    assert "ValueError: boom <script>alert(1)</script>" in text     # shown as text
    assert disclosure.scan_html_for_small_counts(index, 5) == []


def test_the_command_exits_1_when_a_report_fails(tmp_path, monkeypatch):
    nbs = fixture_notebooks("failing", tmp_path / "notebooks")
    monkeypatch.setattr(rp, "NOTEBOOKS_DIR", nbs)
    real = rp.build_reports
    monkeypatch.setattr(rp, "build_reports",
                        lambda *a, **kw: real(*a, notebooks_dir=nbs, **kw))
    status = main(["report", str(DEMO), "--out", str(tmp_path / "out"), "--sites", "none",
                   "--jobs", "2", "--no-progress"])
    assert status == 1


def _kernelspec(folder: Path, name: str, argv: list[str]) -> None:
    spec = folder / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": name, "language": "python"}), encoding="utf-8")


def test_a_kernel_that_never_starts_is_retried_then_reported(tmp_path, monkeypatch):
    # A real kernelspec whose process exits at once: jupyter_client reports "Kernel died
    # before replying to kernel_info", the failure papermill issue #511 describes.
    _kernelspec(tmp_path / "jupyter", "broken", [sys.executable, "-c", "raise SystemExit(3)",
                                                 "-f", "{connection_file}"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nbs = fixture_notebooks("ok", tmp_path / "notebooks")
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites="none",
                              kernel="broken", attempts=2, progress=False)
    [r] = result.results
    assert r.status == "failed" and r.attempts == 2
    assert "failed to start (2 attempts)" in r.error
    assert "Kernel died before replying to kernel_info" in r.error
    log = (tmp_path / "out" / "study" / "01_data_quality.log").read_text("utf-8")
    assert "kernel start attempt 1 failed" in log


def test_a_kernel_that_fails_once_succeeds_on_the_retry(tmp_path, monkeypatch):
    marker = tmp_path / "first-start-happened"
    launcher = tmp_path / "flaky.py"
    launcher.write_text(
        "import pathlib, runpy, sys\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.write_text('x')\n"
        "    raise SystemExit(1)\n"
        "sys.argv = ['ipykernel_launcher'] + sys.argv[1:]\n"
        "runpy.run_module('ipykernel_launcher', run_name='__main__')\n", encoding="utf-8")
    _kernelspec(tmp_path / "jupyter", "flaky", [sys.executable, str(launcher), "-f",
                                                "{connection_file}"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nbs = fixture_notebooks("ok", tmp_path / "notebooks")
    # one worker: its kernel starts when it starts (issue 24, 1), and that start is the
    # report's first attempt; with two, the other worker's start could be the one that works
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites="none",
                              kernel="flaky", attempts=3, progress=False, jobs=1)
    [r] = result.results
    assert (r.status, r.attempts) == ("ok", 2)
    assert (tmp_path / "out" / "study" / "01_data_quality.html").is_file()


def test_the_time_limit_per_report(tmp_path):
    nbs = fixture_notebooks("slow", tmp_path / "notebooks")
    start = time.perf_counter()
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites="none",
                              timeout=4, progress=False)
    assert time.perf_counter() - start < 30          # the notebook sleeps 120 s
    [r] = result.results
    assert r.status == "failed" and "time limit of 4 s" in r.error
    assert not (tmp_path / "out" / "study" / "01_data_quality.html").exists()


def test_kernel_start_failures_are_recognised():
    import zmq

    assert rp.is_kernel_start_failure(zmq.ZMQError(98, "Address already in use"))
    assert rp.is_kernel_start_failure(RuntimeError("Kernel didn't respond in 60 seconds"))
    assert not rp.is_kernel_start_failure(RuntimeError("Kernel died"))   # died mid-cell
    assert not rp.is_kernel_start_failure(ValueError("Address already in use"))


# =============================================================================================
# Parameters: refused before anything runs (exit status 2)
# =============================================================================================

@pytest.mark.parametrize("extra, message", [
    (["-p", "colour=blue"], "unknown parameter"),
    (["-p", "confidence=high"], "wrong type"),
    (["--sites", "Atlantis PCN"], "unknown site"),
    (["--kernel", "no-such-kernel"], "not installed"),
    (["--jobs", "0"], "jobs"),
])
def test_bad_parameters_exit_2_before_anything_runs(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    status = main(["report", str(DEMO), "--out", str(out), "--no-progress", *extra])
    assert status == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or not list(out.rglob("*.html"))


def test_check_parameters_against_inspect_notebook():
    nb = rp.NOTEBOOKS_DIR / "02_outcome_change.ipynb"
    sites = ["Riverside PCN", "Hillview PCN"]
    rp.check_parameters(nb, {"study": "x", "site": "all", "confidence": 0.9}, sites=sites)
    with pytest.raises(InputError, match="out of range"):   # an int is a float (not a type
        rp.check_parameters(nb, {"confidence": 1}, sites=sites)   # error), but 1 is no level
    rp.check_parameters(rp.NOTEBOOKS_DIR / "03_qualitative_benefits.ipynb",
                        {"quotes_per_theme": 0})
    with pytest.raises(InputError, match="unknown parameter"):
        rp.check_parameters(nb, {"confidance": 0.9})
    with pytest.raises(InputError, match="wrong type"):
        rp.check_parameters(nb, {"confidence": "0.9"})
    with pytest.raises(InputError, match="wrong type"):
        rp.check_parameters(nb, {"site": 3})
    with pytest.raises(InputError, match="unknown site") as err:
        rp.check_parameters(nb, {"site": "Lakeside"}, sites=sites)
    assert "Riverside PCN" in str(err.value)


def test_a_site_called_all_is_refused(tmp_path, capsys):
    # issue 19: 23: "all" means the whole study, so a site of that name would get the whole
    # study's figures in its report: refused before anything runs
    nb = rp.NOTEBOOKS_DIR / "site_report.ipynb"
    for site in ("all", "Hillview PCN"):
        with pytest.raises(InputError, match="reserved") as err:
            rp.check_parameters(nb, {"site": site}, sites=["all", "Hillview PCN"])
        assert "whole study" in str(err.value)
    study = copy_demo(tmp_path / "demo")
    manifest = (study / "study.yaml").read_text("utf-8")
    (study / "study.yaml").write_text(manifest.replace("Riverside PCN", "all"), "utf-8")
    for name in ("participants.csv", "qualitative/sources.csv"):
        path = study / name
        path.write_text(path.read_text("utf-8").replace("Riverside PCN", "all"), "utf-8")
    out = tmp_path / "out"
    status = main(["report", str(study), "--out", str(out), "--no-progress"])
    assert status == 2                    # validate refuses the name too
    err = capsys.readouterr().err
    assert "'all'" in err and "whole study" in err
    assert not out.exists() or not list(out.rglob("*.html"))


def test_output_inside_the_study_folder_is_refused(tmp_path):
    study = copy_demo(tmp_path / "demo")
    with pytest.raises(InputError, match="inside the study"):
        rp.build_reports(study, study / "reports", progress=False)
    assert not (study / "reports").exists()


def test_coerce_parameter():
    assert rp.coerce_parameter("0.9", "float") == 0.9
    assert rp.coerce_parameter("yes", "bool") is True
    with pytest.raises(InputError):
        rp.coerce_parameter("1.5", "int")


# =============================================================================================
# No hidden cells: a report's executed notebook is the notebook that ran
# =============================================================================================

def test_executed_notebooks_hold_exactly_the_source_cells(demo_run):
    """Beside each HTML report, the executed notebook has the source notebook's cells, in
    order and unchanged, plus only papermill's visible injected-parameters cell."""
    import nbformat

    out = demo_run["out"]
    executed_paths = sorted((out / "study").glob("*.ipynb")) + sorted(
        (out / "sites").glob("*.ipynb"))
    assert len(executed_paths) == 12
    for path in executed_paths:
        source_name = path.stem if path.parent.name == "study" else rp.SITE_NOTEBOOK
        source = nbformat.read(rp.NOTEBOOKS_DIR / f"{source_name}.ipynb", as_version=4)
        executed = nbformat.read(path, as_version=4)
        injected = [c for c in executed.cells
                    if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1, path.name
        kept = [c for c in executed.cells if c not in injected]
        assert [(c.cell_type, c.source) for c in kept] == \
            [(c.cell_type, c.source) for c in source.cells], path.name
        # papermill puts its cell right after the notebook's parameters cell
        params_at = next(i for i, c in enumerate(executed.cells)
                         if "parameters" in c.metadata.get("tags", []))
        assert executed.cells[params_at + 1] is injected[0]
        assert all("remove-cell" not in c.metadata.get("tags", []) for c in executed.cells)


def test_nothing_replaces_load_study_in_a_report_kernel(tmp_path):
    """A report's kernel uses the package's own load_study: no cell or environment variable
    of the runner swaps it for another function."""
    import nbformat

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('study = "../data/demo"\nsite = "x"\nsummary_path = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Probe"), params, nbformat.v4.new_code_cell(
        "import json, os, spanalysis, spanalysis.study\n"
        "fn = spanalysis.study.load_study\n"
        "same = spanalysis.load_study is fn and fn.__module__.startswith('spanalysis.study')\n"
        "env = [k for k in os.environ if k == 'SPANALYSIS_STUDY_CACHE']\n"
        "json.dump({'same': same, 'env': env}, open(summary_path, 'w'))")]
    nb.metadata["kernelspec"] = {"name": "spanalysis", "display_name": "spanalysis",
                                 "language": "python"}
    nbformat.write(nb, nbs / f"{rp.SITE_NOTEBOOK}.ipynb")
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites="Riverside PCN",
                              jobs=1, progress=False)
    assert result.ok, [r.error for r in result.results]
    assert result.results[0].summary == {"same": True, "env": []}
    executed = nbformat.read(tmp_path / "out" / "sites" / "riverside-pcn.ipynb", as_version=4)
    assert len(executed.cells) == len(nb.cells) + 1      # papermill's parameters cell only


# =============================================================================================
# Site report helpers and the index
# =============================================================================================

def test_site_themes_against_counts_from_the_raw_files():
    study = load_study(DEMO).for_site("Hillview PCN")
    table = rp.site_themes(study).set_index("theme")
    # independent count: distinct participants with an interview at the site in which the
    # code was applied at least once, straight from sources.csv and segments.csv
    src = pd.read_csv(DEMO / "qualitative" / "sources.csv", dtype=str)
    seg = pd.read_csv(DEMO / "qualitative" / "segments.csv", dtype=str)
    interviews = src[(src["source_type"] == "interview") & (src["site"] == "Hillview PCN")]
    joined = seg.merge(interviews[["source_id", "participant_id"]], on="source_id")
    expected = joined.groupby("code_id")["participant_id"].nunique()
    # one row per leaf code of the demo codebook (17 codes, 5 of them parents); every theme
    # but trust_services is voiced at Hillview PCN
    assert len(table) == 12 and len(expected) == 11
    assert table.loc["trust_services", "n_voiced"] == 0
    assert (table["n_interviewed"] == interviews["participant_id"].nunique()).all()
    for code, n in expected.items():
        assert table.loc[code, "n_voiced"] == n, code
    assert list(table["n_voiced"]) == sorted(table["n_voiced"], reverse=True)


def test_quote_html_redacts_and_escapes():
    out = rp.quote_html("Mary rang <script>window.x=1</script> on 07700 900123",
                        names=["Mary"])
    assert "Mary" not in out and "[NAME]" in out and "[PHONE]" in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    hidden = rp.quote_html("a hard time", sensitive=True)
    assert hidden.startswith('<details class="sp-sensitive"><summary>Content note')


def test_joint_display_leaves_sensitive_quotes_out_by_default():
    table = pd.DataFrame({
        "theme_label": ["Hope <b>"], "qualitative_finding": ["Voiced by 6 of 9."],
        "quotes": [[{"text": "plain quote", "sensitive": False},
                    {"text": "distressing quote", "sensitive": True}]],
        "primary_result": ["WEMWBS: withheld"], "quantitative_result": [""],
        "fit": ["not assessable"]})
    default = rp.joint_display_html(table)
    assert "plain quote" in default and "distressing quote" not in default
    assert "Hope &lt;b&gt;" in default
    shown = BeautifulSoup(rp.joint_display_html(table, include_sensitive=True), "html.parser")
    assert "distressing quote" in shown.find("details").get_text()
    assert [th["scope"] for th in shown.find_all("th")] == ["col"] * 4 + ["row"]


def test_index_suppresses_small_site_counts(tmp_path):
    """Two sites with 3 and 30 people referred, 40 in a third: 3 is shown as "<5" and the
    next smallest count (30) as "[c]", since the study total (73) is published; the change at
    the site with 3 pairs is withheld."""
    study = load_study(DEMO)

    def site(name, referred, pairs, mean):
        primary = {"instrument": "wemwbs", "scale": "total", "n_pairs": pairs,
                   "small_group": pairs < 5, "confidence": 0.95}
        if pairs >= 5:
            primary.update(change_mean=mean, ci_low=mean - 1, ci_high=mean + 1)
        return rp.ReportResult(rp.site_slug(name), "site", name, f"sites/{name}.html", "ok",
                               name, summary={"referred": referred, "pairs": pairs,
                                              "primary": primary,
                                              "themes": [{"label": "Hope <i>", "n_voiced": 6},
                                                         {"label": "Rare", "n_voiced": 2}]})
    result = rp.BuildResult(tmp_path, [site("A", 3, 3, 9.0), site("B", 30, 20, 2.0),
                                       site("C", 40, 30, 4.0)])
    page = rp.write_index(result, study).read_text("utf-8")
    soup = BeautifulSoup(page, "html.parser")
    rows = {tr.find("th").get_text(strip=True): [td.get_text(" ", strip=True)
                                                  for td in tr.find_all("td")]
            for tr in soup.find_all("table")[-1].find("tbody").find_all("tr")}
    # columns: status, people referred, pairs, change, themes, problem
    assert [rows[s][1] for s in "ABC"] == ["<5", "[c]", "40"]     # referred 3, 30, 40
    assert [rows[s][2] for s in "ABC"] == ["<5", "[c]", "30"]     # pairs 3, 20, 30
    assert rows["A"][3] == "withheld (fewer than 5 pairs)"
    assert rows["B"][3].startswith("withheld (so a smaller site")
    assert rows["C"][3] == "+4.0 (95% CI +3.0 to +5.0)"
    assert "Hope <i>" in rows["A"][4] and "Rare" not in rows["A"][4]
    assert disclosure.scan_html_for_small_counts(page, study.min_cell_size) == []
    assert render.external_references(page) == []


def test_site_slug():
    assert rp.site_slug("Kestrel Moor PCN") == "kestrel-moor-pcn"
    assert rp.site_slug("***") == "site"


# =============================================================================================
# Dask
# =============================================================================================

def test_a_dask_local_cluster_renders_the_same_reports(tmp_path):
    distributed = pytest.importorskip("distributed")
    study = copy_demo(tmp_path / "demo")
    args = dict(sites="Riverside PCN,Oakfield PCN", study_reports=False, progress=False)
    local = rp.build_reports(study, tmp_path / "local", jobs=2, **args)
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=40) as cluster:
        remote = rp.build_reports(study, tmp_path / "dask", scheduler=cluster.scheduler_address,
                                  **args)
    assert [r.status for r in remote.results] == ["ok", "ok"] == [r.status for r in local.results]
    for name in ("riverside-pcn", "oakfield-pcn"):
        a = json.loads((tmp_path / "local" / "sites" / f"{name}.summary.json").read_text())
        b = json.loads((tmp_path / "dask" / "sites" / f"{name}.summary.json").read_text())
        assert a == b
        html_a = (tmp_path / "local" / "sites" / f"{name}.html").read_text("utf-8")
        html_b = (tmp_path / "dask" / "sites" / f"{name}.html").read_text("utf-8")
        # identical apart from the run date in the footer
        strip = lambda t: BeautifulSoup(t, "html.parser").find("main").get_text()  # noqa: E731
        assert strip(html_a) == strip(html_b)
