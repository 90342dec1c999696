"""The dashboard: HTML pages served at ``/``, plus a member's login and logout.

Pages are shells: each is an Alpine.js component (``api/static/app.js``) that reads and writes the
JSON REST API under ``/v1`` from the browser. Logging in opens a server-side session (``store.members``)
and the browser keeps its random id in the ``ringflow_session`` cookie: HttpOnly (page scripts never see
it), SameSite=Strict, Secure behind https (``api.deps.cookie_secure``). The API takes the cookie as the
member, with the member's role; a write must also send the session's CSRF token, which every page carries
in ``<meta name="csrf-token">`` and ``app.js`` puts in the ``X-CSRF-Token`` header (the logout form in a
hidden field).
"""

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.auth import Permission, Principal
from api.deps import SESSION_COOKIE, AppContext, Context, DbSession, authenticate, current_principal, set_login_cookie
from api.proxies import client_address
from api.ratelimit import Limits
from api.services.connections import redirect_uri
from schemas.agent import AgentTool, InformationCategory, Language, ModelMode
from schemas.providers import DEFAULT_VOICES, PROVIDERS, VENDOR_NAMES
from schemas.webhooks import WebhookEventType
from store import members

# What the agent editor offers. Voices: OpenAI's names when an OpenAI model speaks, else the vendor's default
# (schemas/providers.py); the field stays free text, so a voice added later needs no change here.
OPENAI_VOICES = tuple("alloy ash ballad cedar coral echo fable marin nova onyx sage shimmer verse".split())
LANGUAGE_NAMES = {Language.ENGLISH: "English", Language.ARABIC: "Arabic"}
MODE_NAMES = {ModelMode.PIPELINE: "Pipeline (STT → LLM → TTS)", ModelMode.REALTIME: "Realtime (speech to speech)"}
MODEL_ROLES = {"stt": "Speech to text", "llm": "Language model", "tts": "Text to speech", "realtime": "Realtime model"}

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["information_categories"] = list(InformationCategory)
templates.env.globals["event_types"] = [event.value for event in WebhookEventType]

router = APIRouter(include_in_schema=False)


class _LoginRequired(Exception):
    """Raised by a page whose visitor has no live session; answered with a redirect to the login page."""


async def page_principal(request: Request, ctx: Context, session: DbSession) -> Principal:
    """The API's own check of the caller, with a redirect to the login page instead of a 401."""
    try:
        return await current_principal(request, ctx, session)
    except HTTPException as err:
        if err.status_code == status.HTTP_401_UNAUTHORIZED:
            raise _LoginRequired from None
        raise


PagePrincipal = Annotated[Principal, Depends(page_principal)]


