"""``ringflow agent ...``: the AI callers a campaign can use, kept in the campaign database."""

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from cli.common import CliError, console, fail, load_settings, store_command
from schemas.validation import describe_validation_error

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from schemas.agent import AgentConfig

agent_app = typer.Typer(
    help="Agents: the AI callers a campaign can use, kept in the campaign database.", no_args_is_help=True
)


def build_agent_config(
    name: str,
    *,
    instructions: str,
    greeting: str = "",
    disclosure: str = "",
    language: str = "en",
    voice: str | None = None,
    mode: str = "pipeline",
    context_json: str | None = None,
    disabled_tools: Sequence[str] = (),
    enabled_tools: Sequence[str] = (),
    transfer_number: str | None = None,
    voicemail_message: str = "",
    active: bool = True,
    models: dict[str, str | None] | None = None,
) -> "AgentConfig":
    """An agent config from command-line options; ``ValueError`` with one line for any mistake.

    ``models`` maps ``stt``, ``llm``, ``tts`` or ``realtime`` to ``PROVIDER[:MODEL]``, e.g.
    ``google:gemini-2.5-flash``; a role not given keeps its default."""
    from schemas.agent import AgentConfig, AgentTool
    from schemas.contact import normalize_phone

    if not instructions.strip():
        raise ValueError("--instructions: the prompt is empty")
    context: Any = {}
    if context_json:
        try:
            context = json.loads(context_json)
        except json.JSONDecodeError as err:
            raise ValueError(f"--context-json is not JSON: {err.msg} (at character {err.pos})") from None
        if not isinstance(context, dict):
            raise ValueError('--context-json must be a JSON object, e.g. \'{"company": "Acme"}\'')
    known = [tool.value for tool in AgentTool]
    for option, named in (("--disable-tool", disabled_tools), ("--enable-tool", enabled_tools)):
        unknown = [tool for tool in named if tool not in known]
        if unknown:
            raise ValueError(f"{option} {', '.join(unknown)}: no such tool; the tools are {', '.join(known)}")
    if transfer_number:
        try:
            transfer_number = normalize_phone(transfer_number)
        except ValueError as err:
            raise ValueError(f"--transfer-number: {err}") from None
    fields: dict[str, Any] = {
        "name": name,
        "instructions": instructions,
        "greeting": greeting,
        "disclosure": disclosure,
        "language": language,
        "model_mode": mode,
        "context": context,
        "tools": {**dict.fromkeys(enabled_tools, True), **dict.fromkeys(disabled_tools, False)},
        "transfer_number": transfer_number or None,
        "voicemail_message": voicemail_message,
        "active": active,
    }
    if voice:
        fields["voice"] = voice
    for role, given in (models or {}).items():
        if given:
            provider, _, model = given.partition(":")
            fields[role] = {"provider": provider, "model": model}
    try:
        return AgentConfig(**fields)
    except ValidationError as err:
        options = {"name": "NAME", "model_mode": "--mode", "voicemail_message": "--voicemail-message"}
        parts = []
        for detail in err.errors():
            field_name = str(detail["loc"][0]) if detail["loc"] else ""
            option = options.get(field_name, f"--{field_name.replace('_', '-')}")
            parts.append(f"{option}: {detail['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(parts)) from None


def load_agent_file(path: Path) -> "AgentConfig":
    """An agent config from a JSON file (as `ringflow agent show` prints); ``ValueError`` with one line."""
    from schemas.agent import AgentConfig

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return AgentConfig.model_validate_json(text)
    except ValidationError as err:
        if any(detail["type"] == "json_invalid" for detail in err.errors()):
            raise ValueError(f"{path} is not valid JSON: {err.errors()[0]['msg']}") from None
        raise ValueError(f"{path} is not an agent config: {describe_validation_error(err)}") from None


async def load_campaign_agent(
    sessions: "async_sessionmaker[AsyncSession]", name: str, org_id: str | None = None
) -> "AgentConfig":
    """The organization's (default: the CLI's) stored agent ``name`` for a new campaign; CliError if there is
    none or it is switched off."""
    from store import queries
    from store.models import DEFAULT_ORG_ID

    async with sessions() as session:
        agent = await queries.get_agent(session, name, org_id or DEFAULT_ORG_ID)
    if agent is None:
        raise CliError(f"no agent named {name!r}: create one with `ringflow agent create` or `ringflow agent import`")
    if not agent.active:
        raise CliError(f"agent {name!r} is inactive: re-create or re-import it as active to use it in a campaign")
    return agent


def _tools_on(agent: "AgentConfig") -> str:
    """``all``, ``all except ...`` of the tools on by default, then the ones switched on that are off until asked."""
    from schemas.agent import OFF_UNTIL_SWITCHED_ON, AgentTool

    enabled = agent.enabled_tools()
    if not enabled:
        return "none"
    off = [tool.value for tool in AgentTool if tool not in enabled and tool not in OFF_UNTIL_SWITCHED_ON]
    asked = sorted(tool.value for tool in OFF_UNTIL_SWITCHED_ON if tool in enabled)
    summary = f"all except {', '.join(off)}" if off else "all"
    return f"{summary}, and {', '.join(asked)}" if asked else summary


@agent_app.command("create")
def agent_create(
    name: Annotated[str, typer.Argument(help="Unique name: letters, digits, '.', '_' and '-'")],
    instructions: Annotated[str | None, typer.Option(help="The system prompt")] = None,
    instructions_file: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Read the system prompt from this text file")
    ] = None,
    greeting: Annotated[str, typer.Option(help="Said first when the callee picks up")] = "",
    disclosure: Annotated[
        str, typer.Option(help="Said word for word before the greeting, e.g. that this is an AI and a recorded call")
    ] = "",
    language: Annotated[str, typer.Option(metavar="en|ar", help="Language of the calls")] = "en",
    voice: Annotated[str | None, typer.Option(help="TTS / realtime voice [alloy]")] = None,
    mode: Annotated[str, typer.Option(metavar="realtime|pipeline", help="Model mode")] = "pipeline",
    context_json: Annotated[
        str | None, typer.Option(metavar="JSON", help="Call context, a JSON object added to the prompt")
    ] = None,
    disable_tool: Annotated[
        list[str] | None, typer.Option(metavar="TOOL", help="Switch a tool off; repeat for several")
    ] = None,
    enable_tool: Annotated[
        list[str] | None,
        typer.Option(metavar="TOOL", help="Switch on a tool that is off until asked for (search_knowledge)"),
    ] = None,
    transfer_number: Annotated[
        str | None, typer.Option(metavar="+E164", help="Where transfer_to_human sends the call")
    ] = None,
    voicemail_message: Annotated[str, typer.Option(help="Left when a machine answers")] = "",
    stt: Annotated[
        str | None, typer.Option(metavar="PROVIDER[:MODEL]", help="Pipeline STT: openai, deepgram, google or groq")
    ] = None,
    llm: Annotated[
        str | None, typer.Option(metavar="PROVIDER[:MODEL]", help="Pipeline LLM: openai, google or groq")
    ] = None,
    tts: Annotated[
        str | None,
        typer.Option(metavar="PROVIDER[:MODEL]", help="Pipeline TTS: openai, elevenlabs, cartesia or google"),
    ] = None,
    realtime: Annotated[
        str | None, typer.Option(metavar="PROVIDER[:MODEL]", help="Realtime model: openai or google")
    ] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Store it switched off: campaigns refuse it")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an agent of the same name")] = False,
) -> None:
    """Create an agent in the store."""
    if (instructions is None) == (instructions_file is None):
        fail("give the prompt with exactly one of --instructions TEXT or --instructions-file PATH", code=2)
    if instructions_file is not None:
        try:
            instructions = instructions_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            fail(f"cannot read {instructions_file}: {getattr(err, 'strerror', None) or err}", code=2)
    try:
        config = build_agent_config(
            name,
            instructions=instructions or "",
            greeting=greeting,
            disclosure=disclosure,
            language=language,
            voice=voice,
            mode=mode,
            context_json=context_json,
            disabled_tools=disable_tool or (),
            enabled_tools=enable_tool or (),
            transfer_number=transfer_number,
            voicemail_message=voicemail_message,
            active=not inactive,
            models={"stt": stt, "llm": llm, "tts": tts, "realtime": realtime},
        )
    except ValueError as err:
        fail(str(err), code=2)
    _refuse_without_keys(config)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            existed = await queries.get_agent(session, config.name) is not None
            if existed and not replace:
                raise CliError(f"agent {config.name!r} already exists: pass --replace to overwrite it")
            await queries.save_agent(session, config)
            await _audit_saved(session, config.name, existed=existed)
            await session.commit()
        state = "" if config.active else " (inactive)"
        console.print(f"agent [bold]{escape(config.name)}[/bold] saved{state}; tools on: {_tools_on(config)}")

    store_command(body)


