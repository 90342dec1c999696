"""API bodies of members, API keys and the audit log."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RoleName = Literal["owner", "admin", "operator", "viewer"]
KeyScope = Literal["read", "full"]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, description="Unique across organizations; what the member logs in with")
    password: str = Field(min_length=12, max_length=1024, description="Stored as an argon2id hash only")
    role: RoleName


class MemberRoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName


class MemberOut(BaseModel):
    email: str
    role: RoleName
    created_at: datetime


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=200, description="What the key is for, shown in lists and the audit log")
    scope: KeyScope = Field(default="full", description="read: GET only; full: what an admin may do")


class ApiKeyOut(BaseModel):
    prefix: str = Field(description="The key's first characters: enough to tell keys apart, too few to use one")
    label: str
    scope: KeyScope
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself, shown this once")


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str = Field(description="A member's email, an API key's prefix and label, or 'cli'")
    action: str = Field(description="campaign.pause, agent.update, dnc.add, member.add, key.create, ...")
    target: str
    details: dict[str, Any]


class AuditList(BaseModel):
    items: list[AuditEventOut]
    total: int
    limit: int
    offset: int
