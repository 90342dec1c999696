"""What the ``/v1`` routers share: paging, errors, call ids, and the campaign view built from store + workflow."""

import asyncio
import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Security, UploadFile, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AppContext, app_context, current_org
from api.ratelimit import limit_api_key
from api.services import campaigns, people
from infra.web_ui import workflow_ui_url
from schemas.api import CAMPAIGN_DRAFT, MAX_PAGE_SIZE, CampaignOut, ErrorBody, ImportReport, Stats
from schemas.calls import OUTBOUND_CALL_PREFIX, inbound_call_id, outbound_call_id
from schemas.contact import normalize_phone
from schemas.settings import Settings
from schemas.workflow_io import CampaignProgress, campaign_workflow_id
from store import reports
from store.models import CampaignRow, as_utc

Context = Annotated[AppContext, Depends(app_context)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip")]
MAX_CURSOR_LENGTH = 2048  # a call's key (timestamp, two ids of <= 128 characters, attempt, direction), base64: far less
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="The previous page's next_cursor: continues the list after its last item without counting "
        "or skipping rows, so it stays fast on large lists (offset costs more the further it goes). Opaque; "
        "offset must be 0 with it",
    ),
]

NUL = "\x00"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""A do-not-call list upload, read whole; contact lists stream and are bounded by ``max_upload_mb``."""
BIG_BODY_BYTES = 256 * 1024
LIVE_PROGRESS_TIMEOUT_SECONDS = 3.0
MAX_JSON_DEPTH = 64
REF_TEMPLATE = "#/components/schemas/{model}"
MAX_CALL_ID_LENGTH = 1024  # ids are campaign id + external id (<= 128) + attempt, base64: far less

View = TypeVar("View", bound=BaseModel)


def row_view(model: type[View], row: object, **computed: Any) -> View:
    """``model`` filled from a store row (or record) whose attributes carry its fields under the same
    names; ``computed`` gives the fields the row has no attribute for (ids, links, joined values)."""
    copied = {name: getattr(row, name) for name in model.model_fields if name not in computed}
    return model.model_validate({**copied, **computed})


async def read_csv_upload(upload: UploadFile) -> str:
    """An uploaded CSV's text: 413 past the size limit, 422 for anything that is not UTF-8 text."""
    raw = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"file: larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        invalid("file: not UTF-8 text; save the sheet as 'CSV UTF-8'")
    if NUL in text:
        invalid("file: contains NUL characters; is it really a CSV file?")
    return text


async def call_stats(
    ctx: AppContext, session: AsyncSession, org_id: str, *, campaign_id: str | None = None, agent: str | None = None
) -> Stats:
    """A campaign's or an agent's statistics, priced with the configured estimates."""
    return await reports.call_stats(
        session,
        org_id,
        campaign_id=campaign_id,
        agent_name=agent,
        cost_per_minute=ctx.settings.cost_per_minute_usd,
        cost_per_dial=ctx.settings.cost_per_dial_usd,
    )


async def reject_unstorable_input(request: Request) -> None:
    """A NUL character (in the path, the query or a JSON body) or a JSON NaN/Infinity is refused with a
    422: Postgres stores neither (in text, in JSONB), so letting them through would only fail as a 500.
    A body over ``max_upload_mb`` is a 413. A big JSON body is checked in a thread: walking a
    200,000-contact list takes about a second the event loop must not spend."""
    query = request.query_params.multi_items()
    if NUL in request.url.path or any(NUL in key or NUL in value for key, value in query):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the request contains a NUL character")
    limit_mb = app_context(request).settings.max_upload_mb
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_mb * 2**20:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"the request body is larger than {limit_mb} MiB")
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if len(body) > limit_mb * 2**20:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"the request body is larger than {limit_mb} MiB")
    try:
        if len(body) > BIG_BODY_BYTES:
            has_nul = await asyncio.to_thread(_json_has_nul, body)
        else:
            has_nul = _json_has_nul(body)
    except _UnstorableNumberError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None
    except RecursionError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the request body is nested too deeply") from None
    except ValueError:
        return  # not JSON at all: the body's own validation says so
    if has_nul:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the request body contains a NUL character")


