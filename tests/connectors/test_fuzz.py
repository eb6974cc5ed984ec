"""Damaged files, at random: whatever a file's bytes, a connector either refuses the whole
file (InputError: nothing published, nothing dead-lettered, no watermark, no state
saved) or accounts for every record it read — `read = published + unchanged + filtered
+ rejected`, one dead letter per rejected record, with a reason code of inputs.md, its
file and its position — and ingesting the same bytes again publishes nothing
("re-ingesting a file is harmless"). Any other exception is a defect.

Each example starts from a valid file of the source and applies a few byte-level
damages (cut, insert, overwrite, repeat, swap separators…), as transfers, editors and
hand-made exports do; or, keeping the file's structure, replaces field values with any
text (the validation layer's side: dates, codes, names, enumerations, counts)."""

from __future__ import annotations

import json
import re
from datetime import date
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.avro import get_codec
from hub.errors import InputError

from connectors import check_record, get_connector, make_context
from connectors.core.types import Accepted, Filtered, Rejected
from tests.connectors import siecle_files
from tests.connectors.helpers import CTI_CODE, DIRECTORY, ML, SETTINGS, SIRET, UAI_CFA, UAI_LP, Harness
from tests.damage import DAMAGE, damage

# The reject reasons of inputs.md, written out from the spec rather than imported: what
# the code emits is checked against what the contract lists.
REASONS = {"BAD_DATE", "FUTURE_DATE", "BAD_UAI", "BAD_COMMUNE", "BAD_SIRET", "BAD_VALUE", "MISSING_FIELD", "BAD_JSON"}


