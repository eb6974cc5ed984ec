"""The pages in a real headless Chromium (Debian's `chromium`, driven by Playwright's
client — no browser download). Screenshots go to test-artifacts/web/.

`test_observatory_records_an_action_and_sees_it_reflected` needs `hub worker` (the
engine opens the case and reflects the action); the 404 test does not.
"""

from __future__ import annotations

import shutil

import pytest

from hub.types.cases import TRANSFERE
from tests.web.conftest import ARTIFACTS, PASSWORDS, run_worker

pytestmark = pytest.mark.kafka

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def log_in(browser, web, name: str):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{web.url}/dossiers")
    assert "/connexion" in page.url
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORDS[name])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{web.url}/dossiers")
    return context, page


def test_observatory_records_an_action_and_sees_it_reflected(browser, web, seeded, engine_case):
    context, page = log_in(browser, web, "obs86")
    try:
        assert page.get_by_role("heading", level=1).inner_text() == "Mes dossiers"
        rows = page.locator("table.dossiers tbody tr")
        names = rows.locator("th").all_inner_texts()
        assert f"{engine_case.nom} Élodie" in names
        for c in seeded.obs86.values():
            assert f"{c['person']['nom']} Élodie" in names
        for c in seeded.obs16.values():
            assert f"{c['person']['nom']} Élodie" not in names
        assert "Dossier transféré" in names  # OBS-86's last word on the case that moved
        page.screenshot(path=str(ARTIFACTS / "01-mes-dossiers-obs86.png"), full_page=True)

        page.get_by_role("link", name=f"{engine_case.nom} Élodie").click()
        page.wait_for_url(f"{web.url}/dossiers/{engine_case.case_id}")
        assert "Prévention" in page.get_by_role("heading", level=1).inner_text()
        page.get_by_label("Action", exact=True).select_option("RDV_PRIS")
        page.get_by_label("Date de l'action").fill(engine_case.report_date.isoformat())
        page.get_by_role("button", name="Enregistrer l'action").click()
        page.wait_for_url(f"{web.url}/dossiers/{engine_case.case_id}?action=enregistree*")
        pending = page.locator("section", has=page.get_by_role("heading", name="Actions en attente"))
        assert "Rendez-vous pris" in pending.inner_text()
        assert page.get_by_role("status").is_visible()
        page.screenshot(path=str(ARTIFACTS / "02-action-en-attente.png"), full_page=True)

        run_worker(web)
        page.reload()
        assert page.get_by_role("heading", name="Actions en attente").count() == 0
        timeline = page.locator("table.chronologie")
        assert "Rendez-vous pris" in timeline.inner_text()
        assert "Signalement d'un CTI" in timeline.inner_text()
        page.screenshot(path=str(ARTIFACTS / "03-action-dans-la-chronologie.png"), full_page=True)
    finally:
        context.close()


def test_another_observatory_gets_a_404_for_an_obs86_case(browser, web, seeded):
    context, page = log_in(browser, web, "obs16")
    try:
        names = page.locator("table.dossiers tbody tr th").all_inner_texts()
        assert f"{seeded.obs16['SEIZE']['person']['nom']} Élodie" in names
        assert not any(seeded.tag in n and "SEIZE" not in n and "DEMENAGE" not in n for n in names)
        target = seeded.obs86["OUVERT"]["case_id"]
        response = page.goto(f"{web.url}/dossiers/{target}")
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Page introuvable"
        assert seeded.obs86["OUVERT"]["person"]["nom"] not in page.content()
        page.screenshot(path=str(ARTIFACTS / "04-obs16-dossier-obs86-404.png"), full_page=True)
    finally:
        context.close()


def test_operator_page_renders(browser, web):
    context, page = log_in_operator(browser, web)
    try:
        assert page.get_by_role("heading", level=1).inner_text() == "Exploitation"
        for heading in ("Horloge du hub", "Retard du moteur", "Rejets (lettres mortes)", "Topics"):
            assert page.get_by_role("heading", name=heading).is_visible()
        page.screenshot(path=str(ARTIFACTS / "05-exploitation.png"), full_page=True)
    finally:
        context.close()


def log_in_operator(browser, web):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{web.url}/connexion")
    page.get_by_label("Identifiant").fill("oper")
    page.get_by_label("Mot de passe").fill(PASSWORDS["oper"])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{web.url}/exploitation")
    return context, page


assert TRANSFERE  # the seeded TRANSFERE record is what shows as "Dossier transféré"
