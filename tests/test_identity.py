"""rules.md §1: the name key (NFKD, accents removed, upper case, hyphens/apostrophes/dots
→ space, spaces collapsed, trimmed) and the INE formats of inputs.md."""

from __future__ import annotations

from datetime import date

import pytest

from hub.identity import name_key, normalize_ine, normalize_name


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
        ("2023B12345B", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_ine(raw, ine):
    assert normalize_ine(raw) == ine
