"""Throughput of the hub codec against bare fastavro, in the same run.

    python bench/codec.py [--n 200000] [--rounds 3]

A typical ELEVE_SORTI event goes through `Codec.encode`/`Codec.decode` (single-object
framing: header, fingerprint lookup, trailing-byte check, typed errors) and through bare
`fastavro.schemaless_writer`/`schemaless_reader` on the same parsed schema. The ratio
hub/bare is what matters (target ≥ 0.8 both ways); each figure is the best of `--rounds`
so that a noisy neighbour does not decide the result.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timezone
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastavro import schemaless_reader, schemaless_writer  # noqa: E402

from hub.avro.codec import Codec  # noqa: E402

EVENT = {
    "event_id": "e-3f9a1c0d5b7e4a2f8c6d1e0b9a8f7c6d",
    "event_type": "ELEVE_SORTI",
    "source": "rectorat",
    "source_ref": "0860012W-2026-03-15.xml:ELEVE[17]",
    "event_date": date(2026, 1, 10),
    "received_at": datetime(2026, 3, 15, 21, 4, 11, 250000, tzinfo=timezone.utc),
    "person": {
        "ine": "123456789AB",
        "nom": "DUPONT",
        "prenom": "Élodie",
        "date_naissance": date(2009, 2, 14),
        "commune_residence": "86194",
    },
    "uai": "0860012W",
    "eleve_id": "1234567",
    "motif_sortie": "05",
}


def best(fn, n: int, rounds: int) -> float:
    """Records per second, best of `rounds` runs of `n` calls."""
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(n)
        rates.append(n / (time.perf_counter() - t0))
    return max(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    codec = Codec()
    schema = codec.latest("ELEVE_SORTI").parsed
    framed = codec.encode("ELEVE_SORTI", EVENT)
    body = framed[10:]
    assert codec.decode(framed) == EVENT

    def bare_encode(n: int) -> None:
        for _ in range(n):
            fo = BytesIO()
            schemaless_writer(fo, schema, EVENT)
            fo.getvalue()

    def hub_encode(n: int) -> None:
        encode = codec.encode
        for _ in range(n):
            encode("ELEVE_SORTI", EVENT)

    def bare_decode(n: int) -> None:
        for _ in range(n):
            schemaless_reader(BytesIO(body), schema)

    def hub_decode(n: int) -> None:
        decode = codec.decode
        for _ in range(n):
            decode(framed)

    # interleave bare and hub runs so that CPU frequency drift hits both alike
    be, he = best(bare_encode, args.n, args.rounds), best(hub_encode, args.n, args.rounds)
    bd, hd = best(bare_decode, args.n, args.rounds), best(hub_decode, args.n, args.rounds)
    print(f"ELEVE_SORTI, {len(framed)} bytes framed ({len(body)} body), n={args.n}, best of {args.rounds}")
    print(f"encode  bare fastavro {be:>10,.0f} rec/s   hub codec {he:>10,.0f} rec/s   ratio {he / be:.2f}")
    print(f"decode  bare fastavro {bd:>10,.0f} rec/s   hub codec {hd:>10,.0f} rec/s   ratio {hd / bd:.2f}")
    ok = he / be >= 0.8 and hd / bd >= 0.8
    print("target ≥ 0.80 both ways:", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
