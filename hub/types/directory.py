"""The directory as the engine and connectors see it (implemented in hub.directory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Etablissement:
    uai: str
    nom: str
    type: str  # COLLEGE, LYCEE, LP, EREA, MFR, CFA
    commune: str
    cti: str | None


@dataclass(frozen=True, slots=True)
class Cti:
    code: str
    type: str  # ETAT | REGION
    nom: str


class Directory(Protocol):
    """Read-only look-ups; every method answers None when the directory does not know."""

    def observatoire_for_commune(self, commune: str) -> str | None:
        """The observatory whose départements contain the commune's département."""

    def mission_locale_for_commune(self, commune: str) -> str | None:
        """The Mission locale whose communes list contains the commune."""

    def etablissement(self, uai: str) -> Etablissement | None: ...

    def cti(self, code: str) -> Cti | None: ...

    def has_mission_locale(self, code: str) -> bool: ...

    def observatoire_of_mission_locale(self, code: str) -> str | None: ...
