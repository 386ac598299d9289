"""spanalysis: mixed-methods analysis of social prescribing (link worker) evaluations."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import Issue, InputError, SpanalysisError, ValidationError  # noqa: E402

__all__ = ["__version__", "Issue", "InputError", "SpanalysisError", "ValidationError",
           "load_study", "Study"]


def __getattr__(name):  # lazy: keep `import spanalysis` cheap for the CLI and kernels
    if name in ("load_study", "Study"):
        from . import study
        return getattr(study, name)
    raise AttributeError(f"module 'spanalysis' has no attribute {name!r}")
