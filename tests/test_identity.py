"""rules.md §1: the name key (NFKD, accents removed, upper case, hyphens/apostrophes/dots
→ space, spaces collapsed, trimmed) and the INE formats of inputs.md."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import date

import pytest

from hub.identity import name_key, name_key_digest, normalize_ine, normalize_name, normalize_name_nfkd, person_key


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Élodie", "ELODIE"),  # the spec's examples
        ("Jean-Pierre", "JEAN PIERRE"),
        ("D'Almeida", "D ALMEIDA"),
        ("  jean   pierre\t", "JEAN PIERRE"),
        ("St. Jean", "ST JEAN"),
        ("Groß", "GROSS"),
        ("Ｄｕｐｏｎｔ", "DUPONT"),  # full-width letters (NFKD)
        # hyphens and apostrophes as keyboards and word processors write them
        ("Jean\u2010Pierre", "JEAN PIERRE"),  # hyphen
        ("Jean\u2011Pierre", "JEAN PIERRE"),  # non-breaking hyphen
        ("Jean\u2013Pierre", "JEAN PIERRE"),  # en dash
        ("Jean\u2014Pierre", "JEAN PIERRE"),  # em dash
        ("D\u2019Almeida", "D ALMEIDA"),  # typographic apostrophe
        ("D\u2018Almeida", "D ALMEIDA"),
        ("D\u02bcAlmeida", "D ALMEIDA"),  # modifier letter apostrophe
        ("D`Almeida", "D ALMEIDA"),
        ("D\u00a0Almeida", "D ALMEIDA"),  # no-break space
        ("Jean\u2212Pierre", "JEAN PIERRE"),  # minus sign
        ("D\u2032Almeida", "D ALMEIDA"),  # prime, typed for an apostrophe
        ("Jean\u00adPierre", "JEAN PIERRE"),  # soft hyphen (a word processor's)
        ("D\u02bbAlmeida", "D ALMEIDA"),  # modifier letters typed for an apostrophe: ʻ ʽ ʹ
        ("D\u02bdAlmeida", "D ALMEIDA"),
        ("D\u02b9Almeida", "D ALMEIDA"),
        ("Jean\ufe63Pierre", "JEAN PIERRE"),  # small hyphen-minus (NFKD: "-")
    ],
)
def test_normalize_name(raw, normal):
    assert normalize_name(raw) == normal


def test_name_key_is_equal_for_spellings_of_one_name():
    born = date(2009, 2, 14)
    assert name_key("D'Almeida", "Jean-Pierre", born) == name_key("d’ALMEIDA ", "jean\u2011pierre", born)
    assert name_key("Dupont", "Élodie", born) != name_key("Dupont", "Élodie", date(2009, 2, 15))
    assert name_key("Dupont", "Élodie", born) != name_key("Dupond", "Élodie", born)


@pytest.mark.parametrize(
    ("raw", "ine"),
    [
        ("123456789AB", "123456789AB"),  # RNIE
        ("1234567890A", "1234567890A"),  # BEA
        ("2023A12345B", "2023A12345B"),  # apprentice
        (" 123 456 789 ab ", "123456789AB"),  # spaces removed, upper-cased
        ("12345678AB", None),
        ("123456789A1", None),
        ("12345678901", None),  # eleven digits: no format ends with a digit
        ("1234567890a", "1234567890A"),
        ("2023B12345B", None),
        ("123456789ß", None),  # "ß".upper() == "SS": not an INE as written
        ("１２３４５６７８９AB", None),  # full-width digits
        ("", None),
        (None, None),
    ],
)
def test_normalize_ine(raw, ine):
    assert normalize_ine(raw) == ine


def test_name_folding_is_the_nfkd_reading_of_rules_md():
    """The per-character fold gives exactly rules.md's NFKD normalisation."""
    for code in list(range(0x20, 0x3000)) + [0x1D400, 0x1F600, 0xFB01, 0x1E9E]:
        c = chr(code)
        assert normalize_name(c) == normalize_name_nfkd(c), hex(code)
    rng = random.Random(3)
    pool = [chr(c) for c in range(0x20, 0x800)] + ["\u0301", "\u0327", "ǰ", "ﬁ", "ß", "Å", " ", "-", "'", "’", "."]
    for _ in range(20_000):
        s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 10)))
        assert normalize_name(s) == normalize_name_nfkd(s), repr(s)


def test_name_key_digest_is_the_hmac_of_the_name_key():
    born = date(2008, 2, 14)
    expected = "n-" + hmac.new(b"s3cret", "DUPONT|ELODIE|2008-02-14".encode(), hashlib.sha256).hexdigest()[:32]
    for _ in range(2):  # computed, then memoised
        assert name_key_digest("Dupont", "Élodie", born, "s3cret") == expected
        assert person_key(None, "dupont", "ELODIE", born, "s3cret") == expected
    assert name_key_digest("Dupont", "Élodie", born, "other") != expected
    assert person_key("123456789AB", "Dupont", "Élodie", born, "s3cret") == "123456789AB"
