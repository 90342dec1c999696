"""The payload-encryption key of the test suite and of the recorded histories in ``tests/histories``.

TEST ONLY, NOT SECRET: it is committed so that anyone can replay the recorded histories. Never use it
(or anything derived from it) for a real deployment; make real keys with ``ringflow codec new-key``.
"""

from temporalio.converter import DataConverter

from infra.codec import EncryptionCodec, build_data_converter, parse_codec_keys

TEST_ONLY_CODEC_KEYS = "test-only-not-secret:CtAmxS7c7zwHCWZW5H0wJsRaeNP9+YlL1/p2xqeHT7k="


def suite_codec() -> EncryptionCodec:
    return EncryptionCodec(parse_codec_keys(TEST_ONLY_CODEC_KEYS))


def suite_data_converter() -> DataConverter:
    """What the test fixtures' clients, the replayer and the history recorder all use."""
    return build_data_converter(suite_codec())
