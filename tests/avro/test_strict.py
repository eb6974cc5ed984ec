"""`hub.avro.strict`: the schema rules of the Avro specification that fastavro lets pass
and other implementations refuse (found accepted by `hub schemas check` in a black-box
audit, each refused by the Apache `avro` library). Each rule: a schema that breaks it is
refused, naming where; its valid counterpart passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.avro.loader import SchemaFileError, make_version
from hub.avro.strict import schema_problems
from hub.cli.schemas import schemas

ROOT = Path(__file__).resolve().parents[2]


def record(*fields: dict[str, Any], name: str = "Foo", namespace: str = "t.x") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": namespace, "fields": list(fields)}


def f(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


P = {"type": "record", "name": "P", "fields": [f("a", "int"), f("b", "string", default="x")]}
COLOUR = {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}


def test_the_repo_schemas_meet_every_rule() -> None:
    for path in sorted((ROOT / "schemas").glob("*.avsc")):
        assert schema_problems(json.loads(path.read_text())) == [], path.name


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        # names
        (record(f("a", "int"), name="Foo-Bar"), "'t.x.Foo-Bar' is not a valid name"),
        (record(f("a", "int"), namespace="t.1x"), "'t.1x.Foo' is not a valid name"),
        (record(f("a-b", "int")), "'a-b' is not a valid field name"),
        (record(f("a", "int"), f("a", "int")), "a: field 'a' appears twice in t.x.Foo"),
        (record(f("c", {"type": "enum", "name": "E", "symbols": ["A", "A"]})), "c: enum t.x.E repeats a symbol"),
        (record(f("c", {"type": "enum", "name": "E", "symbols": ["A", "1B"]})), "enum t.x.E: '1B' is not a valid symbol"),
        (record(f("p", P), f("q", {**P})), "q: t.x.P is defined twice"),
        (record(f("p", "Nope")), "p: unknown type 'Nope'"),
        # unions
        (record(f("u", ["null", "string", "string"])), "u: the union has two string branches"),
        (record(f("u", ["null", ["int", "string"]])), "u: a union directly inside a union"),
        (record(f("u", ["null", {"type": "array", "items": "int"}, {"type": "array", "items": "long"}])),
         "u: the union has two array branches"),
        (record(f("p", P), f("u", ["null", "P", "t.x.P"])), "u: the union has two t.x.P branches"),
        # defaults
        (record(f("p", P, default={})), "p: default {} is not a value of the field's type"),
        (record(f("p", P, default={"a": "1"})), "p: default {'a': '1'} is not a value"),
        (record(f("n", "int", default=2**31)), "n: default 2147483648 is not a value"),
        (record(f("n", "long", default=2**63)), "is not a value"),
        (record(f("n", "int", default=True)), "n: default True is not a value"),
        (record(f("n", "double", default="1.5")), "is not a value"),
        (record(f("s", "string", default=None)), "s: default None is not a value"),
        (record(f("b", "bytes", default="\u0100")), "is not a value"),
        (record(f("x", {"type": "fixed", "name": "F", "size": 2}, default="abc")), "is not a value"),
        (record(f("c", COLOUR, default="GREEN")), "c: default 'GREEN' is not a value"),
        (record(f("c", {**COLOUR, "default": "GREEN"})), "enum t.x.Colour: default 'GREEN' is not one of its symbols"),
        (record(f("l", {"type": "array", "items": "int"}, default=[1, "2"])), "is not a value"),
        (record(f("m", {"type": "map", "values": "int"}, default={"a": None})), "is not a value"),
        (record(f("u", ["null", "int"], default="x")), "u: default 'x' is not a value"),
        (record(f("d", {"type": "int", "logicalType": "date"}, default="2026-01-01")), "is not a value"),
    ],
)
def test_a_schema_breaking_a_rule_is_refused(schema: dict[str, Any], problem: str) -> None:
    problems = schema_problems(schema)
    assert any(problem in p for p in problems), problems
    with pytest.raises(SchemaFileError, match="invalid Avro schema"):
        make_version("foo", 1, schema)


@pytest.mark.parametrize(
    "schema",
    [
        record(f("a", "int"), name="_Foo_1", namespace=""),
        record(f("p", P, default={"a": 1}), f("q", "P", default={"a": 2, "b": "y"})),  # b has a default
        record(f("n", "int", default=-(2**31)), f("m", "long", default=2**63 - 1), f("x", "double", default=1)),
        record(f("b", "bytes", default="\u00ff\u0000"), f("x", {"type": "fixed", "name": "F", "size": 2}, default="ab")),
        record(f("c", {**COLOUR, "default": "RED"}, default="BLUE")),
        record(f("u", ["null", "string"], default=None), f("v", ["string", "null"], default=None)),  # any branch
        record(f("l", {"type": "array", "items": P}, default=[{"a": 1}]), f("m", {"type": "map", "values": "int"},
                                                                           default={"k": 1})),
        record(f("d", {"type": "int", "logicalType": "date"}, default=0)),
        record(f("u", ["null", P, {"type": "record", "name": "Q", "fields": []}, "int", "long"])),
        record(f("p", P), f("q", "t.x.P")),  # a reference, not a definition
        {"type": "record", "name": "Node", "fields": [f("next", ["null", "Node"], default=None)]},  # recursive
    ],
)
def test_a_valid_schema_passes(schema: dict[str, Any]) -> None:
    assert schema_problems(schema) == []
    make_version("foo", 1, schema)


def test_schemas_check_refuses_an_added_field_whose_default_is_not_of_its_type(tmp_path: Path) -> None:
    """The audit's case: v2 adds a record field defaulting to {} — a v2 reader fails on v1 data."""
    (tmp_path / "foo.v1.avsc").write_text(json.dumps(record(f("a", "int"))))
    (tmp_path / "foo.v2.avsc").write_text(json.dumps(record(f("a", "int"), f("p", P, default={}))))
    result = CliRunner().invoke(schemas, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "foo.v2.avsc: invalid Avro schema: p: default {} is not a value of the field's type" in result.output
    (tmp_path / "foo.v2.avsc").write_text(json.dumps(record(f("a", "int"), f("p", P, default={"a": 0}))))
    result = CliRunner().invoke(schemas, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
