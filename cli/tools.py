"""``ringflow tool ...``: an organization's HTTP tools (list, create from a JSON file, test, delete), through
``api/services/tools.py`` as the REST API does. docs/tools.md."""

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, service_command

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schemas.settings import Settings

tool_app = typer.Typer(help="HTTP tools: requests the agents may make during a call.", no_args_is_help=True)
OrgOption = Annotated[str, typer.Option(help="The organization")]


def _run(body: "Callable[[Settings, AsyncSession], Awaitable[None]]") -> None:
    def refusal() -> type[Exception]:
        from api.services.tools import ToolServiceError

        return ToolServiceError

    service_command(body, refusal)


def _json_file(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise typer.BadParameter(f"{path}: {err}", param_hint=what) from None


@tool_app.command("list")
def tool_list(org: OrgOption = "default") -> None:
    """The organization's HTTP tools."""

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import tools

        for tool in await tools.list_tools(session, org_id=org):
            console.print(f"{tool.name}  {tool.method} {tool.url}  auth={tool.auth.kind}", highlight=False)

    _run(body)


@tool_app.command("create")
def tool_create(
    path: Annotated[Path, typer.Argument(help="A JSON file with the tool (POST /v1/tools's body)")],
    org: OrgOption = "default",
) -> None:
    """Create an HTTP tool from a JSON file; its auth secret is stored and never shown again."""
    from pydantic import ValidationError

    from schemas.tools import HttpTool
    from schemas.validation import describe_validation_error

    try:
        tool = HttpTool.model_validate(_json_file(path, "PATH"))
    except ValidationError as err:
        raise typer.BadParameter(describe_validation_error(err), param_hint="PATH") from None

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import tools

        created = await tools.create(session, settings, org_id=org, tool=tool)
        console.print(f"tool {created.name}: {created.method} {created.url}", highlight=False)

    _run(body)


@tool_app.command("test")
def tool_test(
    name: Annotated[str, typer.Argument(help="The tool's name")],
    arguments: Annotated[str, typer.Option(help="Sample arguments, as a JSON object")] = "{}",
    org: OrgOption = "default",
) -> None:
    """Run the tool once with sample arguments, as a call would, and print what the model would be handed."""
    try:
        sample = json.loads(arguments)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--arguments") from None
    if not isinstance(sample, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--arguments")

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import tools

        result = await tools.test(session, settings, org_id=org, name=name, arguments=sample)
        answered = f" {result.http_status}" if result.http_status else ""
        console.print(f"{result.status}{answered} in {result.latency_ms} ms {result.error}".rstrip(), highlight=False)
        console.print(result.reply, highlight=False, markup=False)
        if result.status != "ok":
            raise typer.Exit(1)

    _run(body)


@tool_app.command("delete")
def tool_delete(name: Annotated[str, typer.Argument(help="The tool's name")], org: OrgOption = "default") -> None:
    """Delete the tool (switch it off on every agent first)."""

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import tools

        await tools.delete(session, org_id=org, name=name)
        console.print(f"tool {name} deleted", highlight=False)

    _run(body)
