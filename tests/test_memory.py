"""spanalysis._memory: numpy's huge-page advice is off inside heavy steps, then restored."""
from __future__ import annotations

import threading

import pytest

from spanalysis import _memory
from spanalysis._memory import small_pages, with_small_pages

pytestmark = pytest.mark.skipif(_memory._set_madvise_hugepage is None,
                                reason="this numpy has no huge-page switch")


def advice() -> bool:
    """numpy's current setting (reading it means setting it and putting it back)."""
    current = _memory._set_madvise_hugepage(True)
    _memory._set_madvise_hugepage(current)
    return current


@pytest.fixture(autouse=True)
def advice_on(monkeypatch):
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    before = _memory._set_madvise_hugepage(True)
    yield
    _memory._set_madvise_hugepage(before)


def test_off_inside_restored_after():
    with small_pages():
        assert advice() is False
    assert advice() is True


def test_nested_blocks_restore_only_at_the_end():
    with small_pages():
        with small_pages():
            assert advice() is False
        assert advice() is False
    assert advice() is True


def test_restored_after_an_error():
    with pytest.raises(RuntimeError):
        with small_pages():
            raise RuntimeError("boom")
    assert advice() is True


def test_a_setting_that_was_off_stays_off():
    _memory._set_madvise_hugepage(False)
    with small_pages():
        pass
    assert advice() is False


def test_the_environment_variable_wins(monkeypatch):
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    with small_pages():
        assert advice() is True


def test_blocks_open_in_two_threads():
    inside, release = threading.Barrier(2), threading.Event()
    seen = []

    def work():
        with small_pages():
            inside.wait()
            release.wait()
            seen.append(advice())

    a = threading.Thread(target=work)
    a.start()
    with small_pages():
        inside.wait()   # both blocks are open now
    assert advice() is False   # the other thread's block is still open
    release.set()
    a.join()
    assert seen == [False] and advice() is True


def test_decorator_keeps_the_function():
    @with_small_pages
    def f(x):
        """doc"""
        return advice(), x

    assert f(3) == (False, 3) and f.__doc__ == "doc" and advice() is True


def test_scores_side_thread_allocates_without_the_advice(monkeypatch):
    """Study.scores makes the loader's codes into categoricals in a side thread, started
    before the scoring itself; that thread too runs with the advice off."""
    from conftest import DEMO

    from spanalysis import load_study
    from spanalysis.study import Study

    study = load_study(DEMO)
    seen = []
    original = Study._with_coded_ids

    def spy(self):
        seen.append(advice())
        return original(self)

    monkeypatch.setattr(Study, "_with_coded_ids", spy)
    assert len(study.scores)
    assert seen and not any(seen) and advice() is True
