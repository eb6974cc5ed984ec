"""A small directory built in memory, and a helper to write one to a YAML file."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from hub.directory import DirectoryIndex, parse_directory

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"

# Communes: 86194 Poitiers, 86041 Buxerolles, 86066 Châtellerault (no ML on purpose),
# 79191 Niort, 85191 La Roche-sur-Yon (Vendée: no observatory), 33063 Bordeaux,
# 2A004 Ajaccio, 2B033 Bastia, 97411 Saint-Denis (La Réunion).
SMALL = {
    "observatoires": [
        {"code": "OBS-86", "nom": "Observatoire de la Vienne", "departements": ["86"]},
        {"code": "OBS-79", "nom": "Observatoire des Deux-Sèvres", "departements": ["79"]},
        {"code": "OBS-COR", "nom": "Observatoire de Corse", "departements": ["2A", "2B"]},
        {"code": "OBS-974", "nom": "Observatoire de La Réunion", "departements": ["974"]},
    ],
    "missions_locales": [
        {"code": "ML-86-POI", "nom": "ML du Poitou", "observatoire": "OBS-86", "communes": ["86194", "86041"]},
        {"code": "ML-79-NIO", "nom": "ML du Niortais", "observatoire": "OBS-79", "communes": ["79191", "85191"]},
        {"code": "ML-974", "nom": "ML de Saint-Denis", "observatoire": "OBS-974", "communes": ["97411"]},
    ],
    "ctis": [
        {"code": "CTI-E-86-01", "type": "ETAT", "nom": "CTI du LP du Dolmen"},
        {"code": "CTI-R-86-02", "type": "REGION", "nom": "CTI du CFA BTP"},
        {"code": "CTI-R-79-01", "type": "REGION", "nom": "CTI de la MFR"},
    ],
    "etablissements": [
        {"uai": "0860012W", "nom": "LP du Dolmen", "type": "LP", "commune": "86194", "cti": "CTI-E-86-01"},
        {"uai": "0861433R", "nom": "CFA BTP", "type": "CFA", "commune": "86066", "cti": "CTI-R-86-02"},
        {"uai": "0791401U", "nom": "CFA de Niort", "type": "CFA", "commune": "79191"},
        {"uai": "0860161H", "nom": "Collège Jules Verne", "type": "COLLEGE", "commune": "86041"},
        {"uai": "0791175Y", "nom": "MFR de Mauléon", "type": "MFR", "commune": "79191", "cti": "CTI-R-79-01"},
        {"uai": "0330001X", "nom": "CFA de Bordeaux", "type": "CFA", "commune": "33063"},
        {"uai": "0860183G", "nom": "Collège de Châtellerault", "type": "COLLEGE", "commune": "86066"},
    ],
}


@pytest.fixture
def small_doc() -> dict:
    return copy.deepcopy(SMALL)


@pytest.fixture
def small() -> DirectoryIndex:
    return DirectoryIndex(parse_directory(copy.deepcopy(SMALL), "small"))


@pytest.fixture
def write_yaml(tmp_path):
    def write(doc, name: str = "annuaire.yaml") -> Path:
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return path

    return write
