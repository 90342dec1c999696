"""User-defined HTTP tools: the definition an organization stores, what the model sees of it, and the IO of
one invocation (the workflow's update, the activity, the record on the call). docs/tools.md.

A tool is validated whole when it is saved: a name the model can call, parameters that are a JSON schema
object, URL and body placeholders that name declared parameters only, a method, a timeout and a response
mapping. What a call needs at run time is then only the arguments the model gives.
"""

import re
import string
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

import jsonschema_rs
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.agent import AgentTool

TOOL_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
BUILT_IN_TOOL_NAMES = frozenset({*AgentTool, "mark_do_not_call"})
"""Names the agent's own tools use: an HTTP tool may not shadow one."""

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_TIMEOUT_SECONDS = 30.0
DEFAULT_RESPONSE_CHARS = 2000
MAX_RESPONSE_CHARS = 8000
RECORDED_RESPONSE_CHARS = 2000
"""How much of a response an invocation's record keeps."""
TOOL_ATTEMPTS = 3
"""Tries of one invocation: only an idempotent method's network error is tried again."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
INVOKE_HTTP_TOOL_ACTIVITY = "invoke_http_tool"
LOAD_HTTP_TOOLS_ACTIVITY = "load_http_tools"
RECORD_TOOL_INVOCATION_ACTIVITY = "record_tool_invocation"
TOOL_NETWORK_ERROR = "ToolNetworkError"
"""Error type of an invocation that never got an answer: retryable, for an idempotent method only."""


def failure_sentence(name: str) -> str:
    """What the agent can say when a tool fails, whatever the reason."""
    return f"I couldn't reach the {name.replace('_', ' ')} system just now."


class HttpMethod(StrEnum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


IDEMPOTENT_METHODS = frozenset({HttpMethod.GET, HttpMethod.HEAD, HttpMethod.PUT, HttpMethod.DELETE})


class AuthKind(StrEnum):
    """How a request proves who sends it; ``infra/http_tools.auth_headers`` is the one place credentials become
    headers."""

    NONE = "none"
    API_KEY = "api_key"
    BEARER = "bearer"
    OAUTH = "oauth"  # the access token of the organization's OAuth connection named ``connection``


class ToolAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AuthKind = AuthKind.NONE
    header: str = Field(
        default="X-API-Key", max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="api_key: the header it goes in"
    )
    secret: str = Field(
        default="",
        max_length=4096,
        description="The API key or bearer token. Write-only: never returned; on an update, empty keeps the stored one",
    )
    connection: str = Field(
        default="", max_length=64, description="oauth: the OAuth connection (/v1/connections) whose token is sent"
    )

    @model_validator(mode="after")
    def _no_secret_without_auth(self) -> Self:
        if self.kind in (AuthKind.NONE, AuthKind.OAUTH) and self.secret:
            raise ValueError("secret: only an api_key or bearer auth has a secret")
        if (self.kind == AuthKind.OAUTH) != bool(self.connection):
            raise ValueError("connection: an oauth auth names its connection, and only an oauth auth has one")
        return self


SECRET_HINT_CHARS = 4


def secret_hint(secret: str) -> str:
    """What the API shows of a secret: its last characters (…abcd) when it is long enough to spare them."""
    return "…" + secret[-SECRET_HINT_CHARS:] if len(secret) > 2 * SECRET_HINT_CHARS else ("…" if secret else "")


class StoredToolAuth(ToolAuth):
    """An auth as stored: the secret sealed (``infra/sealing.py``) with its hint taken from the plain secret when
    it was saved. A row saved before secrets were sealed keeps its plain ``secret``, used as it is until the tool
    is saved again."""

    sealed_secret: str = Field(default="", description="The secret sealed with the deployment's sealing key")
    secret_hint: str = Field(default="", description="The plain secret's last characters, kept when it was sealed")

    @property
    def has_secret(self) -> bool:
        return bool(self.sealed_secret or self.secret)

    @property
    def hint(self) -> str:
        return self.secret_hint if self.sealed_secret else secret_hint(self.secret)


class ToolAuthOut(BaseModel):
    kind: AuthKind
    header: str
    connection: str = ""
    secret_hint: str = Field(description="The secret's last characters (…abcd); empty when there is none")


def placeholders(template: str) -> list[str]:
    """The ``{name}`` placeholders of a template; ``{{`` and ``}}`` are literal braces."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def body_placeholders(body: Any) -> list[str]:
    if isinstance(body, str):
        return placeholders(body)
    if isinstance(body, dict):
        return [name for value in body.values() for name in body_placeholders(value)]
    if isinstance(body, list):
        return [name for value in body for name in body_placeholders(value)]
    return []


