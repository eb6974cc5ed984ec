"""CTI — counsellor reports, JSON Lines or HTTP (inputs.md §5) → SIGNALEMENT_CTI.

    {"cti", "uai", "type", "date", "reference", "motif",
     "jeune": {"ine", "nom", "prenom", "date_naissance", "commune_residence"}}

- `cti` must be a CTI of the directory (BAD_VALUE otherwise); `uai` a valid UAI;
  `type` REPERAGE | SUIVI | CLOTURE; `date` and `reference` required; `motif` optional;
  `jeune` required (an object) with `nom`, `prenom`, `date_naissance` required, `ine`
  and `commune_residence` optional. Unknown keys are ignored. Errors inside `jeune` name
  the field `jeune.<key>`;
- a line that is not JSON (or not a JSON object) is rejected BAD_JSON by the reader;
- event id: (cti, reference) — `reference` is unique per CTI, the idempotence key:
  the same report posted twice, or re-sent in another file, is the same fact; so is a
  report that reuses a reference with other content (the first one published stays,
  the later one is counted `unchanged`): the reference is the CTI's promise of
  uniqueness, and the hub keeps ids, not contents, of what it published;
- source_ref: the report's reference;
- default as-of: the latest `date`, a report rejected for another field included (CTI
  reports do not hold the hub's clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.identity import event_id
from hub.types.events import CTI_TYPES, SIGNALEMENT_CTI, SOURCE_TOPICS
from hub.validation import BAD_VALUE

from connectors.core.fields import Fields, lowered, make_event, person
from connectors.core.tabular import JsonLinesConnector
from connectors.core.types import Context, Mapped, Rejected

SOURCE = "cti"
TOPIC = SOURCE_TOPICS[SOURCE]
JEUNE_FIELDS = ("ine", "nom", "prenom", "date_naissance", "commune_residence")


def _flatten(row: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, list[str]]:
    """Top-level keys lower-cased, plus `jeune.<key>`; the problem with `jeune` if any;
    the names given twice (`lowered`)."""
    # The young person's fields come from `jeune` only, never from a top-level key that
    # happens to be spelled "jeune.nom".
    flat, repeated = lowered(row)
    flat = {name: v for name, v in flat.items() if not name.startswith("jeune.")}
    jeune = flat.pop("jeune", None)
    if jeune is None or jeune == "":
        return flat, "missing", repeated
    if not isinstance(jeune, Mapping):
        return flat, "bad", repeated
    inner, twice = lowered(jeune)
    for name, v in inner.items():
        flat[f"jeune.{name}"] = v
    return flat, None, repeated + [f"jeune.{name}" for name in twice]


def _cti(f: Fields, ctx: Context) -> str | None:
    code = f.text("cti")
    if not code:
        f.missing("cti", "code du CTI")
        return None
    directory = ctx.directory
    if directory is None:
        raise RuntimeError("cti: validation needs the directory")
    for candidate in (code, code.upper()):
        if directory.cti(candidate) is not None:
            return candidate
    f.fail("cti", (BAD_VALUE, f"CTI {code!r} inconnu de l'annuaire"))
    return None


def validate(row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
    flat, jeune_problem, repeated = _flatten(row)
    f = Fields(flat, lower=False, repeated=repeated)
    cti = _cti(f, ctx)
    uai = f.uai("uai")
    kind = f.enum("type", CTI_TYPES)
    day = f.date("date")
    reference = f.required("reference")
    motif = f.text("motif") or None
    if jeune_problem == "missing":
        f.missing("jeune", "identité du jeune")
    elif jeune_problem == "bad":
        f.fail("jeune", (BAD_VALUE, "un objet est attendu"))
    ine = nom = prenom = naissance = commune = None
    if jeune_problem is None:
        ine = f.ine("jeune.ine")
        nom = f.name("jeune.nom")
        prenom = f.name("jeune.prenom")
        naissance = f.date("jeune.date_naissance")
        commune = f.commune("jeune.commune_residence", optional=True)
    if not f.ok:
        return f.rejected(day, naissance)
    assert cti and uai and kind and day and reference and nom and prenom and naissance
    event = make_event(
        ctx,
        SIGNALEMENT_CTI,
        event_id(SOURCE, cti, reference),
        reference,
        day,
        person(ine, nom, prenom, naissance, commune),
        cti=cti,
        uai=uai,
        type=kind,
        reference=reference,
        motif=motif,
    )
    return Mapped([event], warnings=f.warnings)


CONNECTOR = JsonLinesConnector(SOURCE, validate, needs_directory=True)
