"""The directory file (inputs.md §6) as pydantic models: one entry checked at a time.

Field rules come from hub.validation, so a UAI or a commune is judged here exactly as
the connectors judge it. Cross-references between entries are checked in `load.py`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from hub.types.cases import HORS_TERRITOIRE
from hub.validation import (
    BAD_VALUE,
    FieldError,
    check_commune,
    check_departement,
    check_enum,
    check_uai,
    require,
)

ETABLISSEMENT_TYPES = ("COLLEGE", "LYCEE", "LP", "EREA", "MFR", "CFA")
CTI_TYPES = ("ETAT", "REGION")
SECTIONS = ("observatoires", "missions_locales", "ctis", "etablissements")


def scalar_text(value: object) -> object:
    """YAML reads an unquoted 86194 as an int: take it as the text it was written as.

    Safe: a leading-zero code YAML would read as octal (01053 → 555) comes out too
    short to pass any code check, so it is refused, never silently changed.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _enum(label: str, allowed: tuple[str, ...]):
    def check(value: str) -> str:
        try:
            return check_enum(value, allowed)  # type: ignore[return-value]
        except FieldError as e:
            if e.code != BAD_VALUE:
                raise
            raise FieldError(BAD_VALUE, f"{label} {value.strip()!r} inconnu: {', '.join(allowed)} attendu") from None

    return AfterValidator(check)


def _optional_code(value: object) -> object:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _optional_text(value: object) -> object:
    """A name is for people to read, not to route: absent or null is empty."""
    value = scalar_text(value)
    return "" if value is None else value.strip() if isinstance(value, str) else value


def _optional_list(value: object) -> object:
    # `communes:` written with nothing after it reads as null: no commune yet.
    return () if value is None else value


# An observatory's code names its Kafka topic (`observatoire.<CODE>.cases.v1`,
# interfaces.md): Kafka's topic characters only, the name within Kafka's 249.
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_MAX_OBSERVATORY_CODE = 249 - len("observatoire.") - len(".cases.v1")


def _observatory_code(value: str) -> str:
    value = require(value)
    if not _TOPIC_CHARS.fullmatch(value):
        raise FieldError(BAD_VALUE, f"code {value!r}: lettres, chiffres, « . », « _ » et « - » seulement "
                                    "(il nomme le topic de l'observatoire)")
    if len(value) > _MAX_OBSERVATORY_CODE:
        raise FieldError(BAD_VALUE, f"code trop long ({len(value)} caractères, {_MAX_OBSERVATORY_CODE} au plus)")
    if value == HORS_TERRITOIRE:
        raise FieldError(BAD_VALUE, f"code {value!r} réservé à la file des cas hors territoire")
    return value


_Text = BeforeValidator(scalar_text)
Code = Annotated[str, _Text, AfterValidator(require)]
ObservatoryCode = Annotated[str, _Text, AfterValidator(_observatory_code)]
Nom = Annotated[str, BeforeValidator(_optional_text)]
Uai = Annotated[str, _Text, AfterValidator(check_uai)]
Commune = Annotated[str, _Text, AfterValidator(check_commune)]
Departement = Annotated[str, _Text, AfterValidator(check_departement)]


class _Entry(BaseModel):
    # extra="ignore": a key the hub does not use is left aside, as an unknown CSV column
    # is (inputs.md §6 refuses a file for its references and codes only).
    model_config = ConfigDict(frozen=True, extra="ignore")


class ObservatoireEntry(_Entry):
    code: ObservatoryCode
    nom: Nom = ""
    departements: Annotated[tuple[Departement, ...], BeforeValidator(_optional_list)] = ()


class MissionLocaleEntry(_Entry):
    code: Code
    nom: Nom = ""
    observatoire: Code
    communes: Annotated[tuple[Commune, ...], BeforeValidator(_optional_list)] = ()


class CtiEntry(_Entry):
    code: Code
    type: Annotated[str, _enum("type", CTI_TYPES)]
    nom: Nom = ""


class EtablissementEntry(_Entry):
    uai: Uai
    nom: Nom = ""
    type: Annotated[str, _enum("type", ETABLISSEMENT_TYPES)]
    commune: Commune
    cti: Annotated[Code | None, BeforeValidator(_optional_code)] = None


class DirectoryData(BaseModel):
    """A whole directory whose entries and cross-references have been checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    observatoires: tuple[ObservatoireEntry, ...] = ()
    missions_locales: tuple[MissionLocaleEntry, ...] = ()
    ctis: tuple[CtiEntry, ...] = ()
    etablissements: tuple[EtablissementEntry, ...] = ()


ENTRY_MODELS: dict[str, type[_Entry]] = {
    "observatoires": ObservatoireEntry,
    "missions_locales": MissionLocaleEntry,
    "ctis": CtiEntry,
    "etablissements": EtablissementEntry,
}
