"""Load and check a directory file: all or nothing, every bad entry named (inputs.md §6)."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import yaml
from pydantic import ValidationError

from hub.directory.model import ENTRY_MODELS, SECTIONS, DirectoryData, scalar_text
from hub.errors import InputError
from hub.validation import MISSING_FIELD, FieldError, check_commune, check_departement


class DirectoryError(InputError):
    """A directory refused as a whole; `problems` lists each bad entry's message."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)

    @classmethod
    def of(cls, source: str, problems: Sequence[str]) -> DirectoryError:
        return cls(f"{source}: {'; '.join(problems)}", problems)


def load_directory(path: str | PathLike[str]) -> DirectoryData:
    """Read, parse (safe YAML, no key twice) and check a directory file; DirectoryError on any problem."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DirectoryError(f"{source}: lecture impossible ({e.strerror or e})") from None
    try:
        # Bytes, not text: PyYAML then detects UTF-8/UTF-16 and refuses invalid bytes.
        doc = yaml.load(raw, Loader=_StrictLoader)  # noqa: S506 — a SafeLoader
    except yaml.YAMLError as e:
        raise DirectoryError(f"{source}: YAML invalide ({_yaml_reason(e)})") from None
    return parse_directory(doc, source)


class _StrictLoader(yaml.SafeLoader):
    """safe_load's loader, refusing a key written twice in one mapping: YAML forbids it,
    and PyYAML would keep the last value in silence (a second `departements:` of an
    observatory, a second `cti:` of an establishment)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:  # as written: before the merges (`<<`) are flattened
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: construct_mapping says so
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"clé {key!r} en double", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _yaml_reason(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"ligne {mark.line + 1}: {problem}" if mark else problem


def parse_directory(doc: object, source: str = "annuaire") -> DirectoryData:
    """Check a parsed directory document (mapping of the four sections).

    A missing or empty section is an empty list. An unknown section is refused: now that
    none is required, a misspelt `etablissement:` would otherwise silently publish a
    directory without establishments.
    """
    if not isinstance(doc, dict):
        raise DirectoryError(f"{source}: un document avec les sections {', '.join(SECTIONS)} est attendu")
    problems = [f"section {key} inconnue" for key in doc if key not in SECTIONS]
    raw: dict[str, list] = {}
    for section in SECTIONS:
        items = doc.get(section)
        if items is not None and not isinstance(items, list):
            problems.append(f"section {section}: liste attendue")
        raw[section] = items if isinstance(items, list) else []

    valid: dict[str, list] = {s: [] for s in SECTIONS}
    bad: dict[tuple[str, int], list[str]] = {}  # (section, index) → messages
    for section, items in raw.items():
        model = ENTRY_MODELS[section]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                bad[(section, i)] = ["objet attendu"]
                continue
            try:
                valid[section].append(model.model_validate(item))
            except ValidationError as e:
                bad[(section, i)] = [_message(err) for err in e.errors()]

    for (section, i), messages in _reference_problems(raw):
        bad.setdefault((section, i), []).extend(messages)

    order = {s: n for n, s in enumerate(SECTIONS)}
    for section, i in sorted(bad, key=lambda k: (order[k[0]], k[1])):  # entries in section order
        ident = _ident(raw[section][i])
        problems.append(f"{section}[{i}]{' ' + ident if ident else ''}: {', '.join(bad[(section, i)])}")
    if problems:
        raise DirectoryError.of(source, problems)
    return DirectoryData(**{s: tuple(valid[s]) for s in SECTIONS})


def _raw(item: object, key: str) -> str:
    """An entry's field as written (trimmed), or '' when absent or not a scalar."""
    value = item.get(key) if isinstance(item, dict) else None
    return str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def _ident(item: object) -> str:
    """How the message names an entry: its code, or its UAI, as written."""
    return _raw(item, "code") or _raw(item, "uai")


def _message(err: dict) -> str:
    field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    error = err.get("ctx", {}).get("error")
    if isinstance(error, FieldError):
        return f"{field} vide" if error.code == MISSING_FIELD else error.detail
    if err["type"] == "missing":
        return f"champ {field} manquant"
    return f"{field}: {err['msg']}"


def _checked_items(item: object, key: str, check) -> list[str]:
    """The items of a list field that pass `check` (the others are reported elsewhere)."""
    values = item.get(key) if isinstance(item, dict) else None
    out = []
    for value in values if isinstance(values, list) else []:
        try:
            out.append(check(scalar_text(value)))
        except FieldError:
            pass
    return out


def _reference_problems(raw: dict[str, list]):
    """(section, index), [messages] for duplicates and references that lead nowhere.

    Works on the raw entries, so an entry refused for a bad field still has its
    references checked; and a code counts as existing if any entry carries it, so an
    entry refused for another fault is not echoed by every entry pointing to it.
    """
    problems: list[tuple[tuple[str, int], list[str]]] = []
    known: dict[str, set[str]] = {}
    for section, key in (("observatoires", "code"), ("missions_locales", "code"),
                         ("ctis", "code"), ("etablissements", "uai")):
        first: dict[str, int] = {}
        for i, item in enumerate(raw[section]):
            ident = _raw(item, key).upper() if key == "uai" else _raw(item, key)
            if not ident:
                continue
            if ident in first:
                what = "UAI" if key == "uai" else "code"
                problems.append(((section, i), [f"{what} en double (déjà {section}[{first[ident]}])"]))
            else:
                first[ident] = i
        known[section] = set(first)

    claimed: dict[str, str] = {}  # département → observatoire
    for i, item in enumerate(raw["observatoires"]):
        code = _raw(item, "code") or f"observatoires[{i}]"
        msgs = []
        for dep in dict.fromkeys(_checked_items(item, "departements", check_departement)):
            if claimed.setdefault(dep, code) != code:
                msgs.append(f"département {dep} déjà couvert par {claimed[dep]}")
        problems.append((("observatoires", i), msgs))

    covered: dict[str, str] = {}  # commune → mission locale
    for i, item in enumerate(raw["missions_locales"]):
        code = _raw(item, "code") or f"missions_locales[{i}]"
        msgs = []
        observatoire = _raw(item, "observatoire")
        if observatoire and observatoire not in known["observatoires"]:
            msgs.append(f"observatoire {observatoire} inconnu")
        for commune in dict.fromkeys(_checked_items(item, "communes", check_commune)):
            if covered.setdefault(commune, code) != code:
                msgs.append(f"commune {commune} déjà couverte par {covered[commune]}")
        problems.append((("missions_locales", i), msgs))

    # A CTI of either type is accepted on any establishment: routing uses a CTI only for
    # the role its type serves (a CFA's CTI ETAT counts as none for RUPTURE, routing.py).
    for i, item in enumerate(raw["etablissements"]):
        cti = _raw(item, "cti")
        if cti and cti not in known["ctis"]:
            problems.append((("etablissements", i), [f"CTI {cti} inconnue"]))
    return [(where, msgs) for where, msgs in problems if msgs]