async def _login_redirect(request: Request, exc: Exception) -> RedirectResponse:
    """A page without a live session sends the visitor to log in, and back to the page afterwards."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _render(request: Request, template: str, principal: Principal | None, ctx: AppContext, **values: Any) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {
            "org": principal.org if principal else None,
            "principal": principal,
            "csrf_token": principal.csrf_token if principal else "",
            "may_audit": principal is not None and principal.may(Permission.AUDIT),
            "temporal_ui_url": ctx.settings.temporal_ui_url.rstrip("/"),
            **values,
        },
    )


def _safe_next(target: str | None) -> str:
    """Only a local path: a crafted ``next`` must not send a freshly logged-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, ctx: Context, session: DbSession, next_page: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """The login form; a visitor whose session is still live goes straight on."""
    try:
        await authenticate(request, ctx, session)
    except HTTPException:
        return _render(request, "login.html", None, ctx, next=_safe_next(next_page), error=None)
    return RedirectResponse(_safe_next(next_page), status_code=303)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    ctx: Context,
    limits: Limits,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_page: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the member's password, open a session and give the browser its id (HttpOnly, SameSite=Strict).
    Attempts are limited per client address, and failures per email (a 429 with ``Retry-After``)."""
    target = _safe_next(next_page)
    account = email.strip().lower()
    await limits.check_login(client_address(request, limits.trusted_proxies), account)
    async with ctx.sessions() as session:
        member = await members.authenticate(session, email, password)
        if member is not None:
            await members.close_expired_sessions(session)
            session_id = await members.open_session(session, member, ctx.settings.session_max_age)
            await session.commit()
    if member is None:
        await limits.login_failed(account)
        response = _render(request, "login.html", None, ctx, next=target, error="Wrong email or password.")
        response.status_code = 401
        return response
    await limits.login_succeeded(account)
    response = RedirectResponse(target, status_code=303)
    max_age = int(ctx.settings.session_max_age.total_seconds())
    set_login_cookie(response, request, ctx.settings, SESSION_COOKIE, session_id, max_age)
    return response


@router.post("/logout")
async def logout(
    request: Request, ctx: Context, session: DbSession, csrf_token: Annotated[str, Form()] = ""
) -> RedirectResponse:
    """End the session in the store (its id no longer works anywhere) and forget the cookie."""
    raw_id = request.cookies.get(SESSION_COOKIE)
    try:
        principal = await authenticate(request, ctx, session) if raw_id else None
    except HTTPException:
        principal = None  # the session had ended already: nothing left to end but the cookie
    if raw_id and principal is not None:
        if not secrets.compare_digest(csrf_token.encode(), (principal.csrf_token or "").encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a missing or wrong CSRF token")
        await members.close_session(session, raw_id)
        await session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# Pages without a path parameter: path -> (template, nav section). Registered before the pages with a
# parameter, so "/campaigns/new" is not taken for a campaign id.
PLAIN_PAGES = {
    "/": ("campaigns.html", "campaigns"),
    "/campaigns/new": ("campaign_new.html", "campaigns"),
    "/calls": ("calls.html", "calls"),
    "/information": ("information.html", "information"),
    "/agents": ("agents.html", "agents"),
    "/numbers": ("numbers.html", "numbers"),
    "/do-not-call": ("dnc.html", "dnc"),
    "/tools": ("tools.html", "tools"),
    "/departments": ("departments.html", "departments"),
    "/webhooks": ("webhooks.html", "webhooks"),
    "/audit": ("audit.html", "audit"),
}


def _plain_page(template: str, nav: str) -> Callable[..., Awaitable[Response]]:
    async def page(request: Request, ctx: Context, principal: PagePrincipal) -> Response:
        return _render(request, template, principal, ctx, nav=nav)

    return page


for _path, (_template, _nav) in PLAIN_PAGES.items():
    router.add_api_route(_path, _plain_page(_template, _nav), methods=["GET"], response_class=HTMLResponse)


def _agent_editor(request: Request, ctx: Context, principal: Principal, agent_name: str | None) -> Response:
    return _render(
        request,
        "agent.html",
        principal,
        ctx,
        nav="agents",
        agent_name=agent_name,
        tools=[tool.value for tool in AgentTool],
        languages=LANGUAGE_NAMES,
        modes=MODE_NAMES,
        model_roles=MODEL_ROLES,
        providers=PROVIDERS,
        vendor_names=VENDOR_NAMES,
        speakers={
            f"{role}:{provider}": {
                "default": voice,
                "voices": list(OPENAI_VOICES) if provider == "openai" else [voice],
                "label": f"{VENDOR_NAMES[provider]} {'realtime model' if role == 'realtime' else 'TTS'}",
            }
            for (role, provider), voice in DEFAULT_VOICES.items()
        },
    )


@router.get("/connections", response_class=HTMLResponse)
async def connections_page(request: Request, ctx: Context, principal: PagePrincipal) -> Response:
    """The connections page names the redirect URI to register with the provider."""
    return _render(
        request, "connections.html", principal, ctx, nav="connections", callback_url=redirect_uri(ctx.settings)
    )


@router.get("/agents/new", response_class=HTMLResponse)
async def new_agent_page(request: Request, ctx: Context, principal: PagePrincipal) -> Response:
    return _agent_editor(request, ctx, principal, None)


@router.get("/agents/{name}", response_class=HTMLResponse)
async def agent_page(name: str, request: Request, ctx: Context, principal: PagePrincipal) -> Response:
    return _agent_editor(request, ctx, principal, name)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(campaign_id: str, request: Request, ctx: Context, principal: PagePrincipal) -> Response:
    return _render(request, "campaign.html", principal, ctx, nav="campaigns", campaign_id=campaign_id)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
async def call_page(call_id: str, request: Request, ctx: Context, principal: PagePrincipal) -> Response:
    return _render(request, "call.html", principal, ctx, nav="calls", call_id=call_id)


def install(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: its pages, its static files and the login redirect."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(_LoginRequired, _login_redirect)
