"""Who may use an organization: its members and its API keys. The REST API (``/v1/members``,
``/v1/keys``) and the CLI (``ringflow org member``, ``org key``, ``org revoke``) go through here, so every
change is in the audit log whoever made it."""

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from schemas.access import ApiKeyCreated, ApiKeyOut, MemberOut
from store import members, orgs
from store.models import ApiKeyRow, MemberRow


class AccessError(ValueError):
    """A change to members or keys that cannot be made; the message says why."""


class AccessNotFoundError(LookupError):
    """No such member or key in the organization."""


def member_view(row: MemberRow) -> MemberOut:
    return MemberOut(email=row.email, role=row.role, created_at=row.created_at)


def key_view(row: ApiKeyRow) -> ApiKeyOut:
    return ApiKeyOut(
        prefix=row.prefix, label=row.label, scope=row.scope, created_at=row.created_at, revoked_at=row.revoked_at
    )


async def add_member(
    session: AsyncSession, *, org_id: str, email: str, password: str, role: str, actor: str
) -> MemberOut:
    try:
        row = await members.add_member(session, org_id, email, password, role)
    except members.MemberError as err:
        raise AccessError(str(err)) from None
    await audit.record(
        session, org_id=org_id, actor=actor, action="member.add", target=row.email, details={"role": role}
    )
    await session.commit()
    return member_view(row)


async def list_members(session: AsyncSession, *, org_id: str) -> list[MemberOut]:
    return [member_view(row) for row in await members.list_members(session, org_id)]


async def _member(session: AsyncSession, org_id: str, email: str) -> MemberRow:
    row = await members.get_member(session, org_id, email)
    if row is None:
        raise AccessNotFoundError(f"no member {email!r} in this organization")
    return row


async def set_role(session: AsyncSession, *, org_id: str, email: str, role: str, actor: str) -> MemberOut:
    row = await _member(session, org_id, email)
    before = row.role
    try:
        await members.set_role(session, row, role)
    except members.MemberError as err:
        raise AccessError(str(err)) from None
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="member.role",
        target=row.email,
        details={"from": before, "to": role},
    )
    await session.commit()
    return member_view(row)


async def remove_member(session: AsyncSession, *, org_id: str, email: str, actor: str) -> None:
    """Remove the member; every session of theirs ends with it."""
    row = await _member(session, org_id, email)
    target = row.email
    try:
        await members.remove_member(session, row)
    except members.MemberError as err:
        raise AccessError(str(err)) from None
    await audit.record(session, org_id=org_id, actor=actor, action="member.remove", target=target)
    await session.commit()


async def create_key(session: AsyncSession, *, org_id: str, label: str, scope: str, actor: str) -> ApiKeyCreated:
    try:
        raw_key = await orgs.create_api_key(session, org_id, label, scope)
    except ValueError as err:
        raise AccessError(str(err)) from None
    found = await orgs.live_api_key(session, raw_key)
    assert found is not None
    row = found[1]
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="key.create",
        target=row.prefix,
        details={"label": label, "scope": scope},
    )
    await session.commit()
    return ApiKeyCreated(**key_view(row).model_dump(), key=raw_key)


async def list_keys(session: AsyncSession, *, org_id: str) -> list[ApiKeyOut]:
    return [key_view(row) for row in await orgs.list_api_keys(session, org_id)]


async def revoke_key(session: AsyncSession, *, org_id: str, prefix: str, actor: str) -> None:
    try:
        revoked = await orgs.revoke_api_key(session, org_id, prefix)
    except ValueError as err:
        raise AccessError(str(err)) from None
    if not revoked:
        raise AccessNotFoundError(f"no live key starting with {prefix[: orgs.SHOWN_PREFIX_LENGTH]!r}")
    await audit.record(
        session, org_id=org_id, actor=actor, action="key.revoke", target=prefix[: orgs.SHOWN_PREFIX_LENGTH]
    )
    await session.commit()
