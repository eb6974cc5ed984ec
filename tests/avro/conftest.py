"""Fixtures of the Avro tests (no broker: everything here is in-process and fast)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    """A private copy of the repo's schemas/ that a test may extend or break."""
    dst = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, dst)
    return dst
