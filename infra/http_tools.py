"""One HTTP tool invocation: render the request from the model's arguments, guard it against SSRF, send it and
map the answer to what the model is handed; a tool's secret is sealed when it is stored and unsealed here just
before its request. The activity (``activities/tools.py``) and the API's test endpoint
(``api/services/tools.py``) both call :func:`call_tool_on_behalf`: one code path. docs/tools.md.
"""

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from infra import oauth
from infra.sealing import SealingKeyError, seal, sealing_cipher, unseal
from infra.webhooks import UnsafeWebhookUrlError, check_url
from schemas.settings import Settings
from schemas.tools import (
    IDEMPOTENCY_HEADER,
    RECORDED_RESPONSE_CHARS,
    AuthKind,
    HttpMethod,
    HttpTool,
    InvocationStatus,
    StoredHttpTool,
    StoredToolAuth,
    ToolAuth,
    ToolResult,
    failure_sentence,
    secret_hint,
)

ALLOWED_BY = "RINGFLOW_TOOL_ALLOW_PRIVATE_URLS"
MAX_READ_BYTES = 256 * 1024
"""An answer is read this far and no further: a service may send a lot, the model needs little."""
BODY_METHODS = frozenset({HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH})
TRUNCATED = "…(truncated)"


class _Blank(dict[str, str]):
    """Template values: an optional parameter the model left out renders empty."""

    def __missing__(self, key: str) -> str:
        return ""


def render_url(tool: HttpTool, arguments: dict[str, Any]) -> str:
    return tool.url.format_map(_Blank({key: quote(_text(value), safe="") for key, value in arguments.items()}))


def render_body(template: Any, arguments: dict[str, Any]) -> Any:
    """A JSON template filled in: ``"{name}"`` alone becomes the argument itself (a number stays a number)."""
    if isinstance(template, str):
        whole = template.removeprefix("{").removesuffix("}")
        if template == "{" + whole + "}" and whole.isidentifier():
            return arguments.get(whole)
        return template.format_map(_Blank({key: _text(value) for key, value in arguments.items()}))
    if isinstance(template, dict):
        return {key: render_body(value, arguments) for key, value in template.items()}
    if isinstance(template, list):
        return [render_body(value, arguments) for value in template]
    return template


def sealed_tool(settings: Settings, tool: HttpTool) -> StoredHttpTool:
    """``tool`` as it is stored: a plain secret sealed with the deployment's key (its hint taken now, from the
    plain text). Raises :class:`SealingKeyError` only for a tool with a plain secret and no usable key."""
    if not tool.auth.secret:
        return StoredHttpTool.model_validate(tool.model_dump())
    auth = StoredToolAuth(
        **tool.auth.model_dump(include={"kind", "header", "connection"}),
        sealed_secret=seal(sealing_cipher(settings), tool.auth.secret),
        secret_hint=secret_hint(tool.auth.secret),
    )
    return StoredHttpTool.model_validate({**tool.model_dump(exclude={"auth"}), "auth": auth.model_dump()})


def opened_tool(settings: Settings, tool: HttpTool) -> HttpTool:
    """``tool`` with its secret in the clear, for the request about to be sent; a tool without a sealed secret
    (none, or a legacy plain one) as it is. Raises :class:`SealingKeyError` when the keys do not open it."""
    auth = tool.auth
    if not isinstance(auth, StoredToolAuth) or not auth.sealed_secret:
        return tool
    plain = unseal(sealing_cipher(settings), auth.sealed_secret)
    return tool.model_copy(update={"auth": ToolAuth(kind=auth.kind, header=auth.header, secret=plain)})


def auth_headers(auth: ToolAuth, access_token: str | None = None) -> dict[str, str]:
    """The one place a tool's credentials become headers; an oauth auth sends its connection's ``access_token``."""
    match auth.kind:
        case AuthKind.API_KEY:
            return {auth.header: auth.secret}
        case AuthKind.BEARER:
            return {"Authorization": f"Bearer {auth.secret}"}
        case AuthKind.OAUTH:
            return {"Authorization": f"Bearer {access_token}"} if access_token else {}
        case AuthKind.NONE:
            return {}


def map_response(text: str, fields: list[str], max_chars: int) -> str:
    """The fields of a JSON answer the tool hands back (all of it when none are named), capped at ``max_chars``."""
    try:
        answer = json.loads(text) if text else None
    except json.JSONDecodeError:
        return _cap(text, max_chars)
    if fields:
        answer = {path: _at(answer, path) for path in fields}
    return _cap(json.dumps(answer, ensure_ascii=False, separators=(",", ":")), max_chars)