def _csv(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


VALID: dict[str, tuple[str, bytes]] = {
    "absenteisme": ("abs.csv", _csv(
        "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees",
        [f"{UAI_LP};12345678{i}AB;DUPONT;Élodie;14/02/2009;2026-0{1 + i % 3};{i};2" for i in range(6)])),
    "mission-locale": ("milo.csv", _csv(
        "code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;"
        "dispositif;situation",
        [f"{ML};M004{i};;MARTIN;Léa;2008-05-1{i};86194;PREMIER_ACCUEIL;03/02/2026;;" for i in range(3)]
        + [f"{ML};M004{i};;MARTIN;Léa;2008-05-1{i};86194;SITUATION;04/02/2026;;EMPLOI" for i in range(3)])),
    "cfa": ("cfa.csv", _csv(
        "numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;evenement;"
        "date_evenement;date_debut_contrat;cause_rupture",
        [f"DECA-00{i};{UAI_CFA};{SIRET};2023A1234{i}B;DUPONT;Élodie;14/02/2007;86194;;CONTRAT_SIGNE;01/09/2025;"
         f"01/09/2025;" for i in range(3)]
        + [f"DECA-00{i};{UAI_CFA};{SIRET};2023A1234{i}B;DUPONT;Élodie;14/02/2007;86194;;CONTRAT_ROMPU;10/01/2026;"
           f"01/09/2025;DEMISSION_APPRENTI" for i in range(3)])),
    "cti": ("cti.jsonl", "".join(
        json.dumps({"cti": CTI_CODE, "uai": UAI_LP, "type": "REPERAGE", "date": "2026-02-03",
                    "reference": f"fiche-2026-004{i}", "motif": "absences répétées",
                    "jeune": {"ine": f"12345678{i}AB", "nom": "DUPONT", "prenom": "Élodie",
                              "date_naissance": "2009-02-14", "commune_residence": "86194"}},
                   ensure_ascii=False) + "\n" for i in range(5)).encode("utf-8")),
    "rectorat": ("siecle.xml", siecle_files.export(
        [siecle_files.eleve(f"E{i}", ine=f"12345678{i}AB", sortie="10/03/2026" if i == 2 else "",
                            motif="12" if i == 2 else "") for i in range(5)])),
}

_VALUE = st.one_of(
    st.text(max_size=14),
    st.sampled_from(["", " ", "0", "-1", "1e3", "29/02/2025", "31/04/2026", "2026-02-30", "2030-01-01", "01/01/1900",
                     "2026-13", "86194", "2A004", "0860012A", "CONTRAT_rompu", "emploi", "NaN", "null", "\u00e9"]),
)
_JSON_VALUE = st.one_of(_VALUE, st.none(), st.integers(-10, 10**12), st.booleans(), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_XML_TEXT = re.compile(rb">([^<>]*)<")


def replace_field(source: str, data: bytes, where: float, value) -> bytes:
    """`data` with one field value (chosen by `where`) replaced by `value`, the file's
    structure kept: CSV quoting, JSON encoding, XML escaping."""
    if source == "rectorat":
        texts = list(_XML_TEXT.finditer(data))
        m = texts[int(where * len(texts))]
        text = escape(str(value)).encode("iso-8859-15", "xmlcharrefreplace")
        return data[:m.start(1)] + text + data[m.end(1):]
    lines = data.decode("utf-8").split("\n")
    i = 1 + int(where * (len(lines) - 2)) if source != "cti" else int(where * (len(lines) - 1))
    if source == "cti":
        doc = json.loads(lines[i])
        jeune = doc.get("jeune")
        leaves = [(doc, k) for k in doc] + ([(jeune, k) for k in jeune] if isinstance(jeune, dict) else [])
        obj, key = leaves[int(where * 7919) % len(leaves)]
        obj[key] = value
        lines[i] = json.dumps(doc, ensure_ascii=False)
    else:
        cells = lines[i].split(";")
        text = str(value)
        if any(c in text for c in ';"\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        cells[int(where * 7919) % len(cells)] = text
        lines[i] = ";".join(cells)
    return "\n".join(lines).encode("utf-8")


async def check(source: str, tmp_path, data: bytes) -> None:
    name, _ = VALID[source]
    path = tmp_path / name
    path.write_bytes(data)
    harness = Harness()
    try:
        result = await harness.run(source, path)
    except InputError:  # the whole file refused: nothing of it anywhere
        assert harness.sink.published == [] and harness.sink.dead_letters == []
        assert harness.sink.watermark_calls == [] and harness.snapshots.snapshots == {}
        return
    assert result.read == result.published + result.unchanged + result.filtered + result.rejected
    assert len(harness.sink.dead_letters) == result.rejected
    assert len(harness.sink.published) == result.events
    for topic, letter in harness.sink.dead_letters:
        assert topic.endswith(".dlq")
        assert letter["reason"] in REASONS, letter
        assert letter["file"] == name and letter["position"], letter
        assert letter["raw"] is not None
    ids = [e["event_id"] for e in harness.events]
    assert len(ids) == len(set(ids))

    again = await harness.run(source, path)  # the same bytes, the same hub: nothing new
    assert again.read == result.read and again.rejected == result.rejected
    assert again.events == 0 and again.published == 0
    assert len(harness.sink.published) == result.events


@pytest.mark.parametrize("source", sorted(VALID))
async def test_the_valid_files_are_valid(tmp_path, source):
    """The starting points: every record of each valid file published (else the damages
    below would start from files already refused)."""
    name, data = VALID[source]
    (tmp_path / name).write_bytes(data)
    harness = Harness()
    result = await harness.run(source, tmp_path / name)
    assert result.read >= 3 and result.rejected == 0 and result.filtered == 0 and result.published == result.read


@pytest.mark.parametrize("source", sorted(VALID))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(DAMAGE, min_size=1, max_size=4))
async def test_a_damaged_file_is_refused_whole_or_fully_accounted(tmp_path, source, steps):
    await check(source, tmp_path, damage(VALID[source][1], steps))


@pytest.mark.parametrize("source", sorted(VALID))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_field_value_is_accepted_or_rejected_with_a_reason(tmp_path, source, data):
    content = VALID[source][1]
    for _ in range(data.draw(st.integers(1, 3))):
        value = data.draw(_JSON_VALUE if source == "cti" else _VALUE)
        content = replace_field(source, content, data.draw(st.floats(0, 0.999)), value)
    await check(source, tmp_path, content)


# The damages of tests/damage.py that keep a line one line: no line end written.
_LINE_BYTES = st.one_of(st.sampled_from([b'"', b";", b"\x00", b"\xff", b"\xe9", b"{", b"\\"]),
                        st.binary(min_size=1, max_size=6).map(lambda b: b.replace(b"\n", b"?").replace(b"\r", b"?")))
_LINE_DAMAGE = st.one_of(
    st.tuples(st.just("cut"), st.floats(0, 1), st.integers(1, 20)),
    st.tuples(st.sampled_from(["insert", "overwrite"]), st.floats(0, 1), _LINE_BYTES),
)


@pytest.mark.parametrize("source", ["absenteisme", "cfa", "cti", "mission-locale"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_a_damaged_line_costs_that_line_only(tmp_path, source, data):
    """inputs.md: a malformed line never stops the file. Whatever damage one data line
    takes (a stray quote, bytes of another encoding, a NUL, a cut), the file is read to
    its end, every other line is published, and that line at worst is rejected."""
    name, valid = VALID[source]
    lines = valid.split(b"\n")
    first = 0 if source == "cti" else 1
    i = data.draw(st.integers(first, len(lines) - 2))
    line = lines[i] = damage(lines[i], data.draw(st.lists(_LINE_DAMAGE, min_size=1, max_size=3)))
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines))
    harness = Harness()
    result = await harness.run(source, path)
    n = len(lines) - 1 - first
    # A line cut to nothing (or to white space) is no record: a blank line.
    assert result.read == n or (result.read == n - 1 and not line.decode("utf-8", "replace").strip()), result
    assert result.rejected <= 1 and result.published >= n - 1, result


def http_record(source: str) -> dict:
    """The first record of the source's valid file, as `POST /api/v1/ingest/{source}` takes it."""
    if source == "cti":
        return json.loads(VALID[source][1].decode().splitlines()[0])
    if source == "rectorat":
        return {"UAJ": UAI_LP, "ELEVE_ID": "E1", "ID_NATIONAL": "123456789AB", "NOM_DE_FAMILLE": "DUPONT",
                "PRENOM": "Élodie", "DATE_NAISS": "14/02/2008", "CODE_COMMUNE_INSEE_RESIDENCE": "86194",
                "DATE_ENTREE": "02/09/2025"}
    header, first = VALID[source][1].decode().splitlines()[:2]
    return dict(zip(header.split(";"), first.split(";"), strict=True))


@pytest.mark.parametrize("source", sorted(VALID))
def test_the_valid_http_records_are_valid(source):
    ctx = make_context(get_connector(source), directory=DIRECTORY, settings=SETTINGS, as_of=date(2026, 11, 27))
    assert isinstance(check_record(get_connector(source), http_record(source), ctx), Accepted)


@pytest.mark.parametrize("source", sorted(VALID))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_http_record_is_a_verdict_and_an_accepted_one_encodes(source, data):
    """The HTTP endpoint's side: any JSON object (values of any JSON type, keys dropped,
    renamed, added) is accepted, filtered or rejected with reasons of inputs.md — never
    an exception (a 500) — and an accepted record's events fit their Avro schemas."""
    connector = get_connector(source)
    row: dict = http_record(source)
    for _ in range(data.draw(st.integers(1, 4))):
        keys = sorted(row, key=str)
        action = data.draw(st.sampled_from(["value", "value", "drop", "rename", "add"]))
        if action == "add" or not keys:
            row[data.draw(st.text(max_size=8))] = data.draw(_JSON_VALUE)
            continue
        key = data.draw(st.sampled_from(keys))
        if action == "value":
            row[key] = data.draw(_JSON_VALUE)
        elif action == "drop":
            del row[key]
        else:
            row[data.draw(st.sampled_from([key.upper(), f" {key} ", key.capitalize()]))] = row.pop(key)
    ctx = make_context(connector, directory=DIRECTORY, settings=SETTINGS, as_of=date(2026, 11, 27))
    verdict = check_record(connector, row, ctx)
    assert isinstance(verdict, (Accepted, Filtered, Rejected))
    if isinstance(verdict, Rejected):
        assert verdict.rejections and {r.reason for r in verdict.rejections} <= REASONS
    if isinstance(verdict, Accepted):
        for _key, event in verdict.events:
            get_codec().encode_event(event)
