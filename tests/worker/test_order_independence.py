"""Determinism on the real broker (rules.md §3): the final cases depend only on the set of
events and watermarks, never on the order the files are ingested in, nor on when the
worker runs, nor on a worker killed -9 and restarted.

A hypothesis property over the files of `tests/worker/inputs.py` (every source, through
the real connectors: `hub ingest SOURCE PATH [--as-of DATE]`):

- **order**: a random permutation of the files — except that each establishment's
  SIECLE exports keep their chronological order relative to each other. A SIECLE export
  is a snapshot diffed with the previous one of its UAJ, so the events it yields depend
  on what came before *for that UAJ*: an exit by disappearance is dated by the export
  that no longer lists the pupil, which is the first such export only when they come in
  order (connectors/rectorat/connector.py, "Order"). That is the connector's nature, not
  the engine's; everything else (I-MILO, CFA, absenteeism, CTI files, and the SIECLE
  exports of the other establishment) is shuffled freely around them. Watermarks thus
  move in random orders: the clock may pass a deadline before the file holding the
  solution is ingested (the case opens, then must vanish or resolve), an INE-less record
  may be seen before the INE it belongs to (a name-key person, then re-linked), the
  homonyms' record may be evaluated alone before it goes into dispute;
- **worker**: at random points, `hub worker --until-idle`, or a `hub worker` started in
  the background while files are still being ingested and killed with SIGKILL at a
  random moment (it is restarted by the next run); always a final
  `hub worker --until-idle`.

The final `hub cases --format jsonl` (the example's people only) must equal the
reference computed without Kafka by the pure rule core on the same files
(`hub.demo.preview`: the same connectors in memory, identity grouping, `hub.rules.evaluate`
at the final clock), and every observatory topic must hold exactly what
`hub.worker.records.holders` says of those cases (TRANSFERE records included, nothing
left over from a case that existed only transiently); the homonyms' INE-less record
must be on the litiges topic with both INEs as candidates.

Isolation on the shared session broker: every example has its own people (a fresh name
tag, INEs drawn from it), its own establishments (fresh UAJs: the connectors keep one
snapshot per UAJ), contract numbers and CTI references, its own HUB_HOME (connector and
worker local state) and HUB_WORKER_ID (consumer group, internal topic), and dates
everything after `base()`, so that its last files move the session's clock to its own
final date. Comparing with a reference per example makes the tag irrelevant.

Cost: each example ingests 12 files (`hub ingest` run in this process through the
command line's own code: a `hub` process per file would cost a second of start-up each)
and runs one to three workers, 12 to 30 s; 5 examples take about a minute and a half.
Examples are random (not derandomized: every run explores new orders); shrinking is off
(each example costs tens of seconds); a failure prints the drawn plan (order, worker
runs) and a `@reproduce_failure` blob to replay it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from hub.avro import get_codec
from hub.cli.main import cli
from hub.demo.manifest import DemoManifest, IngestStep
from hub.demo.preview import preview_async
from hub.directory import DirectoryIndex, load_directory
from hub.kafka import client
from hub.kafka.compacted import read_table
from hub.identity import name_digest, name_key
from hub.kafka.topics import CASES, LITIGES, WATERMARKS
from hub.settings import get_settings
from hub.types.events import CLOCK_SOURCES
from hub.worker.records import holders, to_json_obj
from tests.conftest import run_hub
from tests.worker.conftest import SAMPLE_DIRECTORY, base, run_worker, settings_for
from tests.worker.inputs import InputFile, scenario

pytestmark = pytest.mark.kafka

N_FILES = 12
HUB_VARS = ("HUB_KAFKA_BOOTSTRAP", "HUB_HOME", "HUB_WORKER_ID")


# -- the plan of one example -------------------------------------------------------------


def chained(files: list[InputFile], order: list[int]) -> list[int]:
    """`order` with each SIECLE chain's files put back in their rank order, in the
    positions the chain's files occupy in `order`."""
    out = list(order)
    chains: dict[str, list[int]] = {}
    for pos, i in enumerate(order):
        if files[i].chain is not None:
            chains.setdefault(files[i].chain, []).append(pos)
    for positions in chains.values():
        ranked = sorted((order[p] for p in positions), key=lambda i: files[i].rank)
        for p, i in zip(positions, ranked, strict=True):
            out[p] = i
    return out


