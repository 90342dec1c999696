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
import copy
import dataclasses
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from schemas.settings import Settings
from store import data_keys
from store.db import get_session_factory
from store.dnc import DNC_HASH_KEY_FILE, DNC_HASH_KEY_MIN_BYTES

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
DATA_KEY_METADATA = "data-key-id"
PERSONAL_WORKFLOW_PREFIXES = ("contact-", "inbound-")
"""Workflows that carry one person's data (``contact_workflow_id``, ``inbound_workflow_id``): their payloads
are sealed with a data key of their own, which erasing the person destroys."""
DATA_KEY_CACHE_SIZE = 20_000
DATA_KEY_CACHE_SECONDS = 60.0
"""How long a process keeps using a data key it looked up: an erasure is final everywhere after this."""
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


class PayloadErasedError(PayloadDecryptionError):
    """The payload was sealed with a person's data key, and that key was destroyed when they were erased."""


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


def is_personal_workflow(workflow_id: str | None) -> bool:
    """Whether the workflow carries one person's data, so its payloads get a data key of their own."""
    return workflow_id is not None and workflow_id.startswith(PERSONAL_WORKFLOW_PREFIXES)


def _wrapping_aad(key_id: str, workflow_id: str) -> bytes:
    return f"data-key\x00{key_id}\x00{workflow_id}".encode()


