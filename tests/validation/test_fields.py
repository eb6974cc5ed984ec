"""Shared field validators (inputs.md, common field rules): every valid and invalid path."""

from __future__ import annotations

import random
from datetime import date

import pytest

from hub.validation import (
    BAD_COMMUNE,
    BAD_DATE,
    BAD_SIRET,
    BAD_UAI,
    BAD_VALUE,
    MISSING_FIELD,
    FieldError,
    check_commune,
    check_departement,
    check_enum,
    check_month,
    check_non_negative_int,
    check_siret,
    check_uai,
    departement_of,
    parse_date,
    require,
    uai_check_letter,
)


def fails(code: str, fn, *args, **kwargs) -> FieldError:
    with pytest.raises(FieldError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


def test_field_error_is_a_value_error_with_code_and_detail():
    e = FieldError(BAD_UAI, "UAI 'x' invalide")
    assert isinstance(e, ValueError)
    assert (e.code, e.detail) == (BAD_UAI, "UAI 'x' invalide")
    assert str(e) == "BAD_UAI: UAI 'x' invalide"


# --- require ---------------------------------------------------------------------------

def test_require_strips():
    assert require("  Dupont ") == "Dupont"


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_require_empty_is_missing(raw):
    fails(MISSING_FIELD, require, raw)


# --- dates -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14/02/2009", date(2009, 2, 14)),
        ("2009-02-14", date(2009, 2, 14)),
        ("  2009-02-14 ", date(2009, 2, 14)),
        (" 01/01/2026\n", date(2026, 1, 1)),
        ("31/12/1999", date(1999, 12, 31)),
        ("29/02/2024", date(2024, 2, 29)),  # leap year
        ("2000-02-29", date(2000, 2, 29)),  # divisible by 400: leap
        ("1900-01-01", date(1900, 1, 1)),  # the plausible years: 1900–2100
        ("31/12/2100", date(2100, 12, 31)),
    ],
)
def test_parse_date_valid(raw, expected):
    assert parse_date(raw) == expected


def test_parse_date_passes_a_date_through():
    assert parse_date(date(2026, 2, 3)) == date(2026, 2, 3)


@pytest.mark.parametrize(
    "raw",
    [
        "29/02/2023",  # common year
        "2025-02-29",
        "29/02/1900",  # divisible by 100, not 400: common
        "31/04/2026",
        "32/01/2026",
        "00/01/2026",
        "01/00/2026",
        "01/13/2026",
        "0000-01-01",  # no year 0
        "0001-01-01",  # a typing error: would become a file's as-of, then a watermark
        "31/12/9999",
        "31/12/1899",
        "2101-01-01",
        "2026/02/03",
        "03-02-2026",
        "3/2/2026",  # two digits each, strictly
        "2026-2-3",
        "20260203",
        "14/02/09",
        "14/02/2009 10:00",
        "2009-02-14T00:00",
        "le 14/02/2009",
        "١٤/٠٢/٢٠٠٩",  # non-ASCII digits
        "aa/bb/cccc",
    ],
)
def test_parse_date_invalid(raw):
    fails(BAD_DATE, parse_date, raw)


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_parse_date_empty_is_missing(raw):
    fails(MISSING_FIELD, parse_date, raw)


# --- UAI -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("digits", "letter"),
    [("0000000", "A"), ("0000007", "H"), ("0000008", "J"), ("0000013", "P"), ("0000014", "R"),
     ("0000022", "Z"), ("0000023", "A"), ("0350760", "L"), ("0860012", "W")],
)
def test_uai_check_letter_skips_i_o_q(digits, letter):
    assert uai_check_letter(digits) == letter


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0350760L", "0350760L"), ("0860012W", "0860012W"), ("0350760l", "0350760L"), (" 0860012w ", "0860012W")],
)
def test_check_uai_valid(raw, expected):
    assert check_uai(raw) == expected


def test_spec_example_uais_are_valid():
    # inputs.md cites 0350760L and uses 0860012W in the SIECLE and CTI examples.
    assert check_uai("0350760L") and check_uai("0860012W")


@pytest.mark.parametrize(
    "raw",
    ["0350760M", "0860012V", "0350760I", "0350760O", "0350760Q", "035076L", "03507600L", "0350760",
     "035O760L", "0350760LL", "L0350760", "0350 760L", "0350760-", "٠٣٥٠٧٦٠L"],
)
def test_check_uai_invalid(raw):
    fails(BAD_UAI, check_uai, raw)


def test_check_uai_detail_gives_the_expected_letter():
    assert "lettre de contrôle L attendue" in fails(BAD_UAI, check_uai, "0350760M").detail


def test_check_uai_empty_is_missing():
    fails(MISSING_FIELD, check_uai, " ")


# --- commune INSEE ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [("86194", "86194"), (" 86194 ", "86194"), ("2A004", "2A004"), ("2a004", "2A004"),
     ("2B033", "2B033"), ("97411", "97411"), ("01053", "01053")],
)
def test_check_commune_valid(raw, expected):
    assert check_commune(raw) == expected
    assert check_commune(raw, optional=True) == expected


