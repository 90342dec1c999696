"""``ringflow org member ...`` and ``org key --scope`` against a throwaway SQLite store: the first owner is
made on the command line, and every change lands in the audit log as the CLI's."""

import asyncio
import re

from typer.testing import CliRunner

from cli.app import app
from store import audit
from store.db import dispose_cached_engines, get_session_factory
from store.orgs import list_api_keys

runner = CliRunner()
PASSWORD = "a long enough password"


def ringflow(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout + result.stderr


def test_the_cli_makes_the_first_owner_lists_and_removes_members(cli_store_url: str) -> None:
    code, out = ringflow("org", "create", "Acme")
    assert code == 0, out
    org_id = re.search(r"organization (\S+)", out).group(1)

    code, out = ringflow("org", "member", "add", org_id, "Ann@Example.com", "--role", "owner", "--password-stdin",
                         stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0 and "ann@example.com is now owner" in out, out
    code, out = ringflow("org", "member", "add", org_id, "bo@example.com", "--password-stdin", stdin="short\n")
    assert code == 1 and "at least 12 characters" in out
    code, out = ringflow("org", "member", "add", org_id, "bo@example.com", "--role", "operator", "--password-stdin",
                         stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0, out

    code, out = ringflow("org", "member", "list", org_id)
    assert (
        code == 0
        and re.search(r"ann@example.com\s+│\s+owner", out)
        and re.search(r"bo@example.com\s+│\s+operator", out)
    )
    code, out = ringflow("org", "member", "remove", org_id, "ann@example.com")
    assert code == 1 and "last owner" in out
    code, out = ringflow("org", "member", "remove", org_id, "bo@example.com")
    assert code == 0, out

    code, out = ringflow("org", "key", org_id, "--label", "reports", "--scope", "read")
    assert code == 0, out

    async def stored() -> tuple[list[str], list[tuple[str, str]]]:
        async with get_session_factory(cli_store_url)() as session:
            scopes = [key.scope for key in await list_api_keys(session, org_id)]
            events, _ = await audit.events(session, org_id, limit=10, offset=0)
        await dispose_cached_engines()
        return scopes, [(event.actor, event.action) for event in events]

    scopes, events = asyncio.run(stored())
    assert scopes == ["full", "read"]  # the organization's first key, then the read-only one
    assert events == [
        ("cli", "key.create"),
        ("cli", "member.remove"),
        ("cli", "member.add"),
        ("cli", "member.add"),
        ("cli", "key.create"),  # the first key, made with the organization
    ]
