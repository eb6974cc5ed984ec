"""Reading SIECLE `BEE_ELEVES` XML exports safely, in one pass and in constant memory.

- expat (pyexpat) driven directly, without building a tree: a DOCTYPE (hence any entity
  declaration: billion laughs, external entities, external DTD) refuses the file at its
  declaration, before anything outside the file could be read; parameter entities are
  never parsed and an external entity reference is refused too;
- the encoding is the one declared in the prolog (ISO-8859-15 in real exports, UTF-8…),
  decoded by expat / Python codecs;
- element order is free and unknown elements are ignored; an ELEVE (a child of an ELEVES
  element) and PARAMETRES (a child of the root) are read as {lower-case name: trimmed
  text} of their attributes and of the direct children the connector uses (first
  occurrence wins, a child over an attribute of the same name; nested structure ignored;
  other elements are skipped, the raw text of the element keeps them);
- a malformed or truncated file raises InputError.

One pass (`scan`) proves the file well-formed, reads PARAMETRES (which may come after
DONNEES) and, given a `Spill`, writes every pupil to a temporary file as it goes: the
publishing pass then reads the spill instead of parsing the XML a second time (the XML
parse is the costly part: ≈ 15 µs a pupil). The raw text of a pupil (for a dead letter)
is not kept: the spill holds its byte range, read back from the export when needed.
"""

from __future__ import annotations

import marshal
import os
import pyexpat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from hub.errors import InputError
from hub.validation import FieldError, check_uai, parse_date

ROOT = "BEE_ELEVES"
_CHUNK = 1 << 18


class _Forbidden(Exception):
    pass


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if "}" in tag else tag


def open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"{path.name}: fichier illisible ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------- spill


