"""Qualitative engine: codebooks, coded segments, REFI-QDA exchange, inter-coder agreement
and redaction of identifiers from quotes.

Modules
-------
codebook   ``codebook.yaml`` and REFI-QDA ``.qdc`` codebooks
segments   ``sources.csv`` (+ text files) and ``segments.csv``
refi       REFI-QDA ``.qdpx`` projects (NVivo, ATLAS.ti, MAXQDA, QualCoder)
agreement  percent agreement, Cohen's kappa, Krippendorff's alpha, per-code agreement
redact     removing names and identifiers from quotes
"""
from __future__ import annotations

from .agreement import coding_agreement, cohen_kappa, krippendorff_alpha, percent_agreement
from .codebook import read_codebook, read_qdc, validate_codebook, write_codebook, write_qdc
from .redact import read_names, redact
from .refi import read_qdpx, write_qdpx
from .segments import read_segments, read_sources

__all__ = ["read_codebook", "write_codebook", "validate_codebook", "read_qdc", "write_qdc",
           "read_sources", "read_segments", "read_qdpx", "write_qdpx", "krippendorff_alpha",
           "cohen_kappa", "percent_agreement", "coding_agreement", "redact", "read_names"]
