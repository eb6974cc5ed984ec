"""The demo data set: deterministic, realistic, and rich enough for every case type and
status (hub/demo/generate.py), checked without Kafka through the real connectors and the
rule core (hub/demo/preview.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from hub.demo.generate import AS_OF, MIN_PEOPLE, generate
from hub.demo.manifest import DemoManifest
from hub.demo.preview import Preview, preview
from hub.types.cases import CASE_TYPES, HORS_TERRITOIRE, STATUSES, TRANSFERE

REPO = Path(__file__).resolve().parents[2]
OBSERVATORIES = ("OBS-16", "OBS-17", "OBS-79", "OBS-86")

# Every (type, status) the rules can produce without counsellors' actions.
EXPECTED_TYPE_STATUS = {
    ("DECROCHAGE", "OUVERT"), ("DECROCHAGE", "RESOLU"), ("DECROCHAGE", TRANSFERE),
    ("OBLIGATION_FORMATION", "OUVERT"), ("OBLIGATION_FORMATION", "ALERTE"), ("OBLIGATION_FORMATION", "RESOLU"),
    ("OBLIGATION_FORMATION", TRANSFERE),
    ("RUPTURE", "OUVERT"), ("RUPTURE", "ALERTE"), ("RUPTURE", "RESOLU"), ("RUPTURE", "CLOS"), ("RUPTURE", TRANSFERE),
    ("PREVENTION", "OUVERT"), ("PREVENTION", "CLOS"),
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[DemoManifest, float]:
    out = tmp_path_factory.mktemp("demo-2026")
    started = time.perf_counter()
    manifest = generate(out)
    return manifest, time.perf_counter() - started


@pytest.fixture(scope="module")
def manifest(generated) -> DemoManifest:
    return generated[0]


@pytest.fixture(scope="module")
def result(manifest) -> Preview:
    return preview(manifest)


# -- generation -----------------------------------------------------------------------


def test_generating_3000_people_takes_a_few_seconds_at_most(generated):
    manifest, seconds = generated
    assert manifest.people == 3000
    assert seconds < 5, f"generation took {seconds:.1f} s"


def test_same_seed_gives_byte_identical_files(manifest, tmp_path):
    again = generate(tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(manifest.out_dir)
    assert again.files == manifest.files


def test_same_bytes_in_another_process_whatever_the_hash_seed(manifest, tmp_path):
    """No set or dict-of-str ordering leaks into the files (str hashes are salted)."""
    out = tmp_path / "other-process"
    code = (
        "import hashlib, json, sys; from pathlib import Path; from hub.demo.generate import generate; "
        "out = Path(sys.argv[1]); generate(out); "
        "print(json.dumps({str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() "
        "for p in sorted(out.rglob('*')) if p.is_file()}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env, cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout) == _digest(manifest.out_dir)


def test_another_seed_gives_other_files(manifest, tmp_path):
    generate(tmp_path / "seed7", seed=7)
    mine, other = _digest(manifest.out_dir), _digest(tmp_path / "seed7")
    assert set(mine) == set(other)  # the same files…
    assert all(mine[f] != other[f] for f in mine)  # …with other contents, every one of them


def test_too_few_people_is_refused(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, people=MIN_PEOPLE - 1)


def test_a_new_run_replaces_the_previous_files(tmp_path):
    generate(tmp_path, people=MIN_PEOPLE)
    stale = tmp_path / "siecle" / "2026-01-15" / "BEE_ELEVES_0000000A.xml"
    stale.write_text("stale")
    generate(tmp_path, people=MIN_PEOPLE)
    assert not stale.exists()


# -- manifest -------------------------------------------------------------------------


def test_manifest_lists_the_files_to_ingest_in_order(manifest):
    assert [s.source for s in manifest.steps] == [
        "rectorat", "rectorat", "rectorat", "absenteisme", "mission-locale", "cfa", "cti",
    ]
    assert [s.path for s in manifest.steps[:3]] == ["siecle/2026-01-15", "siecle/2026-04-15", "siecle/2026-06-30"]
    assert all(s.as_of is None for s in manifest.steps[:3])  # SIECLE: DATE_EXPORT
    assert all(s.as_of == AS_OF for s in manifest.steps[3:])
    assert manifest.clock == AS_OF == date(2026, 6, 30)
    for step in manifest.steps:
        assert step.resolve(manifest.out_dir).exists()
    for name in manifest.files:
        assert (manifest.out_dir / name).is_file()
    assert manifest.commands()[0] == ["ingest", "rectorat", str(manifest.out_dir / "siecle/2026-01-15")]
    assert manifest.commands()[-1][-2:] == ["--as-of", "2026-06-30"]
    assert sum(manifest.scenarios.values()) == manifest.people


def test_manifest_round_trips_through_its_json_file(manifest):
    loaded = DemoManifest.load(manifest.out_dir)
    assert loaded == manifest


# -- file formats ---------------------------------------------------------------------


def test_siecle_exports_one_file_per_school_and_snapshot_in_iso_8859_15(manifest):
    xml = [f for f in manifest.files if f.endswith(".xml")]
    per_snapshot = Counter(f.split("/")[1] for f in xml)
    assert set(per_snapshot) == {"2026-01-15", "2026-04-15", "2026-06-30"}
    assert len(set(per_snapshot.values())) == 1 and per_snapshot["2026-01-15"] >= 60
    data = (manifest.out_dir / xml[0]).read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-15"?>')
    text = b"".join((manifest.out_dir / f).read_bytes() for f in xml[:60]).decode("iso-8859-15")
    assert re.search(r"<NOM_DE_FAMILLE>[^<]*[ÉÈÊËÏÔÇ][^<]*</NOM_DE_FAMILLE>", text)
    assert re.search(r"<NOM_DE_FAMILLE>[^<]*'[^<]*</NOM_DE_FAMILLE>", text)
    assert re.search(r"<PRENOM>[^<]*-[^<]*</PRENOM>", text)


def test_inputs_carry_the_three_ine_formats_and_ine_less_records(manifest):
    out = manifest.out_dir
    siecle = "".join((out / f).read_text(encoding="iso-8859-15") for f in manifest.files if f.endswith(".xml"))
    ines = re.findall(r"<ID_NATIONAL>([^<]*)</ID_NATIONAL>", siecle)
    cfa = (out / "cfa/contrats-apprentissage-2025-2026.csv").read_text(encoding="utf-8").splitlines()[1:]
    ines += [line.split(";")[3] for line in cfa]
    assert any(re.fullmatch(r"[0-9]{10}[A-Z]", i) for i in ines)  # BEA
    assert any(re.fullmatch(r"[0-9]{9}[A-Z]{2}", i) for i in ines)  # RNIE
    assert any(re.fullmatch(r"[0-9]{4}A[0-9]{5}[A-Z]", i) for i in ines)  # apprentice
    milo = (out / "mission-locale/imilo-export-2026-06-30.csv").read_bytes()
    assert milo.startswith(b"\xef\xbb\xbf")
    rows = milo.decode("utf-8-sig").splitlines()[1:]
    assert sum(1 for r in rows if r.split(";")[2] == "") > len(rows) / 2  # I-MILO rarely knows the INE
    assert any(line.split(";")[3] == "" for line in cfa)  # nor does the registry always


def test_absenteeism_is_a_windows_1252_spreadsheet_export(manifest):
    data = (manifest.out_dir / "absenteisme/absenteisme-2025-09_2026-06.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert text.startswith("uai;ine;nom;prenom;date_naissance;mois;")
    assert "\r\n" in text


def test_cti_reports_are_json_lines_with_a_few_broken_ones(manifest):
    lines = (manifest.out_dir / "cti/signalements-cti-2025-2026.jsonl").read_text(encoding="utf-8").splitlines()
    broken = 0
    for line in lines:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            broken += 1
    assert broken == 2


# -- what the hub makes of it (real connectors + rule core, no Kafka) -----------------


def test_the_clock_is_the_end_of_the_year(result):
    assert result.clock == AS_OF
    assert set(result.watermarks) == {"rectorat", "absenteisme", "mission-locale", "cfa", "cti"}


def test_every_case_type_and_every_status_appears(result):
    types = {t for (t, _, _) in result.counts()}
    assert types == set(CASE_TYPES)
    statuses = {s for (_, _, s) in result.topic_counts()}
    assert statuses == set(STATUSES)
    pairs = {(t, s) for (_, t, s) in result.topic_counts()}
    assert EXPECTED_TYPE_STATUS <= pairs


def test_every_type_and_status_appears_in_several_observatories(result):
    topic = result.topic_counts()
    for t in CASE_TYPES:
        assert {o for (o, ty, _) in topic if ty == t} >= set(OBSERVATORIES), t
    for s in STATUSES:
        assert len({o for (o, _, st) in topic if st == s} & set(OBSERVATORIES)) >= 3, s
    for t, s in EXPECTED_TYPE_STATUS - {("PREVENTION", "CLOS")}:
        assert len({o for (o, ty, st) in topic if (ty, st) == (t, s)}) >= 2, (t, s)
    assert any(o == HORS_TERRITOIRE for (o, _, _) in topic)


def test_transfers_are_moves_between_observatories(result):
    moved = [c for c in result.cases if c["transfers"]]
    assert moved
    for c in moved:
        assert c["type"] in ("DECROCHAGE", "OBLIGATION_FORMATION", "RUPTURE")
        for t in c["transfers"]:
            assert t["from_observatoire"] != t["to_observatoire"]
            assert t["reason"] == "DEMENAGEMENT"
    assert sum(n for (_, _, s), n in result.topic_counts().items() if s == TRANSFERE) == len(moved)


def test_outcomes_cover_the_solutions_and_the_closures(result):
    outcomes = {(s, o) for (_, s, o) in result.outcomes()}
    for o in ("RETOUR_SCOLAIRE", "APPRENTISSAGE", "ACCOMPAGNEMENT_ML", "EMPLOI"):
        assert ("RESOLU", o) in outcomes, o
    for o in ("SANS_SOLUTION", "ABANDON", "CLOTURE_CTI", "SORTIE"):
        assert ("CLOS", o) in outcomes, o
    assert result.periode_essai().keys() >= {True, False}
    roles = {role for (_, role) in result.assigned()}
    assert roles == {"MISSION_LOCALE", "CTI_REGION", "CTI_ETAT", "OBSERVATOIRE"}


def test_every_source_has_dead_letters_filtered_and_warnings(manifest, result):
    rejected = Counter()
    for r in result.ingests:
        assert r["read"] == r["published"] + r["unchanged"] + r["filtered"] + r["rejected"]
        rejected[r["source"]] += r["rejected"]
    assert dict(rejected) == manifest.invalid  # exactly the records written invalid on purpose
    reasons = {reason for (_, reason) in result.dead_letters}
    assert reasons >= {"BAD_DATE", "BAD_UAI", "BAD_SIRET", "BAD_VALUE", "BAD_COMMUNE", "MISSING_FIELD", "BAD_JSON",
                       "FUTURE_DATE"}
    assert ("mission-locale", "BAD_VALUE") in result.dead_letters  # unknown code_ml among them
    filtered = Counter()
    for r in result.ingests:
        filtered[r["source"]] += r["filtered"]
    assert filtered["rectorat"] > 0 and filtered["absenteisme"] > 0  # under-15 pupils
    assert sum(r["warnings"] for r in result.ingests) > 0  # invalid INEs dropped


def test_snapshot_diffs_give_exits_by_disappearance(result):
    second = result.ingests[1]
    assert second["source"] == "rectorat" and second["unchanged"] > 1000
    assert second["events"] > second["published"]  # disappearances: events no read record carries


def test_identity_linking_and_litiges(result):
    assert result.linked > 100  # I-MILO and registry records without INE, linked by name key
    assert result.litige_keys == 2  # the two homonym pairs


def test_people_are_aged_14_to_26(manifest, result):
    ages = set()
    for c in result.cases:
        dob = c["person"]["date_naissance"]
        ages.add(AS_OF.year - dob.year - ((AS_OF.month, AS_OF.day) < (dob.month, dob.day)))
    assert min(ages) >= 15 and max(ages) <= 26
    xml = "".join((manifest.out_dir / f).read_text(encoding="iso-8859-15") for f in manifest.files
                  if f.startswith("siecle/2026-06-30/"))
    births = []
    for text in re.findall(r"<DATE_NAISS>([0-9/]{10})</DATE_NAISS>", xml):
        d, m, y = text.split("/")
        try:
            births.append(date(int(y), int(m), int(d)))
        except ValueError:  # the 31/02 written on purpose (BAD_DATE)
            pass
    assert min(AS_OF.year - b.year - ((AS_OF.month, AS_OF.day) < (b.month, b.day)) for b in births) == 14


def test_a_smaller_set_with_another_seed_still_has_every_type_and_status(tmp_path):
    small = preview(generate(tmp_path, seed=11, people=MIN_PEOPLE))
    topic = small.topic_counts()
    assert {t for (_, t, _) in topic} == set(CASE_TYPES)
    assert {s for (_, _, s) in topic} == set(STATUSES)
    for s in STATUSES:
        assert len({o for (o, _, st) in topic if st == s} & set(OBSERVATORIES)) >= 3, s
