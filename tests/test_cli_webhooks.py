"""``ringflow webhook ...`` against a throwaway SQLite store: the same service as the REST API."""

import asyncio
import re

from typer.testing import CliRunner

from cli.app import app
from schemas.webhooks import WebhookEventType
from store import webhooks
from store.db import dispose_cached_engines, get_session_factory

runner = CliRunner()


def ringflow(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_the_cli_adds_lists_logs_and_removes_an_endpoint_and_refuses_a_private_url(cli_store_url: str) -> None:
    code, out = ringflow("webhook", "add", "http://127.0.0.1:9/hooks")
    assert code == 1 and "private or reserved address" in out

    code, out = ringflow("webhook", "add", "https://93.184.215.14/hooks", "--events", "call.ended,contact.finished")
    assert code == 0, out
    endpoint_id = re.search(r"endpoint (whep_\w+)", out).group(1)
    assert re.search(r"secret \(shown once\): whsec_\S+", out)

    code, out = ringflow("webhook", "list")
    assert code == 0 and f"{endpoint_id}  https://93.184.215.14/hooks  call.ended,contact.finished" in out
    assert "whsec_" not in out

    async def record() -> None:
        sessions = get_session_factory(cli_store_url)
        async with sessions() as session:
            await webhooks.record_event(
                session, org_id="default", event_type=WebhookEventType.CALL_ENDED, key="k", ordering_key="o", data={}
            )
            await session.commit()
        await dispose_cached_engines()

    asyncio.run(record())
    code, out = ringflow("webhook", "deliveries", endpoint_id)
    assert code == 0 and re.search(r"whdl_\w+  call.ended  pending  attempts=0", out), out

    assert ringflow("webhook", "remove", endpoint_id)[0] == 0
    code, out = ringflow("webhook", "deliveries", endpoint_id)
    assert code == 1 and f"no webhook endpoint {endpoint_id}" in out
    code, out = ringflow("webhook", "add", "https://example.com/", "--events", "call.exploded")
    assert code == 2 and "--events" in out