class HttpToolSpec(BaseModel):
    """What the model sees of a tool: its name, its description and its parameters."""

    name: str = Field(pattern=TOOL_NAME_PATTERN, description="How the model calls it: letters, digits, underscores")
    description: str = Field(min_length=1, max_length=1024, description="What it does and when to use it")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description='A JSON schema of type "object": the arguments the model gives',
    )

    @field_validator("name")
    @classmethod
    def _not_built_in(cls, name: str) -> str:
        if name in BUILT_IN_TOOL_NAMES:
            raise ValueError(f"{name!r} is a built-in tool's name: choose another")
        return name

    @field_validator("parameters")
    @classmethod
    def _json_schema_object(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema_rs.meta.validate(parameters)
        except jsonschema_rs.ValidationError as err:
            raise ValueError(f"not a valid JSON schema: {str(err).splitlines()[0]}") from None
        if parameters.get("type") != "object" or not isinstance(parameters.get("properties", {}), dict):
            raise ValueError('must be a JSON schema of "type": "object" with "properties"')
        missing = set(parameters.get("required", [])) - set(parameters.get("properties", {}))
        if missing:
            raise ValueError(f"required names undeclared properties: {', '.join(sorted(missing))}")
        return parameters

    def openai_schema(self) -> dict[str, Any]:
        """The raw function schema LiveKit's ``function_tool(raw_schema=...)`` takes."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def refusal_of(self, arguments: dict[str, Any]) -> str | None:
        """Why ``arguments`` do not fit the parameters, in one line; None when they do."""
        errors = [error.message for error in jsonschema_rs.validator_for(self.parameters).iter_errors(arguments)]
        return "; ".join(errors) or None


class HttpTool(HttpToolSpec):
    """An HTTP tool as it is created (``POST /v1/tools``) and stored."""

    model_config = ConfigDict(extra="forbid")

    method: HttpMethod = HttpMethod.GET
    url: str = Field(
        max_length=2048,
        description="http(s) URL template: {name} placeholders take parameters, URL-encoded",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Sent as given (no placeholders)")
    body: Any = Field(
        default=None,
        description="JSON body template: a string that is exactly {name} becomes the argument itself, other "
        "strings have their placeholders filled in. None: a POST, PUT or PATCH sends the arguments as the body",
    )
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS)
    auth: ToolAuth = Field(default_factory=ToolAuth)
    response_fields: list[str] = Field(
        default_factory=list,
        description='Dotted paths into the JSON answer handed back to the model ("slots", "data.items.0.name"); '
        "empty: the whole answer",
    )
    max_response_chars: int = Field(default=DEFAULT_RESPONSE_CHARS, ge=100, le=MAX_RESPONSE_CHARS)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/{}\s]+", url):
            raise ValueError("must be an http:// or https:// URL whose host is not a placeholder")
        return url

    @field_validator("headers")
    @classmethod
    def _header_names(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", name):
                raise ValueError(f"{name!r} is not a header name")
            if name.lower() in {"host", "content-length", IDEMPOTENCY_HEADER.lower()}:
                raise ValueError(f"{name} is set by Ringflow")
        return headers

    @field_validator("response_fields")
    @classmethod
    def _dotted_paths(cls, fields: list[str]) -> list[str]:
        for path in fields:
            if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", path):
                raise ValueError(f"{path!r} is not a dotted path (like data.items.0.name)")
        return fields

    @model_validator(mode="after")
    def _placeholders_are_parameters(self) -> Self:
        declared = set(self.parameters.get("properties", {}))
        for where, names in (("url", placeholders(self.url)), ("body", body_placeholders(self.body))):
            unknown = sorted({name for name in names if name not in declared})
            if unknown:
                raise ValueError(f"{where}: placeholders name undeclared parameters: {', '.join(unknown)}")
        return self

    @property
    def spec(self) -> HttpToolSpec:
        return HttpToolSpec(name=self.name, description=self.description, parameters=self.parameters)


class StoredHttpTool(HttpTool):
    """An HTTP tool as ``http_tools.definition`` holds it: its secret sealed (``infra/http_tools.sealed_tool``)."""

    auth: StoredToolAuth = Field(default_factory=StoredToolAuth)


class HttpToolOut(BaseModel):
    """A stored tool as the API shows it: everything but the secret, which is a hint."""

    name: str
    description: str
    parameters: dict[str, Any]
    method: HttpMethod
    url: str
    headers: dict[str, str]
    body: Any
    timeout_seconds: float
    auth: ToolAuthOut
    response_fields: list[str]
    max_response_chars: int
    created_at: datetime
    updated_at: datetime


class ToolTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any] = Field(default_factory=dict, description="Sample arguments, as the model would give")


class InvocationStatus(StrEnum):
    OK = "ok"
    HTTP_ERROR = "http_error"  # the service answered, with a status of 400 or more
    UNREACHABLE = "unreachable"  # no answer: refused connection, timeout, DNS
    REFUSED = "refused"  # never sent: bad arguments, an unknown or disabled tool, a private address


class ToolResult(BaseModel):
    """One invocation's result: what the model is told, and what the call's record keeps."""

    status: InvocationStatus
    reply: str = Field(description="What the model is handed: the mapped answer, or a sentence it can say")
    http_status: int | None = None
    latency_ms: int = 0
    response: str = Field(default="", description="The answer's start, truncated")
    error: str = ""


class ToolCall(BaseModel):
    """The agent's update on its call's workflow: run ``name`` with the model's ``arguments``."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class InvokeHttpTool(BaseModel):
    """The activity's input: the tool is read from the store by name, so secrets never enter a workflow."""

    org_id: str
    name: str
    arguments: dict[str, Any]
    idempotency_key: str


class LoadHttpTools(BaseModel):
    org_id: str
    names: list[str]


class ToolInvocationRecord(BaseModel):
    """One invocation on a call, keyed like the call's other records; its key makes a retried write a no-op."""

    idempotency_key: str
    org_id: str
    campaign_id: str
    external_id: str
    attempt: int
    tool: str
    arguments: dict[str, Any]
    result: ToolResult


class ToolInvocationOut(BaseModel):
    tool: str
    attempt: int
    arguments: dict[str, Any]
    status: InvocationStatus
    http_status: int | None
    latency_ms: int
    response: str
    error: str
    created_at: datetime
