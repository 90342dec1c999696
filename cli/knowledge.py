"""``ringflow agent docs ...``: an agent's knowledge base (add, list, remove, search), through
``api/services/knowledge.py`` as the REST API does."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cli.common import CliError, console, store_command

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

docs_app = typer.Typer(help="An agent's knowledge base: the documents its search_knowledge tool answers from.")
AgentArgument = Annotated[str, typer.Argument(help="Agent name")]


def _run(body: "Callable[[AsyncSession], Awaitable[None]]") -> None:
    """Run ``body(session)`` on the migrated store; the service's refusals are one line."""

    async def run(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services.knowledge import KnowledgeServiceError

        async with sessions() as session:
            try:
                await body(session)
            except KnowledgeServiceError as err:
                raise CliError(str(err)) from None
        return 0

    store_command(run)


@docs_app.command("add")
def docs_add(
    agent: AgentArgument,
    path: Annotated[Path, typer.Argument(help="A .txt, .md or .pdf file", exists=True, dir_okay=False)],
) -> None:
    """Add a document to the agent's knowledge base (switch its search_knowledge tool on to use it)."""

    async def body(session: "AsyncSession") -> None:
        from api.services import audit, knowledge
        from infra.embeddings import embedder_for
        from schemas.settings import get_settings
        from store.models import DEFAULT_ORG_ID

        document = await knowledge.add_document(
            session,
            org_id=DEFAULT_ORG_ID,
            agent=agent,
            name=path.name,
            data=path.read_bytes(),
            actor=audit.CLI_ACTOR,
            embedder=embedder_for(get_settings()),
        )
        console.print(f"document {document.id} [bold]{escape(document.name)}[/bold] added: {document.chunks} passages")

    _run(body)


@docs_app.command("list")
def docs_list(agent: AgentArgument) -> None:
    """The agent's documents."""

    async def body(session: "AsyncSession") -> None:
        from api.services import knowledge
        from store.models import DEFAULT_ORG_ID

        for document in await knowledge.list_documents(session, org_id=DEFAULT_ORG_ID, agent=agent):
            console.print(
                f"{document.id}  {document.name}  {document.media_type}  {document.size} bytes  "
                f"{document.chunks} passages",
                highlight=False,
                markup=False,
            )

    _run(body)


@docs_app.command("remove")
def docs_remove(agent: AgentArgument, document_id: Annotated[int, typer.Argument(help="The document's id")]) -> None:
    """Remove a document from the agent's knowledge base."""

    async def body(session: "AsyncSession") -> None:
        from api.services import audit, knowledge
        from store.models import DEFAULT_ORG_ID

        await knowledge.remove_document(
            session, org_id=DEFAULT_ORG_ID, agent=agent, document_id=document_id, actor=audit.CLI_ACTOR
        )
        console.print(f"document {document_id} removed")

    _run(body)


@docs_app.command("search")
def docs_search(agent: AgentArgument, query: Annotated[str, typer.Argument(help="A question")]) -> None:
    """What the agent's search_knowledge tool finds for a question, best first, with each passage's source."""

    async def body(session: "AsyncSession") -> None:
        from api.services import knowledge
        from infra.embeddings import embedder_for
        from schemas.settings import get_settings
        from store.models import DEFAULT_ORG_ID

        answer = await knowledge.search(
            session, org_id=DEFAULT_ORG_ID, agent=agent, query=query, embedder=embedder_for(get_settings())
        )
        if not answer.passages:
            console.print("nothing found")
        for passage in answer.passages:
            console.print(f"[bold]{escape(passage.source)}[/bold] ({passage.score})")
            console.print(passage.text, highlight=False, markup=False)

    _run(body)
