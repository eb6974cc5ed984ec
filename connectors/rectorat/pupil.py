"""One SIECLE pupil: validation (reusable for a single record) and its events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

from hub.identity import event_id
from hub.types.events import ELEVE_INSCRIT, ELEVE_SORTI, MOTIFS_SORTIE, SOURCE_TOPICS

from connectors.core.fields import Fields, make_event, person
from connectors.core.types import Context, Event, PupilState, Rejected

SOURCE = "rectorat"
TOPIC = SOURCE_TOPICS[SOURCE]
MOTIF_INCONNU = "99"


class Pupil(NamedTuple):
    """A valid ELEVE (a NamedTuple: one is made per pupil, and a frozen dataclass costs
    three times as much to build)."""

    eleve_id: str
    ine: str | None
    nom: str
    prenom: str
    date_naissance: date
    commune: str | None
    date_entree: date
    date_sortie: date | None
    motif: str  # "01".."09" or "99"; meaningful only with date_sortie
    warnings: int = 0

    def present(self) -> PupilState:
        """The state of a pupil listed without an exit (identity kept for a later exit)."""
        return PupilState(False, self.ine, self.nom, self.prenom, self.date_naissance, self.commune)


def motif_sortie(code: str) -> str:
    """CODE_MOTIF_SORTIE as one of MOTIFS_SORTIE; empty or unknown → "99" (inputs.md §1).
    A code is one of the table's exactly: "7" is not "07" (departure abroad, which opens
    no case) but unknown — a guess there would hide a dropout."""
    code = code.strip()
    return code if code in MOTIFS_SORTIE else MOTIF_INCONNU


def validate_eleve(row: Mapping[str, Any]) -> Pupil | Rejected:
    """An ELEVE given as {element or attribute name: text} (names case-insensitive).

    Required: ELEVE_ID, NOM_DE_FAMILLE (or the older NOM), PRENOM, DATE_NAISS,
    DATE_ENTREE. Optional: ID_NATIONAL (invalid → dropped, one warning),
    CODE_COMMUNE_INSEE_RESIDENCE (BAD_COMMUNE), DATE_SORTIE (BAD_DATE), CODE_MOTIF_SORTIE
    (never rejected: empty or unknown → "99").
    """
    f = Fields(row)
    eleve_id = f.required("eleve_id")
    ine = f.ine("id_national")
    nom = f.text("nom_de_famille") or f.text("nom")
    if not nom:
        f.missing("nom_de_famille", "ou NOM")
    else:
        nom = f.name("nom_de_famille", nom)
    prenom = f.name("prenom")
    naissance = f.date("date_naiss")
    commune = f.commune("code_commune_insee_residence", optional=True)
    entree = f.date("date_entree")
    sortie = f.date("date_sortie") if f.text("date_sortie") else None
    if not f.ok:
        return f.rejected(born=naissance)
    assert eleve_id and prenom and naissance and entree
    return Pupil(
        eleve_id=eleve_id,
        ine=ine,
        nom=nom,
        prenom=prenom,
        date_naissance=naissance,
        commune=commune,
        date_entree=entree,
        date_sortie=sortie,
        motif=motif_sortie(f.text("code_motif_sortie")) if sortie else MOTIF_INCONNU,
        warnings=f.warnings,
    )


def inscrit(ctx: Context, uaj: str, p: Pupil, ref: str, day: date | None = None) -> Event:
    """ELEVE_INSCRIT at DATE_ENTREE, or at `day` (a return to school: see connector.py)."""
    day = day or p.date_entree
    return make_event(
        ctx,
        ELEVE_INSCRIT,
        event_id(SOURCE, uaj, p.eleve_id, "INSCRIT", day.isoformat()),
        ref,
        day,
        person(p.ine, p.nom, p.prenom, p.date_naissance, p.commune),
        uai=uaj,
        eleve_id=p.eleve_id,
    )


def sorti(ctx: Context, uaj: str, eleve_id: str, who: PupilState, day: date, motif: str, ref: str) -> Event:
    return make_event(
        ctx,
        ELEVE_SORTI,
        event_id(SOURCE, uaj, eleve_id, "SORTI", day.isoformat()),
        ref,
        day,
        person(who.ine, who.nom, who.prenom, who.date_naissance, who.commune),
        uai=uaj,
        eleve_id=eleve_id,
        motif_sortie=motif,
    )


def first_seen(ctx: Context, uaj: str, p: Pupil, ref: str) -> list[Event]:
    """A pupil not seen before: ELEVE_INSCRIT, plus ELEVE_SORTI when DATE_SORTIE is set."""
    events = [inscrit(ctx, uaj, p, ref)]
    if p.date_sortie is not None:
        events.append(sorti(ctx, uaj, p.eleve_id, p.present(), p.date_sortie, p.motif, ref))
    return events
