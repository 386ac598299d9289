"""Redaction of names and identifiers from quotes."""
from __future__ import annotations

from pathlib import Path

import pytest

from spanalysis.privacy.redact import PLACEHOLDERS, read_names, redact

FIXTURES = Path(__file__).parent / "fixtures" / "qual"

# NHS number check digit (NHS Data Dictionary, modulus 11, weights 10..2):
# 943 476 591 -> 9x10 + 4x9 + 3x8 + 4x7 + 7x6 + 6x5 + 5x4 + 9x3 + 1x2
#              = 90 + 36 + 24 + 28 + 42 + 30 + 20 + 27 + 2 = 299; 299 mod 11 = 2;
#              11 - 2 = 9  -> 943 476 5919 is valid, 943 476 5918 is not.
VALID_NHS = "943 476 5919"
WRONG_CHECK = "943 476 5918"


def kinds(text, **kw):
    return [k for k, *_ in redact(text, **kw)[1]]


@pytest.mark.parametrize("text, kind, original", [
    ("Write to mary.jones@example.org today", "email", "mary.jones@example.org"),
    ("My NHS number is 943 476 5919.", "nhs_number", "943 476 5919"),
    ("My NHS number is 9434765919.", "nhs_number", "9434765919"),
    ("Ring me on 07700 900123 please", "phone", "07700 900123"),
    ("Ring me on 07700-900-123 please", "phone", "07700-900-123"),
    ("Ring me on +44 7700 900123 please", "phone", "+44 7700 900123"),
    ("Ring me on +44 (0)20 7946 0018 please", "phone", "+44 (0)20 7946 0018"),
    ("Surgery: 0117 496 0123.", "phone", "0117 496 0123"),
    ("Surgery: (01225) 496123.", "phone", "(01225) 496123"),
    ("Call 0303 123 4567 now", "phone", "0303 123 4567"),
    ("She lives at BA1 1AA now", "postcode", "BA1 1AA"),
    ("office in sw1a 2aa, London", "postcode", "sw1a 2aa"),
    ("Near M1 1AE.", "postcode", "M1 1AE"),
    ("I was born on 12/03/1956 in Leeds", "date_of_birth", "12/03/1956"),
    ("DOB: 3 March 1956", "date_of_birth", "3 March 1956"),
    ("date of birth 1956-03-12", "date_of_birth", "1956-03-12"),
    ("I was born in 1956, a cold year", "date_of_birth", "1956"),
    ("born in March 1956", "date_of_birth", "March 1956"),
    ("We met on 4th of May 2023 at the hub", "date", "4th of May 2023"),
    ("We met on May 4, 2023 at the hub", "date", "May 4, 2023"),
    ("Dr Patel said so", "name", "Patel"),
    ("I saw Mrs. Jane Smith there", "name", "Jane Smith"),
])
def test_each_identifier_kind(text, kind, original):
    out, found = redact(text)
    assert [(k, o) for k, _, _, o in found] == [(kind, original)]
    assert original not in out
    k, start, end, o = found[0]
    assert text[start:end] == o  # offsets refer to the original text


def test_placeholders_and_titles_kept():
    out, _ = redact("Dr Patel rang Mary on 07700 900123", names=["Mary"])
    assert out == "Dr [NAME] rang [NAME] on [PHONE]"
    out, _ = redact("Dr Patel rang Mary", names=["Mary"], placeholder_style="[REDACTED]")
    assert out == "Dr [REDACTED] rang [REDACTED]"
    out, _ = redact("Mary: BA1 1AA", names=["Mary"], placeholder_style={"postcode": "***"})
    assert out == "[NAME]: ***"


def test_names_from_list_whole_words_case_insensitive_possessive():
    names = ["Mary Jones", "Sam", "Patel"]
    out, found = redact("MARY JONES said sam's dog met  Mary\nJones; Samuel and Sampson "
                        "stayed. Patel' s? James' car; Patels are many.", names=names)
    assert out.startswith("[NAME] said [NAME]'s dog met  [NAME]; Samuel and Sampson")
    assert "Patels" in out  # not inside a longer word
    assert [o for *_, o in found][:3] == ["MARY JONES", "sam", "Mary\nJones"]
    # possessive with a curly apostrophe, and the plain "James'" form
    assert redact("Sam\u2019s idea", names=["Sam"])[0] == "[NAME]\u2019s idea"
    assert redact("James' car", names=["James"])[0] == "[NAME]' car"


def test_nhs_number_with_wrong_check_digit_is_not_an_nhs_number():
    assert kinds("number " + VALID_NHS) == ["nhs_number"]
    assert "nhs_number" not in kinds("number " + WRONG_CHECK)
    assert redact("number " + WRONG_CHECK)[0] == "number " + WRONG_CHECK
    # a check digit of 10 means no valid number exists: 400 000 001 ->
    # 4x10 + 0 + ... + 1x2 = 42; 42 mod 11 = 9; 11 - 9 = 2 -> "4000000012" valid,
    # "4000000013" not
    assert kinds("4000000012") == ["nhs_number"]
    assert kinds("4000000013") == []


