"""Members of organizations, their passwords and their dashboard sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile). A session id
is 256 random bits shown only to the browser; the table keeps its SHA-256 (nothing to brute-force, and a
leaked database holds no working session), the CSRF token the pages send back, and two ends: idle
(``last_seen_at`` + the idle timeout) and absolute (``expires_at``).
"""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import MemberRow, OrganizationRow, SessionRow, utcnow

ROLES = ("owner", "admin", "operator", "viewer")
MIN_PASSWORD_LENGTH = 12
# A session's last_seen_at is written at most this often: a page's fetches must not each write a row.
TOUCH_EVERY = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verifying against this when the email is unknown makes both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class MemberError(ValueError):
    """A member that cannot be added or changed as asked; the message says why."""


@dataclass(frozen=True)
class FoundSession:
    member: MemberRow
    org: OrganizationRow
    csrf_token: str
    dead: bool  # idle too long or past its absolute end
    touch_due: bool  # last used more than TOUCH_EVERY ago


async def _hash(password: str) -> str:
    """argon2 takes tens of milliseconds of CPU on purpose: in a thread, so the event loop keeps serving."""
    return await asyncio.to_thread(_hasher.hash, password)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(ch.isspace() for ch in email):
        raise MemberError(f"{email!r} is not an email address")
    return email


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise MemberError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MemberError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


async def add_member(session: AsyncSession, org_id: str, email: str, password: str, role: str) -> MemberRow:
    email = normalize_email(email)
    if await session.get(OrganizationRow, org_id) is None:
        raise MemberError(f"no organization {org_id!r}")
    if await session.scalar(select(MemberRow.id).where(MemberRow.email == email)) is not None:
        raise MemberError(f"{email} is already a member (of this or another organization)")
    member = MemberRow(
        org_id=org_id, email=email, password_hash=await _hash(_check_password(password)), role=_check_role(role)
    )
    session.add(member)
    await session.flush()
    return member


async def list_members(session: AsyncSession, org_id: str) -> list[MemberRow]:
    stmt = select(MemberRow).where(MemberRow.org_id == org_id).order_by(MemberRow.created_at, MemberRow.id)
    return list((await session.scalars(stmt)).all())


async def get_member(session: AsyncSession, org_id: str, email: str) -> MemberRow | None:
    stmt = select(MemberRow).where(MemberRow.org_id == org_id, MemberRow.email == email.strip().lower())
    return (await session.scalars(stmt)).first()


async def set_password(session: AsyncSession, member: MemberRow, password: str) -> None:
    member.password_hash = await _hash(_check_password(password))
    await session.flush()


async def _owners(session: AsyncSession, org_id: str) -> int:
    stmt = select(func.count()).select_from(MemberRow).where(MemberRow.org_id == org_id, MemberRow.role == "owner")
    return int(await session.scalar(stmt) or 0)


async def set_role(session: AsyncSession, member: MemberRow, role: str) -> None:
    """Change a member's role; the last owner cannot step down (nobody could manage members then)."""
    _check_role(role)
    if member.role == "owner" and role != "owner" and await _owners(session, member.org_id) == 1:
        raise MemberError(f"{member.email} is the organization's last owner")
    member.role = role
    await session.flush()


async def remove_member(session: AsyncSession, member: MemberRow) -> None:
    """Remove a member and end every session of theirs; never the last owner."""
    if member.role == "owner" and await _owners(session, member.org_id) == 1:
        raise MemberError(f"{member.email} is the organization's last owner")
    await session.execute(delete(SessionRow).where(SessionRow.member_id == member.id))
    await session.delete(member)
    await session.flush()


async def authenticate(session: AsyncSession, email: str, password: str) -> MemberRow | None:
    """The member with this email and password, or None; an outdated hash is upgraded on the way."""
    member = (await session.scalars(select(MemberRow).where(MemberRow.email == email.strip().lower()))).first()
    try:
        await asyncio.to_thread(_hasher.verify, member.password_hash if member else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if member is None:
        return None
    if _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = await _hash(password)
    return member


def _hash_session_id(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


async def open_session(session: AsyncSession, member: MemberRow, lifetime: timedelta) -> str:
    """A new session for the member; returns the id for the cookie (kept nowhere else)."""
    raw_id = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        SessionRow(
            id_hash=_hash_session_id(raw_id),
            member_id=member.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return raw_id


async def find_session(session: AsyncSession, raw_id: str, idle_timeout: timedelta) -> FoundSession | None:
    """The session behind a cookie's id with its member, or None for an id nobody was given. Only reads:
    the caller ends a dead one (``close_session``) and refreshes a live one (``touch_session``)."""
    stmt = (
        select(SessionRow, MemberRow, OrganizationRow)
        .join(MemberRow, MemberRow.id == SessionRow.member_id)
        .join(OrganizationRow, OrganizationRow.id == MemberRow.org_id)
        .where(SessionRow.id_hash == _hash_session_id(raw_id))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    found, member, org = row
    now = utcnow()
    return FoundSession(
        member=member,
        org=org,
        csrf_token=found.csrf_token,
        dead=now >= found.expires_at or now >= found.last_seen_at + idle_timeout,
        touch_due=now - found.last_seen_at >= TOUCH_EVERY,
    )


async def touch_session(session: AsyncSession, raw_id: str) -> None:
    """Mark the session used now: its idle end moves on."""
    await session.execute(
        update(SessionRow).where(SessionRow.id_hash == _hash_session_id(raw_id)).values(last_seen_at=utcnow())
    )


async def close_session(session: AsyncSession, raw_id: str) -> None:
    await session.execute(delete(SessionRow).where(SessionRow.id_hash == _hash_session_id(raw_id)))


async def close_expired_sessions(session: AsyncSession) -> None:
    """Forget sessions whose absolute end has passed (idle ones go when next presented)."""
    await session.execute(delete(SessionRow).where(SessionRow.expires_at <= utcnow()))
