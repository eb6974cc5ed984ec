"""The synthetic region-year of bench/engine.py: events of the five sources, as published.

`RegionYear(n_events)` draws young people one by one (seeded, deterministic) until the
events reach `n_events`, each with a scenario, against the sample directory
(`deploy/sample/annuaire-poitou-charentes.yaml`: its establishments, CTIs, Missions
locales and communes). Events are shaped exactly as the connectors make them (envelope,
fields, `event_id` from the same natural keys, the person key of `hub.identity`), Avro
encoded with `hub.avro`, and spooled to one file per month, so that publishing goes
month by month (September 2025 → June 2026) with the source watermarks after each month,
as monthly ingests would. Memory stays bounded whatever the size.

Mix per 100 young people (≈ 1.9 events each):

- 52 lycéens (LYCEE/EREA, 15–18 at the rentrée): ELEVE_INSCRIT at the rentrée (5 % arrive
  during the year); 30 % have unjustified absences in 1–5 months (7 % of those months
  ≥ 10 half-days: prevention); 7 % leave (ELEVE_SORTI, reasons weighted as in the demo),
  of whom 35 % go to a Mission locale afterwards (INE-less records, linked by name key),
  10 % sign an apprenticeship contract, 5 % enrol elsewhere;
- 18 LP pupils: the same, more absences (45 %), 10 % leave, and 10 % have CTI reports
  (REPERAGE, then SUIVI, sometimes CLOTURE);
- 12 apprentices (16–22): CONTRAT_SIGNE in the autumn; 15 % ruptures (then SORTIE_CFA,
  a new contract or a Mission locale), INE in the apprentice format, BEA, or none (30 %);
- 13 young people followed by a Mission locale only (16–25, 85 % without INE):
  PREMIER_ACCUEIL, an accompaniment (70 %), 0–3 SITUATION records.

Sources then: rectorat ≈ 41 %, absenteisme ≈ 29 %, mission-locale ≈ 21 %, cfa ≈ 7 %,
cti ≈ 2 %; persons ≈ events / 1.9.

`Triggers` makes the latency phase's events: a CTI REPERAGE in an LP (PREVENTION) or a
CONTRAT_ROMPU (RUPTURE) of a new 16–18-year-old, dated before the clock, so that the case
opens as soon as the event is processed; `case_id` tells which case to wait for.
`topup(n)` makes enrolment-only pupils (one ELEVE_INSCRIT each) for the RSS phase.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hub.avro import get_codec
from hub.directory import load_directory
from hub.identity import case_id, event_id, person_key
from hub.kafka.seen import EVENT_ID_HEADER
from hub.rules.age import last_day_of_month
from hub.types.events import SOURCE_TOPICS

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"

MONTHS = tuple((2025, m) for m in range(9, 13)) + tuple((2026, m) for m in range(1, 7))
MONTH_ENDS = tuple(last_day_of_month(y, m) for y, m in MONTHS)
RENTREE = date(2025, 9, 1)
CLOCK = MONTH_ENDS[-1]  # the hub's clock once every month is published: 2026-06-30

SOURCES = ("rectorat", "absenteisme", "mission-locale", "cfa", "cti")
TOPICS = tuple(SOURCE_TOPICS[s] for s in SOURCES)
EVENT_TYPES = ("ELEVE_INSCRIT", "ELEVE_SORTI", "ABSENTEISME_MENSUEL", "JEUNE_ML", "CONTRAT_SIGNE",
               "CONTRAT_ROMPU", "SORTIE_CFA", "SIGNALEMENT_CTI")
_TOPIC_OF_TYPE = {
    "ELEVE_INSCRIT": 0, "ELEVE_SORTI": 0, "ABSENTEISME_MENSUEL": 1, "JEUNE_ML": 2,
    "CONTRAT_SIGNE": 3, "CONTRAT_ROMPU": 3, "SORTIE_CFA": 3, "SIGNALEMENT_CTI": 4,
}
_SOURCE_OF_TOPIC = dict(enumerate(SOURCES))

NOMS = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
        "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
        "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
        "Le Gall", "D'Almeida", "Nguyen", "Da Silva", "Benoît-Léger", "Müller", "Boucher", "Chevalier")
PRENOMS = ("Léa", "Emma", "Chloé", "Inès", "Manon", "Jade", "Zoé", "Louise", "Anaïs", "Camille", "Lucas", "Hugo",
           "Théo", "Nathan", "Louis", "Enzo", "Maël", "Noé", "Jean-Pierre", "Rayan", "Mathis", "Timéo", "Élodie")
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
MOTIFS = {"05": 40, "09": 18, "06": 8, "01": 12, "02": 7, "99": 5, "03": 4, "04": 4, "07": 1, "08": 1}
CAUSES = {"ACCORD_COMMUN": 30, "DEMISSION_APPRENTI": 25, "PERIODE_ESSAI": 20, "LICENCIEMENT": 10, "": 15}
SITUATIONS = {"EMPLOI": 25, "FORMATION": 20, "SANS_SOLUTION": 25, "INJOIGNABLE": 15, "SERVICE_CIVIQUE": 5,
              "APPRENTISSAGE": 5, "SCOLARITE": 5}
KINDS = {"lyceen": 52, "lp": 18, "apprenti": 12, "ml": 13}

_FRAME = struct.Struct("<BBBHI")  # topic index, type index, event id length, key length, value length


def _weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=list(weights.values()))[0]


def _day_in(rng: random.Random, month: int, lo: int = 1) -> date:
    y, m = MONTHS[month]
    return date(y, m, rng.randint(lo, MONTH_ENDS[month].day))


def _month_of(d: date) -> int:
    return (d.year - 2025) * 12 + d.month - 9


@dataclass(frozen=True, slots=True)
class Etab:
    uai: str
    type: str
    commune: str
    dep: str
    cti: str | None


class Region:
    """What the generator draws from the sample directory."""

    def __init__(self, path: Path = SAMPLE) -> None:
        data = load_directory(path)
        self.etabs = [Etab(e.uai, e.type, e.commune, e.commune[:2], e.cti) for e in data.etablissements]
        self.lycees = [e for e in self.etabs if e.type in ("LYCEE", "EREA")]
        self.lps = [e for e in self.etabs if e.type == "LP"]
        self.lps_cti = [e for e in self.lps if e.cti]
        self.cfas = [e for e in self.etabs if e.type in ("CFA", "MFR")]
        obs_dep = {o.code: o.departements[0] for o in data.observatoires}
        self.ml_of: dict[str, str] = {}
        self.communes: dict[str, list[str]] = {}
        for ml in data.missions_locales:
            for c in ml.communes:
                self.ml_of[c] = ml.code
                self.communes.setdefault(obs_dep[ml.observatoire], []).append(c)
        self.deps = sorted(self.communes)


def _siret(n: int) -> str:
    """A 14-digit SIRET with a valid Luhn key."""
    base = f"{732829320 + n % 5000:09d}0001"
    for last in "0123456789":
        digits = base + last
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError(base)


class _Person:
    __slots__ = ("serial", "nom", "prenom", "dob", "ine", "commune")

    def __init__(self, serial: int, nom: str, prenom: str, dob: date, ine: str | None, commune: str | None) -> None:
        self.serial, self.nom, self.prenom, self.dob, self.ine, self.commune = serial, nom, prenom, dob, ine, commune


def _suffix(serial: int) -> str:
    """A unique name suffix per serial: every young person has a name key of their own."""
    out = []
    n = serial + 1
    while n:
        n, r = divmod(n, 23)
        out.append(_LETTERS[r])
    return "".join(out)


def ine_for(serial: int, kind: str) -> str:
    """Unique per (serial, kind family): a bijection of the serial, so no two collide."""
    if kind == "BEA":
        return f"{(serial * 2654435761 + 17) % 10**10:010d}{_LETTERS[serial % 23]}"
    if kind == "RNIE":
        return f"{(serial * 2654435761 + 91) % 10**9:09d}{_LETTERS[serial % 23]}{_LETTERS[(serial // 23) % 23]}"
    # apprentice: year + A + 5 digits + letter
    return f"{2019 + (serial // 10**5) % 7}A{serial % 10**5:05d}{_LETTERS[(serial // (7 * 10**5)) % 23]}"


class Encoder:
    """Events → (topic index, key, Avro value, headers) exactly as the KafkaSink sends them."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        codec = get_codec()
        self._enc = {t: codec.encoder(t) for t in EVENT_TYPES}

    def key(self, event: dict) -> str:
        p = event["person"]
        return person_key(p["ine"], p["nom"], p["prenom"], p["date_naissance"], self.secret)

    def encode(self, event: dict) -> tuple[int, bytes, bytes, list]:
        t = event["event_type"]
        headers = [(EVENT_ID_HEADER, event["event_id"].encode()), ("event_type", t.encode())]
        return _TOPIC_OF_TYPE[t], self.key(event).encode(), self._enc[t](event), headers