def _json_has_nul(body: bytes) -> bool:
    return _has_nul(json.loads(body, parse_constant=_refuse_constant))


class _UnstorableNumberError(ValueError):
    """NaN or an infinity in a JSON body: Python's parser accepts them, the database cannot store them."""


def _refuse_constant(name: str) -> None:
    raise _UnstorableNumberError(f"the request body contains {name}, which JSON does not allow")


def _has_nul(value: Any, depth: int = 0) -> bool:
    """Whether a NUL hides in any string of the document; RecursionError past MAX_JSON_DEPTH levels, which
    no request needs and which would overflow the stack of whatever serialises it later."""
    if depth > MAX_JSON_DEPTH:
        raise RecursionError
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item, depth + 1) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item, depth + 1) for item in value)
    return False


# Declared for the OpenAPI schema (the "Authorize" button of /docs); current_org (through
# api.deps.current_principal) does the checking.
BEARER_KEY = HTTPBearer(auto_error=False, description="An organization's API key: `ringflow org create NAME`")
HEADER_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, in a header of its own")

V1_DEPENDENCIES = [
    Depends(limit_api_key),
    Depends(reject_unstorable_input),
    Security(BEARER_KEY),
    Security(HEADER_KEY),
    Depends(current_org),
]
"""Every ``/v1`` route: within its key's rate limit (429 before the key is looked up), clean input, a valid
API key or session (401 before anything else is looked at) whose role or scope allows the request (403,
api/auth.py)."""

RATE_LIMITED: dict[str, Any] = {
    "model": ErrorBody,
    "description": "Too many requests in the window (per key; without a valid key, per address)",
    "headers": {
        "Retry-After": {"description": "Seconds until a request is allowed again", "schema": {"type": "integer"}}
    },
}
V1_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key, or one that is not valid"},
    403: {
        "model": ErrorBody,
        "description": "The role or key scope does not allow this, or a session's write lacks its CSRF token",
    },
    413: {"model": ErrorBody, "description": "A request body over `max_upload_mb`"},
    422: {"model": ErrorBody, "description": "Invalid input; `detail` names the field (`body.name: ...`)"},
    429: RATE_LIMITED,
}
"""What any ``/v1`` route may answer, whatever it does: its dependencies above raise each of these."""


def json_errors(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """``responses`` for a route whose success is a stream: FastAPI files a response model under the route's own
    media type (``text/event-stream``), but the errors before a stream starts are JSON all the same."""
    return {
        code: {key: value for key, value in spec.items() if key != "model"}
        | {"content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=spec["model"].__name__)}}}}
        for code, spec in responses.items()
    }


UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A body that cannot be read: not UTF-8 JSON, or a broken multipart form"}
}


def document_unreadable_bodies(router: APIRouter) -> None:
    """FastAPI itself answers 400 to a body it cannot read, before any of our code runs; every route whose body
    FastAPI parses says so (a route that reads its body by hand answers 422 instead). Idempotent."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            route.responses = {**json_errors(UNREADABLE_BODY), **route.responses}


SERVICE_ERROR_STATUS: dict[type[campaigns.CampaignServiceError], int] = {
    campaigns.CampaignNotFoundError: status.HTTP_404_NOT_FOUND,
    campaigns.CampaignEndedError: status.HTTP_409_CONFLICT,
    campaigns.CampaignStateError: status.HTTP_409_CONFLICT,
    campaigns.InvalidCampaignInputError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    campaigns.NothingToImportError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    campaigns.ImportTooLargeError: status.HTTP_413_CONTENT_TOO_LARGE,
}


async def service_error(request: Request, exc: Exception) -> JSONResponse:
    """A refusal of the campaign service as the API answers it: the status its kind calls for, the
    service's own sentence as ``detail``, and the import report when no row was good."""
    assert isinstance(exc, campaigns.CampaignServiceError)
    code = next(code for kind, code in SERVICE_ERROR_STATUS.items() if isinstance(exc, kind))
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, campaigns.NothingToImportError):
        report = ImportReport(imported=0, rejected=exc.result.rejected, errors=exc.result.errors)
        body["import_report"] = report.model_dump(mode="json")
    return JSONResponse(body, status_code=code)


