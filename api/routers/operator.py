"""The operators' door to the codec server: a Bearer token for tools, a login page for the Web UI.

The codec server decrypts every organization's payloads (one namespace, one set of codec keys), so it
answers operators only (``infra/operator.py``). An organization API key, valid as it is on ``/v1``,
gets a 403 here. The Web UI cannot send a header of ours, but it can send cookies ("Include
cross-origin credentials"): an operator logs in at ``/operator/login`` with the token once, and the
browser then carries a signed, expiring cookie that holds no secret.
"""

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import AppContext, Context, set_login_cookie
from api.proxies import client_address
from api.ratelimit import Limits
from api.routers.dashboard import templates
from infra.operator import (
    OPERATOR_COOKIE,
    OPERATOR_LOGIN_SECONDS,
    is_operator_token,
    is_valid_operator_cookie,
    operator_cookie,
    operator_token,
)

router = APIRouter(prefix="/operator", include_in_schema=False)


def require_operator(request: Request, ctx: Context) -> None:
    """401 without a credential, 403 with one that is not the operators' (an organization key included)."""
    token = operator_token(ctx.settings)
    if token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the codec server is off: no operator token is configured (set RINGFLOW_OPERATOR_TOKEN)",
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip() if scheme.lower() == "bearer" else ""
    cookie = request.cookies.get(OPERATOR_COOKIE, "")
    if presented and is_operator_token(token, presented):
        return
    if cookie and is_valid_operator_cookie(token, cookie):
        return
    if presented or request.headers.get("x-api-key") or cookie:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the codec server decrypts every organization's payloads: it takes the operator token, "
            "not an organization's API key",
        )
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "the operator token is required: 'Authorization: Bearer <RINGFLOW_OPERATOR_TOKEN>', "
        "or log in at /operator/login",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _page(request: Request, ctx: AppContext, *, error: str | None = None, signed_in: bool = False) -> Response:
    return templates.TemplateResponse(
        request,
        "operator_login.html",
        {
            "org": None,
            "temporal_ui_url": ctx.settings.temporal_ui_url.rstrip("/"),
            "error": error,
            "signed_in": signed_in,
        },
        status_code=status.HTTP_401_UNAUTHORIZED if error else status.HTTP_200_OK,
    )


@router.get("/login", response_class=HTMLResponse)
async def operator_login_form(request: Request, ctx: Context) -> Response:
    token = operator_token(ctx.settings)
    cookie = request.cookies.get(OPERATOR_COOKIE, "")
    return _page(request, ctx, signed_in=bool(token and cookie and is_valid_operator_cookie(token, cookie)))


# The one account behind the operator login, for the limiter's lockout against guessing the token.
OPERATOR_ACCOUNT = "operator"


@router.post("/login", response_class=HTMLResponse)
async def operator_login(
    request: Request, ctx: Context, limits: Limits, token: Annotated[str, Form()] = ""
) -> Response:
    await limits.check_login(client_address(request, limits.trusted_proxies), OPERATOR_ACCOUNT)
    expected = operator_token(ctx.settings)
    if expected is None or not token.strip() or not is_operator_token(expected, token.strip()):
        await limits.login_failed(OPERATOR_ACCOUNT)
        return _page(request, ctx, error="That is not the operator token.")
    await limits.login_succeeded(OPERATOR_ACCOUNT)
    response = RedirectResponse("/operator/login", status_code=status.HTTP_303_SEE_OTHER)
    set_login_cookie(
        response, request, ctx.settings, OPERATOR_COOKIE, operator_cookie(expected), OPERATOR_LOGIN_SECONDS
    )
    return response


@router.post("/logout")
async def operator_logout() -> RedirectResponse:
    response = RedirectResponse("/operator/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(OPERATOR_COOKIE, path="/", httponly=True, samesite="strict")
    return response
