"""How spanalysis' heavy steps ask the kernel for memory.

numpy advises Linux to back every array of 4 MB or more with transparent huge pages
(``madvise(MADV_HUGEPAGE)``; see "madvise hugepage on Linux" in numpy's *Global state*
documentation). On a physical machine that makes the first touch of a large array cheaper.
On virtual machines that hand free memory back to the host (virtio-balloon free page
reporting returns free 2 MB blocks, which are exactly the blocks a huge page is taken from),
every fresh huge page is a page fault on the host as well, and the first touch of new memory
becomes several times slower. Measured on the 2-core VM the benchmarks run on
(``bench/bench_hugepages.py``): filling a new 800 MB array took 0.7 to 1.7 s with the advice
and 0.27 s without it; scoring a million-participant study took 1.7 s with it and 0.9 s
without it.

:func:`small_pages` therefore switches numpy's advice off while spanalysis loads, scores and
compares a study, and restores it afterwards. Anyone who sets numpy's own switch,
``NUMPY_MADVISE_HUGEPAGE``, in the environment keeps exactly what they asked for.
"""
from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager

try:  # numpy >= 2
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # pragma: no cover - numpy 1.x, or a numpy without the switch
    try:
        from numpy.core.multiarray import _set_madvise_hugepage
    except ImportError:
        _set_madvise_hugepage = None

_lock = threading.Lock()
_depth = 0          # nested or concurrent small_pages() blocks now open
_saved = None       # numpy's setting before the outermost block


def _applies() -> bool:
    return _set_madvise_hugepage is not None and "NUMPY_MADVISE_HUGEPAGE" not in os.environ


@contextmanager
def small_pages():
    """Allocate large numpy arrays without the huge-page advice inside this block.

    Blocks may nest and may be open in several threads at once: numpy's setting is changed
    when the first opens and restored when the last closes. The setting is only advice to
    the kernel, so results never depend on it.
    """
    global _depth, _saved
    if not _applies():
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = _set_madvise_hugepage(False)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set_madvise_hugepage(_saved)


def with_small_pages(func):
    """Decorator: run ``func`` inside :func:`small_pages`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with small_pages():
            return func(*args, **kwargs)
    return wrapper
