"""The Jupyter kernel the notebooks and reports run on.

``make setup`` registers this environment's Python as the kernel ``spanalysis`` inside the
environment itself (``--sys-prefix``), so JupyterLab started from the environment, papermill
and nbval all find it, and nothing is written to the user's home folder.
"""
from __future__ import annotations

import copy
import sys

KERNEL_NAME = "spanalysis"

__all__ = ["KERNEL_NAME", "install_kernel", "check_kernel", "reset_kernel", "WARM_IMPORTS"]


def install_kernel(name: str = KERNEL_NAME) -> str:
    from ipykernel.kernelspec import install

    return install(kernel_name=name, display_name=f"Python ({name})", prefix=sys.prefix)


def check_kernel(name: str = KERNEL_NAME) -> str:
    """Return the kernel's resource folder, or raise a clear error if it is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from spanalysis.errors import SpanalysisError

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise SpanalysisError(
            f"the Jupyter kernel '{name}' is not installed; run 'make setup' or "
            f"'python -m spanalysis kernel install --name {name}'") from None
    return spec.resource_dir


# =============================================================================================
# A warm kernel: reused by one worker for report after report (issue 24, 1)
# =============================================================================================
# The report runner (spanalysis.report.execution) keeps one kernel per worker process and,
# before each notebook, runs :func:`reset_kernel` in it (a silent request, not a cell of the
# notebook: the executed notebook holds only the notebook's cells and papermill's parameters
# cell). The reset gives the next notebook what a fresh kernel would: an empty namespace and
# execution counter, no open figures, and the matplotlib settings, warning filters (and
# "shown once" records), pandas options, environment, module path and working folder the
# kernel had when it started, with what the last notebook left garbage-collected. What it
# keeps is what makes it fast: the imported modules (frozen out of garbage collection after
# the first reset: ``gc.freeze``), and the caches the package keys on the content of their
# inputs (the imputations, the bootstrap draws, the disclosure control of a study's tables
# by site), which give the same answer whichever report asked first.

#: modules a warm kernel imports when it starts, so that its first report does not wait for
#: them (what the site report's first cell imports)
WARM_IMPORTS = ("numpy", "pandas", "matplotlib.pyplot", "IPython.display",
                "spanalysis.integrate", "spanalysis.integrate.meta", "spanalysis.report",
                "spanalysis.change.outcomes",
                "spanalysis.report.parameters", "spanalysis.report.display",
                "spanalysis.report.main_points", "spanalysis.report.main_figures",
                "pingouin")   # Cronbach's alpha, for the reliable-change thresholds

_BASELINE: dict | None = None


def _pandas_options():
    import pandas as pd

    return copy.deepcopy(pd._config.config._global_config)   # every option, nested


def reset_kernel(cwd: str) -> None:
    """Runs inside a warm kernel before each notebook (see the note above).

    The first call, in a kernel that has run nothing yet, imports :data:`WARM_IMPORTS` and
    records the state later calls restore.
    """
    global _BASELINE
    import gc
    import importlib
    import os
    import warnings

    from IPython import get_ipython

    shell = get_ipython()
    if _BASELINE is None:
        # the imported modules live as long as the kernel: out of every later garbage
        # collection (the reset below runs a full one before each report, and pandas work
        # triggers more), which then looks only at what the reports made
        from spanalysis.processes import kept_for_life

        with kept_for_life():
            for name in WARM_IMPORTS:
                importlib.import_module(name)
            import matplotlib

            _BASELINE = {"environ": dict(os.environ), "path": list(sys.path),
                         "filters": list(warnings.filters),
                         "rc": {k: v for k, v in matplotlib.rcParams.items()},
                         "pandas": _pandas_options()}
    else:
        import matplotlib
        import matplotlib.pyplot as plt
        import pandas as pd

        plt.close("all")
        with warnings.catch_warnings():       # deprecated settings are restored silently
            warnings.simplefilter("ignore")
            matplotlib.rcParams.update(_BASELINE["rc"])
        pd._config.config._global_config.clear()
        pd._config.config._global_config.update(copy.deepcopy(_BASELINE["pandas"]))
        os.environ.clear()
        os.environ.update(_BASELINE["environ"])
        sys.path[:] = _BASELINE["path"]
    warnings.filters[:] = _BASELINE["filters"]
    warnings._filters_mutated()            # the filters changed: forget "already shown"
    warnings.onceregistry.clear()
    for module in list(sys.modules.values()):
        registry = getattr(module, "__warningregistry__", None)
        if isinstance(registry, dict):
            registry.clear()
    shell.reset(new_session=True)          # the namespace, Out, and execution count 1
    gc.collect()   # what the last report left in reference cycles (reset collects before
    #                it clears the namespace); cheap, as the kernel's own objects are frozen
    os.chdir(cwd)
