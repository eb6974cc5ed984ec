"""`hub serve [--port N] [--host 127.0.0.1]`: the web interface and HTTP API (uvicorn).

Accounts come from `<HUB_HOME>/accounts.sqlite3` (`hub accounts`); sessions are signed
with HUB_WEB_SECRET, or with a secret generated once in `<HUB_HOME>/web-secret`.
Session cookies are `Secure` unless the server listens on loopback only (plain HTTP on
localhost); behind a TLS proxy on another address they stay Secure (--insecure-cookies
to turn that off for a plain-HTTP test network).
"""

from __future__ import annotations

import errno
import socket

import click

from hub.errors import InputError
from hub.logging import get_logger
from hub.settings import DEFAULT_PSEUDONYM_SECRET, DEFAULT_SECRET_WARNING, get_settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_secure(host: str, insecure_cookies: bool = False) -> bool:
    """Secure session cookies unless the server listens on loopback only."""
    return not (host in LOOPBACK or host.startswith("127.") or insecure_cookies)


def check_listen(host: str, port: int) -> None:
    """One clear line (exit 2) for an address the server could not listen on, before
    uvicorn starts (its own failure is several log lines and exit 3)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"adresse d'écoute invalide : {host!r} ({getattr(exc, 'strerror', None) or exc})") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(f"le port {port} est déjà pris sur {host} ; choisissez --port N") from None
            raise InputError(f"impossible d'écouter sur {host}:{port} ({exc.strerror})") from None


def run_server(settings, *, host: str, port: int, secure_cookies: bool, quiet: bool = False) -> None:
    """Serve the web app until SIGINT/SIGTERM (uvicorn). `quiet` (hub demo): warnings
    and errors only, no access log."""
    import uvicorn

    from hub.web.app import create_app

    app = create_app(settings, secure_cookies=secure_cookies)
    # log_config=None: uvicorn's loggers go to hub.logging's handler (JSON off a terminal).
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False, log_config=None,
                log_level="warning" if quiet else "info", access_log=not quiet)


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--insecure-cookies", is_flag=True, help="Session cookies without the Secure flag on a non-loopback address.")
def serve(port: int, host: str, insecure_cookies: bool) -> None:
    """Serve the observatories' and counsellors' pages, the operator page, the HTTP API,
    /metrics and /healthz."""
    from hub.kafka.client import bootstrap_servers

    settings = get_settings()
    bootstrap_servers(settings)  # no broker configured at all: one clear line, exit 1
    check_listen(host, port)
    # A log line, not an echo: off a terminal every line of the server is JSON.
    get_logger("hub.serve").info("hub serve", url=f"http://{host}:{port}/",
                                 accounts=str(settings.home / "accounts.sqlite3"))
    if settings.pseudonym_secret == DEFAULT_PSEUDONYM_SECRET:  # posted records are keyed too
        get_logger("hub.serve").warning(DEFAULT_SECRET_WARNING)
    run_server(settings, host=host, port=port, secure_cookies=is_secure(host, insecure_cookies))
