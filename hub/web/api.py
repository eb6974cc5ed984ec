"""The HTTP API (JSON).

`POST /api/v1/ingest/{source}` — an institution's system posts ONE record: the CTI
object of inputs.md §5, or one row of another source as an object keyed by column name
(for `rectorat`: `UAJ` plus the ELEVE fields, taken as a first sighting of the pupil —
the same events and ids as the file path, but the SIECLE snapshot is not updated, so an
exit by disappearance still needs the export file). `Authorization: Bearer <token>`.

| case | status | body |
|---|---|---|
| no token, unknown or disabled token | 401 | `{"error"}` + `WWW-Authenticate: Bearer` |
| valid token, no such source in the path | 404 | `{"error"}` |
| token of another source, or not an institution token, or a record for another code than the token's (CTI code; Mission locale, CFA, establishment when the token has one) | 403 | `{"error"}` |
| not JSON (the detail says why: where it breaks, a key given twice…), or not a JSON object | 422 | `{"status": "rejected", "reasons": [{"reason": "BAD_JSON", …}]}` |
| invalid record (the connector's own validation; an event date after today, in France, is `FUTURE_DATE`) | 422 | `{"status": "rejected", "reasons": [{"reason", "detail", "field"}, …]}` — nothing published |
| about a person under 15 at the event date (rules.md §2), valid or refused (connectors.core.runner.screen_rejected) | 202 | `{"status": "filtered", "filtered": true, "event_id": null, "event_ids": []}` — accepted, nothing published, nothing to retry |
| valid | 202 | `{"status": "published" \\| "unchanged", "event_id", "event_ids", "published": n, "warnings": n}` |
| directory not loaded (cti, mission-locale) / Kafka down | 503 | `{"error"}` |
| Kafka stopped answering while the record was being published | 503 | `{"error", "event_id"}`: not confirmed, it may still arrive when Kafka is back — send it again (same id: `unchanged` if it did) |

The same record posted twice gives the same event id and publishes nothing the second
time ("unchanged"): ids already on the source topic are loaded once per process
(hub.kafka.seen), caught up at every post with what other processes wrote since (a file
ingest of the same record while the server runs), and every id this process publishes
is added. Only a file ingest running at the very moment of a post can still publish the
same event twice; the worker keeps one of them (by event id) and always the same. A rejected record is
answered, not sent to the dead-letter topic (the sender sees the reasons and corrects
it; `hub dlq replay` must not publish it behind its back). HTTP posts publish no
watermark: one record says nothing about the completeness of a source.

`POST /api/v1/cases/{id}/actions` — a counsellor or observatory records a follow-up
action: `{"action": "RDV_PRIS", "date": "2026-03-02", "solution": null}` (`date`
defaults to today; `solution` only with SOLUTION_CONSEILLER). Bearer token of that
account, or its session with the `X-CSRF-Token` header. 202
`{"status": "published" | "unchanged", "event_id"}`; 404 for a case the account does
not see; 409 for a case transferred away; 422 with `{"errors": {field: message}}`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors import SOURCES, Accepted, Filtered, Rejected, check_record, get_connector, make_context
from hub.accounts import INSTITUTION, Account
from hub.logging import get_logger
from hub.types.cases import TRANSFERE
from hub.validation.jsontext import loads_strict
from hub.web.auth import CSRF_HEADER, bearer, csrf_ok, session_account
from hub.web.ops import today
from hub.web.pages import record_action, valid_case_id

log = get_logger("hub.web.api")

MAX_BODY = 64 * 1024
# The field of a record that must equal the code its institution token is bound to.
BINDING_FIELD = {
    "cti": "cti",
    "mission-locale": "code_ml",
    "cfa": "uai_cfa",
    "absenteisme": "uai",
    "rectorat": "uaj",
}


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _unauthorized(message: str) -> JSONResponse:
    return _error(401, message, **{"WWW-Authenticate": 'Bearer realm="hub"'})


async def _json_body(request: Request) -> tuple[Any, JSONResponse | None]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        return None, _error(413, f"corps trop grand (au plus {MAX_BODY} octets, un enregistrement par requête)")
    chunks, size = [], 0
    async for chunk in request.stream():  # read with a cap, whatever Content-Length says
        size += len(chunk)
        if size > MAX_BODY:
            return None, _error(413, f"corps trop grand (au plus {MAX_BODY} octets, un enregistrement par requête)")
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        return loads_strict(body), None
    except UnicodeDecodeError:
        return NotJson("le corps n'est pas encodé en UTF-8"), None
    except json.JSONDecodeError as e:
        return NotJson(f"JSON invalide (ligne {e.lineno}, colonne {e.colno})"), None
    except ValueError as e:  # loads_strict's own refusals, in French
        return NotJson(f"JSON invalide : {e}"), None


class NotJson(str):
    """Why a body is not JSON (`_json_body`)."""


def _not_an_object(body: Any) -> str:
    return body if isinstance(body, NotJson) else "un objet JSON est attendu (un enregistrement par requête)"


def _field(row: dict, name: str) -> str:
    for key, value in row.items():
        if str(key).strip().lower() == name:
            return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()
    return ""


async def ingest(request: Request) -> Response:
    source = request.path_params["source"]
    hub = request.app.state.hub
    metrics = request.app.state.metrics
    token = bearer(request)
    if token is None:
        metrics.ingest.labels(source if source in SOURCES else "?", "unauthorized").inc()
        return _unauthorized("jeton d'API manquant (Authorization: Bearer …)")
    account = hub.store.by_token(token)
    if account is None:
        metrics.ingest.labels(source if source in SOURCES else "?", "unauthorized").inc()
        return _unauthorized("jeton d'API inconnu ou désactivé")
    if source not in SOURCES:  # no such resource, whoever asks (the sources are public)
        metrics.ingest.labels("?", "not_found").inc()
        return _error(404, f"source inconnue (une de : {', '.join(SOURCES)})")
    if account.role != INSTITUTION or account.source != source:
        metrics.ingest.labels(source, "forbidden").inc()
        log.info("ingest refused: other source", account=account.name, source=source[:40])
        return _error(403, "ce jeton n'est pas celui de cette source")
    row, too_big = await _json_body(request)
    if too_big is not None:
        return too_big
    if not isinstance(row, dict):
        metrics.ingest.labels(source, "rejected").inc()
        metrics.rejections.labels(source, "BAD_JSON").inc()
        return JSONResponse({"status": "rejected", "reasons": [
            {"reason": "BAD_JSON", "detail": _not_an_object(row), "field": None}]}, status_code=422)
    field = BINDING_FIELD.get(source)
    if account.code and field:
        value = _field(row, field)
        if value and value.upper() != account.code.upper():
            metrics.ingest.labels(source, "forbidden").inc()
            log.info("ingest refused: other code", account=account.name, source=source)
            return _error(403, f"ce jeton est lié à {field} = {account.code}")
    hub.require()
    connector = get_connector(source)
    directory = hub.view.directory if connector.needs_directory else None
    if connector.needs_directory and directory is None:
        return _error(503, "l'annuaire n'est pas chargé (hub directory load)")
    ctx = make_context(connector, directory=directory, as_of=today(), settings=hub.settings)
    verdict = check_record(connector, row, ctx, ref=f"api:{account.name}")
    if isinstance(verdict, Rejected):
        metrics.ingest.labels(source, "rejected").inc()
        for r in verdict.rejections:
            metrics.rejections.labels(source, r.reason).inc()
        log.info("ingest rejected", account=account.name, source=source, reasons=[r.reason for r in verdict.rejections])
        return JSONResponse({"status": "rejected", "reasons": [r.as_dict() for r in verdict.rejections]},
                            status_code=422)
    if isinstance(verdict, Filtered):
        metrics.ingest.labels(source, "filtered").inc()
        log.info("ingest filtered (under 15)", account=account.name, source=source)
        # Accepted and counted, not published (rules.md §2): 202 as every accepted
        # record (interfaces.md lists no other success), without an event id.
        return JSONResponse({"status": "filtered", "filtered": True, "event_id": None, "event_ids": []},
                            status_code=202)
    assert isinstance(verdict, Accepted)
    seen = await hub.seen_events(source)
    new = 0
    for key, event in verdict.events:
        if await hub.publish_once(connector.topic, key, event, seen.contains, seen.add):
            new += 1
    ids = verdict.event_ids
    status = "published" if new else "unchanged"
    metrics.ingest.labels(source, status).inc()
    log.info("ingest accepted", account=account.name, source=source, status=status, events=new)
    return JSONResponse({"status": status, "event_id": ids[0] if ids else None, "event_ids": ids,
                         "published": new, "warnings": verdict.warnings}, status_code=202)


async def _api_account(request: Request) -> tuple[Account | None, JSONResponse | None]:
    hub = request.app.state.hub
    token = bearer(request)
    if token is not None:
        account = hub.store.by_token(token)
        if account is None:
            return None, _unauthorized("jeton d'API inconnu ou désactivé")
        return account, None
    account = session_account(request, hub.store)
    if account is None:
        return None, _unauthorized("authentification requise (jeton d'API ou session)")
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        return None, _error(403, "en-tête X-CSRF-Token absent ou invalide")
    return account, None


async def case_action(request: Request) -> Response:
    from hub.web import actions as act
    from hub.web.auth import visible_case

    account, problem = await _api_account(request)
    if problem is not None:
        return problem
    assert account is not None
    if not account.follows_cases:
        return _error(403, "ce compte ne peut pas enregistrer d'action")
    hub = request.app.state.hub
    case_id = request.path_params["case_id"]
    view = await hub.fresh_view()
    case = visible_case(view, account, case_id) if valid_case_id(case_id) else None
    if case is None:
        return _error(404, "dossier inconnu")
    if case["status"] == TRANSFERE:
        return _error(409, "dossier transféré à un autre observatoire")
    body, too_big = await _json_body(request)
    if too_big is not None:
        return too_big
    if not isinstance(body, dict):
        return JSONResponse({"errors": {"corps": _not_an_object(body)}}, status_code=422)
    asked, errors = act.check_action(body.get("action"), body.get("date"), body.get("solution"), today(),
                                    case["opened_on"])
    if asked is None:
        return JSONResponse({"errors": errors}, status_code=422)
    status, event_id = await record_action(request, account, case, asked)
    log.info("action recorded", account=account.name, case_id=case_id, action=asked.action, status=status)
    return JSONResponse({"status": status, "event_id": event_id}, status_code=202)
