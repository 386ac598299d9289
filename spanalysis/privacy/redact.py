"""Removing names and identifiers from quotes before they are shown.

:func:`redact` finds identifiers with the rules below, resolves overlaps (the match that
starts first wins; at the same start the longer one), and replaces each with a placeholder.

Matching is done on a normalised copy of the text, so that the way a character was typed does
not let an identifier through: compatibility forms are replaced by their plain form (Unicode
NFKD: a non-breaking or narrow space becomes a space, full-width letters and digits become
ordinary ones, a non-breaking hyphen a hyphen), invisible formatting characters are removed
(Unicode category Cf: the soft hyphen U+00AD, zero-width spaces and joiners, the word joiner,
the byte-order mark, direction marks), and accents written as combining marks are dropped
("Chloé" -> "Chloe"; Unicode category Mn). Listed names are normalised the same way, so a
listed "Chloé" removes "Chloe" and "CHLOÉ", and a listed "Chloe" removes "Chloé". Matches are
mapped back to the original text: the redacted spans are cut from the original, and everything
outside them is kept exactly as written.

Rules
-----
name
    A name from the study's list (``names.txt``), as a whole word or phrase (not inside a
    longer word), case- and accent-insensitive, white space between the parts of a multi-word
    name may vary. Possessives are covered: in "Mary's" or "James'" the name is redacted and
    the ``'s`` kept ("[NAME]'s"). Longer names are tried first ("Mary Jones" before "Mary").
    Only listed names are removed: capitalised words that are not in the list ("Hope",
    "Bath", "Mark my words", a capital at the start of a sentence) are kept.
name (after a title)
    ``Mr``, ``Mrs``, ``Ms``, ``Miss``, ``Mx``, ``Dr`` or ``Prof`` (optionally with a full stop,
    title case or capitals) followed by one or two capitalised words: the words are redacted
    and the title kept ("Dr [NAME]"), since the role is useful and not identifying. A second
    word must have two or more letters so that "Dr Patel I think" keeps "I".
email
    ``local@domain.tld``, the whole address: the local part may hold letters (accented too),
    digits and ``. ! # $ % & ' * + / = ? ^ _ ` { | } ~ -`` (RFC 5322, section 3.2.3, "atext";
    an apostrophe not at its start or end, so "o'brien@example.com" is one address but the
    quotes of 'mary@example.com' are kept).
nhs_number
    Ten digits, written together or grouped 3-3-4 with spaces, dashes or dots (the same
    separator twice), whose tenth digit is the modulus 11 check digit of the first nine (NHS
    Data Dictionary, "NHS Number"; weights 10..2). A ten-digit number with a wrong check digit
    is *not* an NHS number (it may still be redacted as a phone number if it is one).
phone
    UK numbers: national ``01``, ``02``, ``03`` (landline, 10 or 11 digits) and ``07``
    (mobile, 11 digits); international ``+44`` or ``0044`` with an optional ``(0)``; digits
    may be grouped by single spaces, dashes or dots; an area code may be in brackets
    ("(01225) 123456", "(020) 7946 0018").
postcode
    A full UK postcode in the Royal Mail format (outward code, up to two spaces or tabs,
    inward code such as "BA1 1AA", "SW1A 2AA", "M1 1AE", "BA11AA"), any letter case. A bare
    outward code ("BA1") is a postal district and is kept.
date_of_birth, date
    Every *full* date (day, month and year) is redacted: ``12/03/1956``, ``12-03-56``,
    ``12.03.1956``, ``1956-03-12``, ``12 March 1956``, ``12th of March 1956``,
    ``March 12, 1956``. It is a ``date_of_birth`` when a cue ("born", "DOB", "D.O.B.",
    "date of birth", "birthday") comes within 40 characters before it, else a ``date``
    (a full date can identify a person when combined with other details). A partial date
    (month and year, or a year 1900-2099) is redacted only straight after a cue, as a
    ``date_of_birth`` ("born in 1956", "DOB: 03/1956").

Placeholders: with ``placeholder_style='[NAME]'`` (the default) each kind gets its own label:
``[NAME]``, ``[EMAIL]``, ``[PHONE]``, ``[NHS NUMBER]``, ``[POSTCODE]``, ``[DATE OF BIRTH]``,
``[DATE]``. Any other string is used for every kind (e.g. ``'[REDACTED]'``); a dict maps kinds
to placeholders (missing kinds use the default labels).

These rules are a safety net, not a guarantee: researchers still read quotes before they are
published.
"""
from __future__ import annotations

