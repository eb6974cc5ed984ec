"""`hub directory load`: validate, publish, replace; a bad file publishes nothing."""

from __future__ import annotations

import pytest

from hub.directory_feed import read_directory
from hub.kafka.embedded import REPO_ROOT
from tests.conftest import run_hub

pytestmark = pytest.mark.kafka

SAMPLE = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"


async def test_load_publish_and_replace(hub_env, tmp_path):
    first = run_hub("directory", "load", str(SAMPLE), env=hub_env)
    assert first.returncode == 0, first.stderr
    index = await read_directory()
    assert set(index.observatoires) == {"OBS-16", "OBS-17", "OBS-79", "OBS-86"}
    assert index.observatoire_for_commune("86194") == "OBS-86"

    # A new version without Charente: its entries are gone everywhere.
    text = SAMPLE.read_text()
    smaller = tmp_path / "annuaire.yaml"
    import yaml

    doc = yaml.safe_load(text)
    doc["observatoires"] = [o for o in doc["observatoires"] if o["code"] != "OBS-16"]
    doc["missions_locales"] = [m for m in doc["missions_locales"] if m["observatoire"] != "OBS-16"]
    smaller.write_text(yaml.safe_dump(doc, allow_unicode=True))
    second = run_hub("directory", "load", str(smaller), env=hub_env)
    assert second.returncode == 0, second.stderr
    index = await read_directory()
    assert "OBS-16" not in index.observatoires
    assert index.observatoire_for_commune("16015") is None

    # Back to the full sample for the other tests sharing the broker.
    assert run_hub("directory", "load", str(SAMPLE), env=hub_env).returncode == 0


def test_bad_directory_is_one_line_exit_2_and_publishes_nothing(hub_env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SAMPLE.read_text().replace("observatoire: OBS-86", "observatoire: OBS-99", 1))
    result = run_hub("directory", "load", str(bad), env=hub_env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "OBS-99" in result.stderr
