"""Shared fixtures of the Avro tests.

The repo root goes on sys.path so that `hub` imports without an installed package
(`.venv/bin/pytest` does not add the working directory by itself).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCHEMAS = ROOT / "schemas"
VECTORS = Path("/work/shared/vectors/avro-schema-tests.txt")


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    """A private copy of the repo's schemas/ that a test may extend or break."""
    dst = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, dst)
    return dst
