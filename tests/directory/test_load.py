"""Loading the directory: the sample, and every way a file is refused (inputs.md §6)."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.directory import DirectoryError, DirectoryIndex, load_directory, parse_directory, route
from hub.directory.model import DirectoryData
from hub.errors import InputError
from hub.types.cases import RUPTURE
from hub.validation import check_uai

from tests.damage import DAMAGE, damage

from .conftest import SAMPLE, SMALL


def refused(write_yaml, doc) -> DirectoryError:
    with pytest.raises(DirectoryError) as info:
        load_directory(write_yaml(doc))
    message = str(info.value)
    assert "\n" not in message  # one line for the command line
    return info.value


# --- the sample ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    return load_directory(SAMPLE)


def test_sample_loads(sample):
    assert [o.code for o in sample.observatoires] == ["OBS-16", "OBS-17", "OBS-79", "OBS-86"]
    assert {o.code: o.departements for o in sample.observatoires}["OBS-86"] == ("86",)


def test_sample_missions_locales_cover_real_main_communes(sample):
    ml_of = {c: ml.code for ml in sample.missions_locales for c in ml.communes}
    for commune in ("86194", "86066", "16015", "16102", "17300", "17299", "17306", "17415",
                    "79191", "79049", "79329"):
        assert commune in ml_of, commune
    assert ml_of["86194"] == ml_of["86041"] == ml_of["86115"] == "ML-86-POI"  # inputs.md example
    for ml in sample.missions_locales:
        assert len(ml.communes) >= 12, ml.code
        assert ml.observatoire == f"OBS-{ml.code[3:5]}"
        assert all(c[:2] == ml.code[3:5] for c in ml.communes), ml.code


def test_sample_establishments(sample):
    per_dep = Counter(e.commune[:2] for e in sample.etablissements)
    assert set(per_dep) == {"16", "17", "79", "86"}
    assert all(15 <= n <= 25 for n in per_dep.values()), per_dep
    ctis = {c.code: c for c in sample.ctis}
    for e in sample.etablissements:
        assert check_uai(e.uai) == e.uai
        assert e.uai[:3] == "0" + e.commune[:2]
        if e.type == "LP":
            assert ctis[e.cti].type == "ETAT", e.uai
            assert ctis[e.cti].code.startswith(f"CTI-E-{e.commune[:2]}-")
        if e.type == "CFA":
            assert ctis[e.cti].type == "REGION", e.uai
            assert ctis[e.cti].code.startswith(f"CTI-R-{e.commune[:2]}-")
    for dep in per_dep:
        types = {e.type for e in sample.etablissements if e.commune[:2] == dep}
        assert types == {"COLLEGE", "LYCEE", "LP", "EREA", "MFR", "CFA"}, dep
    assert any(e.cti is None for e in sample.etablissements)
    spec_lp = next(e for e in sample.etablissements if e.uai == "0860012W")
    assert (spec_lp.type, spec_lp.commune, spec_lp.cti) == ("LP", "86194", "CTI-E-86-01")
    assert "CTI-R-86-02" in ctis  # the RUPTURE example of interfaces.md


# --- field problems --------------------------------------------------------------------

def test_bad_uai_names_the_entry(write_yaml, small_doc):
    small_doc["etablissements"][3]["uai"] = "0860099Z"
    e = refused(write_yaml, small_doc)
    assert "etablissements[3] 0860099Z: UAI '0860099Z' invalide: lettre de contrôle" in str(e)
    assert str(e).startswith(str(write_yaml(small_doc)) + ": ")


def test_bad_commune_of_an_establishment_and_of_a_mission_locale(write_yaml, small_doc):
    small_doc["etablissements"][0]["commune"] = "8619"
    small_doc["missions_locales"][1]["communes"].append("2C004")
    e = refused(write_yaml, small_doc)
    assert "etablissements[0] 0860012W: commune '8619' invalide" in str(e)
    assert "missions_locales[1] ML-79-NIO: commune '2C004' invalide" in str(e)


def test_bad_departement(write_yaml, small_doc):
    small_doc["observatoires"][0]["departements"] = ["97"]
    assert "observatoires[0] OBS-86: département '97' invalide" in str(refused(write_yaml, small_doc))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("OBS 86/../x", "lettres, chiffres, « . », « _ » et « - » seulement (il nomme le topic de l'observatoire)"),
        ("OBS-86é", "lettres, chiffres"),
        ("O" * 228, "code trop long (228 caractères, 227 au plus)"),
        ("HORS_TERRITOIRE", "code 'HORS_TERRITOIRE' réservé à la file des cas hors territoire"),
    ],
)
def test_an_observatory_code_must_be_able_to_name_its_topic(write_yaml, small_doc, code, expected):
    # interfaces.md: observatoire.<CODE>.cases.v1; Kafka refuses any other character.
    small_doc["observatoires"][0]["code"] = code
    for ml in small_doc["missions_locales"]:
        if ml["observatoire"] == "OBS-86":
            ml["observatoire"] = code
    message = str(refused(write_yaml, small_doc))
    assert "observatoires[0]" in message and expected in message


def test_an_observatory_code_of_topic_characters_loads(write_yaml, small_doc):
    small_doc["observatoires"][0]["code"] = "OBS_86.Vienne-2"
    for ml in small_doc["missions_locales"]:
        if ml["observatoire"] == "OBS-86":
            ml["observatoire"] = "OBS_86.Vienne-2"
    assert "OBS_86.Vienne-2" in [o.code for o in load_directory(write_yaml(small_doc)).observatoires]


@pytest.mark.parametrize(
    ("section", "index", "value", "expected"),
    [
        ("etablissements", 0, "UNIVERSITE", "etablissements[0] 0860012W: type 'UNIVERSITE' inconnu: COLLEGE, LYCEE, LP, EREA, MFR, CFA attendu"),
        ("ctis", 0, "DEPARTEMENT", "ctis[0] CTI-E-86-01: type 'DEPARTEMENT' inconnu: ETAT, REGION attendu"),
    ],
)
def test_unknown_type_values(write_yaml, small_doc, section, index, value, expected):
    small_doc[section][index]["type"] = value
    assert expected in str(refused(write_yaml, small_doc))


def test_type_values_are_case_insensitive(small_doc):
    small_doc["etablissements"][0]["type"] = "lp"
    small_doc["ctis"][1]["type"] = "Region"
    data = parse_directory(small_doc)
    assert data.etablissements[0].type == "LP" and data.ctis[1].type == "REGION"


def test_a_missing_or_blank_nom_is_empty(write_yaml, small_doc):
    # inputs.md §6 refuses a file for its references and codes, not for a missing name.
    del small_doc["ctis"][0]["nom"]
    del small_doc["etablissements"][0]["nom"]
    small_doc["observatoires"][1]["nom"] = "  "
    small_doc["missions_locales"][0]["nom"] = None
    data = load_directory(write_yaml(small_doc))
    assert data.ctis[0].nom == data.etablissements[0].nom == data.observatoires[1].nom == ""
    assert data.missions_locales[0].nom == ""
    assert DirectoryIndex(data).cti("CTI-E-86-01").nom == ""


def test_unknown_keys_of_an_entry_are_ignored(write_yaml, small_doc):
    # As an unknown CSV column is: left aside, not a reason to refuse the file.
    small_doc["observatoires"][0]["site_web"] = "https://example.org"
    small_doc["missions_locales"][0]["telephone"] = "05 49 00 00 00"
    small_doc["ctis"][0]["referent"] = {"nom": "X"}
    small_doc["etablissements"][0]["effectif"] = 412
    data = load_directory(write_yaml(small_doc))
    assert data.missions_locales[0].communes == ("86194", "86041")
    assert "telephone" not in data.missions_locales[0].model_dump()
    assert DirectoryIndex(data).version == DirectoryIndex(parse_directory(copy.deepcopy(SMALL))).version


def test_empty_or_missing_communes_and_departements_are_allowed(write_yaml, small_doc):
    small_doc["observatoires"][2]["departements"] = []
    del small_doc["observatoires"][3]["departements"]
    small_doc["missions_locales"][0]["communes"] = []
    small_doc["missions_locales"][1]["communes"] = None
    del small_doc["missions_locales"][2]["communes"]
    data = load_directory(write_yaml(small_doc))
    assert [o.departements for o in data.observatoires[2:]] == [(), ()]
    assert [ml.communes for ml in data.missions_locales] == [(), (), ()]
    index = DirectoryIndex(data)
    assert index.observatoire_for_commune("2A004") is None and index.mission_locale_for_commune("86194") is None


def test_a_minimal_directory_loads(write_yaml):
    data = load_directory(write_yaml(
        "observatoires:\n"
        "  - code: OBS-86\n"
        "    departements: ['86']\n"
        "missions_locales:\n"
        "  - code: ML-86-POI\n"
        "    observatoire: OBS-86\n"
        "    communes: ['86194']\n"
    ))
    assert (data.ctis, data.etablissements) == ((), ())
    assert DirectoryIndex(data).mission_locale_for_commune("86194") == "ML-86-POI"


def test_a_section_written_without_entries_is_empty(write_yaml):
    data = load_directory(write_yaml("observatoires:\n  - code: OBS-86\n    departements: ['86']\nctis:\netablissements:\n"))
    assert (data.missions_locales, data.ctis, data.etablissements) == ((), (), ())


def test_invalid_references_of_a_minimal_directory_name_each_bad_entry(write_yaml):
    e = refused(write_yaml, (
        "observatoires:\n"
        "  - code: OBS-86\n"
        "missions_locales:\n"
        "  - {code: ML-1, observatoire: OBS-99, extra: ignored}\n"
        "  - {code: ML-2, observatoire: OBS-86, communes: ['8619']}\n"
        "etablissements:\n"
        "  - {uai: '0860012W', type: LP, commune: '86194', cti: CTI-E-86-01}\n"
        "  - {uai: '0860099Z', type: LP, commune: '86194'}\n"
    ))
    assert e.problems == [
        "missions_locales[0] ML-1: observatoire OBS-99 inconnu",
        "missions_locales[1] ML-2: commune '8619' invalide: code INSEE à 5 caractères attendu",
        "etablissements[0] 0860012W: CTI CTI-E-86-01 inconnue",
        "etablissements[1] 0860099Z: UAI '0860099Z' invalide: lettre de contrôle R attendue",
    ]


def test_entry_that_is_not_a_mapping(write_yaml, small_doc):
    small_doc["ctis"].append("CTI-E-86-09")
    assert "ctis[3]: objet attendu" in str(refused(write_yaml, small_doc))


def test_unquoted_codes_are_read_as_written(write_yaml, small_doc):
    text = write_yaml(small_doc).read_text().replace("'86194'", "86194").replace("'86'", "86")
    assert "- 86194" in text and "- 86" in text
    data = load_directory(write_yaml(text))
    assert "86194" in data.missions_locales[0].communes and data.observatoires[0].departements == ("86",)


def test_unquoted_leading_zero_code_is_refused_not_changed(write_yaml, small_doc):
    # YAML 1.1 reads 01053 as octal 555: it must fail, never become another commune.
    text = write_yaml(small_doc).read_text().replace("'86194'", "01053", 1)
    assert "commune '555' invalide" in str(refused(write_yaml, text))


# --- cross-references ------------------------------------------------------------------

def test_unknown_observatoire_of_a_mission_locale(write_yaml, small_doc):
    small_doc["missions_locales"][2]["observatoire"] = "OBS-99"
    assert "missions_locales[2] ML-974: observatoire OBS-99 inconnu" in str(refused(write_yaml, small_doc))


def test_unknown_cti_of_an_establishment(write_yaml, small_doc):
    small_doc["etablissements"][1]["cti"] = "CTI-R-86-99"
    assert "etablissements[1] 0861433R: CTI CTI-R-86-99 inconnue" in str(refused(write_yaml, small_doc))


def test_cfa_with_a_cti_etat_is_accepted_and_routed_as_without_cti(write_yaml, small_doc):
    # Routing uses a CTI only for the role its type serves (routing.py): for a RUPTURE at
    # this CFA the CTI ETAT counts as none and the Mission locale takes the case.
    small_doc["etablissements"][1]["cti"] = "CTI-E-86-01"
    data = load_directory(write_yaml(small_doc))
    assert data.etablissements[1].cti == "CTI-E-86-01"
    assert route(RUPTURE, "86194", "0861433R", DirectoryIndex(data)).assigned_to_role == "MISSION_LOCALE"


def test_other_types_may_have_either_cti(small_doc):
    # An MFR or a lycée with apprentices has a CTI Région (seeds: "établissements ayant des apprentis").
    small_doc["etablissements"][3]["cti"] = "CTI-R-86-02"
    assert parse_directory(small_doc).etablissements[3].cti == "CTI-R-86-02"


def test_empty_cti_means_none(small_doc):
    small_doc["etablissements"][0]["cti"] = ""
    assert parse_directory(small_doc).etablissements[0].cti is None


@pytest.mark.parametrize(
    ("section", "entry", "expected"),
    [
        ("observatoires", {"code": "OBS-86", "nom": "Bis", "departements": ["16"]},
         "observatoires[4] OBS-86: code en double (déjà observatoires[0])"),
        ("missions_locales", {"code": "ML-86-POI", "nom": "Bis", "observatoire": "OBS-86", "communes": ["86066"]},
         "missions_locales[3] ML-86-POI: code en double (déjà missions_locales[0])"),
        ("ctis", {"code": "CTI-E-86-01", "type": "ETAT", "nom": "Bis"},
         "ctis[3] CTI-E-86-01: code en double (déjà ctis[0])"),
        ("etablissements", {"uai": "0860012w", "nom": "Bis", "type": "LP", "commune": "86194"},
         "etablissements[7] 0860012w: UAI en double (déjà etablissements[0])"),
    ],
)
def test_duplicate_codes(write_yaml, small_doc, section, entry, expected):
    small_doc[section].append(entry)
    assert expected in str(refused(write_yaml, small_doc))


def test_commune_claimed_by_two_missions_locales(write_yaml, small_doc):
    small_doc["missions_locales"][1]["communes"].append("86194")
    assert "missions_locales[1] ML-79-NIO: commune 86194 déjà couverte par ML-86-POI" in str(
        refused(write_yaml, small_doc)
    )


def test_departement_claimed_by_two_observatoires(write_yaml, small_doc):
    small_doc["observatoires"][1]["departements"].append("86")
    assert "observatoires[1] OBS-79: département 86 déjà couvert par OBS-86" in str(refused(write_yaml, small_doc))


def test_a_repeat_inside_one_entry_is_harmless(small_doc):
    small_doc["missions_locales"][0]["communes"].append("86194")
    small_doc["observatoires"][0]["departements"].append("86")
    parse_directory(small_doc)


def test_reference_to_an_entry_refused_for_another_fault_is_not_echoed(write_yaml, small_doc):
    small_doc["observatoires"][0]["departements"] = ["8"]
    e = refused(write_yaml, small_doc)
    assert e.problems == ["observatoires[0] OBS-86: département '8' invalide: 2 chiffres, 2A, 2B ou 97x attendu"]


def test_every_problem_is_reported_at_once_in_section_order(write_yaml, small_doc):
    small_doc["missions_locales"][2]["observatoire"] = "OBS-99"
    small_doc["etablissements"][5]["uai"] = "0860099Z"
    small_doc["etablissements"][5]["commune"] = "3306"
    small_doc["etablissements"][1]["cti"] = "CTI-X"
    small_doc["ctis"][2]["type"] = "AUTRE"
    small_doc["extra"] = []
    e = refused(write_yaml, small_doc)
    assert [p.split(":")[0] for p in e.problems] == [
        "section extra inconnue",
        "missions_locales[2] ML-974",
        "ctis[2] CTI-R-79-01",
        "etablissements[1] 0861433R",
        "etablissements[5] 0860099Z",
    ]
    # both faults of one entry in one item
    assert any("UAI '0860099Z' invalide" in p and "commune '3306' invalide" in p for p in e.problems)
    assert str(e) == f"{write_yaml(small_doc)}: " + "; ".join(e.problems)


# --- the file as a whole ---------------------------------------------------------------

def test_directory_error_is_an_input_error():
    assert issubclass(DirectoryError, InputError) and DirectoryError("x").exit_code == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("observatoires: [\n  - code: OBS-86\n", "YAML invalide"),
        ("a: b: c\n", "YAML invalide (ligne 1"),
        ("- un\n- deux\n", "un document avec les sections"),
        ("", "un document avec les sections"),
        ("juste du texte", "un document avec les sections"),
    ],
)
def test_not_a_directory_document(write_yaml, content, expected):
    e = refused(write_yaml, content)
    assert expected in str(e)


def test_a_key_written_twice_in_one_mapping_is_refused(write_yaml):
    """PyYAML keeps the last value in silence: the observatory would lose département 16."""
    doc = ("observatoires:\n  - code: OBS-86\n    nom: Vienne\n    departements: [\"16\"]\n"
           "    departements: [\"86\"]\n")
    e = refused(write_yaml, doc)
    assert "YAML invalide (ligne 5: clé 'departements' en double)" in str(e)
    e = refused(write_yaml, "observatoires: []\nobservatoires: []\n")
    assert "ligne 2: clé 'observatoires' en double" in str(e)


def test_a_merge_key_still_reads(write_yaml):
    doc = ("observatoires:\n  - &o\n    code: OBS-86\n    nom: Vienne\n    departements: [\"86\"]\n"
           "  - <<: *o\n    code: OBS-16\n    departements: [\"16\"]\n")
    assert [o.code for o in load_directory(write_yaml(doc)).observatoires] == ["OBS-86", "OBS-16"]


def test_invalid_utf8(tmp_path):
    path = tmp_path / "annuaire.yaml"
    path.write_bytes(b"observatoires:\n  - code: OBS-86\n    nom: D\xe9crochage\n")
    with pytest.raises(DirectoryError, match="YAML invalide"):
        load_directory(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(DirectoryError, match=r"absent\.yaml: lecture impossible"):
        load_directory(tmp_path / "absent.yaml")
    with pytest.raises(DirectoryError, match="lecture impossible"):
        load_directory(tmp_path)  # a folder


def test_unsafe_yaml_tags_are_refused(write_yaml):
    e = refused(write_yaml, "observatoires: !!python/object/apply:os.system ['true']\n")
    assert "YAML invalide" in str(e)


def test_sections_not_lists_or_unknown(write_yaml, small_doc):
    # An unknown section stays refused: with every section optional, a misspelt
    # `etablissement:` would otherwise publish a directory without establishments.
    small_doc["observatoires"] = {"code": "OBS-86"}
    small_doc["etablissement"] = []
    e = refused(write_yaml, small_doc)
    assert "section etablissement inconnue" in e.problems
    assert "section observatoires: liste attendue" in e.problems


def test_missing_sections_are_empty(write_yaml, small_doc):
    for section in ("missions_locales", "ctis", "etablissements"):
        doc = {k: v for k, v in small_doc.items() if k != section}
        if section == "ctis":
            for etab in doc["etablissements"]:
                etab.pop("cti", None)
        data = load_directory(write_yaml(doc))
        assert getattr(data, section) == ()
    assert parse_directory({}).observatoires == ()


def test_empty_sections_are_allowed(small_doc):
    data = parse_directory({"observatoires": [], "missions_locales": [], "ctis": [], "etablissements": []})
    assert data.etablissements == ()


def test_an_entry_with_a_bad_field_still_has_its_references_checked(write_yaml, small_doc):
    small_doc["missions_locales"][2].update(observatoire="OBS-99", communes=["8619", "86194"])
    small_doc["etablissements"][0].update(uai="0860099Z", cti="CTI-E-86-99")
    e = refused(write_yaml, small_doc)
    assert e.problems == [
        "missions_locales[2] ML-974: commune '8619' invalide: code INSEE à 5 caractères attendu, "
        "observatoire OBS-99 inconnu, commune 86194 déjà couverte par ML-86-POI",
        "etablissements[0] 0860099Z: UAI '0860099Z' invalide: lettre de contrôle R attendue, CTI CTI-E-86-99 inconnue",
    ]


# --- damaged files ---------------------------------------------------------------------

@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(DAMAGE, min_size=1, max_size=3))
def test_a_damaged_directory_is_loaded_or_refused_in_one_line(tmp_path, steps):
    """Whatever the damage (cut, stray YAML syntax, a python tag, bytes of another
    encoding), loading gives a directory or a DirectoryError of one line — never another
    exception (a traceback on `hub directory load`), never an object built by a tag.
    (A file cut after whole entries is a smaller valid directory: YAML has no end mark.)"""
    path = tmp_path / "annuaire.yaml"
    path.write_bytes(damage(SAMPLE.read_bytes(), steps))
    try:
        data = load_directory(path)
    except DirectoryError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(data, DirectoryData)
