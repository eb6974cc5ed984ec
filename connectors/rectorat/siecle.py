"""Reading SIECLE `BEE_ELEVES` XML exports safely and in constant memory.

- defusedxml with `forbid_dtd=True`: any DOCTYPE (hence any entity declaration: billion
  laughs, external entities) refuses the file before anything outside it is read;
- the encoding is the one declared in the prolog (ISO-8859-15 in real exports, UTF-8…),
  decoded by expat / Python codecs;
- element order is free and unknown elements are ignored; each ELEVE (a child of an
  ELEVES element) and PARAMETRES (a child of the root) is handed over whole, then
  cleared and detached, and every other finished element is dropped at once, so memory
  does not grow with the file;
- a malformed or truncated file raises InputError. `scan` is the first pass that proves
  a file well-formed (and reads PARAMETRES, which may come after DONNEES) before the
  second pass, `iter_eleves`, streams the pupils for publishing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from hub.errors import InputError
from hub.validation import FieldError, check_uai, parse_date

ROOT = "BEE_ELEVES"


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def walk(source: BinaryIO, name: str) -> Iterator[tuple[str, ET.Element]]:
    """Yield ("ELEVES", elem) at the start of each ELEVES list, and ("PARAMETRES", elem) /
    ("ELEVE", elem) once each is complete; the element is cleared when the caller resumes.

    Raises InputError for a file that is not a well-formed BEE_ELEVES document.
    """
    stack: list[ET.Element] = []
    keep_at = 0  # depth of the ELEVE / PARAMETRES being collected, 0 when none
    try:
        for event, elem in DET.iterparse(source, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                tag = _local(elem.tag)
                depth = len(stack) + 1
                if depth == 1 and tag != ROOT:
                    raise InputError(f"{name}: pas un export SIECLE {ROOT} (élément racine {tag!r})")
                if not keep_at:
                    if tag == "ELEVE" and depth >= 3 and _local(stack[-1].tag) == "ELEVES":
                        keep_at = depth
                    elif tag == "PARAMETRES" and depth == 2:
                        keep_at = depth
                    elif tag == "ELEVES":
                        yield "ELEVES", elem
                stack.append(elem)
            else:
                depth = len(stack)
                stack.pop()
                if keep_at == depth:
                    keep_at = 0
                    yield _local(elem.tag), elem
                    elem.clear()
                    stack[-1].remove(elem)
                elif not keep_at and stack:
                    elem.clear()
                    stack[-1].remove(elem)
    except ET.ParseError as exc:
        raise InputError(f"{name}: XML mal formé ou tronqué ({exc})") from None
    except DefusedXmlException as exc:
        raise InputError(f"{name}: XML refusé, DTD et entités interdites ({type(exc).__name__})") from None
    except (LookupError, ValueError) as exc:  # unknown declared encoding, bad bytes for it
        raise InputError(f"{name}: XML illisible ({exc})") from None


def eleve_fields(elem: ET.Element) -> dict[str, str]:
    """An ELEVE as {name: trimmed text}: its attributes, then its direct children
    (first occurrence wins); nested structure below a child is ignored."""
    fields = {_local(k): (v or "").strip() for k, v in elem.attrib.items()}
    for child in elem:
        tag = _local(child.tag)
        if tag and tag not in fields:
            fields[tag] = (child.text or "").strip()
    return fields


@dataclass(slots=True)
class ExportInfo:
    """What the first pass learns about one export file."""

    path: Path
    name: str
    size: int
    uaj: str
    date_export: date | None
    eleves: int
    as_of: date | None = None  # effective: --as-of, else DATE_EXPORT


def open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"{path.name}: fichier illisible ({exc.strerror or exc})") from None


def scan(path: Path, progress: Callable[[int], None] | None = None) -> ExportInfo:
    """First pass: prove the file well-formed, read PARAMETRES/UAJ and DATE_EXPORT.

    A missing or invalid UAJ, an invalid DATE_EXPORT or no ELEVES list → InputError.
    A missing DATE_EXPORT is left to the caller (acceptable with --as-of).
    """
    name = path.name
    uaj_text: str | None = None
    date_text: str | None = None
    seen_eleves = False
    count = 0
    with open_binary(path) as f:
        size = path.stat().st_size
        for kind, elem in walk(f, name):
            if kind == "ELEVE":
                count += 1
                if progress is not None and count % 500 == 0:
                    progress(f.tell())
            elif kind == "ELEVES":
                seen_eleves = True
            elif kind == "PARAMETRES" and uaj_text is None:
                params = eleve_fields(elem)
                uaj_text = params.get("UAJ", "")
                date_text = params.get("DATE_EXPORT", "")
    if uaj_text is None:
        raise InputError(f"{name}: élément PARAMETRES absent")
    try:
        uaj = check_uai(uaj_text)
    except FieldError as exc:
        raise InputError(f"{name}: PARAMETRES/UAJ invalide ({exc.detail})") from None
    date_export = None
    if date_text:
        try:
            # Some exports write a time after the date ("15/03/2026 21:04").
            date_export = parse_date(date_text.split()[0])
        except FieldError as exc:
            raise InputError(f"{name}: PARAMETRES/DATE_EXPORT invalide ({exc.detail})") from None
    if not seen_eleves:
        raise InputError(f"{name}: liste DONNEES/ELEVES absente")
    return ExportInfo(path=path, name=name, size=size, uaj=uaj, date_export=date_export, eleves=count)


def iter_eleves(source: BinaryIO, name: str) -> Iterator[tuple[int, dict[str, str], str]]:
    """Second pass: (n, fields, raw XML) of each ELEVE, n counting from 1."""
    n = 0
    for kind, elem in walk(source, name):
        if kind == "ELEVE":
            n += 1
            yield n, eleve_fields(elem), ET.tostring(elem, encoding="unicode").strip()