@st.composite
def plans(draw) -> dict:
    """The order of the files (a permutation, made chain-respecting at run time) and the
    intermediate worker runs: after which step, which kind, and for a background worker
    how many steps later and how long after it is killed."""
    order = draw(st.permutations(range(N_FILES)))
    idle_after = draw(st.none() | st.integers(0, N_FILES - 2))
    kill = draw(st.none() | st.tuples(st.integers(0, N_FILES - 1), st.integers(0, 4),
                                      st.sampled_from([2.0, 5.0, 8.0])))
    return {"order": list(order), "idle_after": idle_after, "kill": kill}


# -- running ------------------------------------------------------------------------------


def ingest(env: dict, file: InputFile, folder: Path) -> dict:
    """`hub ingest SOURCE PATH [--as-of DATE] --json`, the command line's own code run in
    this process (a `hub` process per file costs over a second of start-up here)."""
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli, file.argv(folder), env={k: env[k] for k in HUB_VARS}, catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, f"{file.name}: {done.output[-2000:]}"
    counts = json.loads(done.stdout)
    assert counts["rejected"] == 0, (file.name, counts)
    return counts


def start_background_worker(env: dict, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "hub"
    with log.open("ab") as err:
        return subprocess.Popen([str(exe), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=err)


def kill9(proc: subprocess.Popen, log: Path) -> None:
    if proc.poll() is not None:
        raise AssertionError(f"the background worker stopped by itself ({proc.returncode}):\n"
                             + log.read_text(errors="replace")[-3000:])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def live_cases(env: dict, tag: str) -> list[dict]:
    codec = get_codec()
    records = [codec.decode(v) for v in asyncio.run(read_table(CASES, settings_for(env))).values()]
    return [r for r in records if (r["person"] or {}).get("nom", "").startswith(tag)]


def clock_of(env: dict):
    codec = get_codec()
    table = asyncio.run(read_table(WATERMARKS, settings_for(env)))
    marks = {k.decode(): codec.decode(v)["as_of"] for k, v in table.items()}
    return min(marks[s] for s in CLOCK_SOURCES) if all(s in marks for s in CLOCK_SOURCES) else None


async def _read_views(env: dict) -> dict[str, list[dict]]:
    """Every case topic: cases.v1 and observatoire.*.cases.v1 → decoded latest records."""
    settings = settings_for(env)
    admin = client.admin(settings)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics()
                        if t == "cases.v1" or (t.startswith("observatoire.") and t.endswith(".cases.v1")))
    finally:
        await admin.close()
    codec = get_codec()
    out = {}
    for topic in topics:
        out[topic] = [to_json_obj(codec.decode(v)) for v in (await read_table(topic, settings)).values()]
    return out


def reference(folder: Path, files: list[InputFile], order: list[int], env: dict, clock) -> list[dict]:
    """The pure rule core's cases for these files (hub.demo.preview)."""
    steps = tuple(IngestStep(files[i].source, files[i].name, files[i].as_of) for i in order)
    manifest = DemoManifest(out_dir=folder, seed=0, people=0, directory=SAMPLE_DIRECTORY, clock=clock, steps=steps,
                            files=tuple(sorted(f.name for f in files)))
    directory = DirectoryIndex(load_directory(SAMPLE_DIRECTORY))
    result = asyncio.run(preview_async(manifest, settings=settings_for(env), directory=directory, clock=clock))
    return result.cases


def mine(records: list[dict], tag: str, ids: set[str]) -> list[dict]:
    return sorted((r for r in records if r["case_id"] in ids or (r["person"] or {}).get("nom", "").startswith(tag)),
                  key=lambda r: (r["case_id"], r["status"]))


def summary(cases: list[dict], tag: str) -> list[tuple]:
    return sorted((c["person"]["nom"].removeprefix(tag), c["type"], c["status"], c["outcome"], c["observatoire"],
                   len(c["transfers"])) for c in cases)


EXPECTED = [
    ("DEUX", "DECROCHAGE", "RESOLU", "APPRENTISSAGE", "OBS-17", 1),
    ("QUATRE", "DECROCHAGE", "OUVERT", None, "OBS-79", 0),
    ("QUATRE", "RUPTURE", "CLOS", "ABANDON", "OBS-79", 0),
    ("SEPT", "PREVENTION", "OUVERT", None, "OBS-86", 0),
    ("SIX", "PREVENTION", "CLOS", "CLOTURE_CTI", "OBS-86", 0),
    ("TROIS", "DECROCHAGE", "OUVERT", None, "OBS-86", 0),
    ("TROIS", "RUPTURE", "CLOS", "SANS_SOLUTION", "OBS-86", 0),
    ("HUIT", "OBLIGATION_FORMATION", "OUVERT", None, "OBS-86", 0),
    ("UN", "OBLIGATION_FORMATION", "RESOLU", "ACCOMPAGNEMENT_ML", "OBS-86", 0),
]


# -- the property ---------------------------------------------------------------------------


class Env(dict):
    """The module's environment, without its hundred variables in hypothesis reports."""

    def __repr__(self) -> str:
        return "<hub env>"


@pytest.fixture(scope="module")
def hub_env_m(prepared) -> Env:
    return Env(prepared)



@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
@given(plan=plans())
def test_final_cases_do_not_depend_on_ingest_order_nor_worker_runs(hub_env_m, tmp_path_factory, plan):
    started = time.monotonic()
    tag = "OI" + uuid.uuid4().hex[:8].upper()
    folder = tmp_path_factory.mktemp(f"oi-{tag}")
    env = {**hub_env_m, "HUB_HOME": str(folder / "home"), "HUB_WORKER_ID": f"test-oi-{tag.lower()}"}
    b = base(env)
    files, final, people = scenario(tag, b)
    assert len(files) == N_FILES
    for file in files:
        file.write(folder)
    order = chained(files, plan["order"])
    note(f"order: {[files[i].name for i in order]}; plan: {plan}")

    log = folder / "background-worker.log"
    kill = plan["kill"]
    background: subprocess.Popen | None = None
    runs: list[str] = []

    def did(what: str) -> None:
        runs.append(what)
        note(what)

    try:
        for step, i in enumerate(order):
            ingest(env, files[i], folder)
            if kill is not None and step == kill[0]:
                background = start_background_worker(env, log)
                did(f"background worker started after step {step}")
            if background is not None and step == min(kill[0] + kill[1], N_FILES - 1):
                time.sleep(kill[2])
                kill9(background, log)
                background = None
                did(f"background worker killed -9 after step {step} (+{kill[2]}s)")
            if step == plan["idle_after"]:
                if background is not None:  # one process per HUB_HOME at a time: kill it first
                    kill9(background, log)
                    background = None
                    did(f"background worker killed -9 after step {step}")
                did(f"--until-idle after step {step} (clock {clock_of(env)})")
                runs.append(f"{run_worker(env):.1f}s, {len(live_cases(env, tag))} cases")
        if background is not None:
            kill9(background, log)
            did("background worker killed -9 at the end")
    finally:
        if background is not None and background.poll() is None:
            background.kill()
            background.wait(timeout=30)
    ingested = time.monotonic()
    did("final --until-idle")
    runs.append(f"{run_worker(env):.1f}s")

    clock = clock_of(env)
    assert clock == final, "another writer moved the clock"
    raw = reference(folder, files, sorted(range(N_FILES), key=lambda i: (files[i].chain or "", files[i].rank)), env,
                    clock)
    expected = [to_json_obj(c) for c in raw]
    ids = {c["case_id"] for c in expected}
    views = asyncio.run(_read_views(env))

    # The operator's view, through the command line.
    done = run_hub("cases", "--format", "jsonl", env=env)
    assert done.returncode == 0, done.stderr
    actual = mine([json.loads(x) for x in done.stdout.splitlines()], tag, ids)
    print(f"{tag}: {[files[i].name for i in order]}, {runs}, ingests done after {ingested - started:.1f}s, "
          f"total {time.monotonic() - started:.1f}s")
    assert summary(expected, tag) == sorted(EXPECTED)  # the scenario is what inputs.py says
    assert actual == sorted(expected, key=lambda r: r["case_id"])
    assert mine(views["cases.v1"], tag, ids) == actual

    # Every observatory's topic: its cases, and a TRANSFERE record for each case it lost.
    held: dict[str, list[dict]] = {}
    for case in raw:
        for obs, record in holders(case).items():
            held.setdefault(f"observatoire.{obs}.cases.v1", []).append(to_json_obj(record))
    for topic, records in views.items():
        if topic != "cases.v1":
            assert mine(records, tag, ids) == mine(held.get(topic, []), tag, ids), topic
    assert set(held) <= set(views)

    # The homonyms' INE-less record is in dispute between their two INEs.
    cinq = people["CINQ_A"]
    secret = settings_for(env).pseudonym_secret
    digest = name_digest(name_key(cinq["nom"], cinq["prenom"], cinq["date_naissance"]), secret)
    litiges = asyncio.run(read_table(LITIGES, settings_for(env)))
    assert get_codec().decode(litiges[digest.encode()])["candidates"] == sorted([cinq["ine"], people["CINQ_B"]["ine"]])
