"""Reproducible outputs (issue 24, 2): the same inputs give the same bytes in every HTML and
JSON file, locally and on Dask; the render time comes from ``SOURCE_DATE_EPOCH`` when set
and is otherwise the only line that differs.

A small study is rendered four times: twice with ``SOURCE_DATE_EPOCH`` (into two different
output folders), once without it, and once on a local Dask cluster (workers on 127.0.0.1
started *before* ``SOURCE_DATE_EPOCH`` is set, so the render time must come from the process
that starts the run, not from the workers' environment). The notebooks are the demo's
``02_outcome_change`` (many figures and tables) and ``site_report`` for two sites, copied
into a temporary folder so that an edit to ``notebooks/`` during the test does not change
the inputs between runs; each run is 3 reports (about 25 s on 2 cores).

Not compared: the ``.log`` files and the executed ``.ipynb`` beside each report. They are
the run's records for analysts: the log has the run's times and durations; the executed
notebook is papermill's own output, with papermill's and the kernel's timings, a random id
for the injected-parameters cell and the absolute ``summary_path`` (the output folder). Their
cells' outputs are compared (the same in every run but for the output folder's name).
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DEMO, REPO

from spanalysis.errors import InputError
from spanalysis.report import clock, fingerprints, render
from spanalysis.report import runner as rp

EPOCH = "1700000000"                     # 2023-11-14T22:13:20+00:00
EPOCH_ISO = "2023-11-14T22:13:20+00:00"
SITES = "Riverside PCN,Hillview PCN"
NOTEBOOKS = ("02_outcome_change", "site_report")
#: the files that must be the same bytes
COMPARED = (".html", ".json")


# =============================================================================================
# The render time
# =============================================================================================

def test_render_time_comes_from_source_date_epoch():
    assert clock.iso_time(clock.render_time({"SOURCE_DATE_EPOCH": EPOCH})) == EPOCH_ISO
    # hand-worked: 86400 s after the epoch is the next day at midnight
    assert clock.iso_time(clock.render_time({"SOURCE_DATE_EPOCH": "86400"})) == \
        "1970-01-02T00:00:00+00:00"
    before = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    now = clock.render_time({"SOURCE_DATE_EPOCH": ""})        # empty: unset, the clock
    after = _dt.datetime.now(_dt.timezone.utc)
    assert before <= now <= after and now.microsecond == 0


@pytest.mark.parametrize("bad", ["soon", "1.5", "-1", "17e8", "99999999999999999999"])
def test_a_malformed_source_date_epoch_is_refused(bad):
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH") as caught:
        clock.render_time({"SOURCE_DATE_EPOCH": bad})
    assert "seconds since 1970" in str(caught.value)


def test_a_malformed_source_date_epoch_stops_the_run_before_anything_runs(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "tomorrow")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        rp.build_reports(DEMO, tmp_path / "out", sites="none", progress=False)
    assert not (tmp_path / "out").exists()


def test_provenance_shows_the_given_render_time():
    p = render.collect_provenance([], {}, repo_dir=REPO, run_date=EPOCH_ISO)
    assert p["run_date"] == EPOCH_ISO


# =============================================================================================
# SVG figures
# =============================================================================================

def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], marker="o")     # markers and clip paths have ids
    ax.set_title("A figure")
    return fig


def test_svg_text_is_the_same_bytes_every_time(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    fig = _figure()
    first, second = render.svg_text(fig), render.svg_text(fig)
    assert first == second
    assert "<dc:date>" not in first and "<metadata>" not in first
    # the same figure saved plainly differs each time (random id salt, the date): the helper
    # is what makes it stable
    plain = []
    for _ in range(2):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg")
        plain.append(buffer.getvalue())
    assert plain[0] != plain[1]


def test_report_style_fixes_the_svg_id_salt():
    import matplotlib

    from spanalysis.plotting import use_report_style

    with matplotlib.rc_context():
        use_report_style()
        fig = _figure()
        saved = []
        for _ in range(2):
            buffer = io.BytesIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None})
            saved.append(buffer.getvalue())
    assert saved[0] == saved[1]


# =============================================================================================
# Rendering a study twice
# =============================================================================================

def _inputs_state() -> tuple:
    """What the renders depend on beyond the study and notebooks: the code (its digest,
    computed afresh) and the git commit and dirty flag shown in every footer. Other people
    edit and commit in this checkout; when that happens during the test the runs' inputs
    differ and the comparison means nothing."""
    def git(*args):
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return done.stdout
    return (fingerprints.code_digest.__wrapped__(), git("rev-parse", "HEAD"),
            bool(git("status", "--porcelain", "--untracked-files=no").strip()))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproducible")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", notebooks / f"{name}.ipynb")
    return {"root": root, "notebooks": notebooks, "state": _inputs_state()}


def _render(setup, name: str, *, epoch: str | None, scheduler: str | None = None):
    out = setup["root"] / name
    with pytest.MonkeyPatch.context() as mp:
        if epoch is None:
            mp.delenv("SOURCE_DATE_EPOCH", raising=False)
        else:
            mp.setenv("SOURCE_DATE_EPOCH", epoch)
        result = rp.build_reports(DEMO, out, sites=SITES, notebooks_dir=setup["notebooks"],
                                  jobs=None if scheduler else 2, scheduler=scheduler,
                                  progress=False)
    assert [r.status for r in result.results] == ["ok"] * 3, [r.error for r in result.results]
    if _inputs_state() != setup["state"]:
        pytest.skip("the code or its git commit changed while the test ran (someone edited "
                    "or committed in this checkout): the runs' inputs differ")
    return result


@pytest.fixture(scope="module")
def run_a(setup):
    return _render(setup, "a", epoch=EPOCH)


@pytest.fixture(scope="module")
def run_b(setup, run_a):
    return _render(setup, "b", epoch=EPOCH)


@pytest.fixture(scope="module")
def run_now(setup, run_a):
    return _render(setup, "now", epoch=None)


@pytest.fixture(scope="module")
def run_dask(setup, run_a):
    distributed = pytest.importorskip(
        "distributed", reason="the Dask comparison needs the 'distributed' package "
                              "(pip install distributed)")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)      # the workers' environment
        cluster = distributed.LocalCluster(host="127.0.0.1", processes=True, n_workers=2,
                                           threads_per_worker=1, dashboard_address=None,
                                           silence_logs=40)
    with cluster:
        return _render(setup, "dask", epoch=EPOCH, scheduler=cluster.scheduler_address)


def _files(out: Path, index: bool) -> dict[str, bytes]:
    found = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and p.suffix in COMPARED}
    return {k: v for k, v in found.items() if (k.startswith("index.")) == index}


def _differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    assert sorted(a) == sorted(b)
    out = []
    for name in a:
        if a[name] != b[name]:
            la, lb = a[name].splitlines(), b[name].splitlines()
            lines = [i + 1 for i, (x, y) in enumerate(zip(la, lb)) if x != y]
            out.append(f"{name}: lines {lines[:5]} ({len(la)} and {len(lb)} lines)")
    return out


def test_the_run_shows_one_render_time_from_source_date_epoch(run_a):
    out = run_a.out
    assert run_a.render_time == EPOCH_ISO
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 4         # the index, one study report, two site reports
    for page in pages:
        if page.name != "index.html":
            assert f"<dt>Run date (UTC)</dt><dd>{EPOCH_ISO}</dd>" in page.read_text("utf-8")
    record = json.loads((out / "sites" / "riverside-pcn.run.json").read_text("utf-8"))
    assert record == {"fingerprint": record["fingerprint"]}     # no times or durations


def test_two_renders_give_the_same_reports_and_json_byte_for_byte(run_a, run_b):
    a, b = _files(run_a.out, index=False), _files(run_b.out, index=False)
    assert len(a) == 3 * 3         # html, summary.json, run.json per report
    assert not _differences(a, b)


def test_the_executed_notebooks_have_the_same_outputs(run_a, run_b):
    import nbformat

    for path in sorted(run_a.out.rglob("*.ipynb")):
        other = run_b.out / path.relative_to(run_a.out)
        cells = []
        for nb_path, out in ((path, run_a.out), (other, run_b.out)):
            nb = nbformat.read(nb_path, as_version=4)
            text = json.dumps([(c.source, c.get("outputs")) for c in nb.cells], sort_keys=True)
            cells.append(text.replace(str(out), "OUT"))
        assert cells[0] == cells[1], path.name


def test_two_renders_give_the_same_index_byte_for_byte(run_a, run_b):
    assert not _differences(_files(run_a.out, index=True), _files(run_b.out, index=True))


def _only_render_time_differs(a: dict[str, bytes], b: dict[str, bytes], when: str) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        la, lb = a[name].decode("utf-8").splitlines(), b[name].decode("utf-8").splitlines()
        assert len(la) == len(lb), name
        changed = [(x, y) for x, y in zip(la, lb) if x != y]
        if name.endswith(".json"):
            assert not changed, (name, changed[:3])
        elif name == "index.html":
            # the footer's time (in whatever format the index writes it)
            assert len(changed) == 1, (name, [x[:120] for x, _ in changed])
            assert EPOCH_ISO[:4] in changed[0][0] and when[:4] in changed[0][1], changed
        else:
            assert changed == [(f"<dt>Run date (UTC)</dt><dd>{EPOCH_ISO}</dd>",
                                f"<dt>Run date (UTC)</dt><dd>{when}</dd>")], name


def test_without_source_date_epoch_only_the_render_time_differs(run_a, run_now):
    when = run_now.render_time
    assert when != EPOCH_ISO
    assert _dt.datetime.fromisoformat(when) > _dt.datetime.fromisoformat(EPOCH_ISO)
    _only_render_time_differs(_files(run_a.out, index=False), _files(run_now.out, index=False),
                              when)


def test_without_source_date_epoch_only_the_index_render_time_differs(run_a, run_now):
    _only_render_time_differs(_files(run_a.out, index=True), _files(run_now.out, index=True),
                              run_now.render_time)


def test_a_dask_render_gives_the_same_bytes_as_the_local_one(run_a, run_dask):
    assert run_dask.render_time == EPOCH_ISO    # from this process, not the workers
    assert not _differences(_files(run_a.out, index=False), _files(run_dask.out, index=False))
