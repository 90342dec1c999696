"""The do-not-call list: numbers an organization must never dial, in any of its campaigns.

Imports reject listed numbers, and ``place_call`` checks the list again just before every dial, so a
number listed while its contact waits for a retry or a callback is never rung either.
"""

from collections.abc import Iterable

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import CampaignRow, DoNotCallRow, utcnow
from store.queries import dialect_insert, rowcount

# Keeps one IN (...) list well under every driver's bound-parameter limit.
LOOKUP_CHUNK = 500


async def add_to_dnc(session: AsyncSession, org_id: str, phone: str, reason: str = "") -> bool:
    """List ``phone`` (E.164) for the organization; True when it was not listed before."""
    inserted = await session.scalar(
        dialect_insert(session, DoNotCallRow)
        .values(org_id=org_id, phone=phone, reason=reason, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["org_id", "phone"])
        .returning(DoNotCallRow.phone)
    )
    return inserted is not None


async def remove_from_dnc(session: AsyncSession, org_id: str, phone: str) -> bool:
    """True when the number was listed (and now is not)."""
    result = await session.execute(
        delete(DoNotCallRow)
        .where(DoNotCallRow.org_id == org_id, DoNotCallRow.phone == phone)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) > 0


async def get_dnc(session: AsyncSession, org_id: str, phone: str) -> DoNotCallRow | None:
    return await session.get(DoNotCallRow, (org_id, phone))


async def list_dnc(session: AsyncSession, org_id: str, *, limit: int = 100, offset: int = 0) -> list[DoNotCallRow]:
    """The organization's listed numbers, most recently added first."""
    stmt = (
        select(DoNotCallRow)
        .where(DoNotCallRow.org_id == org_id)
        .order_by(DoNotCallRow.created_at.desc(), DoNotCallRow.phone)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(stmt)).all())


async def dnc_among(session: AsyncSession, org_id: str, phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` the organization has listed."""
    wanted = sorted(set(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        stmt = select(DoNotCallRow.phone).where(DoNotCallRow.org_id == org_id, DoNotCallRow.phone.in_(chunk))
        found.update((await session.scalars(stmt)).all())
    return found


async def campaign_contact_on_dnc(session: AsyncSession, campaign_id: str, phone: str) -> bool:
    """Whether the organization that owns the campaign has listed ``phone``. A contact workflow running
    without a stored campaign belongs to no organization, so nothing blocks it here."""
    stmt = select(
        exists().where(
            DoNotCallRow.phone == phone,
            DoNotCallRow.org_id == select(CampaignRow.org_id).where(CampaignRow.id == campaign_id).scalar_subquery(),
        )
    )
    return bool(await session.scalar(stmt))