def _refuse_without_keys(config: "AgentConfig") -> None:
    """An agent this deployment has no key for is not stored (schemas/providers.py ``missing_keys``): exit 2."""
    from schemas.providers import keys_refusal

    refusal = keys_refusal(config, load_settings())
    if refusal:
        fail(refusal, code=2)


async def _audit_saved(session: "AsyncSession", name: str, *, existed: bool) -> None:
    """The CLI's agents are the default organization's; the audit log names the command line as their editor."""
    from api.services import audit
    from store.models import DEFAULT_ORG_ID

    action = "agent.update" if existed else "agent.create"
    await audit.record(session, org_id=DEFAULT_ORG_ID, actor=audit.CLI_ACTOR, action=action, target=name)


@agent_app.command("import")
def agent_import(
    path: Annotated[Path, typer.Argument(metavar="PATH.json", help="An agent config, as `agent show` prints it")],
) -> None:
    """Create or replace an agent from a JSON file (e.g. cli/samples/demo_agent.json)."""
    try:
        config = load_agent_file(path)
    except ValueError as err:
        fail(str(err), code=2)
    _refuse_without_keys(config)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from api.services.departments import InvalidDepartmentError, refuse_unknown_departments
        from api.services.tools import InvalidToolError, refuse_unknown_tools
        from store import queries
        from store.models import DEFAULT_ORG_ID

        async with sessions() as session:
            existed = await queries.get_agent(session, config.name) is not None
            try:
                await refuse_unknown_tools(session, org_id=DEFAULT_ORG_ID, agent=config)
                await refuse_unknown_departments(session, org_id=DEFAULT_ORG_ID, agent=config)
            except (InvalidToolError, InvalidDepartmentError) as err:
                raise CliError(str(err)) from None
            await queries.save_agent(session, config)
            await _audit_saved(session, config.name, existed=existed)
            await session.commit()
        verb = "replaced" if existed else "imported"
        console.print(f"agent [bold]{escape(config.name)}[/bold] {verb} from {escape(str(path))}", highlight=False)

    store_command(body)


