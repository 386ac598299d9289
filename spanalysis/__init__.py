"""spanalysis: mixed-methods analysis of social prescribing (link worker) evaluations.

The public API, in the order data flows::

    study = spanalysis.load_study("data/demo")        # or validate_study(path) -> issues
    study                                              # a summary table in JupyterLab
    spanalysis.score(study.responses, "wemwbs")        # or study.scores for every instrument
    spanalysis.paired_change(study.scores)             # change, effect sizes, intervals
    spanalysis.reliable_change(study.scores, study.scale_info)
    spanalysis.coding_agreement(study, unit="sentence")
    spanalysis.integrate.statistics_by_themes(study)   # and the other joint displays
    spanalysis.build_reports("data/demo", "reports/demo")

The subpackages, one floor each (``docs/architecture.md``): ``study``, ``instruments``,
``qual``, ``change``, ``integrate``, ``privacy``, ``report`` and ``demo``.
"""
from __future__ import annotations

import importlib

from spanalysis.errors import InputError, Issue, SpanalysisError, ValidationError
from spanalysis.version import __version__

# name -> module it comes from; imported on first use, so `import spanalysis` stays cheap for
# the command line and for report kernels
_PUBLIC = {
    "load_study": "spanalysis.study", "read_study": "spanalysis.study", "Study": "spanalysis.study",
    "score": "spanalysis.instruments", "score_all": "spanalysis.instruments",
    "paired_change": "spanalysis.change", "paired_effect_sizes": "spanalysis.change",
    "reliable_change": "spanalysis.change", "reliable_change_summary": "spanalysis.change",
    "coding_agreement": "spanalysis.qual", "build_reports": "spanalysis.report",
}
_SUBPACKAGES = ["study", "instruments", "qual", "change", "integrate", "privacy", "report", "demo"]

__all__ = ["__version__", "Issue", "InputError", "SpanalysisError", "ValidationError",
           "validate_study", *_PUBLIC, *_SUBPACKAGES]


def validate_study(path) -> list[Issue]:
    """Every error and warning in the study at ``path``: its data files
    (:func:`spanalysis.study.validate_study`) and, once those load, its crosswalk and
    meta-inference files (:func:`spanalysis.integrate.check_study`). Empty when all is well."""
    from spanalysis import integrate, study

    loaded, issues = study.read_study(path)
    if loaded is not None:
        issues = issues + integrate.check_study(loaded)
    return issues


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"spanalysis.{name}")
    raise AttributeError(f"module 'spanalysis' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