@pytest.mark.parametrize("raw", ["8619", "861940", "2C004", "A2004", "2A0B4", "86 194", "8619A", "abcde", "٨٦١٩٤"])
def test_check_commune_invalid(raw):
    fails(BAD_COMMUNE, check_commune, raw)
    fails(BAD_COMMUNE, check_commune, raw, optional=True)


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_check_commune_empty(raw):
    assert check_commune(raw, optional=True) is None
    fails(MISSING_FIELD, check_commune, raw)


@pytest.mark.parametrize(
    ("commune", "dep"),
    [("86194", "86"), ("16015", "16"), ("01053", "01"), ("2A004", "2A"), ("2b033", "2B"),
     ("97411", "974"), ("97101", "971"), ("97611", "976"), ("95127", "95")],
)
def test_departement_of(commune, dep):
    assert departement_of(commune) == dep


@pytest.mark.parametrize("raw", ["8619", "2C004", ""])
def test_departement_of_refuses_a_non_commune(raw):
    with pytest.raises(FieldError):
        departement_of(raw)


@pytest.mark.parametrize(("raw", "expected"), [("86", "86"), ("2a", "2A"), ("2B", "2B"), ("974", "974"), (" 01 ", "01")])
def test_check_departement_valid(raw, expected):
    assert check_departement(raw) == expected


@pytest.mark.parametrize("raw", ["97", "8", "860", "2C", "9741", "A1", "2A0"])
def test_check_departement_invalid(raw):
    # "97" alone: overseas communes have a three-digit département, so it would match none.
    fails(BAD_VALUE, check_departement, raw)


# --- SIRET -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [("73282932000074", "73282932000074"), ("732 829 320 00074", "73282932000074"),
     (" 44306184100047 ", "44306184100047"), ("00000000000000", "00000000000000"),
     ("99999999999993", "99999999999993")],  # every doubled 9 gives 18 → 9
)
def test_check_siret_valid(raw, expected):
    assert check_siret(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["73282932000075", "73282932000047", "37282932000074",  # one digit off; two swaps
     "7328293200007", "732829320000740", "7328293200007A", "73282932-00074", "99999999999999"],
)
def test_check_siret_invalid(raw):
    fails(BAD_SIRET, check_siret, raw)


def test_check_siret_luhn_accepts_exactly_one_last_digit():
    rng = random.Random(42)
    for _ in range(200):
        prefix = "".join(rng.choice("0123456789") for _ in range(13))
        valid = []
        for last in "0123456789":
            try:
                valid.append(check_siret(prefix + last))
            except FieldError:
                pass
        assert len(valid) == 1, prefix


def test_check_siret_empty_is_missing():
    fails(MISSING_FIELD, check_siret, "   ")


# --- enumerations ----------------------------------------------------------------------

ALLOWED = ("CEJ", "PACEA", "AUTRE")


@pytest.mark.parametrize(("raw", "expected"), [("CEJ", "CEJ"), ("cej", "CEJ"), (" Pacea ", "PACEA")])
def test_check_enum_valid(raw, expected):
    assert check_enum(raw, ALLOWED) == expected


@pytest.mark.parametrize("raw", ["CEJX", "C E J", "autres", "0"])
def test_check_enum_invalid(raw):
    e = fails(BAD_VALUE, check_enum, raw, ALLOWED)
    assert "CEJ, PACEA, AUTRE" in e.detail
    fails(BAD_VALUE, check_enum, raw, ALLOWED, optional=True)


def test_check_enum_empty():
    assert check_enum("", ALLOWED, optional=True) is None
    assert check_enum(None, ALLOWED, optional=True) is None
    fails(MISSING_FIELD, check_enum, " ", ALLOWED)


def test_check_enum_accepts_any_iterable():
    assert check_enum("o", iter(["O", "N"])) == "O"


# --- integers and months ---------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("12", 12), (" 7 ", 7), ("007", 7), (5, 5), (0, 0),
                                                   ("2147483647", 2**31 - 1), ("0002147483647", 2**31 - 1)])
def test_check_non_negative_int_valid(raw, expected):
    assert check_non_negative_int(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "+3", "1.5", "1e3", "abc", "1 000", "٣", -1, True,
                                 "2147483648", "99999999999", "9" * 5000, 2**31])
def test_check_non_negative_int_invalid(raw):
    fails(BAD_VALUE, check_non_negative_int, raw)


def test_check_non_negative_int_empty_is_missing():
    fails(MISSING_FIELD, check_non_negative_int, "")


@pytest.mark.parametrize(("raw", "expected"), [("2026-02", (2026, 2)), (" 2025-12 ", (2025, 12)), ("2026-01", (2026, 1)),
                                                   ("1900-01", (1900, 1)), ("2100-12", (2100, 12))])  # the years 1900–2100
def test_check_month_valid(raw, expected):
    assert check_month(raw) == expected


@pytest.mark.parametrize("raw", ["2026-13", "2026-00", "2026-2", "202602", "02/2026", "2026-02-01", "0000-01", "26-02",
                                 "1899-12", "2101-01", "9999-12"])  # outside 1900–2100, as dates
def test_check_month_invalid(raw):
    fails(BAD_VALUE, check_month, raw)


def test_check_month_empty_is_missing():
    fails(MISSING_FIELD, check_month, None)