async def person_service_error(request: Request, exc: Exception) -> JSONResponse:
    """An erasure the person service refused (it would lose an opt-out): a 409 with its sentence."""
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


def install_service_errors(app: FastAPI) -> None:
    app.add_exception_handler(campaigns.CampaignServiceError, service_error)
    app.add_exception_handler(people.PersonServiceError, person_service_error)


def document_bodies(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Put the schemas of request bodies that routes parse by hand (in a thread) into the OpenAPI
    components, where those routes' ``openapi_extra`` refers to them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        _, defs = models_json_schema([(model, "validation") for model in models], ref_template=REF_TEMPLATE)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in defs.get("$defs", {}).items():
            components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def not_found(what: str) -> NoReturn:
    raise HTTPException(status.HTTP_404_NOT_FOUND, what)


def conflict(what: str) -> NoReturn:
    raise HTTPException(status.HTTP_409_CONFLICT, what)


@contextmanager
def workflow_conflicts(refused: str, ended: str) -> Iterator[None]:
    """A workflow update the workflow refused is a 409 that gives its reason after ``refused``; one sent to
    a workflow that has ended (Temporal's NOT_FOUND) is a 409 that says ``ended``."""
    try:
        yield
    except WorkflowUpdateFailedError as err:
        conflict(f"{refused}: {err.cause or err}")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        conflict(ended)


def invalid(what: str) -> NoReturn:
    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, what)


def e164(raw: str, field: str) -> str:
    """A phone number in E.164, or a 422 naming the field."""
    try:
        return normalize_phone(raw)
    except ValueError as err:
        invalid(f"{field}: {err}")


def utc(value: datetime | None, field: str) -> datetime | None:
    """A query's timestamp in UTC (naive means UTC); 422 when it has no UTC equivalent (year 1 at +01:00)."""
    if value is None:
        return None
    try:
        return as_utc(value)
    except OverflowError:
        invalid(f"{field}: {value.isoformat()} is out of range")


# ---- list cursors ---------------------------------------------------------------------------------

CURSOR_INVALID = "cursor: not a cursor of this list; pass back a next_cursor as it came"


def encode_cursor(key: Sequence[Any] | None) -> str | None:
    """A list's ``next_cursor``: its last item's sort key, JSON in base64url (None on the last page)."""
    if key is None:
        return None
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def _cursor_values(cursor: str, offset: int, size: int) -> list[Any]:
    if offset:
        invalid("offset: must be 0 with cursor, which already says where the page starts")
    try:
        values: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        invalid(CURSOR_INVALID)
    if not isinstance(values, list) or len(values) != size:
        invalid(CURSOR_INVALID)
    return values


def _cursor_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value))
        except (ValueError, OverflowError):
            pass
    invalid(CURSOR_INVALID)


def _cursor_int(value: Any, bound: int) -> int:
    if type(value) is not int or not 0 <= value < bound:
        invalid(CURSOR_INVALID)
    return value


def _cursor_text(value: Any) -> str:
    """A string the database can compare: bounded, no NUL, and encodable (a lone surrogate is not)."""
    if not isinstance(value, str) or len(value) > 128 or NUL in value:
        invalid(CURSOR_INVALID)
    try:
        value.encode()
    except UnicodeEncodeError:
        invalid(CURSOR_INVALID)
    return value


def contact_cursor(cursor: str | None, offset: int) -> reports.ContactKey | None:
    """The contact key a ``GET /v1/contacts`` cursor carries; 422 for anything else, or with an offset."""
    if cursor is None:
        return None
    updated_at, contact_id = _cursor_values(cursor, offset, 2)
    return _cursor_time(updated_at), _cursor_int(contact_id, 2**63)


