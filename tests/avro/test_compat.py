"""FULL_TRANSITIVE checks: the repo's schemas pass; each kind of breaking change is
refused with the schema, versions, direction and field path; `hub schemas check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from hub.avro.compat import check_dir, check_pair
from hub.cli.schemas import schemas

ROOT = Path(__file__).resolve().parents[2]


def add_version(directory: Path, stem: str, edit: Callable[[dict[str, Any]], None]) -> int:
    """Write the next version of `stem`, derived from its latest one by `edit`."""
    latest = max(int(p.name.split(".v")[1].split(".")[0]) for p in directory.glob(f"{stem}.v*.avsc"))
    schema = json.loads((directory / f"{stem}.v{latest}.avsc").read_text())
    edit(schema)
    (directory / f"{stem}.v{latest + 1}.avsc").write_text(json.dumps(schema, indent=2, ensure_ascii=False))
    return latest + 1


def field(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The field dict at a dotted path (through nullable records and arrays)."""
    node: Any = schema
    for part in path.split("."):
        if isinstance(node, list):
            node = next(b for b in node if isinstance(b, dict))
        if node.get("type") == "array":
            node = node["items"]
        f = next(x for x in node["fields"] if x["name"] == part)
        node = f["type"]
    return f


def drop(schema: dict[str, Any], path: str) -> None:
    parent, _, name = path.rpartition(".")
    owner = schema if not parent else field(schema, parent)["type"]
    if isinstance(owner, list):
        owner = next(b for b in owner if isinstance(b, dict))
    if owner.get("type") == "array":
        owner = owner["items"]
    owner["fields"] = [f for f in owner["fields"] if f["name"] != name]


def test_repo_schemas_are_compatible() -> None:
    groups, problems = check_dir(ROOT / "schemas")
    assert problems == []
    assert len(groups) == 13


def test_required_field_added_breaks_backward(schemas_copy: Path) -> None:
    add_version(schemas_copy, "eleve_sorti", lambda s: s["fields"].append({"name": "classe", "type": "string"}))
    _, problems = check_dir(schemas_copy)
    assert problems == [
        "eleve_sorti v1 → v2: field 'classe' has no default in reader and is missing from writer"
    ]


def test_nested_required_field_removed_breaks_forward(schemas_copy: Path) -> None:
    add_version(schemas_copy, "case", lambda s: drop(s, "person.nom"))
    _, problems = check_dir(schemas_copy)
    assert problems == ["case v2 → v1: field 'person.nom' has no default in reader and is missing from writer"]


def test_field_in_array_items(schemas_copy: Path) -> None:
    add_version(schemas_copy, "case", lambda s: drop(s, "evidence.source_ref"))
    _, problems = check_dir(schemas_copy)
    assert problems == [
        "case v2 → v1: field 'evidence[].source_ref' has no default in reader and is missing from writer"
    ]


def test_optional_field_added_with_default_passes(schemas_copy: Path) -> None:
    add_version(schemas_copy, "eleve_sorti", lambda s: s["fields"].extend([
        {"name": "classe", "type": ["null", "string"], "default": None},
        {"name": "systeme", "type": "string", "default": "SIECLE"}]))
    add_version(schemas_copy, "case", lambda s: field(s, "person")["type"][1]["fields"].append(
        {"name": "prenom2", "type": ["null", "string"], "default": None}))
    assert check_dir(schemas_copy)[1] == []


def test_optional_field_removed_passes(schemas_copy: Path) -> None:
    add_version(schemas_copy, "signalement_cti", lambda s: drop(s, "motif"))
    assert check_dir(schemas_copy)[1] == []


def test_transitive_not_only_adjacent(schemas_copy: Path) -> None:
    # v2 adds x with a default; v3 drops the default: v2↔v3 and v1↔v2 resolve, v1 → v3 does not.
    add_version(schemas_copy, "watermark", lambda s: s["fields"].append({"name": "x", "type": "string", "default": ""}))
    add_version(schemas_copy, "watermark", lambda s: field(s, "x").pop("default"))
    _, problems = check_dir(schemas_copy)
    assert problems == ["watermark v1 → v3: field 'x' has no default in reader and is missing from writer"]


def _retype(path: str, new_type: Any) -> Callable[[dict[str, Any]], None]:
    def edit(s: dict[str, Any]) -> None:
        f = field(s, path)
        f["type"] = new_type
        if isinstance(new_type, list):
            f["default"] = None
        else:
            f.pop("default", None)

    return edit


@pytest.mark.parametrize(
    ("stem", "edit", "expected"),
    [
        ("absenteisme_mensuel", _retype("demi_journees_justifiees", "long"),
         ["absenteisme_mensuel v2 → v1: field 'demi_journees_justifiees': writer type long cannot be read as int"]),
        ("eleve_sorti", _retype("uai", "int"),
         ["eleve_sorti v1 → v2: field 'uai': writer type string cannot be read as int",
          "eleve_sorti v2 → v1: field 'uai': writer type int cannot be read as string"]),
        ("eleve_sorti", _retype("person.ine", "string"),  # nullable → required
         ["eleve_sorti v1 → v2: field 'person.ine': writer union branch null cannot be read as string"]),
        ("eleve_sorti", _retype("motif_sortie", ["null", "string"]),  # required → nullable
         ["eleve_sorti v2 → v1: field 'motif_sortie': writer union branch null cannot be read as string"]),
        ("eleve_sorti", _retype("event_date", "int"),
         ["eleve_sorti v1 → v2: field 'event_date': logical type changed from date to none",
          "eleve_sorti v2 → v1: field 'event_date': logical type changed from none to date"]),
        ("case", lambda s: field(s, "assigned_to")["type"].__setitem__("name", "Affectation"),
         ["case v1 → v2: field 'assigned_to': writer type record fr.hub.Assignment cannot be read as "
          "record fr.hub.Affectation",
          "case v2 → v1: field 'assigned_to': writer type record fr.hub.Affectation cannot be read as "
          "record fr.hub.Assignment"]),
    ],
    ids=["int-to-long-one-way", "string-to-int", "nullable-to-required", "required-to-nullable",
         "logical-type-dropped", "record-renamed"],
)
def test_breaking_changes(schemas_copy: Path, stem: str, edit: Callable, expected: list[str]) -> None:
    add_version(schemas_copy, stem, edit)
    assert check_dir(schemas_copy)[1] == expected


