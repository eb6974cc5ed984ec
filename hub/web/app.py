"""The ASGI application of `hub serve` (Starlette, Jinja2 templates).

    app = create_app(settings, secure_cookies=False)

Routes: the pages of hub.web.pages, the API of hub.web.api, `GET /metrics`,
`GET /healthz` (200 `{"status": "ok"}` when Kafka answers, else 503) and `/static`.
Every response carries no-store caching and the usual hardening headers; the pages
need no JavaScript (the Content-Security-Policy allows none).
"""

from __future__ import annotations

import asyncio
import contextlib
from http import HTTPStatus
from pathlib import Path

from prometheus_client import disable_created_metrics
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hub.accounts import AccountStore
from hub.accounts.secrets import dummy_hash
from hub.logging import get_logger
from hub.settings import Settings, get_settings
from hub.web import api, pages
from hub.web.auth import SESSION_COOKIE, SESSION_SECONDS, LoginThrottle, session_account, web_secret
from hub.web.labels import fr_date, iso, jinja_globals
from hub.web.metrics import CONTENT_TYPE, ProcessMetrics, render
from hub.web.state import Unavailable, WebHub

HERE = Path(__file__).parent
STOP_TIMEOUT = 10.0  # seconds the Kafka clients get to stop at shutdown
log = get_logger("hub.web")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
]


class SecurityHeaders:
    """Pure ASGI middleware: hardening headers, and no caching of pages with personal data.
    HSTS too when the app is served over TLS (Secure cookies)."""

    def __init__(self, app, hsts: bool = False) -> None:
        self.app = app
        self.extra = [(b"strict-transport-security", b"max-age=31536000")] if hsts else []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS + self.extra
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(jinja_globals())
    env.filters["fr_date"] = fr_date
    env.filters["iso"] = iso
    return Jinja2Templates(env=env)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/metrics", "/healthz")


# Starlette's own errors (an unknown path, a method not routed) carry the English
# reason phrase as their detail: the pages and the API answer in French.
_DEFAULT_DETAILS = {
    404: "Cette page n'existe pas.",
    405: "Cette méthode n'est pas permise à cette adresse.",
}


async def _http_error(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail
    if exc.status_code in _DEFAULT_DETAILS and detail == HTTPStatus(exc.status_code).phrase:
        detail = _DEFAULT_DETAILS[exc.status_code]
    if _wants_json(request):
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)
    titles = {403: "Accès refusé", 404: "Page introuvable", 409: "Action impossible", 405: "Méthode non permise"}
    account = session_account(request, request.app.state.hub.store)
    return pages.render(request, "erreur.html", {
        "account": account, "title": titles.get(exc.status_code, "Erreur"), "message": detail,
        "code": exc.status_code,
    }, status_code=exc.status_code)


async def _unavailable(request: Request, exc: Unavailable) -> Response:
    if _wants_json(request):
        body: dict = {"error": "Kafka injoignable, réessayez plus tard"}
        if exc.event_id is not None:
            body = {"error": "Kafka injoignable : enregistrement non confirmé, il peut encore être publié "
                             "au retour de Kafka ; renvoyez-le (même identifiant, jamais de doublon)",
                    "event_id": exc.event_id}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "10"})
    return pages.render(request, "erreur.html", {
        "title": "Service momentanément indisponible", "code": 503,
        "message": "Le hub ne joint pas Kafka pour l'instant. Réessayez dans quelques instants.",
    }, status_code=503)


async def _login_required(request: Request, exc: pages.LoginRequired) -> Response:
    return pages.login_redirect(exc.next_path)


async def healthz(request: Request) -> Response:
    hub: WebHub = request.app.state.hub
    if await hub.kafka_ok():
        return JSONResponse({"status": "ok", "kafka": "ok", "cases": len(hub.view.cases)})
    return JSONResponse({"status": "unavailable", "kafka": "injoignable"}, status_code=503)


async def metrics(request: Request) -> Response:
    hub: WebHub = request.app.state.hub
    report = await hub.ops_report()
    return Response(render(request.app.state.metrics, report, hub.view.cases), media_type=CONTENT_TYPE)


def create_app(settings: Settings | None = None, *, secure_cookies: bool = True, start_wait: float = 120.0) -> Starlette:
    """The web app bound to `settings` (HUB_HOME: accounts and secret; Kafka)."""
    settings = settings or get_settings()
    disable_created_metrics()  # no `*_created` series: counters here are derived from Kafka
    store = AccountStore.for_home(settings.home)
    hub = WebHub(settings, store)
    dummy_hash()  # now rather than at the first login for an unknown name (secrets.py)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await hub.start(wait=start_wait)
        try:
            yield
        finally:
            # Bounded: with Kafka down, the clients' stop would wait for it to come back.
            # Whatever is abandoned was never answered 202 (a post is acknowledged only
            # once the broker has it).
            try:
                await asyncio.wait_for(hub.stop(), STOP_TIMEOUT)
            except (TimeoutError, asyncio.TimeoutError):
                log.warning("kafka clients not stopped cleanly", timeout_s=STOP_TIMEOUT)

    routes = [
        Route("/", pages.index),
        Route("/connexion", pages.login_form, methods=["GET"]),
        Route("/connexion", pages.login, methods=["POST"]),
        Route("/deconnexion", pages.logout, methods=["POST"]),
        Route("/dossiers", pages.case_list),
        Route("/dossiers/{case_id}", pages.case_detail),
        Route("/dossiers/{case_id}/actions", pages.case_action, methods=["POST"]),
        Route("/exploitation", pages.operations),
        Route("/api/v1/ingest/{source}", api.ingest, methods=["POST"]),
        Route("/api/v1/cases/{case_id}/actions", api.case_action, methods=["POST"]),
        Route("/metrics", metrics),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders, hsts=secure_cookies),
        Middleware(SessionMiddleware, secret_key=web_secret(settings.home), session_cookie=SESSION_COOKIE,
                   max_age=SESSION_SECONDS, same_site="lax", https_only=secure_cookies),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            Unavailable: _unavailable,
            pages.LoginRequired: _login_required,
        },
    )
    app.state.hub = hub
    app.state.templates = _templates()
    app.state.throttle = LoginThrottle()
    app.state.metrics = ProcessMetrics()
    return app
