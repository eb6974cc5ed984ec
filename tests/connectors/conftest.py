from __future__ import annotations

import pytest

from tests.connectors.helpers import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()
