"""Throughput and memory of the connectors on a real Kafka, against a bare producer.

    .venv/bin/python bench/ingest.py [--records 200000] [--bootstrap HOST:PORT]
                                     [--siecle-gb 1.0] [--small-gb 0.1] [--skip-big]
                                     [--sources a,b] [--worker-modes auto,0]

Without --bootstrap an embedded Kafka 4 broker is started in a temporary directory and
stopped at the end. The script applies the topics, loads the sample directory, then:

1. generates one file of `--records` records per source (three `;` CSV sources, CTI
   JSON Lines, one SIECLE export of a single establishment), realistic and valid
   (half the people without INE, accents, 10 % of pupils with an exit);
2. runs each connector exactly as `hub ingest` does (`hub.cli.ingest.ingest_path`: the
   Kafka sink, seen-events and snapshot stores), each in its own subprocess with a
   fresh HUB_HOME so that peak RSS (VmHWM) is that source's alone; records/s counts the
   whole ingest (reading the seen ids, parsing, validation, publishing, flush, snapshot
   save, watermark). CSV and JSON Lines sources run with the worker processes of
   connectors/core/parallel.py by default (`--worker-modes auto,0` measures both ways,
   each on a file of its own); their peak RSS is shown apart (each worker's);
3. the baseline, in the same run: a bare `AIOKafkaProducer` (idempotent, acks=all, the
   hub's linger and batch size) sending the same pre-encoded messages — same count,
   same keys, same headers — with `send()` to a topic of the same shape (partitions,
   configs), awaiting the futures every 20,000 messages; the ratio is connector
   events/s ÷ bare events/s;
4. memory against file size: SIECLE exports of about `--small-gb` and `--siecle-gb`
   GB (one UAJ each, written streaming), the peak RSS of their first ingest, and of a
   re-ingest of the big one (a diff against a saved snapshot of millions of pupils).
   The three runs share one HUB_HOME, as successive ingests do in production: the
   seen-ids store is kept between them, so no run pays for reading the others' events
   back from the topic into a fresh store. The files are deleted once measured.

Targets: CSV sources ≥ 50,000 records/s, SIECLE ≥ 30,000 pupils/s, each ≥ 0.5 of the bare
producer; peak RSS flat in file size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hub.validation import FieldError, check_siret, uai_check_letter  # noqa: E402

SOURCES = ("absenteisme", "mission-locale", "cfa", "cti", "rectorat")
CSV_SOURCES = ("absenteisme", "mission-locale", "cfa")
SAMPLE = REPO / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"


# --------------------------------------------------------------------------- generators

NOMS = ["DUPONT", "MARTIN", "BERNARD", "PETIT", "DURAND", "LEFÈVRE", "MOREAU", "GIRARD", "ROUSSEAU", "FOURNIER",
        "O'BRIEN", "LE GALL", "MÜLLER", "NGUYEN", "DA SILVA", "BENOÎT-LÉGER"]
PRENOMS = ["Élodie", "Léa", "Zoé", "Noé", "Hugo", "Chloé", "Inès", "Lucas", "Maël", "Anaïs", "Jean-Pierre", "Théo"]
COMMUNES = ["86194", "86041", "86115", "16015", "17300", "79191", "17306", "16102"]


def uai(digits: str) -> str:
    return digits + uai_check_letter(digits)


def siret(prefix13: str) -> str:
    """A 14-digit SIRET with a valid Luhn key (the hub's own check decides)."""
    for last in "0123456789":
        try:
            return check_siret(prefix13 + last)
        except FieldError:
            continue
    raise AssertionError(prefix13)


def ine(i: int, tag: int) -> str:
    # RNIE: 9 digits + 2 letters, unique per (i, tag)
    return f"{(tag * 7919 + i) % 10**9:09d}" + "ABCDEFGHJK"[i % 10] + "ABCDEFGHJK"[(i // 10) % 10]


def person(rng: random.Random, i: int, tag: int) -> tuple[str, str, str, str]:
    """(ine or '', nom, prenom, date_naissance) — half with an INE."""
    nom = f"{rng.choice(NOMS)} {tag:x}{i:x}".upper() if i % 2 else rng.choice(NOMS) + f" {tag:x}{i:x}".upper()
    return (ine(i, tag) if i % 2 == 0 else "", nom, rng.choice(PRENOMS), f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2007, 2009)}")


def absenteisme(path: Path, n: int, tag: int) -> Path:
    rng = random.Random(tag)
    uais = [uai(f"08600{k:02d}") for k in range(40)]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees\n")
        for i in range(n):
            ine_, nom, prenom, dn = person(rng, i, tag)
            f.write(f"{rng.choice(uais)};{ine_};{nom};{prenom};{dn};2026-0{rng.randint(1, 2)};{rng.randint(0, 20)};{rng.randint(0, 6)}\n")
    return path


def mission_locale(path: Path, n: int, tag: int) -> Path:
    rng = random.Random(tag + 1)
    mls = ["ML-86-POI", "ML-16-ANG", "ML-17-LRO", "ML-79-NIO"]
    evs = [("PREMIER_ACCUEIL", "", ""), ("ENTREE_ACCOMPAGNEMENT", "CEJ", ""), ("SITUATION", "", "EMPLOI"),
           ("SORTIE_ACCOMPAGNEMENT", "PACEA", ""), ("SITUATION", "", "SANS_SOLUTION")]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;dispositif;situation\n")
        for i in range(n):
            ine_, nom, prenom, dn = person(rng, i, tag)
            ev, disp, sit = evs[i % len(evs)]
            f.write(f"{rng.choice(mls)};M{tag}-{i};;{nom};{prenom};{dn};{rng.choice(COMMUNES)};{ev};"
                    f"{rng.randint(1, 28):02d}/0{rng.randint(1, 2)}/2026;{disp};{sit}\n")
    return path


def cfa(path: Path, n: int, tag: int) -> Path:
    rng = random.Random(tag + 2)
    cfas = [uai(f"08612{k:02d}") for k in range(10)]
    sirets = [siret(f"{732829320 + k:09d}0001") for k in range(50)]
    causes = ["PERIODE_ESSAI", "ACCORD_COMMUN", "DEMISSION_APPRENTI", ""]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;"
                "evenement;date_evenement;date_debut_contrat;cause_rupture\n")
        for i in range(n):
            ine_, nom, prenom, dn = person(rng, i, tag)
            kind = i % 3
            ev = ("CONTRAT_SIGNE", "CONTRAT_ROMPU", "SORTIE_CFA")[kind]
            f.write(f"DECA-{tag}-{i};{rng.choice(cfas)};{rng.choice(sirets)};{ine_};{nom};{prenom};{dn};"
                    f"{rng.choice(COMMUNES)};{'O' if i % 17 == 0 else 'N'};{ev};{rng.randint(1, 28):02d}/02/2026;"
                    f"01/09/2025;{rng.choice(causes) if kind == 1 else ''}\n")
    return path


def cti(path: Path, n: int, tag: int) -> Path:
    rng = random.Random(tag + 3)
    ctis = ["CTI-E-86-01", "CTI-E-16-01", "CTI-E-17-01", "CTI-E-79-01"]
    lps = [uai(f"08600{k:02d}") for k in range(10)]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            ine_, nom, prenom, dn = person(rng, i, tag)
            d, m, y = dn.split("/")
            obj = {"cti": rng.choice(ctis), "uai": rng.choice(lps), "type": ("REPERAGE", "SUIVI", "CLOTURE")[i % 3],
                   "date": f"2026-02-{rng.randint(1, 28):02d}", "reference": f"fiche-{tag}-{i}",
                   "motif": "absences répétées, démotivation",
                   "jeune": {"ine": ine_ or None, "nom": nom, "prenom": prenom, "date_naissance": f"{y}-{m}-{d}",
                             "commune_residence": rng.choice(COMMUNES)}}
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return path


def siecle_eleve(rng: random.Random, i: int, tag: int) -> str:
    ine_, nom, prenom, dn = person(rng, i, tag)
    sortie = ""
    if i % 10 == 0:
        sortie = f"<DATE_SORTIE>{rng.randint(1, 28):02d}/01/2026</DATE_SORTIE><CODE_MOTIF_SORTIE>0{rng.randint(1, 9)}</CODE_MOTIF_SORTIE>"
    return (f'<ELEVE ELEVE_ID="{100000 + i}" ELENOET="{i}">'
            f"<ID_NATIONAL>{ine_}</ID_NATIONAL><NOM_DE_FAMILLE>{nom}</NOM_DE_FAMILLE><NOM_USAGE></NOM_USAGE>"
            f"<PRENOM>{prenom}</PRENOM><PRENOM2>Marie</PRENOM2><PRENOM3></PRENOM3><DATE_NAISS>{dn}</DATE_NAISS>"
            f"<DOUBLEMENT>N</DOUBLEMENT><CODE_PAYS>100</CODE_PAYS><CODE_SEXE>{1 + i % 2}</CODE_SEXE>"
            f"<VILLE_NAISS>POITIERS</VILLE_NAISS><CODE_REGIME>2</CODE_REGIME>"
            f"<CODE_COMMUNE_INSEE_RESIDENCE>{rng.choice(COMMUNES)}</CODE_COMMUNE_INSEE_RESIDENCE>"
            f"<ADHESION_TRANSPORT>0</ADHESION_TRANSPORT><CODE_STATUT>ST</CODE_STATUT>"
            f"<DATE_ENTREE>02/09/2025</DATE_ENTREE>{sortie}"
            f"<SCOLARITE_AN_DERNIER><CODE_RNE>0860012W</CODE_RNE><CODE_MEF>24720007310</CODE_MEF></SCOLARITE_AN_DERNIER>"
            f"</ELEVE>\n")


def siecle(path: Path, n: int | None, tag: int, *, uaj: str, size: int | None = None,
           encoding: str = "ISO-8859-15", date_export: str = "15/03/2026") -> tuple[Path, int]:
    """A BEE_ELEVES export of `n` pupils, or of about `size` bytes; written streaming."""
    rng = random.Random(tag + 4)
    head = (f'<?xml version="1.0" encoding="{encoding}"?>\n<BEE_ELEVES VERSION="3.1">\n<PARAMETRES><UAJ>{uaj}</UAJ>'
            f"<ANNEE_SCOLAIRE>2025</ANNEE_SCOLAIRE><DATE_EXPORT>{date_export}</DATE_EXPORT>"
            f"<HORODATAGE>{date_export} 21:04:11</HORODATAGE></PARAMETRES>\n<DONNEES>\n<ELEVES>\n")
    tail = "</ELEVES>\n</DONNEES>\n</BEE_ELEVES>\n"
    count = 0
    with path.open("wb") as f:
        f.write(head.encode(encoding))
        written = 0
        buf = []
        while (n is not None and count < n) or (size is not None and written < size):
            buf.append(siecle_eleve(rng, count, tag))
            count += 1
            if len(buf) >= 2000:
                data = "".join(buf).encode(encoding)
                f.write(data)
                written += len(data)
                buf = []
        if buf:
            f.write("".join(buf).encode(encoding))
        f.write(tail.encode(encoding))
    return path, count


def generate(source: str, directory: Path, n: int, tag: int) -> Path:
    if source == "rectorat":
        return siecle(directory / "rectorat.xml", n, tag, uaj=uai(f"086{tag % 10_000:04d}"))[0]
    fn = {"absenteisme": absenteisme, "mission-locale": mission_locale, "cfa": cfa, "cti": cti}[source]
    return fn(directory / f"{source}.{'jsonl' if source == 'cti' else 'csv'}", n, tag)


# --------------------------------------------------------------------------- children


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child_connector(source: str, path: Path) -> dict:
    from hub.cli.ingest import ingest_path
    from hub.runtime import collect_less

    collect_less()  # as the `hub` command does for every command
    t0 = time.perf_counter()
    result = await ingest_path(source, path, None)
    seconds = time.perf_counter() - t0
    counts = result.to_json()
    import resource

    # worker processes (connectors/core/parallel.py): the largest one's peak, shared pages included
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {**counts, "seconds": seconds, "rss_mb": peak_rss_mb(), "workers_rss_mb": workers_mb}


class _Capture:
    """A KafkaSink that keeps the encoded messages instead of sending them."""

    def __init__(self) -> None:
        from hub.kafka.sink import KafkaSink

        class Capture(KafkaSink):
            def __init__(self) -> None:
                super().__init__()
                self.kept: list[tuple[bytes | None, bytes, list]] = []

            async def _append(self, topic, key, value, headers):  # noqa: ANN001
                if not topic.endswith(".dlq"):
                    self.kept.append((key, value, headers))

            async def flush(self) -> None:
                return None

            async def watermark(self, source, as_of) -> None:  # noqa: ANN001
                return None

        self.sink = Capture()


async def child_baseline(source: str, path: Path, topic: str) -> dict:
    from aiokafka import AIOKafkaProducer

    from connectors import get_connector, run_ingest
    from connectors.core.memory import MemorySeenEvents, MemorySnapshotStore
    from hub.directory_feed import read_directory
    from hub.kafka import client
    from hub.settings import get_settings

    settings = get_settings()
    connector = get_connector(source)
    directory = await read_directory(settings) if connector.needs_directory else None
    sink = _Capture().sink
    await run_ingest(connector, path, sink=sink, seen=MemorySeenEvents(), snapshots=MemorySnapshotStore(),
                     directory=directory, settings=settings)
    messages = sink.kept
    producer = AIOKafkaProducer(bootstrap_servers=client.bootstrap_servers(settings), enable_idempotence=True,
                                acks="all", linger_ms=5, max_batch_size=512 * 1024, request_timeout_ms=30000)
    t0 = time.perf_counter()
    await producer.start()
    futures = []
    for key, value, headers in messages:
        futures.append(await producer.send(topic, value, key=key, headers=headers))
        if len(futures) >= 20000:
            await asyncio.gather(*futures)
            futures = []
    await asyncio.gather(*futures)
    await producer.stop()
    seconds = time.perf_counter() - t0
    return {"events": len(messages), "seconds": seconds}


# --------------------------------------------------------------------------- parent


def hub_exe() -> str:
    return shutil.which("hub", path=str(Path(sys.executable).parent)) or "hub"


def run_child(args: list[str], env: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def make_baseline_topics(bootstrap: str) -> dict[str, str]:
    """bench.baseline.<source>: same partitions and configs as the source topic."""
    from aiokafka.admin import AIOKafkaAdminClient

    from hub.kafka.topics import apply_topics, declared_topics
    from hub.settings import get_settings
    from hub.types.events import SOURCE_TOPICS

    settings = get_settings()
    specs = {s.name: s for s in declared_topics(settings)}
    baseline = {}
    wanted = []
    run = random.randrange(10**6)
    for source in SOURCES:
        spec = specs[SOURCE_TOPICS[source]]
        name = f"bench.baseline.{source}.{run}"
        baseline[source] = name
        wanted.append(type(spec)(name, spec.partitions, spec.compacted, spec.retention_ms, dict(spec.extra)))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        await apply_topics(admin, wanted, settings.replication_factor)
    finally:
        await admin.close()
    return baseline


def fmt(x: float) -> str:
    return f"{x:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--bootstrap", help="an existing Kafka (default: start an embedded broker)")
    ap.add_argument("--siecle-gb", type=float, default=1.0, help="size of the big SIECLE export (GB)")
    ap.add_argument("--small-gb", type=float, default=0.1, help="size of the small SIECLE export (GB)")
    ap.add_argument("--skip-big", action="store_true", help="skip the memory-versus-size measure")
    ap.add_argument("--sources", default=",".join(SOURCES))
    ap.add_argument("--workdir", type=Path, help="where files go (default: a temporary directory)")
    ap.add_argument("--worker-modes", default="auto",
                    help="HUB_CONNECTOR_WORKER values to measure, e.g. 'auto,0' (CSV and JSON Lines sources: "
                         "worker processes or not; see connectors/core/parallel.py)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        kind, source, path, *rest = args.child
        if kind == "connector":
            out = asyncio.run(child_connector(source, Path(path)))
        else:
            out = asyncio.run(child_baseline(source, Path(path), rest[0]))
        print(json.dumps(out))
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        from hub.kafka.embedded import EmbeddedKafka, free_port
        from hub.settings import Settings

        broker = EmbeddedKafka(work / "kafka", Settings().jar_cache)
        bootstrap = broker.start(free_port(), heap="1g").bootstrap
        print(f"embedded Kafka on {bootstrap} ({work / 'kafka'})", flush=True)
    env = dict(os.environ, HUB_KAFKA_BOOTSTRAP=bootstrap, HUB_HOME=str(work / "home"))
    os.environ.update(HUB_KAFKA_BOOTSTRAP=bootstrap, HUB_HOME=str(work / "home"))
    try:
        load = subprocess.run([hub_exe(), "directory", "load", str(SAMPLE)], env=env, capture_output=True, text=True)
        if load.returncode != 0:
            raise SystemExit(f"hub directory load failed: {load.stderr}")
        baseline_topics = asyncio.run(make_baseline_topics(bootstrap))
        tag = random.randrange(10**6)
        rows = []
        modes = [m.strip() for m in args.worker_modes.split(",") if m.strip()]
        for source in args.sources.split(","):
            base = None
            for k, mode in enumerate(modes if source != "rectorat" else modes[:1]):
                # a file of its own per mode: the same records would all be `unchanged` the second time
                path = generate(source, work, args.records, tag + 7919 * k)
                home = work / f"home-{source}-{k}"
                conn = run_child(["connector", source, str(path)],
                                 dict(env, HUB_HOME=str(home), HUB_CONNECTOR_WORKER=mode))
                if base is None:
                    base = run_child(["baseline", source, str(path), baseline_topics[source]], env)
                    assert base["events"] == conn["events"], (base, conn)
                rate = conn["read"] / conn["seconds"]
                ratio = (conn["events"] / conn["seconds"]) / (base["events"] / base["seconds"])
                target = 30_000 if source == "rectorat" else 50_000
                label = source if len(modes) == 1 or source == "rectorat" else f"{source} [{mode}]"
                rows.append((label, conn, base, rate, ratio, target))
                workers_mb = conn.get("workers_rss_mb") or 0
                workers_note = f" (+ workers {workers_mb:.0f} MB each)" if workers_mb else ""
                print(f"{label:<22} {conn['read']:>9,} records {conn['events']:>9,} events in {conn['seconds']:6.2f} s"
                      f"  → {fmt(rate):>7} rec/s, peak RSS {conn['rss_mb']:6.0f} MB"
                      f"{workers_note}"
                      f" | bare producer "
                      f"{fmt(base['events'] / base['seconds']):>7} ev/s | ratio {ratio:.2f} "
                      f"({'ok' if rate >= target and ratio >= 0.5 else 'below target'})", flush=True)
                path.unlink()
                shutil.rmtree(home, ignore_errors=True)

        if not args.skip_big:
            print("\nSIECLE memory against file size (one UAJ each)", flush=True)
            home = work / "home-big"  # shared by the runs: see 4. in the docstring
            for label, gb in (("small", args.small_gb), ("big", args.siecle_gb)):
                uaj = uai(f"087{random.randrange(10_000):04d}")
                path, pupils = siecle(work / f"siecle-{label}.xml", None, tag + 7, uaj=uaj, size=int(gb * 1e9))
                size = path.stat().st_size
                runs = [("first ingest", None)] + ([("re-ingest", None)] if label == "big" else [])
                for what, _ in runs:
                    conn = run_child(["connector", "rectorat", str(path)], dict(env, HUB_HOME=str(home)))
                    print(f"{size / 1e9:5.2f} GB, {pupils:>9,} pupils, {what:<12}: {conn['seconds']:7.1f} s "
                          f"({fmt(conn['read'] / conn['seconds'])} pupils/s), {conn['events']:,} events, "
                          f"peak RSS {conn['rss_mb']:.0f} MB", flush=True)
                path.unlink()
            shutil.rmtree(home, ignore_errors=True)

        print("\n| source | records | connector rec/s | events/s | bare producer ev/s | ratio | peak RSS |")
        print("|---|---|---|---|---|---|---|")
        for source, conn, base, rate, ratio, _ in rows:
            print(f"| {source} | {conn['read']:,} | {fmt(rate)} | {fmt(conn['events'] / conn['seconds'])} | "
                  f"{fmt(base['events'] / base['seconds'])} | {ratio:.2f} | {conn['rss_mb']:.0f} MB |")
    finally:
        if broker is not None:
            broker.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