def test_ordinary_words_survive():
    text = ("Mark my words, I will go to Bath. Hope is what she gave me. "
            "Will you come? May I? Grace before meals. Miss the bus, dr. who knows. "
            "Page 12 of 300 pages, 3 of 10 people, year 2019, 10/2019, call at 10:30.")
    out, found = redact(text, names=["Mary"])
    assert out == text, found


def test_email_wins_over_name_inside_it():
    out, found = redact("mail mary@example.com", names=["Mary"])
    assert out == "mail [EMAIL]"
    assert [k for k, *_ in found] == ["email"]


def test_read_names_fixture():
    assert read_names(FIXTURES / "names.txt") == ["Mary Jones", "Patel"]


def test_two_titled_names_in_a_row_are_both_redacted():
    # found by the property test: the second title was taken as the first name's surname
    out, _ = redact("Mrs Patel Mrs Patel I I I.")
    assert "Patel" not in out and out.count("Mrs [NAME]") == 2


# --------------------------------------------------------------------------- issue 19: 14
# Text is matched after Unicode normalisation (NFKC-style compatibility forms, invisible
# formatting characters such as the soft hyphen U+00AD and the zero-width space U+200B
# removed, accents folded), but the output keeps the original text outside the redacted spans.
NBSP, NNBSP, SHY, ZWSP, ZWJ = "\u00a0", "\u202f", "\u00ad", "\u200b", "\u200d"


@pytest.mark.parametrize("ident, kind", [
    ("943.476.5919", "nhs_number"),
    (f"943{NBSP}476{NBSP}5919", "nhs_number"),
    (f"943{NNBSP}476{NNBSP}5919", "nhs_number"),
    ("07700.900.123", "phone"),
    ("0117.496.0123", "phone"),
    ("+44.7700.900123", "phone"),
    ("(01225) 496.123", "phone"),
    (f"07700{NBSP}900123", "phone"),
    ("BA1  1AA", "postcode"),
    (f"BA1{NBSP}1AA", "postcode"),
    (f"SW1A{NNBSP}2AA", "postcode"),
    ("o'brien@example.com", "email"),
    ("josé.garcía@example.com", "email"),
    ("bounce=mary@example.com", "email"),
    ("m~jones@example.com", "email"),
    ("mary@exämple.com", "email"),
    ("mary\uff20example.com", "email"),  # a full-width @ (NFKC: @)
])
def test_identifiers_written_with_unusual_characters_are_removed_whole(ident, kind):
    text = f"Before “{ident}”, after…"
    out, found = redact(text)
    assert out == f"Before “{PLACEHOLDERS[kind]}”, after…"
    assert [(k, o) for k, _, _, o in found] == [(kind, ident)]
    _, start, end, _ = found[0]
    assert text[start:end] == ident  # offsets refer to the original text
    assert not any(ch.isdigit() for ch in out)


@pytest.mark.parametrize("listed, written", [
    ("Chloé", "Chloe"), ("Chloe", "Chloé"), ("Chloé", "Chloe\u0301"),  # decomposed é
    ("Zoë", "ZOE"), ("Sinéad", "Sinead"), ("Mary Jones", f"Mary{NBSP}Jones"),
    ("Mary", f"Ma{SHY}ry"), ("Mary", f"Ma{ZWSP}ry"), ("Mary", f"M{ZWJ}ar{SHY}y"),
    ("Mary", "\uff2d\uff41\uff52\uff59"),  # full-width letters (NFKC: Mary)
    ("Mar\u00ady", "Mary"),  # a soft hyphen in the list, too
])
def test_listed_names_match_accents_and_invisible_characters(listed, written):
    text = f"Olá, I told {written}’s café: naïve “{written}”!"
    out, found = redact(text, names=[listed])
    assert out == "Olá, I told [NAME]’s café: naïve “[NAME]”!"
    assert [o for *_, o in found] == [written, written]
    assert all(text[a:b] == o for _, a, b, o in found)


def test_invisible_characters_at_the_edges_stay_outside_the_span():
    text = f"{ZWSP}Mary{SHY} and 07700{SHY}900123{ZWSP}."
    out, found = redact(text, names=["Mary"])
    assert out == f"{ZWSP}[NAME]{SHY} and [PHONE]{ZWSP}."
    assert [o for *_, o in found] == ["Mary", f"07700{SHY}900123"]


def test_titles_before_accented_or_hidden_character_names():
    text = f"Dr Sinéad Doyle and Mrs Pa{SHY}tel came; DR ÉMILE rang"
    out, found = redact(text)
    assert out == "Dr [NAME] and Mrs [NAME] came; DR [NAME] rang"
    assert [o for *_, o in found] == ["Sinéad Doyle", f"Pa{SHY}tel", "ÉMILE"]


def test_normalising_does_not_join_or_split_words():
    # a zero-width space inside a longer word does not make a listed name of its start
    text = f"Sam{ZWSP}uel and Samuel stayed; ﬁne words, ½ of them"
    out, found = redact(text, names=["Sam"])
    assert out == text and found == []
