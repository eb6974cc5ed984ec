"""Input files for the broker tests that go through the real connectors (`hub ingest`).

`scenario(tag, b)` writes nothing: it returns the files (name, source, bytes, as-of) of
one small population of young people named after `tag`, dated after `b` (the hub's
clock, see conftest.base), covering every source and most case types:

| who | files | expected (rules.md) |
|---|---|---|
| UN, 17, INE | SIECLE A (exit 05), I-MILO without INE (accompaniment) | OBLIGATION_FORMATION, resolved ACCOMPAGNEMENT_ML (INE-less record linked) |
| DEUX, 19, INE | SIECLE A (gone from the 2nd export: exit 99), I-MILO without INE in La Rochelle, CFA contract | DECROCHAGE, transferred OBS-86 → OBS-17, resolved APPRENTISSAGE |
| TROIS, 20, INE | CFA contract (INE), rupture without INE | RUPTURE (linked), ALERTE, CLOS SANS_SOLUTION, then DECROCHAGE |
| QUATRE, 18, no INE anywhere | CFA contract, rupture within 45 days, SORTIE_CFA | RUPTURE CLOS ABANDON, then DECROCHAGE (a name-key person) |
| CINQ ×2, homonyms | SIECLE B (INE a), I-MILO (INE b), CFA rupture without INE | *litige*: no case |
| SIX, 16, INE | absenteeism 2 months ≥ 4, CTI CLOTURE | PREVENTION CLOS CLOTURE_CTI |
| SEPT, 17, INE | CTI REPERAGE | PREVENTION OUVERT |
| HUIT, 15½ at exit, INE | SIECLE B (exit 09) | OBLIGATION_FORMATION at the 16th birthday |
| NEUF, 13 | SIECLE B | filtered by the connector, no case |
| DIX, 19, INE | SIECLE A (exit 04, diploma) | no case |

Each example gets its own establishments for SIECLE (fresh UAJs, not in the directory:
the connectors keep one snapshot per UAJ on the shared broker), its own contract
numbers, I-MILO ids and CTI references, and INEs drawn from `tag`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from hub.validation import uai_check_letter
from tests.worker import factory as f
from tests.worker.conftest import years_before

D = timedelta(days=1)
ML_HEADER = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;"
             "dispositif;situation")
CFA_HEADER = ("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;"
              "evenement;date_evenement;date_debut_contrat;cause_rupture")
ABS_HEADER = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"
SIRET = "73282932000074"
CTI_LP_86 = "CTI-E-86-01"


@dataclass(frozen=True, slots=True)
class InputFile:
    name: str
    source: str  # as `hub ingest SOURCE`
    data: bytes
    as_of: date | None  # --as-of; None: the source's default (SIECLE: DATE_EXPORT)
    chain: str | None = None  # SIECLE: the UAJ (its exports must keep their order)
    rank: int = 0  # SIECLE: position in the UAJ's chronological order

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        path.write_bytes(self.data)
        return path

    def argv(self, folder: Path) -> list[str]:
        args = ["ingest", self.source, str(folder / self.name), "--json"]
        if self.as_of is not None:
            args += ["--as-of", self.as_of.isoformat()]
        return args


def fr(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def fresh_uaj(rng: random.Random, known: set[str]) -> str:
    """A valid UAI in Charente (016xxxx) that is not in the sample directory."""
    while True:
        digits = f"016{rng.randrange(2000, 10_000):04d}"
        code = digits + uai_check_letter(digits)
        if code not in known:
            known.add(code)
            return code


def _eleve(eid: str, p: dict, entree: date, sortie: date | None = None, motif: str = "") -> str:
    parts = [
        f"<ID_NATIONAL>{p['ine'] or ''}</ID_NATIONAL>",
        f"<NOM_DE_FAMILLE>{p['nom']}</NOM_DE_FAMILLE>",
        "<NOM_USAGE></NOM_USAGE>",
        f"<PRENOM>{p['prenom']}</PRENOM>",
        f"<DATE_NAISS>{fr(p['date_naissance'])}</DATE_NAISS>",
        "<CODE_SEXE>1</CODE_SEXE>",
        f"<CODE_COMMUNE_INSEE_RESIDENCE>{p['commune_residence'] or ''}</CODE_COMMUNE_INSEE_RESIDENCE>",
        f"<DATE_ENTREE>{fr(entree)}</DATE_ENTREE>",
    ]
    if sortie is not None:
        parts.append(f"<DATE_SORTIE>{fr(sortie)}</DATE_SORTIE><CODE_MOTIF_SORTIE>{motif}</CODE_MOTIF_SORTIE>")
    return f'<ELEVE ELEVE_ID="{eid}" ELENOET="{eid}">{"".join(parts)}</ELEVE>'


def siecle(uaj: str, exported: date, eleves: list[str]) -> bytes:
    text = (
        '<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES VERSION="3.1">'
        f"<PARAMETRES><UAJ>{uaj}</UAJ><ANNEE_SCOLAIRE>{exported.year - 1}</ANNEE_SCOLAIRE>"
        f"<DATE_EXPORT>{fr(exported)}</DATE_EXPORT><HORODATAGE>{fr(exported)} 21:04:11</HORODATAGE></PARAMETRES>"
        f"<DONNEES><ELEVES>{''.join(eleves)}</ELEVES></DONNEES></BEE_ELEVES>\n"
    )
    return text.encode("iso-8859-15")


def csv(header: str, rows: list[list[str]]) -> bytes:
    return ("\n".join([header, *(";".join(r) for r in rows)]) + "\n").encode("utf-8")


def _id(p: dict) -> list[str]:
    return [p["ine"] or "", p["nom"], p["prenom"], fr(p["date_naissance"])]


def ml_row(p: dict, code_ml: str, milo: str, evenement: str, on: date, dispositif: str = "",
           situation: str = "") -> list[str]:
    return [code_ml, milo, *_id(p), p["commune_residence"] or "", evenement, fr(on), dispositif, situation]


def cfa_row(p: dict, numero: str, evenement: str, on: date, debut: date | None = None, cause: str = "",
            uai_cfa: str = f.CFA_86) -> list[str]:
    siret = SIRET if evenement == "CONTRAT_SIGNE" else ""
    return [numero, uai_cfa, siret, *_id(p), p["commune_residence"] or "", "N", evenement, fr(on),
            fr(debut) if debut else "", cause]


def cti_line(p: dict, kind: str, on: date, reference: str) -> str:
    return json.dumps({
        "cti": CTI_LP_86, "uai": f.LP_86, "type": kind, "date": on.isoformat(), "reference": reference,
        "motif": "absences répétées",
        "jeune": {"ine": p["ine"], "nom": p["nom"], "prenom": p["prenom"],
                  "date_naissance": p["date_naissance"].isoformat(), "commune_residence": p["commune_residence"]},
    }, ensure_ascii=False)


def month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - D


def scenario(tag: str, b: date) -> tuple[list[InputFile], date, dict[str, dict]]:
    """The files of the population above, the final clock they give (the as-of of the
    last file of each clock source) and the people by name (see module doc)."""
    rng = random.Random(tag)
    known = {f.LP_86, f.LYCEE_86, f.LYCEE_17, f.CFA_86}
    uaj_a, uaj_b = fresh_uaj(rng, known), fresh_uaj(rng, known)
    final = b + 210 * D

    def ine() -> str:
        return f.random_ine(rng)

    un = f.person(f"{tag}UN", "Élodie", years_before(b, 17), ine(), f.POITIERS)
    deux = f.person(f"{tag}DEUX", "Jean-Pierre", years_before(b, 19), ine(), f.POITIERS)
    trois = f.person(f"{tag}TROIS", "Zoé", years_before(b, 20), ine(), f.POITIERS)
    quatre = f.person(f"{tag}QUATRE", "Ali", years_before(b, 18), None, f.NIORT)
    cinq_a = f.person(f"{tag}CINQ", "Léa", years_before(b, 18, days=40), ine(), f.POITIERS)
    cinq_b = f.with_(cinq_a, ine=ine(), commune=f.NIORT)
    six = f.person(f"{tag}SIX", "Hugo", years_before(b, 16, days=60), ine(), f.POITIERS)
    sept = f.person(f"{tag}SEPT", "Inès", years_before(b, 17), ine(), f.POITIERS)
    birthday16 = b + 195 * D
    huit = f.person(f"{tag}HUIT", "Noé", date(birthday16.year - 16, birthday16.month, min(birthday16.day, 28)),
                    ine(), f.POITIERS)
    neuf = f.person(f"{tag}NEUF", "Lou", years_before(b, 13), ine(), f.POITIERS)
    dix = f.person(f"{tag}DIX", "Max", years_before(b, 19), ine(), f.POITIERS)
    nameless = {"ine": None}

    files: list[InputFile] = []
    # SIECLE, establishment A: three exports.
    a_dates = [b + 10 * D, b + 45 * D, final]
    a_un = [_eleve("1", un, b - 200 * D), _eleve("1", un, b - 200 * D, b + 30 * D, "05"),
            _eleve("1", un, b - 200 * D, b + 30 * D, "05")]
    a_deux = [_eleve("2", deux, b - 300 * D), None, None]
    a_dix = [_eleve("10", dix, b - 300 * D, b + 5 * D, "04")] * 3
    for i, exported in enumerate(a_dates):
        eleves = [e for e in (a_un[i], a_deux[i], a_dix[i]) if e is not None]
        files.append(InputFile(f"siecle-{uaj_a}-{i + 1}.xml", "rectorat", siecle(uaj_a, exported, eleves), None,
                               chain=uaj_a, rank=i))
    # SIECLE, establishment B: two exports.
    b_dates = [b + 20 * D, b + 100 * D]
    for i, exported in enumerate(b_dates):
        eleves = [_eleve("5", cinq_a, b - 100 * D), _eleve("8", huit, b - 250 * D, b + 15 * D, "09"),
                  _eleve("9", neuf, b - 100 * D)]
        files.append(InputFile(f"siecle-{uaj_b}-{i + 1}.xml", "rectorat", siecle(uaj_b, exported, eleves), None,
                               chain=uaj_b, rank=i))
    # I-MILO: two exports.
    files.append(InputFile("milo-1.csv", "mission-locale", csv(ML_HEADER, [
        ml_row({**un, **nameless}, "ML-86-POI", f"{tag}-M1", "ENTREE_ACCOMPAGNEMENT", b + 90 * D, dispositif="CEJ"),
        ml_row(cinq_b, "ML-79-NIO", f"{tag}-M5", "PREMIER_ACCUEIL", b - 50 * D),
    ]), b + 100 * D))
    files.append(InputFile("milo-2.csv", "mission-locale", csv(ML_HEADER, [
        ml_row({**deux, **nameless, "commune_residence": f.LA_ROCHELLE}, "ML-17-LRO", f"{tag}-M2",
               "PREMIER_ACCUEIL", b + 80 * D),
    ]), final))
    # CFA: three files.
    files.append(InputFile("cfa-1.csv", "cfa", csv(CFA_HEADER, [
        cfa_row(trois, f"{tag}-K3", "CONTRAT_SIGNE", b - 100 * D),
        cfa_row(quatre, f"{tag}-K4", "CONTRAT_SIGNE", b - 10 * D),
    ]), b + 30 * D))
    files.append(InputFile("cfa-2.csv", "cfa", csv(CFA_HEADER, [
        cfa_row({**trois, **nameless}, f"{tag}-K3", "CONTRAT_ROMPU", b + 20 * D, b - 100 * D, "LICENCIEMENT"),
        cfa_row(quatre, f"{tag}-K4", "CONTRAT_ROMPU", b + 25 * D, b - 10 * D, "PERIODE_ESSAI"),
        cfa_row({**cinq_a, **nameless}, f"{tag}-K5", "CONTRAT_ROMPU", b + 30 * D, b - 60 * D, ""),
    ]), b + 60 * D))
    files.append(InputFile("cfa-3.csv", "cfa", csv(CFA_HEADER, [
        cfa_row({**deux, "commune_residence": f.LA_ROCHELLE}, f"{tag}-K2", "CONTRAT_SIGNE", b + 120 * D),
        cfa_row(quatre, "", "SORTIE_CFA", b + 70 * D),
    ]), final))
    # Absenteeism: two consecutive months with at least 4 unjustified half-days.
    m1, m2 = month_end(b + 35 * D), month_end(month_end(b + 35 * D) + D)
    files.append(InputFile("absenteisme.csv", "absenteisme", csv(ABS_HEADER, [
        [f.LP_86, *_id(six), m1.strftime("%Y-%m"), "5", "1"],
        [f.LP_86, *_id(six), m2.strftime("%Y-%m"), "6", "0"],
    ]), None))
    # CTI reports.
    files.append(InputFile("cti.jsonl", "cti", (
        cti_line(sept, "REPERAGE", b + 50 * D, f"{tag}-rep-7") + "\n"
        + cti_line(six, "CLOTURE", b + 130 * D, f"{tag}-clo-6") + "\n").encode("utf-8"), None))
    people = {"UN": un, "DEUX": deux, "TROIS": trois, "QUATRE": quatre, "CINQ_A": cinq_a, "CINQ_B": cinq_b,
              "SIX": six, "SEPT": sept, "HUIT": huit, "NEUF": neuf, "DIX": dix}
    return files, final, people
