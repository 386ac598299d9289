"""open_study reads and validates a study once per process while its files are unchanged
(site reports on a warm kernel), and gives every notebook its own copy (issue 24: 1)."""
from __future__ import annotations

import os
import shutil

import pandas as pd
from conftest import DEMO

from spanalysis.report import parameters
from spanalysis.study import load_study


def _copy(tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(DEMO, folder)
    return folder


def _counting_loader():
    """load_study, with the list of folders it was called for."""
    loads = []

    def counting(path):
        loads.append(path)
        return load_study(path)

    return counting, loads


def test_a_study_is_loaded_once_and_each_call_gets_its_own_copy(tmp_path):
    folder = _copy(tmp_path)
    counting, loads = _counting_loader()
    parameters._OPENED.clear()
    a = parameters._opened(folder, counting)
    a.responses.loc[0, "wemwbs_1"] = 99.0                 # a notebook changing its copy
    a.participants["site"] = "Elsewhere"
    b = parameters._opened(folder, counting)
    assert len(loads) == 1
    assert a is not b and b.responses is not a.responses
    fresh = load_study(folder)
    pd.testing.assert_frame_equal(b.responses, fresh.responses)
    pd.testing.assert_frame_equal(b.participants, fresh.participants)
    pd.testing.assert_frame_equal(b.scores, fresh.scores)
    assert b.sites == fresh.sites and len(b.interviewed) == len(fresh.interviewed)


def test_a_changed_file_is_read_again(tmp_path):
    folder = _copy(tmp_path)
    counting, loads = _counting_loader()
    parameters._OPENED.clear()
    before = parameters._opened(folder, counting)
    manifest = folder / "study.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "min_cell_size: 5" in text
    manifest.write_text(text.replace("min_cell_size: 5", "min_cell_size: 10"), encoding="utf-8")
    st = manifest.stat()                                   # a later time, even on coarse clocks
    os.utime(manifest, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = parameters._opened(folder, counting)
    assert (before.min_cell_size, after.min_cell_size) == (5, 10)
    assert len(loads) == 2
    parameters._opened(folder, counting)
    assert len(loads) == 2                                 # unchanged: not read again
    # a qualitative file too (read lazily, but part of the folder's state)
    transcript = next(p for p in (folder / "qualitative").rglob("*") if p.is_file())
    os.utime(transcript, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    parameters._opened(folder, counting)
    assert len(loads) == 3 and len(parameters._OPENED) == 1


def test_open_study_uses_it(tmp_path):
    folder = _copy(tmp_path)
    parameters._OPENED.clear()
    first = parameters.open_study({"study": str(folder), "site": "all"}, "02_outcome_change")
    second = parameters.open_study({"study": str(folder), "site": "all"}, "02_outcome_change")
    assert first is not second and len(parameters._OPENED) == 1
    assert first.name == second.name
