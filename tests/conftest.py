"""Shared fixtures: a small, valid study written from scratch for each test.

The study is built by hand (not by the demo generator) so validation tests control every
cell. ``make_study`` returns the folder; tests then damage one file and check the message.
"""
from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"

MANIFEST = """\
id: tiny
name: Tiny test study
timepoints:
  - id: baseline
  - id: followup
    target_days: 90
instruments: [wemwbs, gse]
sites: [Riverside, Hillview]
privacy:
  min_cell_size: 5
files:
  participants: participants.csv
  responses:
    path: responses.csv
    layout: {layout}
  service_use:
    path: service_use.csv
    window_months: 6
"""

PARTICIPANTS = """\
participant_id,site,referral_date,age_band,gender,imd_quintile,sessions_attended
SP001,Riverside,2025-01-10,35-49,Female,1,4
SP002,Riverside,2025-01-15,50-64,Male,2,6
SP003,Hillview,2025-02-01,65-79,Female,3,2
SP004,Hillview,02/03/2025,18-34,Male,5,0
"""


def _wide_rows():
    header = (["participant_id", "timepoint", "completed_date"]
              + [f"wemwbs_{i}" for i in range(1, 15)] + [f"gse_{i}" for i in range(1, 11)])
    rows = [
        ["SP001", "baseline", "2025-01-10"] + ["3"] * 14 + ["2"] * 10,
        ["SP001", "followup", "2025-04-12"] + ["4"] * 14 + ["3"] * 10,
        ["SP002", "baseline", "2025-01-15"] + ["2"] * 14 + ["2"] * 10,
        ["SP002", "followup", "2025-04-20"] + ["3"] * 13 + [""] + ["2"] * 10,
        ["SP003", "baseline", "2025-02-01"] + ["4"] * 14 + ["3"] * 10,
        ["SP004", "baseline", "2025-03-02"] + ["1"] * 14 + ["1"] * 10,
    ]
    return header, rows


def wide_csv() -> str:
    header, rows = _wide_rows()
    return "\n".join(",".join(r) for r in [header] + rows) + "\n"


def long_csv() -> str:
    header, rows = _wide_rows()
    out = ["participant_id,timepoint,item,value,completed_date"]
    for r in rows:
        for item, value in zip(header[3:], r[3:]):
            out.append(f"{r[0]},{r[1]},{item},{value},{r[2]}")
    return "\n".join(out) + "\n"


SERVICE = """\
participant_id,service,period,count
SP001,gp_consultations,before,5
SP001,gp_consultations,after,3
SP002,gp_consultations,before,2
SP002,gp_consultations,after,2
"""


def write_study(folder: Path, layout: str = "wide") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(MANIFEST.format(layout=layout), encoding="utf-8")
    (folder / "participants.csv").write_text(PARTICIPANTS, encoding="utf-8")
    (folder / "responses.csv").write_text(wide_csv() if layout == "wide" else long_csv(),
                                          encoding="utf-8")
    (folder / "service_use.csv").write_text(SERVICE, encoding="utf-8")
    return folder


@pytest.fixture
def make_study(tmp_path):
    def make(layout="wide", name="study"):
        return write_study(tmp_path / name, layout)
    return make


REPORT_FIXTURES = Path(__file__).parent / "fixtures" / "report"


def fixture_notebooks(name: str, dest: Path) -> Path:
    """Copy the fixture notebooks ``fixtures/report/<name>/*.nbjson`` into ``dest`` as
    ``.ipynb`` files (stored under another suffix so that nbval does not collect them)."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for path in (REPORT_FIXTURES / name).glob("*.nbjson"):
        shutil.copy(path, dest / f"{path.stem}.ipynb")
    return dest


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (to prove nothing was written or changed)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dedent(text: str) -> str:
    return textwrap.dedent(text)


def replace_in_file(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# Fixture notebooks are inputs to tests, not notebooks for nbval to run.
collect_ignore_glob = ["fixtures/*"]


# Property tests draw the same examples on every run in CI, so a failure there is
# reproducible; locally they explore new examples each run.
import os  # noqa: E402

from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
