"""Secrets sealed at rest: one Fernet cipher for the deployment, whose keys are ``RINGFLOW_OAUTH_TOKEN_KEY`` (the
setting's name predates its second use), else the dev stack's key file. OAuth connections' tokens and client
secrets (``infra/oauth.py``) and HTTP tools' API keys and bearer tokens (``infra/http_tools.py``) are sealed with
it. docs/tools.md#secrets-at-rest.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from infra.codec import write_secret_once
from schemas.settings import Settings

KEY_SETTING = "RINGFLOW_OAUTH_TOKEN_KEY"
KEY_FILE = "oauth-token.key"
"""The dev stack's key file in ``data_dir`` (named before tools' secrets were sealed too)."""


class SealingKeyError(RuntimeError):
    """No usable key, or a sealed secret the keys do not open: the message names the setting."""


def sealing_cipher(settings: Settings) -> MultiFernet:
    """The Fernet keys sealing secrets at rest: ``RINGFLOW_OAUTH_TOKEN_KEY``, else the dev stack's key file. The
    first key seals, all open (rotation)."""
    raw, where = settings.oauth_token_key, KEY_SETTING
    if not raw:
        path = settings.data_dir / KEY_FILE
        if not path.exists():
            raise SealingKeyError(
                f"no key to seal secrets with: set {KEY_SETTING} to a Fernet key "
                "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            )
        raw, where = path.read_text(encoding="utf-8"), str(path)
    try:
        return MultiFernet([Fernet(key.strip()) for key in raw.replace("\n", ",").split(",") if key.strip()])
    except ValueError as err:
        raise SealingKeyError(f"{where}: not a list of Fernet keys ({err})") from None


def ensure_dev_sealing_key(settings: Settings) -> None:
    """Give the embedded stack a sealing key of its own (mode 0600) when none is configured."""
    if not settings.oauth_token_key:
        write_secret_once(settings.data_dir / KEY_FILE, Fernet.generate_key().decode())


def seal(cipher: MultiFernet, text: str) -> str:
    return cipher.encrypt(text.encode()).decode()


def unseal(cipher: MultiFernet, sealed: str) -> str:
    try:
        return cipher.decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealingKeyError(
            f"a sealed secret does not open with {KEY_SETTING}: was the key changed? (to rotate, list the new key "
            "first and keep the old one after it)"
        ) from None