import os
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Iterable

import numpy as np

from spanalysis.errors import InputError
from spanalysis.privacy.identifiers import is_nhs_number

__all__ = ["redact", "read_names", "REDACTION_KINDS", "PLACEHOLDERS"]

PLACEHOLDERS = {"name": "[NAME]", "email": "[EMAIL]", "phone": "[PHONE]",
                "nhs_number": "[NHS NUMBER]", "postcode": "[POSTCODE]",
                "date_of_birth": "[DATE OF BIRTH]", "date": "[DATE]"}
REDACTION_KINDS = tuple(PLACEHOLDERS)

# The local part: RFC 5322 section 3.2.3 "atext" (letters, digits and these signs) and dots,
# with an apostrophe only inside it; the domain: labels of letters, digits and hyphens.
_ATEXT = r"\w!#$%&*+/=?^`{|}~.\-"
_LABEL = r"(?:[^\W_]|-)+"
_EMAIL = re.compile(r"(?<![" + _ATEXT + r"])[" + _ATEXT + r"](?:[" + _ATEXT + r"']*["
                    + _ATEXT + r"])?@" + _LABEL + r"(?:\." + _LABEL + r")*\.[^\W\d_]{2,}"
                    r"(?![\w-])")
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|MR|MRS|MS|MISS|MX|DR|PROF)"
# The second word of a name must not be another title ("Mrs Patel Mrs Patel" is two names).
_TITLE = re.compile(r"(?<![\w])" + _TITLES + r"\.?"
                    r"[ \t]+(?P<name>[A-Z][a-zA-Z'\u2019-]*[a-zA-Z]"
                    r"(?:[ \t]+(?!" + _TITLES + r"\b)[A-Z][a-zA-Z'\u2019-]*[a-zA-Z])?)")
_NHS = re.compile(r"(?<![\w+])(\d{3})([ .-]?)(\d{3})\2(\d{4})(?![\w])")
_SEP = r"[ .-]?"
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+44|0044)" + _SEP + r"(?:\(0\)[ ]?)?[1-37](?:" + _SEP + r"\d){8,9}"   # +44 7700 900123
    r"|\(0[1-3]\d{1,4}\)[ ]?\d{3,4}" + _SEP + r"\d{3,4}"               # (01225) 123456
    r"|0[1-37](?:" + _SEP + r"\d){8,9}"                                 # 07700 900123
    r")(?![\w])")
_POSTCODE = re.compile(
    r"(?<![\w])(?:GIR ?0AA|[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?"
    r"|[0-9][A-HJKPS-UW]|[A-HK-Y][0-9])[ \t]{0,2}[0-9][ABD-HJLNP-UW-Z]{2})(?![\w])",
    re.IGNORECASE)
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
           r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_FULL_DATE = re.compile(
    r"(?<![\w/.-])(?:"
    + _DAY + r"([/.-])(?:0?[1-9]|1[0-2])\1(?:\d{4}|\d{2})"                      # 12/03/1956
    + r"|(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"               # 1956-03-12
    + r"|" + _DAY + r"(?:st|nd|rd|th)?(?:[ ]+of)?[ ]+" + _MONTHS
    + r"\.?,?[ ]+\d{4}"                                                          # 12 March 1956
    + r"|" + _MONTHS + r"\.?[ ]+" + _DAY + r"(?:st|nd|rd|th)?,?[ ]+\d{4}"          # March 12, 1956
    + r")(?![\w/])", re.IGNORECASE)
