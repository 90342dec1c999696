"""Agents: create, edit (per-function tool toggles, disclosure, greeting, instructions, context, voice, language,
model vendors), delete, their statistics, and one outbound call by an agent. An agent whose vendors have no key on
this deployment is not saved (schemas/providers.py)."""

import secrets
from datetime import time
from typing import Annotated, NoReturn

from fastapi import APIRouter, File, HTTPException, Response, UploadFile, status
from pydantic import ValidationError

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import (
    V1_DEPENDENCIES,
    V1_RESPONSES,
    Context,
    call_stats,
    campaign_view,
    conflict,
    e164,
    invalid,
    not_found,
    release,
)
from api.services import audit, campaigns
from api.services import departments as department_service
from api.services import knowledge as knowledge_service
from api.services import tools as tool_service
from infra.embeddings import embedder_for
from infra.web_ui import workflow_ui_url
from schemas.agent import AgentConfig
from schemas.api import (
    AgentCreate,
    AgentList,
    AgentOut,
    AgentUpdate,
    ErrorBody,
    OutboundCallRequest,
    OutboundCallStarted,
    Stats,
)
from schemas.campaign import ALL_WEEKDAYS, CallingWindow, CampaignSettings, RetryPolicy
from schemas.compliance import CallingPolicy
from schemas.contact import Contact
from schemas.knowledge import (
    MAX_DOCUMENT_BYTES,
    KnowledgeAnswer,
    KnowledgeDocumentList,
    KnowledgeDocumentOut,
    KnowledgeQuery,
)
from schemas.providers import keys_refusal
from schemas.validation import describe_validation_error
from schemas.workflow_io import contact_workflow_id
from store import compliance, dnc, queries
from store.models import OrganizationRow