class _DataKeys:
    """Per-workflow data keys: made on a workflow's first sealed payload, wrapped by the deployment key
    and stored in the database (``payload_data_keys``), then cached for ``cache_seconds``.

    Shared by a codec and all its copies with a serialization context. Runs in the worker's event loop,
    outside any workflow sandbox: it may do I/O, and nothing of it is part of a workflow's replay.
    """

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        deployment: dict[str, AESGCM],
        *,
        cache_size: int = DATA_KEY_CACHE_SIZE,
        cache_seconds: float = DATA_KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._deployment = deployment
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._by_id: OrderedDict[str, tuple[AESGCM, float]] = OrderedDict()
        self._id_of_workflow: OrderedDict[str, str] = OrderedDict()

    def _cached(self, key_id: str) -> AESGCM | None:
        entry = self._by_id.get(key_id)
        if entry is None:
            return None
        if entry[1] < self._clock():
            del self._by_id[key_id]
            return None
        self._by_id.move_to_end(key_id)
        return entry[0]

    def _remember(self, key_id: str, cipher: AESGCM, workflow_id: str) -> None:
        self._by_id[key_id] = (cipher, self._clock() + self._cache_seconds)
        self._by_id.move_to_end(key_id)
        self._id_of_workflow[workflow_id] = key_id
        self._id_of_workflow.move_to_end(workflow_id)
        while len(self._by_id) > self._cache_size:
            self._by_id.popitem(last=False)
        while len(self._id_of_workflow) > self._cache_size:
            self._id_of_workflow.popitem(last=False)

    def forget(self, key_ids: Iterable[str]) -> None:
        """Drop these keys from the cache now (erasure does, in the process that erased)."""
        for key_id in key_ids:
            self._by_id.pop(key_id, None)

    async def for_workflow(self, workflow_id: str, wrapping_key_id: str) -> tuple[str, AESGCM]:
        """The workflow's data key (id and cipher), made and stored on first use."""
        key_id = self._id_of_workflow.get(workflow_id)
        cached = self._cached(key_id) if key_id else None
        if key_id and cached is not None:
            return key_id, cached
        async with self._sessions()() as session:
            row = await data_keys.data_key_for_workflow(session, workflow_id)
            if row is None:
                new_id = f"dk-{secrets.token_hex(16)}"
                nonce = os.urandom(NONCE_BYTES)
                wrapped = nonce + self._deployment[wrapping_key_id].encrypt(
                    nonce, secrets.token_bytes(KEY_BYTES), _wrapping_aad(new_id, workflow_id)
                )
                row = await data_keys.add_data_key(
                    session,
                    key_id=new_id,
                    workflow_id=workflow_id,
                    wrapping_key_id=wrapping_key_id,
                    wrapped_key=wrapped,
                )
                await session.commit()
        data_key = self._unwrap(row.key_id, row.workflow_id, row.wrapping_key_id, row.wrapped_key)
        self._remember(row.key_id, data_key, row.workflow_id)
        return row.key_id, data_key

    async def by_ids(self, key_ids: Iterable[str]) -> dict[str, AESGCM]:
        """The data keys among ``key_ids`` that still exist; an erased one is simply absent."""
        found: dict[str, AESGCM] = {}
        missing: set[str] = set()
        for key_id in set(key_ids):
            cached = self._cached(key_id)
            if cached is None:
                missing.add(key_id)
            else:
                found[key_id] = cached
        if missing:
            async with self._sessions()() as session:
                rows = await data_keys.data_keys_by_id(session, missing)
            for row in rows:
                data_key = self._unwrap(row.key_id, row.workflow_id, row.wrapping_key_id, row.wrapped_key)
                self._remember(row.key_id, data_key, row.workflow_id)
                found[row.key_id] = data_key
        return found

    def _unwrap(self, key_id: str, workflow_id: str, wrapping_key_id: str, wrapped: bytes) -> AESGCM:
        cipher = self._deployment.get(wrapping_key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"data key {key_id!r} is wrapped with codec key {wrapping_key_id!r}, which is not among this "
                "process's codec keys: keep that key in RINGFLOW_CODEC_KEYS"
            )
        try:
            raw = cipher.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrapping_aad(key_id, workflow_id))
        except (InvalidTag, ValueError):
            raise PayloadDecryptionError(f"data key {key_id!r} failed authentication: its row was altered") from None
        return AESGCM(raw)


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM over the whole serialized payload; the key id in metadata picks the decrypting key.

    With ``data_key_sessions`` (a database holding ``payload_data_keys``), payloads of a person's
    workflows (:data:`PERSONAL_WORKFLOW_PREFIXES`, known from the serialization context Temporal gives
    the codec) are sealed with that workflow's own data key instead, named by ``data-key-id`` in the
    metadata; every other payload keeps the deployment key. Decoding needs no context: the metadata
    names the key. A payload whose data key was destroyed raises :class:`PayloadErasedError`.
    """

    def __init__(
        self,
        keys: Sequence[CodecKey],
        *,
        data_key_sessions: Callable[[], async_sessionmaker[AsyncSession]] | None = None,
    ) -> None:
        if not keys:
            raise CodecConfigError("the codec needs at least one key")
        self._encrypting = keys[0]
        self._ciphers = {key.key_id: AESGCM(key.key) for key in keys}
        self._data_keys = _DataKeys(data_key_sessions, self._ciphers) if data_key_sessions is not None else None
        self._workflow_id: str | None = None

    @property
    def encrypting_key_id(self) -> str:
        return self._encrypting.key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    @property
    def seals_per_person(self) -> bool:
        """Whether this codec seals a person's workflows with data keys (it has a key store)."""
        return self._data_keys is not None

    def with_context(self, context: SerializationContext) -> Self:
        """This codec for payloads of ``context``'s workflow (a person's data key, or the deployment key)."""
        workflow_id = None
        if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
            workflow_id = context.workflow_id
        if self._data_keys is None or not is_personal_workflow(workflow_id):
            workflow_id = None
        if workflow_id == self._workflow_id:
            return self
        bound = copy.copy(self)  # shares the keys and the data-key cache
        bound._workflow_id = workflow_id
        return bound

    def forget_data_keys(self, key_ids: Iterable[str]) -> None:
        """Stop using cached copies of these (destroyed) data keys at once."""
        if self._data_keys is not None:
            self._data_keys.forget(key_ids)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._workflow_id is not None and self._data_keys is not None:
            key_id, cipher = await self._data_keys.for_workflow(self._workflow_id, self._encrypting.key_id)
            return [self._seal(payload, cipher, DATA_KEY_METADATA, key_id) for payload in payloads]
        key_id = self._encrypting.key_id
        cipher = self._ciphers[key_id]
        return [self._seal(payload, cipher, KEY_ID_METADATA, key_id) for payload in payloads]

    @staticmethod
    def _seal(payload: Payload, cipher: AESGCM, label: str, key_id: str) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCRYPTED_ENCODING, label: key_id.encode()},
            data=nonce + ciphertext,
        )

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt sealed payloads; others (written before encryption was on) pass through unchanged."""
        wanted = {
            payload.metadata[DATA_KEY_METADATA].decode(errors="replace")
            for payload in payloads
            if payload.metadata.get("encoding") == ENCRYPTED_ENCODING and DATA_KEY_METADATA in payload.metadata
        }
        found: dict[str, AESGCM] = {}
        if wanted:
            if self._data_keys is None:
                raise PayloadDecryptionError(
                    "payload sealed with a person's data key, and this codec has no database to find data keys in"
                )
            found = await self._data_keys.by_ids(wanted)
        return [self._open(payload, found) for payload in payloads]

    def _open(self, payload: Payload, data_ciphers: dict[str, AESGCM]) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
            return payload
        if DATA_KEY_METADATA in payload.metadata:
            key_id = payload.metadata[DATA_KEY_METADATA].decode(errors="replace")
            cipher = data_ciphers.get(key_id)
            if cipher is None:
                raise PayloadErasedError(
                    f"payload sealed with data key {key_id!r}, which was destroyed when its person was erased"
                )
        else:
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
    if not settings.codec_keys:
        write_secret_once(key_file(settings), new_codec_key(f"dev-{secrets.token_hex(4)}"))


def ensure_dev_dnc_hash_key(settings: Settings) -> None:
    """Give the embedded stack a do-not-call hash key of its own (mode 0600) when none is configured, so a
    person who opted out can be erased there too. A deployment sets ``RINGFLOW_DNC_HASH_KEY`` and keeps it."""
    if not settings.dnc_hash_key:
        secret = base64.b64encode(secrets.token_bytes(DNC_HASH_KEY_MIN_BYTES)).decode()
        write_secret_once(settings.data_dir / DNC_HASH_KEY_FILE, secret)


def write_secret_once(path: Path, secret: str) -> None:
    """Create ``path`` readable by its owner only, holding ``secret``; an existing file is kept as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(secret + "\n")


def codec_for(settings: Settings) -> EncryptionCodec | None:
    """The codec this process must use: configured keys, else the dev stack's key file, else the opt-out."""
    url = settings.sqlalchemy_url

    def sessions() -> async_sessionmaker[AsyncSession]:
        return get_session_factory(url)  # made on the first sealed payload of a person's workflow

    if settings.codec_keys:
        return EncryptionCodec(parse_codec_keys(settings.codec_keys), data_key_sessions=sessions)
    path = key_file(settings)
    if path.exists():
        try:
            keys = parse_codec_keys(path.read_text(encoding="utf-8"))
        except CodecConfigError as err:
            raise CodecConfigError(f"{path}: {err}") from None
        return EncryptionCodec(keys, data_key_sessions=sessions)
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
