"""Payload encryption: phone numbers, names and what callers said never reach Temporal in clear.

Every payload (workflow and activity inputs and results, signals, updates, queries, failure messages)
is sealed with AES-256-GCM before it leaves the process. The key id travels in the payload's metadata
and is bound to the ciphertext as associated data, so a key can be rotated by adding a new one in
front: new payloads use the first key, old histories still decrypt with the keys listed after it.

:func:`data_converter_for` is the one data converter of every Temporal client, worker and replayer.
Keys come from ``RINGFLOW_CODEC_KEYS`` (``kid:base64key,kid2:…``), else from the key file the
embedded dev stack generates in its data directory (:func:`ensure_dev_codec_keys`). A process with
neither refuses to start, unless ``RINGFLOW_CODEC_ALLOW_PLAINTEXT`` says clear payloads are intended.
"""

import base64
import binascii
import dataclasses
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from schemas.settings import Settings

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_FILE_NAME = "codec.keys"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class CodecConfigError(Exception):
    """The encryption keys are missing or malformed; the message says what to set.

    Not a ``RuntimeError``: callers that treat ``RuntimeError`` as "cannot reach Temporal" must not
    swallow a configuration mistake as a network one.
    """


class PayloadDecryptionError(ValueError):
    """A payload could not be decrypted: unknown key id, or it was altered (or sealed with another key)."""


@dataclasses.dataclass(frozen=True)
class CodecKey:
    key_id: str
    key: bytes = dataclasses.field(repr=False)


def parse_codec_keys(text: str) -> list[CodecKey]:
    """``kid:base64key`` entries separated by commas or new lines; the first one encrypts."""
    keys: list[CodecKey] = []
    for entry in re.split(r"[,\n]", text):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not _KEY_ID.fullmatch(key_id):
            raise CodecConfigError(
                "codec keys are `key_id:base64key` entries separated by commas, with ids of letters, digits, "
                f"'.', '_' or '-'; got an entry starting {entry[:12]!r}"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise CodecConfigError(f"codec key {key_id!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise CodecConfigError(f"codec key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        if any(existing.key_id == key_id for existing in keys):
            raise CodecConfigError(f"codec key id {key_id!r} is listed twice")
        keys.append(CodecKey(key_id, key))
    if not keys:
        raise CodecConfigError("no codec key given: set at least one `key_id:base64key`")
    return keys


def new_codec_key(key_id: str) -> str:
    """A fresh ``key_id:base64key`` entry, to put in front of the others when rotating."""
    if not _KEY_ID.fullmatch(key_id):
        raise CodecConfigError(f"key id {key_id!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialized payload; the key id in metadata picks the decrypting key."""

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise CodecConfigError("the codec needs at least one key")
        self._encrypting = keys[0]
        self._ciphers = {key.key_id: AESGCM(key.key) for key in keys}

    @property
    def encrypting_key_id(self) -> str:
        return self._encrypting.key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._encrypting.key_id
        cipher = self._ciphers[key_id]
        sealed: list[Payload] = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            ciphertext = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            sealed.append(
                Payload(
                    metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: key_id.encode()},
                    data=nonce + ciphertext,
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt sealed payloads; others (written before encryption was on) pass through unchanged."""
        return [self._open(payload) for payload in payloads]

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which is not among this process's codec keys "
                f"({', '.join(self._ciphers)}): add that key to RINGFLOW_CODEC_KEYS after the current one"
            )
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except (InvalidTag, ValueError):  # ValueError: data too short to hold a nonce
            raise PayloadDecryptionError(
                f"payload with key id {key_id!r} failed authentication: it was altered, or sealed with another key"
            ) from None
        return Payload.FromString(plain)


def build_data_converter(codec: PayloadCodec | None) -> DataConverter:
    """Pydantic payloads, sealed by ``codec``; failure messages and stack traces go into the sealed part too.

    Temporal stores a failure's message and stack trace outside the payloads unless the failure
    converter moves them into ``encoded_attributes``: an error quoting a phone number would be in clear.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE_NAME


def ensure_dev_codec_keys(settings: Settings) -> None:
    """Give the embedded stack a key of its own (mode 0600) when none is configured, so even the demo seals PII."""
    if settings.codec_keys:
        return
    path = key_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(new_codec_key(f"dev-{secrets.token_hex(4)}") + "\n")


def codec_for(settings: Settings) -> EncryptionCodec | None:
    """The codec this process must use: configured keys, else the dev stack's key file, else the opt-out."""
    if settings.codec_keys:
        return EncryptionCodec(parse_codec_keys(settings.codec_keys))
    path = key_file(settings)
    if path.exists():
        try:
            return EncryptionCodec(parse_codec_keys(path.read_text(encoding="utf-8")))
        except CodecConfigError as err:
            raise CodecConfigError(f"{path}: {err}") from None
    if settings.codec_allow_plaintext:
        return None
    raise CodecConfigError(
        "no payload encryption key: set RINGFLOW_CODEC_KEYS=key_id:base64key (`ringflow codec new-key` makes one), "
        f"or run beside the `ringflow dev` that wrote {path}; RINGFLOW_CODEC_ALLOW_PLAINTEXT=true stores phone "
        "numbers, names and transcripts in clear in Temporal"
    )


def data_converter_for(settings: Settings) -> DataConverter:
    """THE data converter of this process's Temporal clients, workers and replayers."""
    return build_data_converter(codec_for(settings))


CODEC_SERVER_PATH = "/codec"
"""Where the API serves the codec server (``/codec/encode``, ``/codec/decode``)."""


def codec_server_url(settings: Settings) -> str:
    """The codec endpoint the Web UI (in the browser, on this machine) calls: the API's ``/codec``."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}{CODEC_SERVER_PATH}"