router = APIRouter(prefix="/v1/agents", tags=["agents"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)

NOT_FOUND = {404: {"model": ErrorBody, "description": "No such agent in your organization"}}
ONE_CALL_SETTINGS = CampaignSettings(
    retry=RetryPolicy(max_attempts=1),
    window=CallingWindow(start=time(0), end=time(0), weekdays=frozenset(ALL_WEEKDAYS)),
)
"""A one-off call is placed now: one attempt, whatever the hour."""


def agent_view(agent: AgentConfig) -> AgentOut:
    return AgentOut(**agent.model_dump(), enabled_tools=sorted(agent.enabled_tools()))


def _with_e164_transfer(agent: AgentConfig) -> AgentConfig:
    if agent.transfer_number is None:
        return agent
    return agent.model_copy(update={"transfer_number": e164(agent.transfer_number, "transfer_number")})


async def _refuse_unknown_tools(session: DbSession, org: OrganizationRow, agent: AgentConfig) -> None:
    try:
        await tool_service.refuse_unknown_tools(session, org_id=org.id, agent=agent)
        await department_service.refuse_unknown_departments(session, org_id=org.id, agent=agent)
    except (tool_service.InvalidToolError, department_service.InvalidDepartmentError) as err:
        invalid(str(err))


def _runnable(ctx: Context, agent: AgentConfig) -> AgentConfig:
    """The agent, if this deployment has the keys its models need; else a 422 naming the variables to set."""
    refusal = keys_refusal(agent, ctx.settings)
    if refusal:
        invalid(refusal)
    return agent


async def owned_agent(session: DbSession, org: OrganizationRow, name: str) -> AgentConfig:
    agent = await queries.get_agent(session, name, org.id)
    if agent is None:
        not_found(f"no agent named {name!r}")
    return agent


@router.get("", response_model=AgentList)
async def list_agents(org: CurrentOrg, session: DbSession) -> AgentList:
    """The organization's agents, active or not, by name."""
    return AgentList(items=[agent_view(agent) for agent in await queries.list_agents(session, org.id)])


@router.post(
    "",
    status_code=201,
    response_model=AgentOut,
    responses={409: {"model": ErrorBody, "description": "An agent with this name exists"}},
)
async def create_agent(
    body: AgentCreate, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> AgentOut:
    """Create an agent; tools left out of ``tools`` are on. Refused (422) when this deployment has no key for one
    of its models (schemas/providers.py ``missing_keys``)."""
    agent = _runnable(ctx, _with_e164_transfer(AgentConfig.model_validate(body.model_dump())))
    if await queries.get_agent(session, agent.name, org.id) is not None:
        conflict(f"an agent named {agent.name!r} already exists: PUT /v1/agents/{agent.name} changes it")
    await _refuse_unknown_tools(session, org, agent)
    await queries.save_agent(session, agent, org.id)
    await audit.record(session, org_id=org.id, actor=principal.actor, action="agent.create", target=agent.name)
    await session.commit()
    return agent_view(agent)


@router.get("/{name}", response_model=AgentOut, responses=NOT_FOUND)
async def get_agent(name: str, org: CurrentOrg, session: DbSession) -> AgentOut:
    return agent_view(await owned_agent(session, org, name))


@router.put("/{name}", response_model=AgentOut, responses=NOT_FOUND)
async def update_agent(
    name: str, body: AgentUpdate, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> AgentOut:
    """Change the fields given; ``tools`` switches just the functions named. Campaigns already
    started keep the agent they began with. Refused (422) when this deployment has no key for one of its models."""
    current = await owned_agent(session, org, name)
    changes = body.model_dump(exclude_unset=True)
    if "tools" in changes:
        changes["tools"] = {**current.tools, **(changes["tools"] or {})}
    if changes.get("context", True) is None:
        changes["context"] = {}
    required = (
        "instructions",
        "greeting",
        "disclosure",
        "language",
        "voice",
        "model_mode",
        "voicemail_message",
        "active",
    )
    for field in (*required, "stt", "llm", "tts", "realtime", "http_tools", "departments", "dispositions", "analysis"):
        if field in changes and changes[field] is None:
            invalid(f"{field}: may not be null")
    try:
        agent = _with_e164_transfer(AgentConfig.model_validate({**current.model_dump(), **changes}))
    except ValidationError as err:
        invalid(describe_validation_error(err))
    await _refuse_unknown_tools(session, org, agent)
    await queries.save_agent(session, _runnable(ctx, agent), org.id)
    await audit.record(
        session,
        org_id=org.id,
        actor=principal.actor,
        action="agent.update",
        target=name,
        details={"fields": sorted(changes)},
    )
    await session.commit()
    return agent_view(agent)


@router.delete("/{name}", status_code=204, responses=NOT_FOUND)
async def delete_agent(name: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Delete the agent. Campaigns already started keep their own copy of it."""
    if not await queries.delete_agent(session, name, org.id):
        not_found(f"no agent named {name!r}")
    await audit.record(session, org_id=org.id, actor=principal.actor, action="agent.delete", target=name)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/stats", response_model=Stats, responses=NOT_FOUND)
async def agent_stats(name: str, org: CurrentOrg, session: DbSession, ctx: Context) -> Stats:
    """The calls of every campaign that used the agent, and the incoming calls it answered."""
    await owned_agent(session, org, name)
    return await call_stats(ctx, session, org.id, agent=name)


@router.post(
    "/{name}/calls",
    status_code=201,
    response_model=OutboundCallStarted,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "Inactive agent, or a do-not-call number"}},
)
async def call_now(
    name: str, body: OutboundCallRequest, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> OutboundCallStarted:
    """Call one person now with this agent, as a campaign of one; ``context`` replaces the agent's
    context for this call only. Follow it with the campaign, or ``GET /v1/calls?campaign_id=``."""
    agent = await owned_agent(session, org, name)
    if not agent.active:
        conflict(f"agent {name!r} is inactive")
    fields = body.model_dump(exclude={"context", "settings"})
    fields["external_id"] = (body.external_id or "").strip() or f"call-{secrets.token_hex(4)}"
    policy = await compliance.get_policy(session, org.id) or CallingPolicy()
    try:
        contact = Contact.admit(fields, policy.numbers)
    except ValidationError as err:
        invalid(describe_validation_error(err))
    if await dnc.dnc_among(session, org.id, [contact.phone]):
        conflict(f"phone: {contact.phone} is on the do-not-call list")
    if body.context is not None:
        agent = agent.model_copy(update={"context": body.context})
    await release(session)
    campaign_id, _ = await campaigns.create(
        ctx.client,
        ctx.sessions,
        org_id=org.id,
        name=f"call {contact.name or contact.phone} by {agent.name}",
        settings=body.settings or ONE_CALL_SETTINGS,
        contacts=campaigns.ContactList.from_rows([contact.model_dump()]),
        agent=agent,
        start=True,
        deployment=ctx.settings,
        limits=campaigns.ImportLimits.of(ctx.settings),
        actor=principal.actor,
    )
    row = await campaigns.owned_campaign(session, org_id=org.id, campaign_id=campaign_id)
    return OutboundCallStarted(
        campaign=await campaign_view(ctx, session, row, live=False),
        external_id=contact.external_id,
        contact_web_ui_url=workflow_ui_url(ctx.settings, contact_workflow_id(campaign_id, contact.external_id)),
    )


# ---- the agent's knowledge base ----------------------------------------------------------------------

KNOWLEDGE_ERROR_STATUS: dict[type[knowledge_service.KnowledgeServiceError], int] = {
    knowledge_service.AgentNotFoundError: status.HTTP_404_NOT_FOUND,
    knowledge_service.DocumentNotFoundError: status.HTTP_404_NOT_FOUND,
    knowledge_service.DocumentConflictError: status.HTTP_409_CONFLICT,
    knowledge_service.DocumentTooLargeError: status.HTTP_413_CONTENT_TOO_LARGE,
    knowledge_service.UnsupportedDocumentError: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    knowledge_service.InvalidDocumentError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def knowledge_refused(err: knowledge_service.KnowledgeServiceError) -> NoReturn:
    code = next(code for kind, code in KNOWLEDGE_ERROR_STATUS.items() if isinstance(err, kind))
    raise HTTPException(code, str(err)) from None


@router.post(
    "/{name}/documents",
    status_code=201,
    response_model=KnowledgeDocumentOut,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "The agent has a document of this name"},
        415: {"model": ErrorBody, "description": "Not a TXT, Markdown or PDF file"},
    },
)
async def add_document(
    name: str,
    file: Annotated[UploadFile, File(description="A TXT, Markdown or PDF file, at most 10 MB")],
    org: CurrentOrg,
    session: DbSession,
    principal: CurrentPrincipal,
    ctx: Context,
) -> KnowledgeDocumentOut:
    """Add a document to the agent's knowledge base: read, cut into passages and indexed for its
    ``search_knowledge`` tool (switch the tool on in ``tools``). 415 for another type, 422 for a file that cannot
    be read or holds no text, 413 past 10 MB."""
    data = await file.read(MAX_DOCUMENT_BYTES + 1)
    try:
        return await knowledge_service.add_document(
            session,
            org_id=org.id,
            agent=name,
            name=file.filename or "",
            data=data,
            actor=principal.actor,
            embedder=embedder_for(ctx.settings),
        )
    except knowledge_service.KnowledgeServiceError as err:
        knowledge_refused(err)


@router.get("/{name}/documents", response_model=KnowledgeDocumentList, responses=NOT_FOUND)
async def list_documents(name: str, org: CurrentOrg, session: DbSession) -> KnowledgeDocumentList:
    """The agent's documents, by name."""
    try:
        return KnowledgeDocumentList(items=await knowledge_service.list_documents(session, org_id=org.id, agent=name))
    except knowledge_service.KnowledgeServiceError as err:
        knowledge_refused(err)


@router.delete(
    "/{name}/documents/{document_id}",
    status_code=204,
    responses={404: {"model": ErrorBody, "description": "No such agent, or no such document of it"}},
)
async def remove_document(
    name: str, document_id: int, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Remove a document from the agent's knowledge base; the next search no longer finds it."""
    try:
        await knowledge_service.remove_document(
            session, org_id=org.id, agent=name, document_id=document_id, actor=principal.actor
        )
    except knowledge_service.KnowledgeServiceError as err:
        knowledge_refused(err)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/knowledge/search", response_model=KnowledgeAnswer, responses=NOT_FOUND)
async def search_knowledge(
    name: str, body: KnowledgeQuery, org: CurrentOrg, session: DbSession, ctx: Context
) -> KnowledgeAnswer:
    """What the agent's ``search_knowledge`` tool finds for a question: the best passages, best first, each with
    its document and section. For trying a knowledge base out before a call."""
    try:
        return await knowledge_service.search(
            session, org_id=org.id, agent=name, query=body.query, embedder=embedder_for(ctx.settings)
        )
    except knowledge_service.KnowledgeServiceError as err:
        knowledge_refused(err)