class Spill:
    """Pupils as read by the first pass, on disk: (n, fields, start, end) records in
    marshal frames of up to 2,000 (a temporary file of the batch: never trusted across
    runs, so marshal is fine)."""

    FRAME = 2000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: BinaryIO | None = open(path, "wb")  # noqa: SIM115 — closed in finish()
        self._buf: list[tuple] = []
        self.count = 0

    def add(self, record: tuple) -> None:
        self._buf.append(record)
        self.count += 1
        if len(self._buf) >= self.FRAME:
            self._frame()

    def _frame(self) -> None:
        assert self._f is not None
        data = marshal.dumps(self._buf)
        self._f.write(struct.pack("<I", len(data)))
        self._f.write(data)
        self._buf = []

    def finish(self) -> None:
        if self._f is not None:
            if self._buf:
                self._frame()
            self._f.close()
            self._f = None

    def __iter__(self) -> Iterator[tuple]:
        self.finish()
        with open(self.path, "rb") as f:
            while head := f.read(4):
                (size,) = struct.unpack("<I", head)
                yield from marshal.loads(f.read(size))

    def discard(self) -> None:
        self.finish()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def read_raw(path: Path, start: int, end: int, encoding: str) -> str:
    """The text of the element whose start tag begins at byte `start` and whose end tag
    begins at byte `end` (the same byte for an empty element)."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start + 256)
    except OSError:
        return ""
    close = data.find(b">", end - start)
    return data[: close + 1 if close >= 0 else len(data)].decode(encoding, "replace").strip()


# --------------------------------------------------------------------------- the pass


@dataclass(slots=True)
class ExportInfo:
    """What the pass learns about one export file."""

    path: Path
    name: str
    size: int
    uaj: str
    date_export: date | None
    eleves: int
    as_of: date | None = None  # effective: --as-of, else DATE_EXPORT
    encoding: str = "utf-8"
    spill: Spill | None = None


# The elements read (direct children), per collected element; keys are lower-cased as
# the validation reads them. Anything else is skipped without collecting its text.
ELEVE_ELEMENTS = ("ID_NATIONAL", "NOM_DE_FAMILLE", "NOM", "PRENOM", "DATE_NAISS", "CODE_COMMUNE_INSEE_RESIDENCE",
                  "DATE_ENTREE", "DATE_SORTIE", "CODE_MOTIF_SORTIE", "ELEVE_ID")
PARAMETRES_ELEMENTS = ("UAJ", "DATE_EXPORT")


class _Reader:
    """expat handlers. Outside a collected element: `_start_outer`/`_end_outer` track the
    structure; inside an ELEVE or PARAMETRES: `_start_inner`/`_end_inner`/`_data` read its
    attributes and the text of its direct children (ElementTree's `.text`: the text
    before a child's first sub-element, trimmed)."""

    def __init__(self, name: str, on_eleve: Callable[[dict[str, str], int, int], None]) -> None:
        self.name = name
        self.on_eleve = on_eleve
        p = self.parser = pyexpat.ParserCreate(namespace_separator="}")
        p.buffer_text = True
        p.buffer_size = 1 << 16
        p.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartDoctypeDeclHandler = self._forbid
        p.EntityDeclHandler = self._forbid
        p.ExternalEntityRefHandler = self._forbid
        p.XmlDeclHandler = self._xml_decl
        p.StartElementHandler = self._start_outer
        p.EndElementHandler = self._end_outer
        self.encoding = "utf-8"
        self.depth = 0
        self.eleves: list[int] = []  # depths of the open ELEVES elements
        self.seen_eleves = False
        self.params: dict[str, str] | None = None
        self._elements = {"ELEVE": frozenset(ELEVE_ELEMENTS), "PARAMETRES": frozenset(PARAMETRES_ELEMENTS)}
        self._wanted = {"ELEVE": self._names(ELEVE_ELEMENTS), "PARAMETRES": self._names(PARAMETRES_ELEMENTS)}
        # the element being collected
        self.kind = ""
        self.at = 0  # its depth
        self.child_at = 0  # its children's depth
        self.start = 0  # byte index of its start tag
        self.names: dict[str, str | None] = {}
        self.fields: dict[str, str] = {}
        self.attrs: dict[str, str] | None = None
        self.child: str | None = None
        self.text = ""

    @staticmethod
    def _names(elements: tuple[str, ...]) -> dict[str, str | None]:
        return {e: e.lower() for e in elements}

    def _name(self, tag: str) -> str | None:
        """The field name of a child tag (any case, any namespace), None when not read."""
        names = self.names
        if tag not in names:
            low = _local(tag).lower()
            names[tag] = low if low.upper() in self._elements[self.kind] else None
        return names[tag]

    def _forbid(self, *_args: Any) -> None:
        raise _Forbidden

    def _xml_decl(self, _version: str, encoding: str | None, _standalone: int) -> None:
        if encoding:
            self.encoding = encoding

    def _start_outer(self, tag: str, attrs: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        if "}" in tag:
            tag = _local(tag)
        if depth == 1:
            if tag != ROOT:
                raise InputError(f"{self.name}: pas un export SIECLE {ROOT} (élément racine {tag!r})")
            return
        if tag == "ELEVE" and self.eleves and self.eleves[-1] == depth - 1:
            kind = "ELEVE"
        elif tag == "PARAMETRES" and depth == 2:
            kind = "PARAMETRES"
        else:
            if tag == "ELEVES":
                self.eleves.append(depth)
                self.seen_eleves = True
            return
        self.kind, self.at, self.child_at = kind, depth, depth + 1
        self.names = self._wanted[kind]
        self.start = self.parser.CurrentByteIndex
        # Attributes stand in for children only: a child element of the same name wins.
        self.attrs = {_local(k).lower(): (v or "").strip() for k, v in attrs.items()} if attrs else None
        self.fields = {}
        p = self.parser
        p.StartElementHandler = self._start_inner
        p.EndElementHandler = self._end_inner
        p.CharacterDataHandler = self._data

    def _end_outer(self, _tag: str) -> None:
        if self.eleves and self.eleves[-1] == self.depth:
            self.eleves.pop()
        self.depth -= 1

    def _start_inner(self, tag: str, _attrs: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        if depth == self.child_at:
            name = self.names.get(tag, False)
            self.child = self._name(tag) if name is False else name
            self.text = ""
        elif self.child is not None:  # a sub-element: the child's text is what came before
            self.fields.setdefault(self.child, self.text.strip())
            self.child = None

    def _data(self, data: str) -> None:
        if self.child is not None:
            self.text += data

    def _end_inner(self, _tag: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == self.child_at:
            if self.child is not None:
                self.fields.setdefault(self.child, self.text.strip())
                self.child = None
        elif depth == self.at:
            p = self.parser
            p.StartElementHandler = self._start_outer
            p.EndElementHandler = self._end_outer
            p.CharacterDataHandler = None
            fields = self.fields if self.attrs is None else {**self.attrs, **self.fields}
            if self.kind == "ELEVE":
                self.on_eleve(fields, self.start, p.CurrentByteIndex)
            elif self.params is None:
                self.params = fields
            self.fields = {}


def scan(path: Path, progress: Callable[[int], None] | None = None, spill: Spill | None = None) -> ExportInfo:
    """The pass: prove the file well-formed, read PARAMETRES/UAJ and DATE_EXPORT, count
    the pupils and, with `spill`, write them to it.

    A missing or invalid UAJ, an invalid DATE_EXPORT or no ELEVES list → InputError.
    A missing DATE_EXPORT is left to the caller (acceptable with --as-of).
    """
    name = path.name
    count = 0

    def on_eleve(fields: dict[str, str], start: int, end: int) -> None:
        nonlocal count
        count += 1
        if spill is not None:
            spill.add((count, fields, start, end))

    reader = _Reader(name, on_eleve)
    parser = reader.parser
    with open_binary(path) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            while chunk := f.read(_CHUNK):
                parser.Parse(chunk, False)
                if progress is not None:
                    progress(f.tell())
            parser.Parse(b"", True)
        except pyexpat.ExpatError as exc:
            raise InputError(f"{name}: XML mal formé ou tronqué ({exc})") from None
        except _Forbidden:
            raise InputError(f"{name}: XML refusé, DTD et entités interdites (DTDForbidden)") from None
        except (LookupError, ValueError) as exc:  # unknown declared encoding, bad bytes for it
            raise InputError(f"{name}: XML illisible ({exc})") from None
        except OSError as exc:
            raise InputError(f"{name}: fichier illisible ({exc.strerror or exc})") from None
    if spill is not None:
        spill.finish()
    params = reader.params
    if params is None:
        raise InputError(f"{name}: élément PARAMETRES absent")
    try:
        uaj = check_uai(params.get("uaj", ""))
    except FieldError as exc:
        raise InputError(f"{name}: PARAMETRES/UAJ invalide ({exc.detail})") from None
    date_export = None
    date_text = params.get("date_export", "")
    if date_text:
        try:
            # Some exports write a time after the date ("15/03/2026 21:04").
            date_export = parse_date(date_text.split()[0])
        except FieldError as exc:
            raise InputError(f"{name}: PARAMETRES/DATE_EXPORT invalide ({exc.detail})") from None
    if not reader.seen_eleves:
        raise InputError(f"{name}: liste DONNEES/ELEVES absente")
    return ExportInfo(path=path, name=name, size=size, uaj=uaj, date_export=date_export, eleves=count,
                      encoding=reader.encoding, spill=spill)


def iter_eleves(path: Path) -> Iterator[tuple[int, dict[str, str], str]]:
    """(n, fields, raw XML) of each ELEVE of a well-formed export (tools and tests; the
    connector reads the spill of `scan`)."""
    spill = Spill(Path(f"{path}.{os.getpid()}.spill"))
    try:
        info = scan(path, spill=spill)
        for n, fields, start, end in spill:
            yield n, fields, read_raw(path, start, end, info.encoding)
    finally:
        spill.discard()