class Spool:
    """One file per month of encoded messages; read back in order."""

    def __init__(self, directory: Path, months: int = len(MONTHS)) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = [directory / f"month-{i:02d}.bin" for i in range(months)]
        self._files = [p.open("wb", buffering=1 << 20) for p in self.paths]
        self.counts = [0] * months

    def write(self, month: int, topic: int, event_type: str, eid: bytes, key: bytes, value: bytes) -> None:
        f = self._files[month]
        f.write(_FRAME.pack(topic, EVENT_TYPES.index(event_type), len(eid), len(key), len(value)))
        f.write(eid)
        f.write(key)
        f.write(value)
        self.counts[month] += 1

    def close(self) -> None:
        for f in self._files:
            f.close()

    def read(self, month: int) -> Iterator[tuple[str, bytes, bytes, list]]:
        """(topic, key, value, headers) of one month."""
        data = self.paths[month].read_bytes()
        pos, end, size = 0, len(data), _FRAME.size
        types = [t.encode() for t in EVENT_TYPES]
        while pos < end:
            ti, ty, le, lk, lv = _FRAME.unpack_from(data, pos)
            pos += size
            eid = data[pos : pos + le]
            pos += le
            key = data[pos : pos + lk]
            pos += lk
            value = data[pos : pos + lv]
            pos += lv
            yield TOPICS[ti], key, value, [(EVENT_ID_HEADER, eid), ("event_type", types[ty])]

    def remove(self) -> None:
        for p in self.paths:
            p.unlink(missing_ok=True)


