"""The payload codec: what it seals, how keys rotate, and what it refuses (unknown key, altered payload)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from codec_test_keys import TEST_ONLY_CODEC_KEYS, suite_codec, suite_data_converter
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from infra.client import connect
from infra.codec import (
    ENCRYPTED_ENCODING,
    KEY_FILE_NAME,
    KEY_ID_METADATA,
    CodecConfigError,
    EncryptionCodec,
    PayloadDecryptionError,
    codec_for,
    codec_server_url,
    ensure_dev_codec_keys,
    new_codec_key,
    parse_codec_keys,
)
from schemas.contact import Contact
from schemas.settings import Settings
from worker.devstack import DevStack

PHONE = "+442079460417"
NAME = "Genevieve Okonkwo"


def payload_of(value: object) -> Payload:
    return suite_data_converter().payload_converter.to_payloads([value])[0]


def codec_with(*entries: str) -> EncryptionCodec:
    return EncryptionCodec(parse_codec_keys(",".join(entries)))


@pytest.fixture
def no_codec_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RINGFLOW_CODEC_KEYS", "RINGFLOW_CODEC_ALLOW_PLAINTEXT"):
        monkeypatch.delenv(name, raising=False)


async def test_a_sealed_payload_carries_the_key_id_and_no_plaintext_and_opens_to_the_original():
    original = payload_of(Contact(external_id="c1", name=NAME, phone=PHONE))
    codec = suite_codec()
    [sealed] = await codec.encode([original])

    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"test-only-not-secret"
    assert PHONE.encode() not in sealed.SerializeToString()
    assert NAME.encode() not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [original]


async def test_the_same_value_seals_differently_each_time():
    original = payload_of({"phone": PHONE})
    first, second = await suite_codec().encode([original, original])
    assert first.data != second.data


async def test_after_a_rotation_new_payloads_use_the_first_key_and_old_ones_still_open():
    old_entry = new_codec_key("2026-10")
    before = codec_with(old_entry)
    [old_sealed] = await before.encode([payload_of(PHONE)])

    rotated = codec_with(new_codec_key("2026-11"), old_entry)
    [new_sealed] = await rotated.encode([payload_of(PHONE)])

    assert new_sealed.metadata[KEY_ID_METADATA] == b"2026-11"
    assert await rotated.decode([old_sealed, new_sealed]) == [payload_of(PHONE), payload_of(PHONE)]
    with pytest.raises(PayloadDecryptionError, match="'2026-11'"):
        await before.decode([new_sealed])


async def test_a_payload_sealed_with_an_unknown_key_id_is_refused_with_that_id():
    [sealed] = await codec_with(new_codec_key("retired")).encode([payload_of(PHONE)])
    with pytest.raises(PayloadDecryptionError, match=r"key id 'retired'.*not among.*test-only-not-secret"):
        await suite_codec().decode([sealed])


@pytest.mark.parametrize("part", ["data", "key_id", "truncated"])
async def test_an_altered_payload_fails_authentication(part: str):
    material = new_codec_key("a").split(":")[1]
    codec = codec_with(f"a:{material}", f"b:{material}")  # the same key under two ids
    [sealed] = await codec.encode([payload_of(PHONE)])
    if part == "data":
        flipped = bytearray(sealed.data)
        flipped[-1] ^= 0x01
        sealed.data = bytes(flipped)
    elif part == "key_id":  # the key id is bound to the ciphertext as associated data: a relabelled payload fails
        sealed.metadata[KEY_ID_METADATA] = b"b"
    else:
        sealed.data = sealed.data[:5]
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await codec.decode([sealed])


async def test_payloads_written_before_encryption_pass_through_decoding():
    plain = payload_of({"campaign": "c1"})
    assert await suite_codec().decode([plain]) == [plain]


async def test_failure_messages_are_sealed_too():
    """An activity error quoting a number must not land in the history's failure message in clear."""
    failure = Failure()
    await suite_data_converter().encode_failure(ApplicationError(f"could not dial {PHONE} for {NAME}"), failure)
    assert PHONE.encode() not in failure.SerializeToString()
    assert NAME.encode() not in failure.SerializeToString()
    decoded = await suite_data_converter().decode_failure(failure)
    assert PHONE in str(decoded)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("", "no codec key"),
        ("k1", "key_id:base64key"),
        ("bad id:" + new_codec_key("x").split(":")[1], "key_id:base64key"),
        ("k1:not-base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "5 bytes; AES-256 needs 32"),
        (f"{new_codec_key('k1')},{new_codec_key('k1')}", "listed twice"),
    ],
)
def test_malformed_keys_are_refused_with_what_is_wrong(keys: str, message: str):
    with pytest.raises(CodecConfigError, match=message):
        parse_codec_keys(keys)


def test_keys_may_be_one_per_line_with_comments_and_the_first_encrypts():
    first, second = new_codec_key("k2"), new_codec_key("k1")
    codec = EncryptionCodec(parse_codec_keys(f"# newest first\n{first}\n\n{second}\n"))
    assert codec.encrypting_key_id == "k2" and codec.key_ids == ["k2", "k1"]


def test_the_dev_stack_key_file_is_made_once_readable_only_by_its_owner(tmp_path: Path, no_codec_env: None):
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    ensure_dev_codec_keys(settings)
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text()
    ensure_dev_codec_keys(settings)
    assert path.read_text() == written, "an existing key is never replaced: old histories need it"
    codec = codec_for(settings)
    assert codec is not None and codec.key_ids == [written.split(":")[0]]


def test_configured_keys_win_and_no_key_file_is_written(tmp_path: Path, no_codec_env: None):
    settings = Settings(_env_file=None, data_dir=tmp_path, codec_keys=TEST_ONLY_CODEC_KEYS)  # type: ignore[call-arg]
    ensure_dev_codec_keys(settings)
    assert not (tmp_path / KEY_FILE_NAME).exists()
    codec = codec_for(settings)
    assert codec is not None and codec.key_ids == ["test-only-not-secret"]


async def test_a_process_without_keys_refuses_to_connect_unless_plaintext_is_chosen(tmp_path: Path, no_codec_env: None):
    settings = Settings(_env_file=None, data_dir=tmp_path, temporal_address="127.0.0.1:1")  # type: ignore[call-arg]
    with pytest.raises(CodecConfigError, match="RINGFLOW_CODEC_KEYS"):
        await connect(settings)
    assert codec_for(settings.model_copy(update={"codec_allow_plaintext": True})) is None


def test_the_dev_server_points_its_web_ui_at_the_apis_codec_server(tmp_path: Path):
    settings = Settings(_env_file=None, data_dir=tmp_path, api_host="0.0.0.0", api_port=8123)  # type: ignore[call-arg]
    assert codec_server_url(settings) == "http://127.0.0.1:8123/codec"
    command = DevStack(settings)._server_command()
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8123/codec"


@pytest.mark.parametrize("external_id", ["+442079460417", "442079460417", "cust-2079460417"])
def test_a_contact_id_carrying_its_phone_number_is_refused(external_id: str):
    """Workflow ids are stored in clear; the contact's id goes into its workflow id."""
    with pytest.raises(ValueError, match="external id contains the phone number"):
        Contact(external_id=external_id, name=NAME, phone=PHONE)


def test_the_worker_process_refuses_to_start_without_a_key(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFLOW_")}
    env |= {"RINGFLOW_DATA_DIR": str(tmp_path), "RINGFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, cwd=tmp_path.parent, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("ringflow worker: no payload encryption key"), done.stderr
