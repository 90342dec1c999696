"""The operators' credential: who may use the codec server, which decrypts every organization's payloads.

Ringflow keeps all organizations in one Temporal namespace under one set of codec keys, so whoever can
call ``/codec/decode`` reads every tenant's workflow inputs. That is an operator's power, never an
organization's: the codec server takes this one secret (``RINGFLOW_OPERATOR_TOKEN``) and no API key.
The `temporal` CLI sends it as ``--codec-auth "Bearer <token>"``; a browser (the Web UI) logs in once
at ``/operator/login`` and then carries a signed, expiring cookie derived from it. Rotating the token
ends every such login.

The embedded dev stack, which has no configuration, writes a token of its own to ``operator.token``
in its data directory (mode 0600), as it does for its codec keys.
"""

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from infra.codec import write_secret_once
from schemas.settings import Settings

OPERATOR_TOKEN_FILE = "operator.token"
OPERATOR_COOKIE = "ringflow_operator"
# A working day; logging in again only needs the token.
OPERATOR_LOGIN_SECONDS = 12 * 60 * 60
_COOKIE_PURPOSE = b"ringflow-operator-login:"


def operator_token_file(settings: Settings) -> Path:
    return settings.data_dir / OPERATOR_TOKEN_FILE


def operator_token(settings: Settings) -> str | None:
    """The configured token, else the dev stack's file; ``None``: no operator can use the codec server."""
    if settings.operator_token:
        return settings.operator_token
    path = operator_token_file(settings)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def ensure_dev_operator_token(settings: Settings) -> None:
    """Give the embedded stack an operator token of its own when none is configured."""
    if not settings.operator_token:
        write_secret_once(operator_token_file(settings), secrets.token_urlsafe(32))


def is_operator_token(token: str, presented: str) -> bool:
    return hmac.compare_digest(token.encode(), presented.encode())


def operator_cookie(token: str, *, now: float | None = None) -> str:
    """``<expiry>.<HMAC of it under the token>``: nothing secret in the browser, and no state to keep."""
    expires = int((time.time() if now is None else now) + OPERATOR_LOGIN_SECONDS)
    return f"{expires}.{_signature(token, expires)}"


def is_valid_operator_cookie(token: str, cookie: str, *, now: float | None = None) -> bool:
    expires, _, signature = cookie.partition(".")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature, _signature(token, int(expires)))


def _signature(token: str, expires: int) -> str:
    return hmac.new(token.encode(), _COOKIE_PURPOSE + str(expires).encode(), hashlib.sha256).hexdigest()