def _received(month: int) -> datetime:
    d = MONTH_ENDS[month] + timedelta(days=1)
    return datetime(d.year, d.month, d.day, 21, 4, 11, tzinfo=UTC)


def _event(event_type: str, source: str, eid: str, ref: str, day: date, p: _Person, commune: str | None,
           ine: str | None, nom: str | None = None, **fields) -> dict:
    return {
        "event_id": eid,
        "event_type": event_type,
        "source": source,
        "source_ref": ref,
        "event_date": day,
        "received_at": _received(_month_of(day)),
        "person": {"ine": ine, "nom": nom or p.nom, "prenom": p.prenom, "date_naissance": p.dob,
                   "commune_residence": commune},
        **fields,
    }


class RegionYear:
    """Draws the region-year and spools it (see module doc)."""

    def __init__(self, n_events: int, secret: str, *, seed: int = 2026, region: Region | None = None,
                 first_serial: int = 0) -> None:
        self.n_events = n_events
        self.rng = random.Random(seed)
        self.region = region or Region()
        self.encoder = Encoder(secret)
        self.serial = first_serial
        self.persons = 0
        self.events = 0
        self.by_type: Counter[str] = Counter()
        self.by_source: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self._contracts = 0

    # -- people ------------------------------------------------------------------------

    def _person(self, dob_lo: date, dob_hi: date, ine_kind: str | None, dep: str | None = None) -> _Person:
        rng = self.rng
        serial = self.serial
        self.serial += 1
        self.persons += 1
        nom = f"{NOMS[rng.randrange(len(NOMS))]} {_suffix(serial)}"
        dob = dob_lo + timedelta(days=rng.randrange((dob_hi - dob_lo).days + 1))
        dep = dep or rng.choice(self.region.deps)
        commune = rng.choice(self.region.communes[dep]) if rng.random() < 0.97 else None
        ine = ine_for(serial, ine_kind) if ine_kind else None
        return _Person(serial, nom, PRENOMS[rng.randrange(len(PRENOMS))], dob, ine, commune)

    # -- events ------------------------------------------------------------------------

    def _emit(self, spool: Spool, event: dict) -> None:
        topic, key, value, _ = self.encoder.encode(event)
        spool.write(_month_of(event["event_date"]), topic, event["event_type"], event["event_id"].encode(), key, value)
        self.events += 1
        self.by_type[event["event_type"]] += 1
        self.by_source[event["source"]] += 1

    def _inscrit(self, spool: Spool, p: _Person, e: Etab, day: date) -> None:
        eleve_id = str(1_000_000 + p.serial)
        eid = event_id("rectorat", e.uai, eleve_id, "INSCRIT", day.isoformat())
        ref = f"BEE_ELEVES_{e.uai}.xml:ELEVE[{p.serial % 5000}]"
        self._emit(spool, _event("ELEVE_INSCRIT", "rectorat", eid, ref, day, p, p.commune, p.ine, uai=e.uai,
                                 eleve_id=eleve_id))

    def _sorti(self, spool: Spool, p: _Person, e: Etab, day: date, motif: str) -> None:
        eleve_id = str(1_000_000 + p.serial)
        eid = event_id("rectorat", e.uai, eleve_id, "SORTI", day.isoformat())
        ref = f"BEE_ELEVES_{e.uai}.xml:ELEVE[{p.serial % 5000}]"
        self._emit(spool, _event("ELEVE_SORTI", "rectorat", eid, ref, day, p, p.commune, p.ine, uai=e.uai,
                                 eleve_id=eleve_id, motif_sortie=motif))

    def _absence(self, spool: Spool, p: _Person, e: Etab, month: int, count: int) -> None:
        y, m = MONTHS[month]
        mois = f"{y:04d}-{m:02d}"
        just = self.rng.randint(0, 6)
        key = self.encoder.key({"person": {"ine": p.ine, "nom": p.nom, "prenom": p.prenom, "date_naissance": p.dob}})
        eid = event_id("absenteisme", e.uai, key, mois, str(count), str(just))
        self._emit(spool, _event("ABSENTEISME_MENSUEL", "absenteisme", eid, f"absenteisme-{mois}.csv:{p.serial}",
                                 MONTH_ENDS[month], p, None, p.ine, uai=e.uai, mois=mois,
                                 demi_journees_non_justifiees=count, demi_journees_justifiees=just))

    def _ml(self, spool: Spool, p: _Person, day: date, evenement: str, *, dispositif: str | None = None,
            situation: str | None = None, ine: str | None = None) -> None:
        commune = p.commune or self.rng.choice(self.region.communes[self.rng.choice(self.region.deps)])
        code_ml = self.region.ml_of[commune]
        milo = str(400_000 + p.serial)
        eid = event_id("mission-locale", code_ml, milo, evenement, day.isoformat(), dispositif or "", situation or "")
        # I-MILO: names as the counsellor typed them (capitals), the INE usually empty.
        self._emit(spool, _event("JEUNE_ML", "mission-locale", eid, f"imilo-{day:%Y-%m}.csv:{p.serial}", day, p,
                                 commune, ine, nom=p.nom.upper(), code_ml=code_ml, identifiant_milo=milo,
                                 evenement=evenement, dispositif=dispositif, situation=situation))

    def _contract(self, spool: Spool, p: _Person, cfa: Etab, event_type: str, day: date, numero: str | None,
                  debut: date | None, cause: str | None = None, ine: str | None = None) -> None:
        siret = _siret(p.serial) if event_type != "SORTIE_CFA" else None
        if event_type == "SORTIE_CFA":
            key = self.encoder.key({"person": {"ine": ine, "nom": p.nom, "prenom": p.prenom, "date_naissance": p.dob}})
            eid = event_id("cfa", cfa.uai, event_type, day.isoformat(), key)
            fields = dict(numero_contrat=numero, uai_cfa=cfa.uai, siret_employeur=None, rqth=False)
        else:
            eid = event_id("cfa", str(numero), event_type, day.isoformat())
            fields = dict(numero_contrat=numero, uai_cfa=cfa.uai, siret_employeur=siret, rqth=p.serial % 17 == 0,
                          date_debut_contrat=debut)
            if event_type == "CONTRAT_ROMPU":
                fields["cause_rupture"] = cause or None
        self._emit(spool, _event(event_type, "cfa", eid, f"contrats-{day:%Y-%m}.csv:{p.serial}", day, p,
                                 p.commune, ine, nom=p.nom.upper(), **fields))

    def _cti(self, spool: Spool, p: _Person, e: Etab, day: date, kind: str, n: int) -> None:
        reference = f"fiche-{e.cti}-{p.serial}-{n}"
        eid = event_id("cti", e.cti, reference)
        self._emit(spool, _event("SIGNALEMENT_CTI", "cti", eid, reference, day, p, p.commune, p.ine, cti=e.cti,
                                 uai=e.uai, type=kind, reference=reference,
                                 motif="absences répétées, démotivation" if kind == "REPERAGE" else None))

    # -- scenarios ---------------------------------------------------------------------

    def _pupil(self, spool: Spool, lp: bool) -> None:
        rng = self.rng
        region = self.region
        e = rng.choice(region.lps if lp else region.lycees)
        ine_kind = _weighted(rng, {"BEA": 88, "RNIE": 8, None: 4})
        p = self._person(date(2007, 1, 1), date(2010, 8, 31), ine_kind, e.dep)
        start = 0 if rng.random() < 0.95 else rng.randint(1, 6)
        entree = RENTREE + timedelta(days=1) if start == 0 else _day_in(rng, start)
        self._inscrit(spool, p, e, entree)
        leave = None
        if rng.random() < (0.10 if lp else 0.07):
            leave = rng.randint(max(start, 1), 9)
        last = leave if leave is not None else 9
        if rng.random() < (0.45 if lp else 0.30):
            months = sorted(rng.sample(range(start, last + 1), min(last + 1 - start, rng.choice((1, 1, 2, 2, 3, 4, 5)))))
            for m in months:
                r = rng.random()
                count = rng.randint(10, 24) if r < 0.07 else rng.randint(4, 9) if r < 0.30 else rng.randint(1, 3)
                self._absence(spool, p, e, m, count)
        if lp and e.cti and rng.random() < 0.10:
            m = rng.randint(start, max(start, last - 1))
            self._cti(spool, p, e, _day_in(rng, m), "REPERAGE", 0)
            if rng.random() < 0.7 and m + 1 <= 9:
                self._cti(spool, p, e, _day_in(rng, m + 1), "SUIVI", 1)
            if rng.random() < 0.35 and m + 2 <= 9:
                self._cti(spool, p, e, _day_in(rng, rng.randint(m + 2, 9)), "CLOTURE", 2)
        if leave is not None:
            day = max(entree, _day_in(rng, leave))
            self._sorti(spool, p, e, day, _weighted(rng, MOTIFS))
            after = rng.random()
            nxt = min(9, leave + rng.choice((0, 1, 1, 2, 3)))
            later = max(day, _day_in(rng, nxt))
            if after < 0.35:
                self._ml(spool, p, later, "PREMIER_ACCUEIL")
                if rng.random() < 0.6:
                    self._ml(spool, p, min(CLOCK, later + timedelta(days=rng.randint(3, 20))),
                             "ENTREE_ACCOMPAGNEMENT", dispositif=rng.choice(("CEJ", "PACEA")))
            elif after < 0.45:
                self._contracts += 1
                numero = f"DECA-{self._contracts:08d}"
                self._contract(spool, p, rng.choice(region.cfas), "CONTRAT_SIGNE", later, numero, later,
                               ine=p.ine if rng.random() < 0.5 else None)
            elif after < 0.50:
                self._inscrit(spool, p, rng.choice(region.lycees + region.lps), later)

    def _apprenti(self, spool: Spool) -> None:
        rng = self.rng
        region = self.region
        cfa = rng.choice(region.cfas)
        ine_kind = _weighted(rng, {"APP": 55, "BEA": 15, None: 30})
        p = self._person(date(2003, 1, 1), date(2009, 8, 31), ine_kind, cfa.dep)
        self._contracts += 1
        numero = f"DECA-{self._contracts:08d}"
        signed = _day_in(rng, rng.randint(0, 2))
        debut = signed + timedelta(days=rng.randint(0, 10))
        self._contract(spool, p, cfa, "CONTRAT_SIGNE", signed, numero, debut, ine=p.ine)
        if rng.random() < 0.15:
            m = rng.randint(_month_of(debut), 9)
            broken = max(debut + timedelta(days=1), _day_in(rng, m))
            if broken > CLOCK:
                return
            self._contract(spool, p, cfa, "CONTRAT_ROMPU", broken, numero, debut, cause=_weighted(rng, CAUSES), ine=p.ine)
            r = rng.random()
            later = min(CLOCK, broken + timedelta(days=rng.randint(5, 120)))
            if r < 0.3:
                self._contract(spool, p, cfa, "SORTIE_CFA", later, numero, None, ine=p.ine)
            elif r < 0.6:
                self._contracts += 1
                n2 = f"DECA-{self._contracts:08d}"
                self._contract(spool, p, rng.choice(region.cfas), "CONTRAT_SIGNE", later, n2, later, ine=p.ine)
            elif r < 0.8:
                self._ml(spool, p, later, "PREMIER_ACCUEIL")

    def _jeune_ml(self, spool: Spool) -> None:
        rng = self.rng
        p = self._person(date(2000, 7, 1), date(2009, 8, 31), "BEA" if rng.random() < 0.15 else None)
        m = rng.randint(0, 9)
        day = _day_in(rng, m)
        self._ml(spool, p, day, "PREMIER_ACCUEIL", ine=p.ine)
        if rng.random() < 0.7:
            m2 = min(9, m + rng.choice((0, 1, 1, 2)))
            self._ml(spool, p, max(day, _day_in(rng, m2)), "ENTREE_ACCOMPAGNEMENT",
                     dispositif=_weighted(rng, {"CEJ": 55, "PACEA": 35, "AUTRE": 10}), ine=p.ine)
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            m3 = rng.randint(m, 9)
            self._ml(spool, p, max(day, _day_in(rng, m3)), "SITUATION", situation=_weighted(rng, SITUATIONS), ine=p.ine)

    def generate(self, spool: Spool) -> None:
        rng = self.rng
        while self.events < self.n_events:
            kind = _weighted(rng, KINDS)
            self.kinds[kind] += 1
            if kind in ("lyceen", "lp"):
                self._pupil(spool, kind == "lp")
            elif kind == "apprenti":
                self._apprenti(spool)
            else:
                self._jeune_ml(spool)

    def topup(self, spool: Spool, persons: int) -> None:
        """`persons` enrolment-only pupils (one ELEVE_INSCRIT each), in month 0."""
        rng = self.rng
        for _ in range(persons):
            e = rng.choice(self.region.lycees)
            p = self._person(date(2007, 1, 1), date(2010, 8, 31), "BEA" if rng.random() < 0.96 else None, e.dep)
            self._inscrit(spool, p, e, RENTREE + timedelta(days=1))


