"""A published schema version never changes: `schemas/published.json`, `hub schemas
check` and its `--freeze`, and the same rule against `hub.schemas.v1`'s records.

Found by a black-box audit: a required field added to `watermark.v1.avsc` in place
passed the check (a lone version is compatible with itself) and `hub topics apply` then
published a second "watermark v1"."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hub.avro import frozen
from hub.avro.compat import check_dir
from hub.avro.loader import load_dir
from hub.avro.registry import schema_records
from hub.cli.schemas import schemas
from tests.avro.test_compat import add_version

ROOT = Path(__file__).resolve().parents[2]


def edit(path: Path, change) -> None:
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False))


def check(directory: Path, *more: str):
    return CliRunner().invoke(schemas, ["check", "--dir", str(directory), *more])


def test_every_repo_version_is_recorded_as_published() -> None:
    groups, _ = check_dir(ROOT / "schemas")
    assert frozen.check(ROOT / "schemas", groups) == ([], [])


def test_a_published_version_rewritten_in_place_is_refused(schemas_copy: Path) -> None:
    edit(schemas_copy / "watermark.v1.avsc", lambda s: s["fields"].append({"name": "note", "type": "string"}))
    result = check(schemas_copy)
    assert result.exit_code == 2
    assert any(line.startswith("watermark.v1: differs from its published text (in published.json; "
                               "fingerprint then 0198e3f970c047d2, now ")
               and line.endswith("add watermark.v2.avsc instead") for line in result.output.splitlines())


def test_a_change_the_fingerprint_cannot_see_is_refused_too(schemas_copy: Path) -> None:
    # A default is not in the Parsing Canonical Form, but readers resolve with it.
    before = load_dir(schemas_copy)["action_suivi"][0].fingerprint_hex
    edit(schemas_copy / "action_suivi.v1.avsc", lambda s: s["fields"][-1].pop("default"))
    assert load_dir(schemas_copy)["action_suivi"][0].fingerprint_hex == before
    result = check(schemas_copy)
    assert result.exit_code == 2 and "action_suivi.v1: differs from its published text" in result.output


def test_the_layout_of_a_file_is_not_a_change(schemas_copy: Path) -> None:
    path = schemas_copy / "eleve_sorti.v1.avsc"
    path.write_text(json.dumps(json.loads(path.read_text()), separators=(",", ":")))
    assert check(schemas_copy).exit_code == 0


def test_a_published_version_removed_is_refused(schemas_copy: Path) -> None:
    add_version(schemas_copy, "watermark", lambda s: s["fields"].append(
        {"name": "note", "type": ["null", "string"], "default": None}))
    assert check(schemas_copy, "--freeze").exit_code == 0
    (schemas_copy / "watermark.v2.avsc").unlink()  # numbering 1..N still holds
    result = check(schemas_copy)
    assert result.exit_code == 2
    assert "watermark.v2: published (in published.json) but its file is gone: a published version stays" \
        in result.output.splitlines()


def test_a_new_version_is_listed_until_frozen_then_frozen_like_the_others(schemas_copy: Path) -> None:
    add_version(schemas_copy, "eleve_sorti", lambda s: s["fields"].append(
        {"name": "classe", "type": ["null", "string"], "default": None}))
    result = check(schemas_copy)
    assert result.exit_code == 0
    assert "not yet in published.json (new versions; `--freeze` records them once published): eleve_sorti v2" \
        in result.output
    # Until frozen it may still change.
    edit(schemas_copy / "eleve_sorti.v2.avsc", lambda s: s["fields"][-1].update(doc="classe à la sortie"))
    result = check(schemas_copy, "--freeze")
    assert result.exit_code == 0 and "recorded in published.json: eleve_sorti v2" in result.output
    assert "eleve_sorti.v2" in json.loads((schemas_copy / "published.json").read_text())["versions"]
    assert "not yet" not in check(schemas_copy).output
    edit(schemas_copy / "eleve_sorti.v2.avsc", lambda s: s["fields"][-1].update(doc="autre"))
    assert check(schemas_copy).exit_code == 2


def test_freeze_records_nothing_while_there_are_problems(schemas_copy: Path) -> None:
    add_version(schemas_copy, "eleve_sorti", lambda s: s["fields"].append({"name": "classe", "type": "string"}))
    assert check(schemas_copy, "--freeze").exit_code == 2
    assert "eleve_sorti.v2" not in json.loads((schemas_copy / "published.json").read_text())["versions"]


def test_an_unreadable_record_file_is_a_problem(schemas_copy: Path) -> None:
    (schemas_copy / "published.json").write_text("{")
    result = check(schemas_copy)
    assert result.exit_code == 2 and "published.json: not readable" in result.output


def test_a_directory_without_records_has_only_new_versions(schemas_copy: Path) -> None:
    (schemas_copy / "published.json").unlink()
    result = check(schemas_copy)
    assert result.exit_code == 0 and "not yet in published.json" in result.output


def test_topic_records_that_give_a_version_another_meaning(schemas_copy: Path) -> None:
    ours = load_dir(ROOT / "schemas")
    same = [value for _, value in schema_records(ROOT / "schemas")]
    assert frozen.conflicts_with_topic(ours, [*same, None, b"not json", b'{"other": 1}']) == []
    edit(schemas_copy / "watermark.v1.avsc", lambda s: s["fields"].append({"name": "note", "type": "string"}))
    theirs = [value for _, value in schema_records(schemas_copy)]
    (problem,) = frozen.conflicts_with_topic(ours, theirs)
    assert problem.startswith("watermark v1: hub.schemas.v1 holds it with fingerprint ")
    assert problem.endswith("schemas/ has it with 0198e3f970c047d2: a published version never changes, "
                            "add a new version")
