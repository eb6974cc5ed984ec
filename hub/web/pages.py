"""The pages (server-rendered, French, usable without JavaScript).

    GET  /                     → /dossiers (or /exploitation for an operator)
    GET  /connexion            log-in form;  POST /connexion   log in
    POST /deconnexion          log out
    GET  /dossiers             the account's cases: filter by type and status, most urgent first
    GET  /dossiers/{id}        one case: identity, status, evidence timeline, transfers, actions
    POST /dossiers/{id}/actions  record a follow-up action (form)
    GET  /exploitation         operators: topics, lag, dead letters, watermarks, clock
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.accounts import Account
from hub.logging import get_logger
from hub.types.cases import ALERTE, CASE_TYPES, CLOS, OUVERT, RESOLU, STATUSES, TRANSFERE
from hub.types.events import ACTIONS, CLOCK_SOURCES, SOLUTION_KINDS
from hub.web import actions as act
from hub.web.auth import CSRF_FIELD, csrf_ok, csrf_token, log_in, log_out, session_account, visible_case, visible_cases
from hub.web.ops import today

log = get_logger("hub.web")

PAGE_SIZE = 50
CASE_ID_CHARS = set("0123456789abcdef")


def valid_case_id(case_id: str) -> bool:
    return len(case_id) == 26 and case_id.startswith("c-") and set(case_id[2:]) <= CASE_ID_CHARS


def urgency(case: dict) -> tuple:
    """ALERTE first (oldest alert first), then OUVERT (oldest opening first), then the
    rest (most recently closed first)."""
    status = case["status"]
    opened = case["opened_on"].toordinal()
    if status == ALERTE:
        alerted = (case.get("alerted_on") or case["opened_on"]).toordinal()
        return (0, alerted, opened, case["case_id"])
    if status == OUVERT:
        return (1, opened, 0, case["case_id"])
    closed = (case.get("closed_on") or case["opened_on"]).toordinal()
    return (2, -closed, -opened, case["case_id"])


def _hub(request: Request):
    return request.app.state.hub


def render(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    templates = request.app.state.templates
    context = {"account": None, "csrf": csrf_token(request), "nav": None, **context}
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def require_account(request: Request) -> Account:
    account = session_account(request, _hub(request).store)
    if account is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return account


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse("/connexion?" + urlencode({"suivant": next_path}), status_code=303)


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def home_of(account: Account) -> str:
    return "/exploitation" if account.is_operator else "/dossiers"


# -- log in / out ---------------------------------------------------------------------------


async def index(request: Request) -> Response:
    account = session_account(request, _hub(request).store)
    return RedirectResponse(home_of(account) if account else "/connexion", status_code=303)


async def login_form(request: Request) -> Response:
    account = session_account(request, _hub(request).store)
    if account is not None:
        return RedirectResponse(home_of(account), status_code=303)
    return render(request, "connexion.html", {"next": _safe_next(request.query_params.get("suivant")) or "",
                                               "name": "", "error": None})


async def login(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise HTTPException(403, "Jeton de sécurité du formulaire absent ou périmé : rechargez la page.")
    name = str(form.get("identifiant") or "").strip()[:64]
    password = str(form.get("mot_de_passe") or "")
    next_path = _safe_next(str(form.get("suivant") or ""))
    hub = _hub(request)
    throttle = request.app.state.throttle
    metrics = request.app.state.metrics
    if throttle.blocked(name):
        metrics.logins.labels("throttled").inc()
        return render(request, "connexion.html", {"next": next_path or "", "name": name,
                                                   "error": "Trop d'essais : réessayez dans quelques minutes."},
                      status_code=429)
    account = await run_in_threadpool(hub.store.authenticate, name, password) if name and password else None
    if account is None or account.role == "INSTITUTION":
        throttle.failed(name)
        metrics.logins.labels("refused").inc()
        log.info("login refused")
        return render(request, "connexion.html", {"next": next_path or "", "name": name,
                                                   "error": "Identifiant ou mot de passe incorrect."},
                      status_code=401)
    throttle.succeeded(name)
    metrics.logins.labels("ok").inc()
    log_in(request, account)
    log.info("login", account=account.name, role=account.role)
    return RedirectResponse(next_path or home_of(account), status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise HTTPException(403, "Jeton de sécurité du formulaire absent ou périmé : rechargez la page.")
    await run_in_threadpool(log_out, request, request.app.state.hub.store)
    return RedirectResponse("/connexion", status_code=303)


# -- cases ----------------------------------------------------------------------------------


async def case_list(request: Request) -> Response:
    account = require_account(request)
    if not (account.follows_cases or account.is_operator):
        raise HTTPException(403, "Ce compte n'a pas de dossiers.")
    view = await _hub(request).fresh_view()
    params = request.query_params
    # Codes in any case, as `hub cases --status` takes them; an unknown one filters nothing.
    kind = (params.get("type") or "").strip().upper()
    kind = kind if kind in CASE_TYPES else ""
    status = (params.get("statut") or "").strip().upper()
    status = status if status in STATUSES else ""
    obs = (params.get("observatoire") or "").strip() if account.is_operator else ""
    cases = list(visible_cases(view, account).values())
    total_all = len(cases)
    if kind:
        cases = [c for c in cases if c["type"] == kind]
    if status:
        cases = [c for c in cases if c["status"] == status]
    if obs:
        cases = [c for c in cases if c["observatoire"] == obs]
    cases.sort(key=urgency)
    pages = max(1, math.ceil(len(cases) / PAGE_SIZE))
    try:
        page = min(max(1, int(params.get("page") or 1)), pages)
    except ValueError:
        page = 1
    shown = cases[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    counts = {s: 0 for s in STATUSES}
    for c in visible_cases(view, account).values():
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    base = {k: v for k, v in (("type", kind), ("statut", status), ("observatoire", obs)) if v}
    observatories = sorted(view.observatories) if account.is_operator else []
    return render(request, "dossiers.html", {
        "account": account, "nav": "dossiers", "cases": shown, "total": len(cases), "total_all": total_all,
        "counts": counts, "kind": kind, "status": status, "obs": obs, "observatories": observatories,
        "page": page, "pages": pages,
        "page_url": lambda n: "/dossiers?" + urlencode({**base, "page": n}),
        "filtered": bool(base),
    })


def _case_or_404(view, account: Account, case_id: str) -> dict:
    case = visible_case(view, account, case_id) if valid_case_id(case_id) else None
    if case is None:
        raise HTTPException(404, "Ce dossier n'existe pas.")
    return case


async def _case_page(request: Request, account: Account, case_id: str, *, form: dict | None = None,
                     errors: dict | None = None, status_code: int = 200) -> Response:
    view = await _hub(request).fresh_view()
    case = _case_or_404(view, account, case_id)
    rows, pending = act.timeline(case, view.actions.get(case_id, []))
    if case["status"] == TRANSFERE:
        pending = []  # the record left here carries no evidence: the actions went with the case
    can_act = account.follows_cases and case["status"] != TRANSFERE
    return render(request, "dossier.html", {
        "account": account, "nav": "dossiers", "case": case, "rows": rows, "pending": pending,
        "can_act": can_act, "closed": case["status"] in (RESOLU, CLOS), "action_codes": ACTIONS, "solution_kinds": SOLUTION_KINDS,
        "form": form or {"action": "", "solution": "", "date": today().isoformat()}, "errors": errors or {},
        "today": today().isoformat(), "done": request.query_params.get("action") == "enregistree",
        "action_label": act.action_label,
    }, status_code=status_code)


async def case_detail(request: Request) -> Response:
    account = require_account(request)
    return await _case_page(request, account, request.path_params["case_id"])


async def case_action(request: Request) -> Response:
    account = require_account(request)
    case_id = request.path_params["case_id"]
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise HTTPException(403, "Jeton de sécurité du formulaire absent ou périmé : rechargez la page.")
    hub = _hub(request)
    view = await hub.fresh_view()
    case = _case_or_404(view, account, case_id)
    if not account.follows_cases:
        raise HTTPException(403, "Ce compte ne peut pas enregistrer d'action.")
    if case["status"] == TRANSFERE:
        raise HTTPException(409, "Ce dossier a été transféré à un autre observatoire.")
    asked, errors = act.check_action(form.get("action"), form.get("date"), form.get("solution"), today(),
                                    case["opened_on"])
    if asked is None:
        values = {k: str(form.get(k) or "") for k in ("action", "solution", "date")}
        return await _case_page(request, account, case_id, form=values, errors=errors, status_code=422)
    status, _ = await record_action(request, account, case, asked)
    log.info("action recorded", account=account.name, case_id=case_id, action=asked.action, status=status)
    return RedirectResponse(f"/dossiers/{case_id}?action=enregistree#confirmation", status_code=303)


async def record_action(request: Request, account: Account, case: dict, asked: act.ActionInput) -> tuple[str, str]:
    """Publish the action on suivi.actions.v1 (once): ("published" or "unchanged", event id)."""
    from hub.kafka.topics import ACTIONS as ACTIONS_TOPIC

    hub = _hub(request)
    event = act.action_event(case, account, asked)
    view = hub.view
    published = await hub.publish_once(ACTIONS_TOPIC, case["case_id"], event, view.action_ids.__contains__,
                                       lambda _eid: view.add_action(act.seen_of(event)))
    status = "published" if published else "unchanged"
    request.app.state.metrics.actions.labels(asked.action, status).inc()
    return status, event["event_id"]


# -- operators ------------------------------------------------------------------------------


async def operations(request: Request) -> Response:
    account = require_account(request)
    if not account.is_operator:
        raise HTTPException(403, "Page réservée à l'exploitation.")
    report = await _hub(request).ops_report()
    view = _hub(request).view
    counts: dict[tuple[str, str], int] = {}
    for c in view.cases.values():
        counts[(c["type"], c["status"])] = counts.get((c["type"], c["status"]), 0) + 1
    return render(request, "exploitation.html", {
        "account": account, "nav": "exploitation", "report": report, "clock_sources": CLOCK_SOURCES,
        "today": today(), "case_counts": counts, "case_types": CASE_TYPES, "statuses": STATUSES,
        "sources": ("rectorat", "absenteisme", "mission-locale", "cfa", "cti"),
    })

