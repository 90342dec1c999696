"""``ringflow numbers ...``: the Twilio account's numbers and the agent that answers each one's calls."""

from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.caller_ids import pool_app
from cli.common import CliError, console, fail, load_settings, store_command
from schemas.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from telephony.twilio_voice import NumberWebhooks, TwilioVoice

numbers_app = typer.Typer(
    help="The Twilio account's phone numbers and the agent that answers each one's incoming calls.",
    no_args_is_help=True,
)
numbers_app.add_typer(pool_app, name="pool")

NO_AGENT = "—"


def twilio_voice(settings: Settings) -> "TwilioVoice":
    """The Twilio client of the `numbers` commands (a seam: tests point it at a local stand-in)."""
    from telephony.twilio_voice import TwilioVoice

    return TwilioVoice.from_settings(settings)


def _require(settings: Settings, *, webhook: bool = False) -> None:
    """Fail in one line naming every setting the command needs and lacks, before anything is changed."""
    needed = [
        ("RINGFLOW_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        ("RINGFLOW_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
    ]
    if webhook:
        needed.append(("RINGFLOW_PUBLIC_BASE_URL", settings.public_base_url))
    missing = [name for name, value in needed if not value]
    if missing:
        why = "Twilio must be told where to send the number's calls" if webhook else "Twilio is not configured"
        fail(f"{why}: set {', '.join(missing)} (environment or .env)")
    if webhook and not (settings.public_base_url or "").startswith(("https://", "http://")):
        fail(f"RINGFLOW_PUBLIC_BASE_URL {settings.public_base_url!r} must be an http(s):// URL")


def number_webhooks(settings: Settings) -> "NumberWebhooks":
    """Where a bound number's calls (voice URL) and their end (status callback) go: this deployment's API."""
    from telephony.twilio_voice import number_webhooks as webhooks_under

    return webhooks_under(settings.public_base_url or "")


async def _twilio_step(what: str, step: Coroutine[Any, Any, Any]) -> Any:
    """Await a Twilio request; its failures become a one-line CliError."""
    from requests.exceptions import RequestException
    from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

    try:
        return await step
    except TwilioRestException as err:
        detail = (err.msg or "").strip().splitlines()[0] if err.msg else f"HTTP {err.status}"
        code = f" (error {err.code})" if err.code else ""
        raise CliError(f"Twilio refused to {what}: {detail}{code}") from None
    except TwilioServiceException as err:
        raise CliError(f"Twilio refused to {what}: {err}") from None
    except TwilioException as err:
        raise CliError(f"Twilio refused to {what}: {err}") from None
    except RequestException as err:
        raise CliError(f"cannot reach Twilio to {what}: {type(err).__name__}") from None


def _e164(number: str) -> str:
    from schemas.contact import normalize_phone

    try:
        return normalize_phone(number)
    except ValueError as err:
        fail(f"NUMBER: {err} (use E.164, e.g. +14155550100)", code=2)


def _numbers_table(rows: Sequence[Any], *, title: str | None = None) -> Table:
    table = Table("number", "agent", "friendly name", title=title, title_justify="left")
    for row in rows:
        table.add_row(row.number, row.agent_name or NO_AGENT, row.friendly_name)
    return table


@numbers_app.command("sync")
def numbers_sync(
    org: Annotated[
        str,
        typer.Option(help="The organization that owns the numbers (its agents answer them, its API sees them)"),
    ] = "default",
) -> None:
    """Fetch the account's numbers from Twilio into the store. Agent bindings are kept, unless a number
    moves to another organization (--org), which drops its binding to the old organization's agent.
    A number bound to an agent whose webhooks at Twilio are not this API's (voice URL and status callback
    under RINGFLOW_PUBLIC_BASE_URL, e.g. one assigned before status callbacks) is pointed at them again."""
    settings = load_settings()
    _require(settings)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from schemas.contact import normalize_phone
        from store import numbers, orgs

        async with sessions() as session:
            if await orgs.get_org(session, org) is None:
                raise CliError(f"no organization {org!r}: see `ringflow org list`")
        voice = twilio_voice(settings)
        incoming = await _twilio_step("list the account's numbers", voice.list_incoming_numbers())
        seen: set[str] = set()
        skipped: list[str] = []
        async with sessions() as session:
            for found in incoming:
                try:
                    number = normalize_phone(found.phone_number)
                except ValueError:
                    skipped.append(found.phone_number or found.sid)
                    continue
                seen.add(number)
                await numbers.upsert_number(
                    session, number, twilio_sid=found.sid, friendly_name=found.friendly_name, org_id=org
                )
            await session.commit()
            rows = await numbers.list_numbers(session)
        repointed = await _repoint_bound_numbers(settings, voice, incoming, rows)
        on_account = [row for row in rows if row.number in seen]
        gone = [row for row in rows if row.number not in seen]
        if on_account:
            console.print(_numbers_table(on_account, title=f"{len(on_account)} number(s) on the Twilio account"))
        else:
            console.print("the Twilio account has no phone numbers")
        for raw in skipped:
            console.print(f"[yellow]skipped {escape(raw)}: not a phone number (E.164)[/yellow]", highlight=False)
        if gone:
            console.print(
                _numbers_table(gone, title=f"{len(gone)} number(s) in the store but no longer on the account")
            )
            console.print("their calls no longer reach Ringflow; `ringflow numbers unassign NUMBER` clears a binding")
        for number, url in repointed:
            console.print(f"{number}: Twilio webhooks pointed at {escape(url)} (voice and status callback)")

    store_command(body)


async def _repoint_bound_numbers(
    settings: Settings, voice: "TwilioVoice", incoming: Sequence[Any], rows: Sequence[Any]
) -> list[tuple[str, str]]:
    """Point every number an agent answers at this API's webhooks where Twilio has others (or no status
    callback, so its calls would never be seen to end). Returns (number, base URL) for each one changed."""
    from schemas.contact import normalize_phone

    bound = {row.number for row in rows if row.agent_name}
    if not bound:
        return []
    if not settings.public_base_url:
        console.print(
            "[yellow]RINGFLOW_PUBLIC_BASE_URL is not set: the webhooks of numbers answered by an agent "
            "were not checked[/yellow]"
        )
        return []
    try:
        webhooks = number_webhooks(settings)
    except ValueError as err:
        raise CliError(f"RINGFLOW_PUBLIC_BASE_URL: {err}") from None
    changed: list[tuple[str, str]] = []
    for found in incoming:
        try:
            number = normalize_phone(found.phone_number)
        except ValueError:
            continue
        if number in bound and not webhooks.applied_to(found):
            await _twilio_step(f"set the webhooks of {number}", voice.set_number_webhooks(found.sid, webhooks))
            changed.append((number, settings.public_base_url.rstrip("/")))
    return changed


@numbers_app.command("list")
def numbers_list() -> None:
    """The known numbers and the agent that answers each (— for none)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import numbers

        async with sessions() as session:
            rows = await numbers.list_numbers(session)
        if not rows:
            console.print("no numbers yet: `ringflow numbers sync` fetches them from the Twilio account")
            return
        console.print(_numbers_table(rows))

    store_command(body)


@numbers_app.command("assign")
def numbers_assign(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="A synced number, E.164 (+14155550100)")],
    agent: Annotated[str, typer.Argument(metavar="AGENT", help="The active agent that answers its calls")],
) -> None:
    """Let AGENT answer NUMBER's incoming calls (replacing any agent before it) and point the number's
    webhooks at Twilio at this API: its calls at RINGFLOW_PUBLIC_BASE_URL/twilio/voice/incoming, and their
    end (final status, duration) at RINGFLOW_PUBLIC_BASE_URL/twilio/voice/status."""
    e164 = _e164(number)
    settings = load_settings()
    _require(settings, webhook=True)
    webhooks = number_webhooks(settings)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import numbers, queries

        async with sessions() as session:
            row = await numbers.get_number(session, e164)
            if row is None:
                raise CliError(f"unknown number {e164}: `ringflow numbers sync` fetches the account's numbers")
            if not row.twilio_sid:
                raise CliError(f"{e164} has no Twilio sid: run `ringflow numbers sync` again")
            config = await queries.get_agent(session, agent, row.org_id)
            if config is None:
                raise CliError(
                    f"the number's organization {row.org_id!r} has no agent named {agent!r}: "
                    "create one with `ringflow agent create` or `agent import` (or the API)"
                )
            if not config.active:
                raise CliError(f"agent {agent!r} is inactive: re-create or re-import it as active to assign it")
            previous, sid, owner = row.agent_name, row.twilio_sid, row.org_id
        # Twilio first: if it refuses, the store still says what Twilio does.
        await _twilio_step(f"set the webhooks of {e164}", twilio_voice(settings).set_number_webhooks(sid, webhooks))
        async with sessions() as session:
            if not await numbers.assign_agent(session, e164, agent, owner):
                raise CliError(f"unknown number {e164}: it was removed meanwhile")
            await session.commit()
        if previous and previous != agent:
            what = f"now answered by [bold]{escape(agent)}[/bold] (replaces {escape(previous)})"
        elif previous == agent:
            what = f"already answered by [bold]{escape(agent)}[/bold]"
        else:
            what = f"now answered by [bold]{escape(agent)}[/bold]"
        console.print(
            f"{e164} {what}; Twilio voice webhook: {escape(webhooks.voice_url)}, "
            f"status callback: {escape(webhooks.status_callback)}",
            highlight=False,
        )

    store_command(body)


@numbers_app.command("unassign")
def numbers_unassign(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="E.164 (+14155550100)")],
) -> None:
    """Stop answering NUMBER's incoming calls with an agent: callers hear a short message and the call ends."""
    e164 = _e164(number)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import numbers

        async with sessions() as session:
            row = await numbers.get_number(session, e164)
            if row is None:
                raise CliError(f"unknown number {e164}: `ringflow numbers list` shows the known ones")
            previous = row.agent_name
            if previous:
                await numbers.assign_agent(session, e164, None, row.org_id)
                await session.commit()
        if previous:
            console.print(f"{e164} no longer answered by [bold]{escape(previous)}[/bold]", highlight=False)
        else:
            console.print(f"{e164} had no agent: nothing to do", highlight=False)

    store_command(body)
