"""Privacy: statistical disclosure control of small counts, redaction of identifiers from
quotes, and the NHS number check both use. A leaf: it imports nothing of spanalysis but
:mod:`spanalysis.errors`.

Modules
-------
disclosure   small-count suppression (primary and complementary) for tables, series and HTML;
             protect_counts returns what is shown, why, and any cell left unprotected
redact       removing names, NHS numbers, phone numbers, emails, postcodes and dates from text
identifiers  the NHS number check digit (Modulus 11)
scan         finding small counts that escaped in rendered HTML (re-exported by disclosure)
"""
from __future__ import annotations

from spanalysis.privacy.disclosure import (
    COMPLEMENTARY_MARKER,
    NOT_APPLICABLE_MARKER,
    DisclosureWarning,
    Suppression,
    count_table_html,
    percent_with_suppression,
    primary_marker,
    protect_counts,
    scan_html_for_small_counts,
    suppress_counts,
    suppress_series,
    suppression_pattern,
    withhold_small_groups,
)
from spanalysis.privacy.identifiers import is_nhs_number, looks_like_nhs_number, nhs_check_digit
from spanalysis.privacy.redact import PLACEHOLDERS, REDACTION_KINDS, read_names, redact

__all__ = ["DisclosureWarning", "COMPLEMENTARY_MARKER", "NOT_APPLICABLE_MARKER", "primary_marker",
           "Suppression", "protect_counts", "suppression_pattern", "suppress_counts",
           "suppress_series", "percent_with_suppression", "withhold_small_groups",
           "count_table_html", "scan_html_for_small_counts", "redact", "read_names",
           "REDACTION_KINDS", "PLACEHOLDERS", "nhs_check_digit", "is_nhs_number",
           "looks_like_nhs_number"]