@pytest.mark.parametrize(
    ("stem", "edit"),
    [
        ("dead_letter", _retype("raw", "bytes")),  # string ↔ bytes both ways
        ("dead_letter", lambda s: s.__setitem__("doc", "doc only: same canonical form")),
    ],
    ids=["string-bytes", "doc-only"],
)
def test_compatible_changes(schemas_copy: Path, stem: str, edit: Callable) -> None:
    add_version(schemas_copy, stem, edit)
    assert check_dir(schemas_copy)[1] == []


def test_rename_with_alias_is_one_way() -> None:
    """The old reader does not know the new name: a rename never passes FULL_TRANSITIVE."""
    old = {"type": "record", "name": "A", "fields": []}
    new = {"type": "record", "name": "B", "aliases": ["A"], "fields": []}
    assert check_pair(old, new) == []
    assert check_pair(new, old) == ["the record: writer type record B cannot be read as record A"]


def test_enum_symbols_and_defaults() -> None:
    def enum(symbols: list[str], **extra: Any) -> dict[str, Any]:
        return {"type": "record", "name": "R", "fields": [
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": symbols, **extra}}]}

    assert check_pair(enum(["A", "B"]), enum(["A"])) == [
        "field 'e': enum symbols ['B'] of the writer unknown to the reader, which has no default"]
    assert check_pair(enum(["A", "B"]), enum(["A"], default="A")) == []
    assert check_pair(enum(["A"]), enum(["A", "B"])) == []


def test_promotions_unions_maps_fixed_and_recursion() -> None:
    def rec(t: Any) -> dict[str, Any]:
        return {"type": "record", "name": "R", "fields": [{"name": "v", "type": t}]}

    assert check_pair(rec("int"), rec("double")) == []
    assert check_pair(rec("float"), rec("long")) == ["field 'v': writer type float cannot be read as long"]
    assert check_pair(rec("int"), rec(["null", "long"])) == []
    assert check_pair(rec(["int", "string"]), rec(["null", "long"])) == [
        "field 'v': writer type string matches no branch of reader union [null, long]"]
    assert check_pair(rec({"type": "map", "values": "int"}), rec({"type": "map", "values": "string"})) == [
        "field 'v{}': writer type int cannot be read as string"]
    fixed = {"type": "fixed", "name": "F", "size": 4}
    assert check_pair(rec(fixed), rec({**fixed, "size": 8})) != []
    pig = {"type": "record", "name": "PigValue", "fields": [
        {"name": "value", "type": ["null", "int", "long", "PigValue"]}]}
    pig2 = {"type": "record", "name": "PigValue", "fields": [
        {"name": "value", "type": ["null", "long", "PigValue"]}]}
    assert check_pair(pig, pig2) == []  # terminates on recursive types
    assert check_pair(pig2, pig) == []  # long → long branch, PigValue → PigValue


def test_file_problems(schemas_copy: Path) -> None:
    (schemas_copy / "watermark.v3.avsc").write_text((schemas_copy / "watermark.v1.avsc").read_text())
    (schemas_copy / "Bad-Name.v1.avsc").write_text("{}")
    (schemas_copy / "broken.v1.avsc").write_text("{not json")
    (schemas_copy / "invalid.v1.avsc").write_text(json.dumps(
        {"type": "record", "name": "X", "fields": [{"name": "b", "type": "boolean", "default": "true"}]}))
    _, problems = check_dir(schemas_copy)
    assert any(p.startswith("Bad-Name.v1.avsc: file name must be") for p in problems)
    assert any(p.startswith("broken.v1.avsc: not readable JSON") for p in problems)
    assert any(p.startswith("invalid.v1.avsc: invalid Avro schema") for p in problems)
    assert "watermark: versions [1, 3] are not 1..N: a published version was removed" in problems


# -- hub schemas check ---------------------------------------------------------------------


def test_cli_check_ok() -> None:
    result = CliRunner().invoke(schemas, ["check"])
    assert result.exit_code == 0, result.output
    assert "13 schemas" in result.output and "OK" in result.output


def test_cli_check_refuses_incompatible(schemas_copy: Path) -> None:
    add_version(schemas_copy, "case", lambda s: drop(s, "person.nom"))
    add_version(schemas_copy, "eleve_sorti", lambda s: s["fields"].append({"name": "classe", "type": "string"}))
    result = CliRunner().invoke(schemas, ["check", "--dir", str(schemas_copy)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert "case v2 → v1: field 'person.nom' has no default in reader and is missing from writer" in lines
    assert "eleve_sorti v1 → v2: field 'classe' has no default in reader and is missing from writer" in lines
    assert "2 problem(s):" in lines


def test_cli_check_reports_unparseable(tmp_path: Path) -> None:
    (tmp_path / "x.v1.avsc").write_text("[")
    result = CliRunner().invoke(schemas, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "x.v1.avsc: not readable JSON" in result.output
    (tmp_path / "x.v1.avsc").unlink()
    result = CliRunner().invoke(schemas, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "no *.avsc schema" in result.output
    result = CliRunner().invoke(schemas, ["check", "--dir", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a directory" in result.output
