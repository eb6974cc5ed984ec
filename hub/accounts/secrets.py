"""Password and token hashing. Nothing here ever returns or logs a secret in clear.

- Passwords: Argon2id (argon2-cffi's defaults: 3 passes, 64 MiB, 4 lanes), the hash
  string carries its own salt and parameters, so a later change of parameters is picked
  up at the next successful login (`needs_rehash`).
- API tokens: 32 random bytes (`hub_` + URL-safe base64), shown once by `hub accounts`;
  stored as their SHA-256. A token has 256 bits of entropy, so a fast hash is enough to
  make the stored value useless to a reader of the file, and it lets a request find its
  account with one indexed look-up.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "hub_"
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """Verified when the account does not exist, so that a login takes the same time
    whether the name is known or not (no account enumeration by timing). Made once, on
    first use (an Argon2 hash: ≈ 0.15 s that no other command should pay): the web app
    makes it as it starts, so its first login is timed like the others."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; a missing hash still costs one verification."""
    try:
        return _hasher.verify(stored or dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())
