"""Organizations and their API keys.

A key is ``rf_`` plus 43 URL-safe characters (256 random bits). Only its SHA-256 is stored, so a
leaked database does not leak working keys; the key itself is returned once, when it is made.
"""

import hashlib
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ApiKeyRow, OrganizationRow, utcnow

KEY_PREFIX = "rf_"
# What lists show of a key: enough to tell keys apart, far too little to use one.
SHOWN_PREFIX_LENGTH = 10
SCOPE_READ = "read"
SCOPE_FULL = "full"
KEY_SCOPES = (SCOPE_READ, SCOPE_FULL)


class OrganizationExistsError(ValueError):
    """An organization with this id already exists."""


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _org_id_from(name: str) -> str:
    """A readable id from the name (``Acme Health`` → ``acme-health``), with a random tail so two
    organizations with one name never collide."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "org"
    return f"{slug}-{secrets.token_hex(3)}"


async def create_org(session: AsyncSession, name: str, org_id: str | None = None) -> tuple[OrganizationRow, str]:
    """Create an organization with a first API key; returns the row and the key (its only showing)."""
    name = name.strip()
    if not name:
        raise ValueError("an organization needs a name")
    org = OrganizationRow(id=org_id or _org_id_from(name), name=name, created_at=utcnow())
    if await session.get(OrganizationRow, org.id) is not None:
        raise OrganizationExistsError(org.id)
    session.add(org)
    await session.flush()
    return org, await create_api_key(session, org.id, label="first key")


async def get_org(session: AsyncSession, org_id: str) -> OrganizationRow | None:
    return await session.get(OrganizationRow, org_id)


async def list_orgs(session: AsyncSession) -> list[OrganizationRow]:
    return list((await session.scalars(select(OrganizationRow).order_by(OrganizationRow.created_at))).all())


async def create_api_key(session: AsyncSession, org_id: str, label: str = "", scope: str = SCOPE_FULL) -> str:
    """A new key for the organization; the returned key is never stored or shown again."""
    if scope not in KEY_SCOPES:
        raise ValueError(f"a key's scope is one of {', '.join(KEY_SCOPES)}, not {scope!r}")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKeyRow(
            org_id=org_id,
            key_hash=hash_api_key(raw_key),
            prefix=raw_key[:SHOWN_PREFIX_LENGTH],
            label=label,
            created_at=utcnow(),
            scope=scope,
        )
    )
    await session.flush()
    return raw_key


async def org_for_api_key(session: AsyncSession, raw_key: str) -> OrganizationRow | None:
    """The organization a live (not revoked) key belongs to, or None for any other string."""
    found = await live_api_key(session, raw_key)
    return None if found is None else found[0]


async def live_api_key(session: AsyncSession, raw_key: str) -> tuple[OrganizationRow, ApiKeyRow] | None:
    """A live (not revoked) key and its organization, or None for any other string."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    stmt = (
        select(OrganizationRow, ApiKeyRow)
        .join(ApiKeyRow, ApiKeyRow.org_id == OrganizationRow.id)
        .where(ApiKeyRow.key_hash == hash_api_key(raw_key), ApiKeyRow.revoked_at.is_(None))
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def list_api_keys(session: AsyncSession, org_id: str) -> list[ApiKeyRow]:
    stmt = select(ApiKeyRow).where(ApiKeyRow.org_id == org_id).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    return list((await session.scalars(stmt)).all())


async def revoke_api_key(session: AsyncSession, org_id: str, prefix: str) -> bool:
    """Revoke the organization's live key(s) starting with ``prefix``; False when none matched."""
    if len(prefix) < SHOWN_PREFIX_LENGTH:
        raise ValueError(f"give at least the first {SHOWN_PREFIX_LENGTH} characters of the key")
    result = await session.execute(
        update(ApiKeyRow)
        .where(
            ApiKeyRow.org_id == org_id,
            ApiKeyRow.prefix == prefix[:SHOWN_PREFIX_LENGTH],
            ApiKeyRow.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
