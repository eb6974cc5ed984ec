"""The shared CSV reader: encodings, header rules, malformed lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import InputError

from connectors.core.csv import CP1252, UTF8, CsvFile, detect_encoding, split_line

COLS = ("a", "b", "c")


def read(path: Path, required=COLS):
    f = CsvFile(path, COLS, required)
    f.open()
    try:
        return list(f.records()), f
    finally:
        f.close()


def test_header_case_insensitive_order_free_extra_ignored(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text(" C ;Extra;A;b\n3;zz;1;2\n", encoding="utf-8")
    recs, _ = read(p)
    assert [r.row for r in recs] == [{"a": "1", "b": "2", "c": "3"}]
    assert recs[0].position == "line 2" and recs[0].ref == "x.csv:2" and recs[0].raw == "3;zz;1;2"


def test_utf8_with_bom_and_crlf(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbfa;b;c\r\n\xc3\x89lodie;2;3\r\n")
    recs, f = read(p)
    assert f.encoding == UTF8
    assert recs[0].row == {"a": "Élodie", "b": "2", "c": "3"}


def test_windows_1252_fallback(tmp_path):
    p = tmp_path / "w.csv"
    # é = E9, € = 80, ’ = 92 in Windows-1252; 81 is undefined there (kept as U+0081).
    p.write_bytes(b"a;b;c\n\xe9lodie;\x80\x92;x\x81\n")
    recs, f = read(p)
    assert f.encoding == CP1252
    assert recs[0].row == {"a": "élodie", "b": "€’", "c": "x\x81"}


def test_bom_on_a_file_that_is_not_utf8(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_bytes(b"\xef\xbb\xbfa;b;c\n\xe9;2;3\n")
    recs, f = read(p)
    assert f.encoding == CP1252 and recs[0].row == {"a": "é", "b": "2", "c": "3"}


def test_a_utf8_sequence_cut_at_the_end_of_the_file_is_not_utf8(tmp_path):
    p = tmp_path / "cut.csv"
    p.write_bytes(b"a;b;c\n1;2;\xc3")  # the first byte of a two-byte character, then the end
    recs, f = read(p)
    assert f.encoding == CP1252 and recs[0].row == {"a": "1", "b": "2", "c": "Ã"}


def test_utf8_decided_over_whole_file_across_chunks(tmp_path):
    p = tmp_path / "big.csv"
    line = "é" * 1000 + ";b;c\n"  # multi-byte characters straddle the 1 MiB chunk boundary
    p.write_text("a;b;c\n" + line * 1200, encoding="utf-8")
    assert detect_encoding(p) == UTF8
    with p.open("ab") as f:
        f.write(b"\xe9;b;c\n")  # one Latin-1 byte at the very end
    assert detect_encoding(p) == CP1252


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "vide"),
        (b"\n\n", "vide"),
        (b"a;b\n1;2\n", "colonnes obligatoires absentes: c"),
        (b"a,b,c\n1,2,3\n", "séparateur"),
        (b"a;b;c;A\n1;2;3;4\n", "en double"),
    ],
)
def test_file_level_errors(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read(p)


def test_optional_column_may_be_absent(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("a;b\n1;2\n", encoding="utf-8")
    recs, _ = read(p, required=("a", "b"))
    assert recs[0].row == {"a": "1", "b": "2"}


def test_unreadable_and_directory(tmp_path):
    with pytest.raises(InputError, match="illisible|introuvable"):
        read(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="dossier"):
        read(tmp_path)


def test_too_many_fields_rejected_line_only(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text('a;b;c\n1;2;3\n1;2;3;4\n"x;y";2;3\n1;2;3;;\n\n;;\n"bad;2;3\n7;8;9\n"q;";2;3;4\n',
                 encoding="utf-8")
    recs, _ = read(p)
    ok = [r.row for r in recs if r.error is None]
    bad = [(r.position, r.error.reason, r.row) for r in recs if r.error is not None]
    assert ok == [
        {"a": "1", "b": "2", "c": "3"},
        {"a": "x;y", "b": "2", "c": "3"},
        {"a": "1", "b": "2", "c": "3"},  # trailing empty fields tolerated
        {"a": "bad;2;3", "b": "", "c": ""},  # a stray quote swallows the line: one field, the others empty
        {"a": "7", "b": "8", "c": "9"},
    ]
    # blank line and all-empty line skipped; more fields than the header: that line only
    assert bad == [("line 3", "BAD_VALUE", None), ("line 10", "BAD_VALUE", None)]


def test_missing_trailing_fields_read_as_empty(tmp_path):
    """A line that leaves off its trailing empty fields (no final `;`) is not malformed:
    the fields it lacks read as empty, for the source's required-field checks to judge."""
    p = tmp_path / "t.csv"
    p.write_text("c;a;b\n3;1;2\n3;1\n3\n", encoding="utf-8")
    recs, _ = read(p)
    assert [(r.position, r.error, r.row) for r in recs] == [
        ("line 2", None, {"a": "1", "b": "2", "c": "3"}),
        ("line 3", None, {"a": "1", "b": "", "c": "3"}),
        ("line 4", None, {"a": "", "b": "", "c": "3"}),
    ]
    assert recs[1].raw == "3;1"  # the dead letter keeps the line as read


