"""A study: its ``study.yaml`` manifest, the files it names, their validation, and the
:class:`Study` object every later step reads.

Modules
-------
manifest   ``study.yaml``: sites, time points, files, instruments, disclosure settings
rules      what each file must hold, as data: one table of rules per file
checks     the one validator that reads those tables and makes every file/row/column message
loader     reading the files, checking ids across files; :func:`load_study`, :func:`validate_study`
model      the :class:`Study` object
"""
from __future__ import annotations

from spanalysis.study.loader import (
                                     PARTICIPANT_COLUMNS,
                                     Study,
                                     load_study,
                                     read_study,
                                     validate_study,
)
from spanalysis.study.manifest import MANIFEST_NAME, FileSpec, Manifest, Timepoint, read_manifest

__all__ = ["Study", "load_study", "validate_study", "read_study", "PARTICIPANT_COLUMNS",
           "Manifest", "FileSpec", "Timepoint", "read_manifest", "MANIFEST_NAME"]
