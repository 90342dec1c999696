"""Departments (sales, support, billing...): where an inbound agent routes a caller, by what the caller needs.

A department has business hours in its own time zone, a transfer target (a number or a SIP URI) and a
fallback for when it is closed or nobody answers within its ring timeout: a callback booked at its next
opening, or a message taken on the call. The decision is the call's workflow's (``workflows/departments.py``);
every route is recorded on the call (``call_routes``).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from schemas.campaign import CallingWindow
from schemas.contact import normalize_phone, split_extension, validate_timezone

LOAD_DEPARTMENTS_ACTIVITY = "load_departments"
RECORD_CALL_ROUTE_ACTIVITY = "record_call_route"
DEFAULT_RING_TIMEOUT_SECONDS = 30
DEPARTMENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class DepartmentFallback(StrEnum):
    CALLBACK = "callback"
    MESSAGE = "message"


class Department(BaseModel):
    name: str = Field(pattern=DEPARTMENT_NAME_PATTERN, description="Lower case, e.g. ``sales``")
    description: str = Field(
        min_length=1, max_length=500, description="What callers need this department for: the model routes by it"
    )
    timezone: str = Field(description="IANA zone its hours are in")
    hours: list[CallingWindow] = Field(min_length=1, max_length=14, description="Weekly open hours, local time")
    transfer_target: str = Field(description="E.164 number or a ``sip:`` URI the caller is transferred to")
    ring_timeout_seconds: int = Field(default=DEFAULT_RING_TIMEOUT_SECONDS, ge=5, le=120)
    fallback: DepartmentFallback = DepartmentFallback.CALLBACK

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("transfer_target")
    @classmethod
    def _target(cls, value: str) -> str:
        """A ``sip:`` URI as given (it needs a user and a host), else a number in its E.164 form, with no
        extension: a transfer is a SIP REFER, and nothing could key an extension in after it answers."""
        value = value.strip()
        if value.lower().startswith("sip:"):
            user, at, host = value[4:].partition("@")
            if not user or not at or not host or any(ch.isspace() for ch in value):
                raise ValueError(f"{value!r} is not a SIP URI: give sip:user@host")
            return "sip:" + value[4:]
        if split_extension(value)[1] is not None:
            raise ValueError("a transfer number cannot have an extension: give a direct line")
        return normalize_phone(value)


class RouteAction(StrEnum):
    TRANSFER = "transfer"
    CALLBACK = "callback"
    MESSAGE = "message"


class RouteRequest(BaseModel):
    """The agent's ``route_to_department`` tool call."""

    department: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=500, description="What the caller needs, in a few words")


class RouteAnswer(BaseModel):
    """What the workflow decided: transfer now (the voice worker rings ``target`` for ``ring_timeout_seconds``
    and reports the result), or the fallback already applied. ``say`` is the sentence for the caller."""

    route_id: str
    department: str
    action: RouteAction
    say: str
    target: str | None = None
    ring_timeout_seconds: int | None = None
    callback_at: datetime | None = None


class TransferResult(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class TransferReport(BaseModel):
    """The voice worker's report of a department transfer it performed."""

    route_id: str = Field(min_length=1, max_length=255)
    result: TransferResult
    sip_status_code: int | None = None
    detail: str = Field(default="", max_length=500)


class LoadDepartments(BaseModel):
    org_id: str
    names: list[str]


def route_tool_schema(departments: list[Department]) -> dict[str, Any]:
    """The ``route_to_department`` tool as the model sees it: each department and what callers need it for."""
    listed = "\n".join(f"- {d.name}: {d.description}" for d in departments)
    return {
        "name": "route_to_department",
        "description": (
            "Route the caller to the department that handles what they need: you are told whether they are being "
            "transferred, or, when the department is closed or busy, what happens instead; tell the caller.\n" + listed
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "department": {
                    "type": "string",
                    "enum": [d.name for d in departments],
                    "description": "One of the departments listed above.",
                },
                "reason": {"type": "string", "description": "What the caller needs, in a few words."},
            },
            "required": ["department", "reason"],
            "additionalProperties": False,
        },
    }


class CallRouteRecord(BaseModel):
    """One step of a route on a call (the decision, then the transfer's result); keyed, so a retry is a no-op."""

    idempotency_key: str
    route_id: str
    org_id: str
    campaign_id: str
    external_id: str
    attempt: int
    department: str
    reason: str = ""
    action: RouteAction
    status: str = Field(description="transferring, transferred, no_answer, failed, callback_booked, message_taken")
    was_open: bool
    target: str | None = None
    callback_at: datetime | None = None
    detail: str = ""


class CallRouteOut(BaseModel):
    route_id: str
    department: str
    reason: str
    action: RouteAction
    status: str
    was_open: bool
    target: str | None
    callback_at: datetime | None
    detail: str
    created_at: datetime
