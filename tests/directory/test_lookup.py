"""Directory look-ups and the compacted-topic form (to_entries / from_entries)."""

from __future__ import annotations

import json

import pytest

from hub.directory import DirectoryError, DirectoryIndex, from_entries, load_directory, parse_directory, to_entries
from hub.directory.lookup import META_KEY
from hub.types.directory import Cti, Directory, Etablissement

from .conftest import SAMPLE


def test_observatoire_for_commune(small):
    assert small.observatoire_for_commune("86194") == "OBS-86"
    assert small.observatoire_for_commune("86066") == "OBS-86"  # by département, no ML needed
    assert small.observatoire_for_commune("79191") == "OBS-79"
    assert small.observatoire_for_commune("33063") is None
    assert small.observatoire_for_commune("8619") is None  # not a commune code
    assert small.observatoire_for_commune("") is None


@pytest.mark.parametrize(("commune", "obs"), [("2A004", "OBS-COR"), ("2b033", "OBS-COR"), ("97411", "OBS-974"),
                                             ("97101", None), ("20004", None)])
def test_corsica_and_overseas_departements(small, commune, obs):
    assert small.observatoire_for_commune(commune) == obs


def test_mission_locale_for_commune(small):
    assert small.mission_locale_for_commune("86194") == "ML-86-POI"
    assert small.mission_locale_for_commune(" 86041 ") == "ML-86-POI"
    assert small.mission_locale_for_commune("85191") == "ML-79-NIO"
    assert small.mission_locale_for_commune("86066") is None
    assert small.mission_locale_for_commune(None) is None


def test_etablissement_and_cti(small):
    assert small.etablissement("0860012W") == Etablissement("0860012W", "LP du Dolmen", "LP", "86194", "CTI-E-86-01")
    assert small.etablissement("0860012w") == small.etablissement("0860012W")
    assert small.etablissement("0860099Z") is None
    assert small.etablissement("0860161H").cti is None
    assert small.cti("CTI-R-86-02") == Cti("CTI-R-86-02", "REGION", "CTI du CFA BTP")
    assert small.cti("CTI-X") is None


def test_mission_locale_codes(small):
    assert small.has_mission_locale("ML-79-NIO") and not small.has_mission_locale("ML-99")
    assert small.observatoire_of_mission_locale("ML-974") == "OBS-974"
    assert small.observatoire_of_mission_locale("ML-99") is None
    assert small.observatoires == ("OBS-86", "OBS-79", "OBS-COR", "OBS-974")


def test_index_satisfies_the_protocol(small):
    directory: Directory = small  # the type checker's view; and every method is there
    for name in ("observatoire_for_commune", "mission_locale_for_commune", "etablissement", "cti",
                 "has_mission_locale", "observatoire_of_mission_locale"):
        assert callable(getattr(directory, name))


# --- entries of hub.directory.v1 -------------------------------------------------------

def test_entry_keys_and_values(small):
    entries = to_entries(small.data)
    keys = [k for k, _ in entries]
    assert keys[:2] == ["observatoire:OBS-86", "observatoire:OBS-79"]
    assert "mission_locale:ML-86-POI" in keys and "cti:CTI-E-86-01" in keys and "etablissement:0860012W" in keys
    assert keys[-1] == META_KEY and len(keys) == len(set(keys))
    values = dict(entries)
    assert values["mission_locale:ML-86-POI"] == {
        "code": "ML-86-POI", "nom": "ML du Poitou", "observatoire": "OBS-86", "communes": ["86194", "86041"]}
    assert values["etablissement:0860161H"]["cti"] is None
    meta = values[META_KEY]
    assert meta["keys"] == keys[:-1]
    assert meta["hash"].startswith("sha256:") and meta["hash"] == small.version
    json.dumps(entries)  # plain JSON


def test_roundtrip(small):
    back = from_entries(to_entries(small.data))
    assert back.data == small.data and back.version == small.version


def test_roundtrip_of_the_sample():
    data = load_directory(SAMPLE)
    entries = to_entries(data)
    back = from_entries(json.loads(json.dumps(entries)))  # as it comes back from Kafka
    assert back.data == data
    assert back.mission_locale_for_commune("86194") == "ML-86-POI"


def test_hash_depends_on_content_not_order(small_doc):
    a = DirectoryIndex(parse_directory(small_doc))
    small_doc["etablissements"].reverse()
    assert DirectoryIndex(parse_directory(small_doc)).version == a.version
    small_doc["etablissements"][0]["nom"] = "Autre nom"
    assert DirectoryIndex(parse_directory(small_doc)).version != a.version


def test_keys_of_an_older_version_are_ignored(small, small_doc):
    old = to_entries(small.data)
    del small_doc["missions_locales"][2]  # ML-974 is gone in the new version
    small_doc["etablissements"][3]["nom"] = "Collège Jules-Verne"
    new = to_entries(parse_directory(small_doc))
    index = from_entries(old + new)  # compaction left the old key behind
    assert not index.has_mission_locale("ML-974")
    assert index.etablissement("0860161H").nom == "Collège Jules-Verne"


def test_later_values_and_tombstones(small):
    entries = to_entries(small.data)
    stale = [("cti:CTI-E-86-01", {"code": "CTI-E-86-01", "type": "ETAT", "nom": "ancien"}), ("cti:gone", {})]
    index = from_entries(stale + entries + [("cti:gone", None)])
    assert index.cti("CTI-E-86-01").nom == "CTI du LP du Dolmen"


def test_no_meta(small):
    with pytest.raises(DirectoryError, match="aucune version"):
        from_entries(to_entries(small.data)[:-1])
    with pytest.raises(DirectoryError, match="aucune version"):
        from_entries([])


def test_half_published_version_is_refused(small):
    entries = to_entries(small.data)
    with pytest.raises(DirectoryError, match="version incomplète.*cti:CTI-R-86-02"):
        from_entries([e for e in entries if e[0] != "cti:CTI-R-86-02"])


def test_content_not_matching_the_hash_is_refused(small):
    entries = to_entries(small.data)
    tampered = [(k, {**v, "nom": "modifié"} if k == "cti:CTI-E-86-01" else v) for k, v in entries]
    with pytest.raises(DirectoryError, match="empreinte"):
        from_entries(tampered)


def test_meta_listing_an_unknown_kind(small):
    entries = to_entries(small.data)
    meta = dict(entries[-1][1])
    meta["keys"] = [*meta["keys"], "zone:X"]
    with pytest.raises(DirectoryError, match="zone:X d'un type inconnu"):
        from_entries([*entries[:-1], ("zone:X", {}), (META_KEY, meta)])
