"""``ringflow people ...``: erasing one person's data (``api/services/people.py``, as the REST API does)."""

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import CliError, console, load_settings, run_command

if TYPE_CHECKING:
    from schemas.erasure import PersonErased

people_app = typer.Typer(help="People: erase everything held of one phone number.", no_args_is_help=True)


@people_app.command("erase")
def people_erase(
    phone: Annotated[str, typer.Argument(help="The person's phone number, e.g. +14155550123")],
    org: Annotated[str, typer.Option(help="The organization whose data is erased")] = "default",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Erase one person: contacts, calls, callbacks, transcripts, notes, information, inbound calls, and
    their payloads in Temporal (their data keys are destroyed). Kept on the do-not-call list as a hash."""
    from schemas.contact import normalize_phone

    try:
        number = normalize_phone(phone)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="PHONE") from None
    if not yes:
        typer.confirm(f"Erase everything organization {org!r} holds of {number}? This cannot be undone", abort=True)
    settings = load_settings()

    async def run() -> int:
        from api.services.people import erase_person
        from cli.common import connect_temporal, migrated_store
        from store.db import dispose_cached_engines
        from store.orgs import get_org

        try:
            sessions = await migrated_store(settings)
            async with sessions() as session:
                if await get_org(session, org) is None:
                    raise CliError(f"no organization {org!r}: `ringflow org list` shows them")
            client = await connect_temporal(settings)
            _print(await erase_person(client, sessions, org_id=org, phone=number, settings=settings))
        finally:
            await dispose_cached_engines()
        return 0

    run_command(run())


def _print(report: "PersonErased") -> None:
    console.print(f"erased {report.phone}:", highlight=False)
    for table, count in report.erased.items():
        console.print(f"  {table}: {count}", highlight=False)
    console.print(f"  workflows terminated: {report.workflows_terminated}", highlight=False)
    console.print(f"  data keys destroyed: {report.data_keys_destroyed}", highlight=False)
    if report.do_not_call_hashed:
        console.print("  still on the do-not-call list, as a keyed hash only", highlight=False)
