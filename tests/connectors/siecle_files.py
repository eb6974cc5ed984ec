"""Builders of SIECLE BEE_ELEVES exports for the tests."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from tests.connectors.helpers import UAI_LP


def eleve(eid: str, *, ine: str = "", nom: str = "DUPONT", prenom: str = "Élodie", naiss: str = "14/02/2008",
          commune: str = "86194", entree: str = "02/09/2025", sortie: str = "", motif: str = "",
          nom_tag: str = "NOM_DE_FAMILLE", extra: str = "") -> str:
    parts = [
        f"<ID_NATIONAL>{escape(ine)}</ID_NATIONAL>",
        f"<{nom_tag}>{escape(nom)}</{nom_tag}>",
        "<NOM_USAGE></NOM_USAGE>",
        f"<PRENOM>{escape(prenom)}</PRENOM>",
        "<PRENOM2>Marie</PRENOM2>",
        f"<DATE_NAISS>{naiss}</DATE_NAISS>",
        "<CODE_SEXE>2</CODE_SEXE>",
        f"<CODE_COMMUNE_INSEE_RESIDENCE>{commune}</CODE_COMMUNE_INSEE_RESIDENCE>",
        f"<DATE_ENTREE>{entree}</DATE_ENTREE>",
    ]
    if sortie:
        parts.append(f"<DATE_SORTIE>{sortie}</DATE_SORTIE>")
    if motif:
        parts.append(f"<CODE_MOTIF_SORTIE>{motif}</CODE_MOTIF_SORTIE>")
    parts.append(extra)
    id_attr = f' ELEVE_ID="{eid}"' if eid else ""
    return f'<ELEVE{id_attr} ELENOET="4521">{"".join(parts)}</ELEVE>'


def export(eleves: list[str], *, uaj: str = UAI_LP, date_export: str | None = "15/03/2026", params_last: bool = False,
           encoding: str = "ISO-8859-15", extra: str = "") -> bytes:
    date_xml = f"<DATE_EXPORT>{date_export}</DATE_EXPORT>" if date_export is not None else ""
    params = (f"<PARAMETRES><UAJ>{uaj}</UAJ><ANNEE_SCOLAIRE>2025</ANNEE_SCOLAIRE>{date_xml}"
              f"<HORODATAGE>15/03/2026 21:04:11</HORODATAGE></PARAMETRES>")
    donnees = f"<DONNEES><ELEVES>{''.join(eleves)}</ELEVES>{extra}</DONNEES>"
    body = donnees + params if params_last else params + donnees
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n<BEE_ELEVES VERSION="3.1">{body}</BEE_ELEVES>\n'
    return text.encode(encoding)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
