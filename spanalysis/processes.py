"""How the worker processes of ``spanalysis report`` start (standard library only).

On platforms with a ``forkserver`` (Linux, macOS) the local pool's workers are forked from
one: a fresh, single-threaded process that imports what every worker needs once
(:mod:`spanalysis.report.preload`: papermill, nbconvert's HTML exporter, the report
modules), so that each worker starts with it in memory instead of importing it again (about
0.7 s of CPU a worker). Elsewhere (Windows) they are spawned. Python 3.14 makes
``forkserver`` the default start method on Linux.

This module imports nothing heavy, so that the report command can start the forkserver
(:func:`start_early`) before it imports the rest: the forkserver's imports then run beside
the command's own. :func:`kept_for_life` is how the forkserver, the kernel forker
(:mod:`spanalysis.report.forker`) and a warm kernel import what they keep until they end.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing

__all__ = ["WORKER_PRELOAD", "kept_for_life", "pool_context", "start_early"]

#: the module the forkserver imports before it forks any worker
WORKER_PRELOAD = "spanalysis.report.preload"


def pool_context():
    """The multiprocessing context of the report command's local pool: ``forkserver``
    (preloading :data:`WORKER_PRELOAD`) where the platform has it, else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([WORKER_PRELOAD])
    return context


def start_early() -> None:
    """Start the forkserver now, if this platform uses one; it imports in the background
    and is reused by every pool of this process (it ends with the process)."""
    if pool_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


@contextlib.contextmanager
def kept_for_life():
    """Import (and build) in this block what the process keeps until it ends.

    Garbage collection is off while the block runs (nothing made there is garbage); after
    it, everything the process holds is frozen out of later collections (``gc.freeze``), so
    that they look only at what is made afterwards, and a forked child does not touch those
    memory pages: the pattern the :mod:`gc` documentation gives for forking servers. Objects
    are still freed by reference counting as usual. An error in the block turns collection
    back on and freezes nothing.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()
