"""The `hub` group: every command listed, each imported only when it runs."""

from __future__ import annotations

import subprocess
import sys

from hub.cli.main import COMMANDS, cli

PROBE = """
import sys
from hub.cli.main import main
try:
    main([{args}])
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith(("hub.cli.", "faust", "starlette", "connectors.")))))
"""


def imported_by(*args: str) -> set[str]:
    code = PROBE.format(args=", ".join(repr(a) for a in args))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(done.stdout.split())


def test_a_command_imports_its_own_module_only():
    loaded = imported_by("cases", "--help")
    assert "hub.cli.cases" in loaded
    assert not {m for m in loaded if m.startswith(("faust", "starlette", "connectors."))}
    assert not {COMMANDS[c] for c in COMMANDS if c != "cases"} & loaded


def test_help_lists_every_command_and_each_resolves():
    assert cli.list_commands(None) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(None, name)
        assert command is not None and command.name == name
    assert cli.get_command(None, "nope") is None
    assert set(COMMANDS.values()) <= imported_by("--help")