def test_split_line():
    assert split_line("a;b;c") == ["a", "b", "c"]
    assert split_line('"a;1";"b""q";c') == ["a;1", 'b"q', "c"]


# --- quoted fields spanning lines (RFC 4180; found by a black-box audit) -----------------

def rows_and_positions(path: Path) -> list[tuple]:
    recs, _ = read(path)
    return [(r.position, r.error.reason if r.error else None, r.row) for r in recs]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_quoted_field_spanning_lines_is_one_record(tmp_path, newline):
    """A comment column with line breaks, as an export with more columns than the source
    reads writes it: one record, at the line it starts on; the next keeps its own number."""
    p = tmp_path / "m.csv"
    p.write_bytes(newline.join([b"a;comment;b;c", b'1;"first line', b"second; line", b'third";2;3', b"4;x;5;6", b""]))
    assert rows_and_positions(p) == [
        ("line 2", None, {"a": "1", "b": "2", "c": "3"}),
        ("line 5", None, {"a": "4", "b": "5", "c": "6"}),
    ]
    recs, _ = read(p)
    assert recs[0].raw == '1;"first line\nsecond; line\nthird";2;3'  # the dead letter keeps it whole


def test_a_read_field_spanning_lines_keeps_its_line_breaks(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text('a;b;c\n"Dupont\nDurand";2;3\n7;8;9\n', encoding="utf-8")
    assert rows_and_positions(p) == [
        ("line 2", None, {"a": "Dupont\nDurand", "b": "2", "c": "3"}),
        ("line 4", None, {"a": "7", "b": "8", "c": "9"}),
    ]


def test_a_quote_never_closed_costs_its_line_only(tmp_path):
    """An opening quote no later line closes the RFC way — the quote of a later field
    followed by text, or no quote at all — is a stray quote: that line alone, as it
    always was, and every line after it is read as it is."""
    p = tmp_path / "s.csv"
    p.write_text('a;b;c\n"bad;2;3\n7;8;9\n"q";2;3\n1;"x";3\n', encoding="utf-8")
    assert rows_and_positions(p) == [
        ("line 2", None, {"a": "bad;2;3", "b": "", "c": ""}),
        ("line 3", None, {"a": "7", "b": "8", "c": "9"}),
        ("line 4", None, {"a": "q", "b": "2", "c": "3"}),
        ("line 5", None, {"a": "1", "b": "x", "c": "3"}),
    ]


def test_a_span_into_more_fields_than_the_header_is_no_record(tmp_path):
    """Closing the quote on a later line would make a record of more fields than the
    header (two broken lines, not one record): each line is read alone."""
    p = tmp_path / "w.csv"
    p.write_text('a;b;c\n1;"open\nclose";2;3;4\n5;6;7\n', encoding="utf-8")
    assert rows_and_positions(p) == [
        ("line 2", None, {"a": "1", "b": "open", "c": ""}),
        ("line 3", "BAD_VALUE", None),
        ("line 4", None, {"a": "5", "b": "6", "c": "7"}),
    ]


def test_a_quoted_field_spans_at_most_max_span_lines(tmp_path):
    from connectors.core.csv import MAX_SPAN

    p = tmp_path / "l.csv"
    body = ["x"] * MAX_SPAN  # the closing quote would be on line MAX_SPAN + 1 of the record
    p.write_text("\n".join(['a;b;c', '1;"start', *body[:-1], 'end";3', "7;8;9", ""]), encoding="utf-8")
    rows = rows_and_positions(p)
    assert rows[0] == ("line 2", None, {"a": "1", "b": "start", "c": ""})
    assert rows[-1] == (f"line {MAX_SPAN + 3}", None, {"a": "7", "b": "8", "c": "9"})
    assert len(rows) == MAX_SPAN + 2  # every line read alone