@agent_app.command("list")
def agent_list() -> None:
    """The stored agents."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            agents = await queries.list_agents(session)
        if not agents:
            console.print("no agents yet: `ringflow agent create NAME --instructions ...` or `ringflow agent import`")
            return
        table = Table("name", "language", "mode", "tools on", "active")
        for agent in agents:
            table.add_row(
                agent.name,
                agent.language.value,
                agent.model_mode.value,
                _tools_on(agent),
                "yes" if agent.active else "[yellow]no[/yellow]",
            )
        console.print(table)

    store_command(body)


@agent_app.command("show")
def agent_show(name: Annotated[str, typer.Argument(help="Agent name")]) -> None:
    """An agent's config as JSON (`agent import` reads it back)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            agent = await queries.get_agent(session, name)
        if agent is None:
            raise CliError(f"no agent named {name!r}")
        typer.echo(agent.model_dump_json(indent=2))

    store_command(body)


@agent_app.command("delete")
def agent_delete(name: Annotated[str, typer.Argument(help="Agent name")]) -> None:
    """Delete an agent. Campaigns already started keep their own copy of it."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from api.services import audit
        from store import queries
        from store.models import DEFAULT_ORG_ID

        async with sessions() as session:
            deleted = await queries.delete_agent(session, name)
            if deleted:
                await audit.record(
                    session, org_id=DEFAULT_ORG_ID, actor=audit.CLI_ACTOR, action="agent.delete", target=name
                )
            await session.commit()
        if not deleted:
            raise CliError(f"no agent named {name!r}")
        console.print(f"agent [bold]{escape(name)}[/bold] deleted")

    store_command(body)


@agent_app.command("eval")
def agent_eval(
    name: Annotated[str, typer.Argument(help="Agent name")],
    personas: Annotated[
        str | None, typer.Option(metavar="a,b,...", help="Only these personas (default: the whole suite)")
    ] = None,
) -> None:
    """Offline check: the agent talks to every scripted persona; exit 1 if any call goes wrong."""
    from simulator.evaluation import PERSONA_EXPECTATIONS

    chosen = [persona.strip() for persona in personas.split(",") if persona.strip()] if personas else None
    if chosen is not None:
        unknown = [persona for persona in chosen if persona not in PERSONA_EXPECTATIONS]
        if unknown or not chosen:
            fail(
                f"--personas: unknown persona(s) {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(PERSONA_EXPECTATIONS)}",
                code=2,
            )
    # The scripted model's calls are the output; library chatter would only interleave with it.
    logging.getLogger("livekit").setLevel(logging.ERROR)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from simulator.evaluation import evaluate_agent
        from store import queries

        async with sessions() as session:
            agent = await queries.get_agent(session, name)
        if agent is None:
            raise CliError(f"no agent named {name!r}")
        verdicts = await evaluate_agent(agent, chosen)
        table = Table(title=f"agent {name}: persona suite", title_justify="left")
        for column in ("persona", "result", "turns", "tools called", "disposition", "expected / what went wrong"):
            table.add_column(column, overflow="fold")
        for verdict in verdicts:
            result = "[green]pass[/green]" if verdict.passed else "[red]FAIL[/red]"
            table.add_row(
                verdict.persona,
                result,
                str(verdict.turns),
                ", ".join(verdict.tools_called) or "-",
                verdict.disposition or "-",
                verdict.reason,
            )
        console.print(table)
        failed = [verdict.persona for verdict in verdicts if not verdict.passed]
        if failed:
            console.print(f"[red]{len(failed)} of {len(verdicts)} persona(s) failed: {', '.join(failed)}[/red]")
            return 1
        console.print(f"[green]all {len(verdicts)} persona(s) passed[/green]")
        return 0

    store_command(body)
