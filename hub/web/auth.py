"""Who is asking: sessions (pages), bearer tokens (API), CSRF, and what each may see.

- Sessions are Starlette's signed cookie (itsdangerous, secret from HUB_WEB_SECRET or
  `<HUB_HOME>/web-secret`), HttpOnly, SameSite=Lax, Secure unless served on loopback,
  8 hours. The cookie holds the account name, the CSRF token and the account's
  `changed_at` at login; the account is read again from the store on every request, so
  disabling it ends its sessions, and so does any later change of the account (a new
  password, token, a disable then enable): a session opened before it is refused. Each
  session has an id; logging out records it as ended in the accounts store, so a copy
  of the cookie taken before the logout is refused too.
- Every form carries the session's CSRF token; a POST without it, or with another one,
  is refused with 403. The JSON API accepts a session only with the token in the
  `X-CSRF-Token` header (a bearer token needs none).
- Visibility (rules.md §8): an observatory sees its own topic
  `observatoire.<CODE>.cases.v1`; a counsellor structure the cases of `cases.v1` whose
  `assigned_to.code` is its code; an operator every case of `cases.v1`. Anything else
  does not exist for the account (404).
"""

from __future__ import annotations

import os
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from starlette.requests import Request

from hub.accounts import COUNSELLOR_ROLES, INSTITUTION, OBSERVATOIRE, OPERATEUR, Account, AccountStore
from hub.accounts.secrets import same
from hub.web.view import TopicView

SECRET_ENV = "HUB_WEB_SECRET"
SECRET_FILE = "web-secret"
SESSION_COOKIE = "hub_session"
SESSION_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def web_secret(home: Path) -> str:
    """HUB_WEB_SECRET, else the secret kept in `<home>/web-secret` (made on first use,
    mode 0600) so that every process of this home signs sessions alike."""
    value = os.environ.get(SECRET_ENV, "").strip()
    if value:
        return value
    path = home / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# -- sessions and CSRF ----------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: Any) -> bool:
    expected = request.session.get("csrf")
    return bool(expected) and isinstance(submitted, str) and bool(submitted) and same(expected, submitted)


def session_account(request: Request, store: AccountStore) -> Account | None:
    """The logged-in account, if still enabled and allowed on the pages."""
    name = request.session.get("account")
    if not name:
        return None
    account = store.get(name)
    sid = request.session.get("sid")
    if (account is None or account.disabled or account.role == INSTITUTION or not account.has_password
            or request.session.get("stamp") != account.changed_at or not sid or store.session_ended(sid)):
        request.session.clear()
        return None
    return account


def log_in(request: Request, account: Account) -> None:
    request.session.clear()
    request.session["account"] = account.name
    request.session["sid"] = secrets.token_urlsafe(18)
    request.session["csrf"] = secrets.token_urlsafe(32)  # a new token: no fixation
    request.session["at"] = int(time.time())
    request.session["stamp"] = account.changed_at


def log_out(request: Request, store: AccountStore) -> None:
    """End the session here and for any copy of its cookie."""
    sid = request.session.get("sid")
    if sid:
        store.end_session(sid, until=request.session.get("at", time.time()) + SESSION_SECONDS)
    request.session.clear()


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class LoginThrottle:
    """At most `limit` failed logins per account name in `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, name: str) -> deque[float]:
        q = self._failures[name]
        now = time.monotonic()
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, name: str) -> bool:
        return len(self._recent(name)) >= self.limit

    def failed(self, name: str) -> None:
        self._recent(name).append(time.monotonic())
        if len(self._failures) > 10000:  # bounded memory under a spray of names
            self._failures.clear()

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)


# -- visibility -----------------------------------------------------------------------------


def visible_cases(view: TopicView, account: Account) -> dict[str, dict]:
    """case id → record, for every case the account may see (nothing else exists for it)."""
    if account.role == OBSERVATOIRE:
        return view.observatories.get(account.code or "", {})
    if account.role in COUNSELLOR_ROLES:
        ids = view.by_assignee.get(account.code or "", ())
        return {cid: view.cases[cid] for cid in ids if cid in view.cases}
    if account.role == OPERATEUR:
        return view.cases
    return {}


def visible_case(view: TopicView, account: Account, case_id: str) -> dict | None:
    if account.role == OBSERVATOIRE:
        return view.observatories.get(account.code or "", {}).get(case_id)
    if account.role in COUNSELLOR_ROLES:
        case = view.cases.get(case_id)
        if case is not None and (case.get("assigned_to") or {}).get("code") == account.code:
            return case
        return None
    if account.role == OPERATEUR:
        return view.cases.get(case_id)
    return None
