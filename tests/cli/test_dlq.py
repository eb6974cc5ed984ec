"""`hub dlq replay`: what a dead letter gives to validate again (no broker needed; the
replay itself is tested on the broker in test_ingest.py)."""

from __future__ import annotations

from datetime import date

from connectors.core.types import REPLAY_AS_OF
from hub.cli.dlq import replay_input


def letter(row, raw: str = "x;y") -> dict:
    return {"source": "cfa", "file": "f.csv", "position": "line 2", "reason": "BAD_SIRET", "detail": "d",
            "raw": raw, "row": row}


def test_the_as_of_of_the_ingest_is_taken_out_of_the_row():
    row, as_of = replay_input(letter({"numero_contrat": "C1", REPLAY_AS_OF: "2026-03-15"}), "cfa")
    assert (row, as_of) == ({"numero_contrat": "C1"}, date(2026, 3, 15))


def test_a_dead_letter_of_an_older_version_replays_as_before():
    """No as-of in the row: no FUTURE_DATE check, as then; the row is validated as it is."""
    assert replay_input(letter({"numero_contrat": "C1"}), "cfa") == ({"numero_contrat": "C1"}, None)
    assert replay_input(letter(None), "cfa") == (None, None)
    assert replay_input(letter({"numero_contrat": "C1", REPLAY_AS_OF: "n/a"}), "cfa") == ({"numero_contrat": "C1"}, None)


def test_a_record_that_could_not_be_split_has_only_its_as_of():
    assert replay_input(letter({REPLAY_AS_OF: "2026-03-15"}), "cfa") == (None, date(2026, 3, 15))
    # a CTI report (nested `jeune`: no flat row) is read from its raw JSON
    raw = '{"cti": "CTI-E-86-01", "jeune": {"nom": "X"}}'
    assert replay_input(letter({REPLAY_AS_OF: "2026-03-15"}, raw), "cti") == (
        {"cti": "CTI-E-86-01", "jeune": {"nom": "X"}}, date(2026, 3, 15))
    assert replay_input(letter(None, "{cut"), "cti") == (None, None)
    # A line that was not UTF-8 (connectors/core/jsonl.py keeps its bytes escaped).
    assert replay_input(letter(None, '{"cti": "CTI-E-86-01", "jeune": {"nom": "C\\x9cUR"}}'), "cti") == (None, None)
