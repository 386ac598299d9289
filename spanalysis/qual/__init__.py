"""Qualitative engine: codebooks, coded segments, REFI-QDA exchange, inter-coder agreement
and redaction of identifiers from quotes.

Modules
-------
codebook   ``codebook.yaml`` and REFI-QDA ``.qdc`` codebooks
segments   ``sources.csv`` (+ text files) and ``segments.csv``
refi       REFI-QDA ``.qdpx`` projects (NVivo, ATLAS.ti, MAXQDA, QualCoder)
agreement  percent agreement, Cohen's kappa, Krippendorff's alpha, per-code agreement
redact     removing names and identifiers from quotes
themes     quantitized themes: participant x code matrix, frequencies, co-occurrence
text       NLTK text tools without downloads: tokenising, KWIC, distinctive terms, suggestions
quotes     exemplar quotes, redacted and attributed, with content notes
commands   the functions behind ``spanalysis qual import|export`` and ``spanalysis agreement``
"""
from __future__ import annotations

from spanalysis.privacy.redact import read_names, redact
from spanalysis.qual.agreement import (
    coding_agreement,
    cohen_kappa,
    krippendorff_alpha,
    percent_agreement,
)
from spanalysis.qual.codebook import (
    read_codebook,
    read_qdc,
    validate_codebook,
    write_codebook,
    write_qdc,
)
from spanalysis.qual.refi import read_qdpx, write_qdpx
from spanalysis.qual.segments import read_segments, read_sources
from spanalysis.qual.themes import (
    code_cooccurrence,
    code_frequencies,
    cooccurrence_heatmap,
    participant_code_matrix,
)

__all__ = ["read_codebook", "write_codebook", "validate_codebook", "read_qdc", "write_qdc",
           "read_sources", "read_segments", "read_qdpx", "write_qdpx", "krippendorff_alpha",
           "cohen_kappa", "percent_agreement", "coding_agreement", "redact", "read_names",
           "participant_code_matrix", "code_frequencies", "code_cooccurrence",
           "cooccurrence_heatmap"]
