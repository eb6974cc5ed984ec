"""The demo data set (`hub demo`): a seeded, deterministic Poitou-Charentes school year.

    from hub.demo.generate import generate
    from hub.demo.preview import preview

    manifest = generate(out_dir, seed=2026, people=3000)   # files + the ingest plan
    for argv in manifest.commands():                       # ["ingest", SOURCE, PATH, ("--as-of", DATE)]
        ...
    result = preview(manifest)                             # the cases the rules will give
    print(result.summary())

`generate.py` documents the scenarios and the clock; `preview.py` runs the real
connectors (in memory) and the rule core over the files, without Kafka. (The functions
are deliberately not re-exported here: `hub.demo.generate` and `hub.demo.preview` stay
the modules.)
"""

from hub.demo.manifest import DemoManifest, IngestStep

__all__ = ["DemoManifest", "IngestStep"]
