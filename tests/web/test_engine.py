"""After the engine (`hub worker --until-idle`): a CTI REPERAGE posted over HTTP opens a
PREVENTION case, seen by the right accounts only; an action posted on it is reflected
in its timeline. These tests need `hub worker` (fixture `engine_case`)."""

from __future__ import annotations

import pytest

from hub.web.ops import today
from tests.web.conftest import csrf_of, run_worker

pytestmark = pytest.mark.kafka


def test_posted_reperage_opens_a_prevention_case_seen_by_its_observatory_and_cti_only(web, engine_case):
    cid = engine_case.case_id
    for name in ("obs86", "cti86"):
        c = web.login(name)
        assert cid in c.get("/dossiers").text, name
        page = c.get(f"/dossiers/{cid}")
        assert page.status_code == 200
        assert engine_case.nom in page.text and "Prévention" in page.text
        assert "Signalement d&#39;un CTI" in page.text and engine_case.reference in page.text
        assert "CTI État CTI-E-86-01" in page.text
    for name in ("obs16", "ml86"):
        c = web.login(name)
        assert cid not in c.get("/dossiers").text
        assert c.get(f"/dossiers/{cid}").status_code == 404


def test_an_action_leaves_the_pending_list_once_the_engine_reflects_it(web, engine_case):
    cid = engine_case.case_id
    c = web.login("cti86")
    page = c.get(f"/dossiers/{cid}")
    r = c.post(f"/dossiers/{cid}/actions", data={"csrf_token": csrf_of(page.text), "action": "ENTRETIEN_REALISE",
                                                "date": today().isoformat()})
    assert r.status_code == 303
    before = c.get(f"/dossiers/{cid}").text
    assert "Actions en attente" in before
    run_worker(web)
    after = c.get(f"/dossiers/{cid}").text
    assert "Actions en attente" not in after
    timeline = after.split('id="chronologie"')[1].split("</table>")[0]
    assert "Entretien réalisé" in timeline and "web:cti86" in timeline
