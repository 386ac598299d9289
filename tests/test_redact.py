"""Redaction of names and identifiers from quotes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from spanalysis.privacy.redact import PLACEHOLDERS, REDACTION_KINDS, read_names, redact

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


# --------------------------------------------------------------------------- issue 19: 29
# Every identifier format the module docstring documents, each in a sentence: the output must
# be the sentence with exactly that identifier replaced by its placeholder, so its digits and
# letters are gone and nothing around it changed (a marker alone is not enough).
DOCUMENTED_FORMATS = [
    # email: local@domain.tld
    ("email", "Write to mary.jones@example.org today.", "mary.jones@example.org"),
    ("email", "Write to first.last+tag@mail.example.co.uk today.",
     "first.last+tag@mail.example.co.uk"),
    ("email", "Write to MARY_1958@EXAMPLE.COM today.", "MARY_1958@EXAMPLE.COM"),
    ("email", "Write to o'brien@example.com today.", "o'brien@example.com"),
    # NHS number: ten digits together or 3-3-4 with spaces, dashes or dots
    ("nhs_number", "My NHS number is 9434765919, yes.", "9434765919"),
    ("nhs_number", "My NHS number is 943 476 5919, yes.", "943 476 5919"),
    ("nhs_number", "My NHS number is 943-476-5919, yes.", "943-476-5919"),
    ("nhs_number", "My NHS number is 943.476.5919, yes.", "943.476.5919"),
    ("nhs_number", "My NHS number is 4000000012, yes.", "4000000012"),
    # phone: 01/02/03 landlines of 10 or 11 digits, 07 mobiles of 11 digits
    ("phone", "Ring 01225 496123 today.", "01225 496123"),
    ("phone", "Ring 016977 2345 today.", "016977 2345"),  # a 10-digit 01 number
    ("phone", "Ring 0117 496 0123 today.", "0117 496 0123"),
    ("phone", "Ring 020 7946 0018 today.", "020 7946 0018"),
    ("phone", "Ring 0303 123 4567 today.", "0303 123 4567"),
    ("phone", "Ring 07700900123 today.", "07700900123"),
    ("phone", "Ring 07700 900123 today.", "07700 900123"),
    ("phone", "Ring 07700-900-123 today.", "07700-900-123"),
    ("phone", "Ring 07700.900.123 today.", "07700.900.123"),
    # ... international +44 or 0044 with an optional (0)
    ("phone", "Ring +447700900123 today.", "+447700900123"),
    ("phone", "Ring +44 7700 900123 today.", "+44 7700 900123"),
    ("phone", "Ring 0044 7700 900123 today.", "0044 7700 900123"),
    ("phone", "Ring +44 (0)20 7946 0018 today.", "+44 (0)20 7946 0018"),
    ("phone", "Ring +44 (0)7700 900123 today.", "+44 (0)7700 900123"),
    # ... an area code in brackets
    ("phone", "Ring (01225) 496123 today.", "(01225) 496123"),
    ("phone", "Ring (0117) 496 0123 today.", "(0117) 496 0123"),
    ("phone", "Ring (020) 7946 0018 today.", "(020) 7946 0018"),
    # postcode: every Royal Mail format (A9, A99, A9A, AA9, AA99, AA9A outward codes), the
    # space optional (one or two), any case, and GIR 0AA
    ("postcode", "I live at M1 1AE now.", "M1 1AE"),
    ("postcode", "I live at M60 1NW now.", "M60 1NW"),
    ("postcode", "I live at W1A 0AX now.", "W1A 0AX"),
    ("postcode", "I live at CR2 6XH now.", "CR2 6XH"),
    ("postcode", "I live at DN55 1PT now.", "DN55 1PT"),
    ("postcode", "I live at EC1A 1BB now.", "EC1A 1BB"),
    ("postcode", "I live at BA11AA now.", "BA11AA"),
    ("postcode", "I live at BA1  1AA now.", "BA1  1AA"),
    ("postcode", "I live at sw1a 2aa now.", "sw1a 2aa"),
    ("postcode", "I live at GIR 0AA now.", "GIR 0AA"),
    # full dates, with no cue: date
    ("date", "We met on 12/03/1956 at the hub.", "12/03/1956"),
    ("date", "We met on 12-03-56 at the hub.", "12-03-56"),
    ("date", "We met on 12.03.1956 at the hub.", "12.03.1956"),
    ("date", "We met on 1956-03-12 at the hub.", "1956-03-12"),
    ("date", "We met on 12 March 1956 at the hub.", "12 March 1956"),
    ("date", "We met on 12th of March 1956 at the hub.", "12th of March 1956"),
    ("date", "We met on March 12, 1956 at the hub.", "March 12, 1956"),
    ("date", "We met on 3 Sept 2021 at the hub.", "3 Sept 2021"),
    # full dates after a cue: date_of_birth
    ("date_of_birth", "I was born on 12-03-56 in Leeds.", "12-03-56"),
    ("date_of_birth", "I was born on 12/03/1956 in Leeds.", "12/03/1956"),
    ("date_of_birth", "DOB 12.03.1956 on the form.", "12.03.1956"),
    ("date_of_birth", "D.O.B.: 1956-03-12 on the form.", "1956-03-12"),
    ("date_of_birth", "Date of birth is 12 March 1956 on the form.", "12 March 1956"),
    ("date_of_birth", "My birthday, it was 12th of March 1956, then.", "12th of March 1956"),
    ("date_of_birth", "She was born, she says, on March 12, 1956 in Hull.", "March 12, 1956"),
    # partial dates straight after a cue
    ("date_of_birth", "I was born in 1956, a cold year.", "1956"),
    ("date_of_birth", "I was born in March 1956, a cold year.", "March 1956"),
    ("date_of_birth", "DOB: 03/1956 on the form.", "03/1956"),
    ("date_of_birth", "Date of birth 1961 on the form.", "1961"),
    # names after a title (title kept), one or two capitalised words, any title form
    ("name", "I saw Mr Smith there.", "Smith"),
    ("name", "I saw Mrs. Jane Smith there.", "Jane Smith"),
    ("name", "I saw Ms Khan there.", "Khan"),
    ("name", "I saw Miss Brown there.", "Brown"),
    ("name", "I saw Mx Taylor there.", "Taylor"),
    ("name", "I saw DR PATEL there.", "PATEL"),
    ("name", "I saw Prof. O'Neill there.", "O'Neill"),
]


@pytest.mark.parametrize("kind, text, ident", DOCUMENTED_FORMATS)
def test_every_documented_format_is_removed(kind, text, ident):
    assert text.count(ident) == 1
    out, found = redact(text)
    assert out == text.replace(ident, PLACEHOLDERS[kind])
    assert [(k, o) for k, _, _, o in found] == [(kind, ident)]
    # the identifier's digits are gone: only the sentence's other digits remain
    assert re.sub(r"\D", "", out) == re.sub(r"\D", "", text.replace(ident, ""))


def test_every_documented_kind_has_formats_tested():
    assert {kind for kind, *_ in DOCUMENTED_FORMATS} == set(REDACTION_KINDS)


@pytest.mark.parametrize("text, listed, expected", [
    ("Mary came.", ["Mary"], "[NAME] came."),
    ("mary jones came.", ["Mary Jones"], "[NAME] came."),
    ("Mary  Jones came.", ["Mary Jones"], "[NAME] came."),
    ("Mary's dog and James' car.", ["Mary", "James"], "[NAME]'s dog and [NAME]' car."),
])
def test_listed_names_are_removed(text, listed, expected):
    out, _ = redact(text, names=listed)
    assert out == expected
    assert not any(part.lower() in out.lower() for n in listed for part in n.split())