class Triggers:
    """Events that open a case as soon as they are processed (the clock being CLOCK)."""

    def __init__(self, secret: str, *, first_serial: int, seed: int = 7, region: Region | None = None) -> None:
        self.region = region or Region()
        self.encoder = Encoder(secret)
        self.rng = random.Random(seed)
        self.serial = first_serial

    def next(self) -> tuple[str, bytes, bytes, list, str, str]:
        """(topic, key, value, headers, case id, case type)."""
        rng = self.rng
        serial = self.serial
        self.serial += 1
        day = date(2026, 6, rng.randint(1, 28))
        dob = date(2008, 1, 1) + timedelta(days=rng.randrange(700))
        nom = f"{NOMS[rng.randrange(len(NOMS))]} {_suffix(serial)}"
        if serial % 2 == 0:
            e = rng.choice(self.region.lps_cti)
            ine = ine_for(serial, "RNIE")
            p = _Person(serial, nom, rng.choice(PRENOMS), dob, ine, rng.choice(self.region.communes[e.dep]))
            reference = f"fiche-{e.cti}-{serial}"
            event = _event("SIGNALEMENT_CTI", "cti", event_id("cti", e.cti, reference), reference, day, p, p.commune,
                           ine, cti=e.cti, uai=e.uai, type="REPERAGE", reference=reference, motif="absences")
            case_type = "PREVENTION"
        else:
            cfa = rng.choice(self.region.cfas)
            ine = ine_for(serial, "APP")
            p = _Person(serial, nom.upper(), rng.choice(PRENOMS), dob, ine, rng.choice(self.region.communes[cfa.dep]))
            numero = f"DECA-T{serial:09d}"
            debut = date(2025, 10, 1)
            event = _event("CONTRAT_ROMPU", "cfa", event_id("cfa", numero, "CONTRAT_ROMPU", day.isoformat()),
                           f"contrats-{day:%Y-%m}.csv:{serial}", day, p, p.commune, ine, numero_contrat=numero,
                           uai_cfa=cfa.uai, siret_employeur=_siret(serial), rqth=False, date_debut_contrat=debut,
                           cause_rupture="ACCORD_COMMUN")
            case_type = "RUPTURE"
        topic, key, value, headers = self.encoder.encode(event)
        return TOPICS[topic], key, value, headers, case_id(key.decode(), case_type, day), case_type

    def event(self) -> tuple[dict, str, str]:
        """One trigger as an event dict (for checking against the rule core)."""
        topic, key, value, headers, cid, case_type = self.next()
        return get_codec().decode(value), cid, case_type