_CUE = re.compile(r"\b(?:born|d\.?o\.?b\.?|date of birth|birthday)\b", re.IGNORECASE)
_PARTIAL_AFTER_CUE = re.compile(
    r"\b(?:born|d\.?o\.?b\.?|date of birth|birthday)\b[:\s]*(?:(?:in|on)\s+)?(?:the\s+)?"
    r"(?P<date>(?:" + _MONTHS + r"\.?,?\s+(?:19|20)\d{2}|(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}"
    r"|(?:19|20)\d{2}))(?![\w/])", re.IGNORECASE)
_CUE_WINDOW = 40
_PRIORITY = {"email": 0, "nhs_number": 1, "phone": 2, "postcode": 3, "date_of_birth": 4,
             "date": 5, "name": 6}


def _phone_valid(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if match.lstrip().startswith("+44") or match.startswith("0044"):
        digits = digits[4:] if digits.startswith("0044") else digits[2:]
        if digits.startswith("0"):  # the "(0)" written after +44
            digits = digits[1:]
        digits = "0" + digits
    if digits.startswith("07"):
        return len(digits) == 11
    return digits[:2] in ("01", "02", "03") and len(digits) in (10, 11)


@cache
def _fold_character(ch: str) -> str:
    """A character as it is matched: its compatibility decomposition (NFKD) without combining
    marks (Mn); invisible formatting characters (Cf) become nothing."""
    if unicodedata.category(ch) == "Cf":
        return ""
    plain = "".join(c for c in unicodedata.normalize("NFKD", ch)
                    if unicodedata.category(c) != "Mn")
    return plain.replace("\u2010", "-")  # NFKD turns the non-breaking hyphen into U+2010


def _matching_text(text: str) -> tuple[str, np.ndarray | None]:
    """The normalised copy of ``text`` that the rules are matched on, and for each of its
    characters the position of the original character it came from (``None``: the same
    text). Characters are folded one at a time, so every folded character comes from exactly
    one original character."""
    if text.isascii():
        return text, None
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    wide = np.unique(codes[codes > 127])
    folded = {int(c): _fold_character(chr(c)) for c in wide}
    lengths = np.ones(len(codes), dtype=np.int64)
    is_wide = codes > 127
    lengths[is_wide] = np.array([len(folded[int(c)]) for c in wide])[
        np.searchsorted(wide, codes[is_wide])]
    return text.translate(folded), np.repeat(np.arange(len(codes)), lengths)


def _name_pattern(names: Iterable[str]) -> re.Pattern | None:
    cleaned = sorted({" ".join(_matching_text(n)[0].split()) for n in names if n and n.strip()},
                     key=lambda n: (-len(n), n))
    cleaned = [n for n in cleaned if n]
    if not cleaned:
        return None
    parts = [r"\s+".join(map(re.escape, n.split(" "))) for n in cleaned]
    # (?<!\w) ... (?!\w): whole words only; a following "'s" is outside the name, so
    # possessives match and keep their "'s".
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _identifiers(text: str, names: Iterable[str]) -> list[tuple[int, int, str]]:
    """Every match of every rule in ``text`` (already normalised): (start, end, kind)."""
    found: list[tuple[int, int, str]] = []
    found += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    found += [(m.start(), m.end(), "nhs_number") for m in _NHS.finditer(text)
              if is_nhs_number(m.group(1) + m.group(3) + m.group(4))]
    found += [(m.start(), m.end(), "phone") for m in _PHONE.finditer(text)
              if _phone_valid(m.group(0))]
    found += [(m.start(), m.end(), "postcode") for m in _POSTCODE.finditer(text)]
    cues = np.array([m.end() for m in _CUE.finditer(text)], dtype=np.int64)
    for m in _FULL_DATE.finditer(text):
        near = ((cues <= m.start()) & (cues >= m.start() - _CUE_WINDOW)).any()
        found.append((m.start(), m.end(), "date_of_birth" if near else "date"))
    found += [(m.start("date"), m.end("date"), "date_of_birth")
              for m in _PARTIAL_AFTER_CUE.finditer(text)]
    found += [(m.start("name"), m.end("name"), "name") for m in _TITLE.finditer(text)]
    pattern = _name_pattern(names)
    if pattern is not None:
        found += [(m.start(), m.end(), "name") for m in pattern.finditer(text)]
    return found


def redact(text: str, names: Iterable[str] = (), placeholder_style: str | dict = "[NAME]"
           ) -> tuple[str, list[tuple[str, int, int, str]]]:
    """Remove names and identifiers from a piece of text.

    Parameters
    ----------
    text : str
        The text (e.g. a quote).
    names : iterable of str
        Personal names to remove (the study's ``names.txt``); case- and accent-insensitive
        whole words.
    placeholder_style : str or dict, default '[NAME]'
        ``'[NAME]'``: a label per kind (``[NAME]``, ``[EMAIL]``, ...); any other string:
        used for every kind; a dict: kind -> placeholder.

    Returns
    -------
    redacted_text : str
        The original text with each redacted span replaced by its placeholder; everything
        outside the spans is unchanged.
    redactions : list of (kind, start, end, original)
        What was removed, in text order; ``start``/``end`` are character offsets in the
        *original* text (end exclusive). Kinds: ``name``, ``email``, ``phone``,
        ``nhs_number``, ``postcode``, ``date_of_birth``, ``date``.

    Notes
    -----
    The rules, and how the text is normalised before they are matched, are documented in the
    module docstring. NHS numbers are checked with the modulus 11 algorithm (NHS Data
    Dictionary).

    Examples
    --------
    >>> redact("Mary said Dr Patel rang 07700 900123.", names=["Mary"])[0]
    '[NAME] said Dr [NAME] rang [PHONE].'
    >>> redact("I will keep hope; Mark my words.")[0]
    'I will keep hope; Mark my words.'
    >>> redact("Chloe\u00a0rang from BA1\u00a01AA.", names=["Chloé"])[0]
    '[NAME]\xa0rang from [POSTCODE].'
    """
    if not isinstance(text, str):
        raise InputError("redact() needs text", value=type(text).__name__, expected="str")
    if isinstance(names, str):
        names = [names]
    matched, origin = _matching_text(text)
    found = _identifiers(matched, names)
    found.sort(key=lambda f: (f[0], -(f[1] - f[0]), _PRIORITY[f[2]]))
    kept: list[tuple[str, int, int, str]] = []
    last_end = -1
    for start, end, kind in found:
        if start >= last_end:
            last_end = end
            if origin is not None:  # back to the original text
                start, end = int(origin[start]), int(origin[end - 1]) + 1
                start = max(start, kept[-1][2]) if kept else start
                while end < len(text) and unicodedata.category(text[end]) == "Mn":
                    end += 1  # accents written after the last letter belong to it
                if start >= end:
                    continue
            kept.append((kind, start, end, text[start:end]))

    labels = dict(PLACEHOLDERS)
    if isinstance(placeholder_style, dict):
        labels.update(placeholder_style)
    elif placeholder_style != "[NAME]":
        labels = {k: str(placeholder_style) for k in labels}
    pieces, pos = [], 0
    for kind, start, end, _ in kept:
        pieces += [text[pos:start], labels[kind]]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces), kept


def read_names(path: str | os.PathLike) -> list[str]:
    """Read ``names.txt``: one name per line (UTF-8, BOM allowed); blank lines and lines
    starting with ``#`` are ignored; surrounding white space is dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path.name, value=str(path),
                         expected="names.txt with one name per line")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError("not valid UTF-8", file=path.name, row=line,
                         value=data[exc.start:exc.start + 1], expected="UTF-8 text") from None
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
