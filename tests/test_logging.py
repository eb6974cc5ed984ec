"""hub/logging.py: off a terminal, every log line is one JSON object — the hub's own and
those of the libraries (Faust, aiokafka, uvicorn) that log through the standard library."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import logging
    from hub.logging import configure, get_logger
    configure("INFO", "auto")
    get_logger("hub.test").info("hub event", count=3)
    logging.getLogger("faust.transport").warning("wait_empty: %s", "Waiting for tasks")
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.setLevel(logging.INFO)
    uvicorn.info("Uvicorn running on %s", "http://127.0.0.1:8000")
    logging.getLogger("aiokafka").info("below the threshold: not shown")
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger("mode").exception("crashed")
""")


def test_every_line_is_json_when_stderr_is_not_a_terminal():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # raises on any other line
    assert [(x["event"], x["level"], x.get("logger")) for x in lines] == [
        ("hub event", "info", None),
        ("wait_empty: Waiting for tasks", "warning", "faust.transport"),
        ("Uvicorn running on http://127.0.0.1:8000", "info", "uvicorn.error"),
        ("crashed", "error", "mode"),
    ]
    assert lines[0]["count"] == 3 and all("timestamp" in x for x in lines)
    assert "ZeroDivisionError" in lines[3]["exception"]
