"""`hub cases` table rendering (the JSON Lines output is checked by the scenario tests)."""

from __future__ import annotations

from datetime import date

from hub.cli.cases import _table


def test_a_piped_table_is_never_cut(capsys):
    """Piped (no terminal), every cell is printed whole, whatever its width: an operator
    greps the output for a case id or an INE."""
    case = {
        "case_id": "c-" + "7f3a" * 16,
        "type": "OBLIGATION_FORMATION",
        "status": "RESOLU",
        "outcome": "ACCOMPAGNEMENT_ML",
        "observatoire": "HORS_TERRITOIRE",
        "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-86-POITIERS-SUD-VIENNE"},
        "person": {"ine": "2023A12345B", "nom": "DE LA ROCHEFOUCAULD-MONTMORENCY", "prenom": "Marie-Élodie"},
        "opened_on": date(2026, 1, 10),
        "alerted_on": date(2026, 4, 10),
        "closed_on": date(2026, 6, 9),
    }
    _table([case], "Dossiers")
    out = capsys.readouterr().out
    for text in (case["case_id"], "2023A12345B", "DE LA ROCHEFOUCAULD-MONTMORENCY Marie-Élodie",
                 "RESOLU (ACCOMPAGNEMENT_ML)", "MISSION_LOCALE ML-86-POITIERS-SUD-VIENNE", "10/01/2026",
                 "10/04/2026", "09/06/2026"):
        assert text in out
    assert "…" not in out