def call_cursor(cursor: str | None, offset: int) -> reports.CallKey | None:
    """The call key a ``GET /v1/calls`` cursor carries; 422 for anything else, or with an offset."""
    if cursor is None:
        return None
    started_at, external_id, attempt, campaign_id, direction = _cursor_values(cursor, offset, 5)
    if direction not in (reports.OUTBOUND, reports.INBOUND):
        invalid(CURSOR_INVALID)
    return (
        _cursor_time(started_at),
        _cursor_text(external_id),
        _cursor_int(attempt, 2**31),
        _cursor_text(campaign_id),
        direction,
    )


# ---- call ids -------------------------------------------------------------------------------------


def call_id(direction: str, campaign_id: str, external_id: str, attempt: int) -> str:
    if direction == reports.INBOUND:
        return inbound_call_id(external_id)
    return outbound_call_id(campaign_id, external_id, attempt)


def parse_outbound_call_id(value: str) -> tuple[str, str, int] | None:
    """``(campaign_id, external_id, attempt)`` of an outbound call id, or None for anything else."""
    if not value.startswith(OUTBOUND_CALL_PREFIX):
        return None
    encoded = value.removeprefix(OUTBOUND_CALL_PREFIX)
    if len(encoded) > MAX_CALL_ID_LENGTH:
        return None
    try:
        parts: Any = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    if (
        isinstance(parts, list)
        and len(parts) == 3
        and isinstance(parts[0], str)
        and isinstance(parts[1], str)
        and type(parts[2]) is int
        and 0 < parts[2] < 2**31
    ):
        return parts[0], parts[1], parts[2]
    return None


# ---- campaigns ------------------------------------------------------------------------------------


async def release(session: AsyncSession) -> None:
    """End the session's transaction before waiting on Temporal. On SQLite every transaction holds the
    database's write lock (``BEGIN IMMEDIATE``), and the worker's activities need it to make the very
    progress the request may be waiting for."""
    await session.commit()


async def live_progress(client: Client, campaign_id: str) -> CampaignProgress | None:
    """The campaign workflow's own counters, or None when it cannot say (no workflow, failed, no worker
    to answer the query within a few seconds: the store's counts still answer the request)."""
    try:
        async with asyncio.timeout(LIVE_PROGRESS_TIMEOUT_SECONDS):
            return await campaigns.in_flight(client, campaign_id)
    except (campaigns.CampaignNotFoundError, RPCError, WorkflowFailureError, TimeoutError):
        return None


async def campaign_views(
    session: AsyncSession,
    settings: Settings,
    rows: list[CampaignRow],
    progress: dict[str, CampaignProgress | None] | None = None,
) -> list[CampaignOut]:
    """The campaigns as the API shows them: store counts for all (one query), live progress where given."""
    tallies = await reports.contact_tallies(session, [row.id for row in rows])
    tripped = await reports.tripping_calls(session, rows)
    views = []
    for row in rows:
        counts, outcomes = tallies[row.id].counts, tallies[row.id].outcomes
        live = (progress or {}).get(row.id)  # the workflow's word beats the store's, which lags a pause
        done = row.status == "completed" and counts.total == 0
        percent = 100.0 if done else (round(100 * counts.done / counts.total, 1) if counts.total else 0.0)
        views.append(
            CampaignOut(
                id=row.id,
                name=row.name,
                status=live.status.value if live is not None else row.status,
                agent_name=row.agent_name,
                settings=row.campaign_settings,
                created_at=row.created_at,
                updated_at=row.updated_at,
                contacts=counts,
                percent_complete=percent,
                pause_reason=live.pause_reason if live is not None else row.pause_reason,
                tripped_by=[f"/v1/calls/{call}" for call in tripped.get(row.id, [])],
                outcomes=outcomes,
                web_ui_url=None
                if row.status == CAMPAIGN_DRAFT
                else workflow_ui_url(settings, campaign_workflow_id(row.id)),
                progress=live,
            )
        )
    return views


async def campaign_view(ctx: AppContext, session: AsyncSession, row: CampaignRow, *, live: bool = True) -> CampaignOut:
    """One campaign; with ``live``, the workflow's progress too (absent for a draft)."""
    progress = None
    if live and row.status != CAMPAIGN_DRAFT:
        await release(session)
        progress = await live_progress(ctx.client, row.id)
    return (await campaign_views(session, ctx.settings, [row], {row.id: progress}))[0]
