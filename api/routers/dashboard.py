"""The dashboard: HTML pages served at ``/``, plus the login that puts an API key into a cookie.

Pages are shells: each is an Alpine.js component (``api/static/app.js``) that reads and writes the
JSON REST API under ``/v1`` from the browser. The browser sends the ``ringflow_api_key`` cookie with
every same-origin request, so the dashboard sees exactly what that key sees through the API, and no
page duplicates an API query. The cookie is HttpOnly (page scripts never hold the key) and
SameSite=Strict (another site cannot make the browser use it).
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.deps import API_KEY_COOKIE, AppContext, Context, current_org
from api.ratelimit import Limits, client_address, login_account
from schemas.agent import AgentTool, InformationCategory, Language, ModelMode
from schemas.webhooks import WebhookEventType
from store.models import OrganizationRow
from store.orgs import org_for_api_key

# A working day of dashboard use; the key itself does not expire, so logging in again is cheap.
COOKIE_MAX_AGE_SECONDS = 12 * 60 * 60

# What the agent editor offers. Voices are OpenAI's (the voice worker's TTS and realtime model); the
# field stays free text, so a voice added later needs no change here.
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")
LANGUAGE_NAMES = {Language.ENGLISH: "English", Language.ARABIC: "Arabic"}
MODE_NAMES = {ModelMode.PIPELINE: "Pipeline (STT → LLM → TTS)", ModelMode.REALTIME: "Realtime (speech to speech)"}

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["information_categories"] = list(InformationCategory)
templates.env.globals["event_types"] = [event.value for event in WebhookEventType]

router = APIRouter(include_in_schema=False)


class _LoginRequired(Exception):
    """Raised by a page whose visitor has no valid cookie; answered with a redirect to the login page."""


async def page_org(request: Request, ctx: Context) -> OrganizationRow:
    """The API's own authentication, with a redirect to the login page instead of a 401."""
    try:
        return await current_org(request, ctx)
    except HTTPException:
        raise _LoginRequired from None


PageOrg = Annotated[OrganizationRow, Depends(page_org)]


async def _login_redirect(request: Request, exc: Exception) -> RedirectResponse:
    """A page without a valid cookie sends the visitor to log in, and back to the page afterwards."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _render(request: Request, template: str, org: OrganizationRow | None, ctx: AppContext, **values: Any) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {"org": org, "temporal_ui_url": ctx.settings.temporal_ui_url.rstrip("/"), **values},
    )


def _safe_next(target: str | None) -> str:
    """Only a local path: a crafted ``next`` must not send a freshly logged-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: Context, next_page: Annotated[str, Query(alias="next")] = "/") -> Response:
    """The login form; a visitor whose cookie still works goes straight on."""
    try:
        await current_org(request, ctx)
    except HTTPException:
        return _render(request, "login.html", None, ctx, next=_safe_next(next_page), error=None)
    return RedirectResponse(_safe_next(next_page), status_code=303)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    ctx: Context,
    limits: Limits,
    api_key: Annotated[str, Form()] = "",
    next_page: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the key as the API would, then keep it in the HttpOnly cookie every later request sends. Attempts
    are limited per client address, and failures per key prefix (a 429 with ``Retry-After``)."""
    raw_key = api_key.strip()
    account = login_account(raw_key)
    await limits.check_login(client_address(request, limits.trusted_proxies), account)
    async with ctx.sessions() as session:
        org = await org_for_api_key(session, raw_key)
    target = _safe_next(next_page)
    if org is None:
        await limits.login_failed(account)
        response = _render(request, "login.html", None, ctx, next=target, error="That API key is not valid.")
        response.status_code = 401
        return response
    await limits.login_succeeded(account)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        API_KEY_COOKIE,
        raw_key,
        max_age=COOKIE_MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(API_KEY_COOKIE, path="/", httponly=True, samesite="strict")
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
    "/webhooks": ("webhooks.html", "webhooks"),
}


def _plain_page(template: str, nav: str) -> Callable[..., Awaitable[Response]]:
    async def page(request: Request, ctx: Context, org: PageOrg) -> Response:
        return _render(request, template, org, ctx, nav=nav)

    return page


for _path, (_template, _nav) in PLAIN_PAGES.items():
    router.add_api_route(_path, _plain_page(_template, _nav), methods=["GET"], response_class=HTMLResponse)


def _agent_editor(request: Request, ctx: Context, org: OrganizationRow, agent_name: str | None) -> Response:
    return _render(
        request,
        "agent.html",
        org,
        ctx,
        nav="agents",
        agent_name=agent_name,
        tools=[tool.value for tool in AgentTool],
        languages=LANGUAGE_NAMES,
        modes=MODE_NAMES,
        voices=OPENAI_VOICES,
    )


@router.get("/agents/new", response_class=HTMLResponse)
async def new_agent_page(request: Request, ctx: Context, org: PageOrg) -> Response:
    return _agent_editor(request, ctx, org, None)


@router.get("/agents/{name}", response_class=HTMLResponse)
async def agent_page(name: str, request: Request, ctx: Context, org: PageOrg) -> Response:
    return _agent_editor(request, ctx, org, name)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(campaign_id: str, request: Request, ctx: Context, org: PageOrg) -> Response:
    return _render(request, "campaign.html", org, ctx, nav="campaigns", campaign_id=campaign_id)


@router.get("/calls/{call_id}", response_class=HTMLResponse)
async def call_page(call_id: str, request: Request, ctx: Context, org: PageOrg) -> Response:
    return _render(request, "call.html", org, ctx, nav="calls", call_id=call_id)


def install(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: its pages, its static files and the login redirect."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(_LoginRequired, _login_redirect)