def _at(value: Any, path: str) -> Any:
    """``value`` at a dotted path (list items by index); None where the path leads nowhere."""
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _cap(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - len(TRUNCATED)] + TRUNCATED


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _failed(tool: HttpTool, status: InvocationStatus, error: str, started: float, **facts: Any) -> ToolResult:
    return ToolResult(
        status=status,
        reply=failure_sentence(tool.name),
        error=error,
        latency_ms=_elapsed_ms(started),
        **facts,
    )


def _described(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".rstrip(": ")


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


async def _read_capped(response: httpx.Response) -> str:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= MAX_READ_BYTES:
            break
    return data[:MAX_READ_BYTES].decode("utf-8", errors="replace")


async def call_http_tool(
    tool: HttpTool,
    arguments: dict[str, Any],
    *,
    idempotency_key: str,
    allow_private: bool,
    access_token: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> ToolResult:
    """Run ``tool`` once with the model's ``arguments``; every failure is a result whose reply the agent can say.

    Redirects are not followed (a redirect could lead past the SSRF guard); the host is resolved and checked
    before every request, since what a name resolves to can change. The idempotency key goes in the
    ``Idempotency-Key`` header, the same on every retry of one invocation.
    """
    started = time.monotonic()
    refusal = tool.refusal_of(arguments)
    if refusal is not None:
        return _failed(tool, InvocationStatus.REFUSED, f"the arguments do not fit the parameters: {refusal}", started)
    url = render_url(tool, arguments)
    try:
        await check_url(url, allow_private=allow_private, allowed_by=ALLOWED_BY)
    except UnsafeWebhookUrlError as err:
        return _failed(tool, InvocationStatus.REFUSED, str(err), started)
    headers = {**tool.headers, **auth_headers(tool.auth, access_token), IDEMPOTENCY_HEADER: idempotency_key}
    body = None
    if tool.method in BODY_METHODS:
        body = arguments if tool.body is None else render_body(tool.body, arguments)
    client = http or httpx.AsyncClient()
    try:
        async with client.stream(
            tool.method.value, url, headers=headers, json=body, timeout=tool.timeout_seconds, follow_redirects=False
        ) as response:
            text = await _read_capped(response)
    except httpx.TransportError as err:
        return _failed(tool, InvocationStatus.UNREACHABLE, _described(err), started)
    except httpx.InvalidURL as err:
        return _failed(tool, InvocationStatus.REFUSED, _described(err), started)
    except httpx.HTTPError as err:  # sent, and its answer unreadable: never sent again
        return _failed(tool, InvocationStatus.HTTP_ERROR, _described(err), started)
    finally:
        if http is None:
            await client.aclose()
    recorded = _cap(text, RECORDED_RESPONSE_CHARS)
    if response.status_code >= 300:
        return _failed(
            tool,
            InvocationStatus.HTTP_ERROR,
            f"the service answered {response.status_code}",
            started,
            http_status=response.status_code,
            response=recorded,
        )
    return ToolResult(
        status=InvocationStatus.OK,
        reply=map_response(text, tool.response_fields, tool.max_response_chars),
        http_status=response.status_code,
        latency_ms=_elapsed_ms(started),
        response=recorded,
    )


async def call_tool_on_behalf(
    session: AsyncSession,
    settings: Settings,
    org_id: str,
    tool: HttpTool,
    arguments: dict[str, Any],
    *,
    idempotency_key: str,
    http: httpx.AsyncClient | None = None,
) -> ToolResult:
    """:func:`call_http_tool` for an organization: a sealed secret is unsealed just before the request, and an
    oauth tool's connection gives its token first (refreshed when about to expire). A secret the deployment's
    keys do not open, or a connection that cannot give a token, is a refused invocation saying why."""
    try:
        tool = opened_tool(settings, tool)
    except SealingKeyError as err:
        error = f"the tool's secret cannot be unsealed: {err}"
        return ToolResult(status=InvocationStatus.REFUSED, reply=failure_sentence(tool.name), error=error)
    access_token = None
    if tool.auth.kind == AuthKind.OAUTH:
        try:
            access_token = await oauth.access_token(session, settings, org_id, tool.auth.connection)
        except (oauth.ConnectionUnavailableError, SealingKeyError) as err:
            return ToolResult(
                status=InvocationStatus.REFUSED, reply=f"{failure_sentence(tool.name)} {err}", error=str(err)
            )
    return await call_http_tool(
        tool,
        arguments,
        idempotency_key=idempotency_key,
        allow_private=settings.tool_allow_private_urls,
        access_token=access_token,
        http=http,
    )
