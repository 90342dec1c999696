"""Bulk contact writes: a list of any size goes into the store in chunks, tagged with its import batch.

A campaign's contacts never travel through its workflow: whoever adds them writes the rows here
(status ``pending``) and then tells the campaign how many arrived. Every row of one import carries the
same ``import_batch`` id, so an import the campaign refuses (it is ending) deletes exactly its own
rows, and only those no claim has taken.

Each chunk is its own short transaction: on SQLite a transaction holds the database's write lock,
and the worker's claims and dials must not wait for a 200,000-row import to finish.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.contact import Contact
from store.models import CONTACT_PENDING, CampaignRow, ContactRow, utcnow
from store.queries import CampaignNotFoundError, dialect_insert, rowcount


@dataclass(frozen=True)
class AddedContacts:
    added: int
    duplicates: list[str]


INSERT_CHUNK = 5000
"""Contacts per ``executemany``: bounds what the driver holds for one call, and how long one
transaction keeps SQLite's write lock (tens of milliseconds)."""


def new_import_batch() -> str:
    return f"b-{secrets.token_hex(8)}"


async def external_ids(session: AsyncSession, campaign_id: str) -> set[str]:
    """The campaign's contact ids in one pass, so an import finds every duplicate without a lookup per row."""
    stmt = select(ContactRow.external_id).where(ContactRow.campaign_id == campaign_id)
    return set((await session.scalars(stmt)).all())


def _row(campaign_id: str, contact: Contact, seq: int, import_batch: str, now: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "external_id": contact.external_id,
        "name": contact.name,
        "phone": contact.phone,
        "extension": contact.extension,
        "timezone": contact.zone,
        "zones": contact.zones,
        "region": contact.region,
        "priority": contact.priority,
        "attributes": contact.attributes,
        "import_batch": import_batch,
        "seq": seq,
        "dispatched_at": None,
        "status": CONTACT_PENDING,
        "final_outcome": None,
        "attempts": 0,
        "updated_at": now,
    }


async def insert_contacts(
    session: AsyncSession, campaign_id: str, contacts: Sequence[Contact], *, import_batch: str
) -> None:
    """Append ``contacts`` (at most :data:`INSERT_CHUNK` per call is wise) as pending rows of ``import_batch``,
        numbered after those the campaign has. The caller commits; :func:`batch_size` says how many went in
    (drivers disagree on an ``executemany``'s row count).

        The campaign row is locked until the commit (``FOR UPDATE``; SQLite transactions are serial), so two
        imports into one campaign number their rows one after the other. An id the campaign already has
        (another request added it meanwhile) is skipped by ``ON CONFLICT DO NOTHING``: callers check ids
        against :func:`external_ids` first, this only closes the race. Raises :class:`CampaignNotFoundError`.
    """
    locked = await session.execute(select(CampaignRow.id).where(CampaignRow.id == campaign_id).with_for_update())
    if locked.first() is None:
        raise CampaignNotFoundError(campaign_id)
    if not contacts:
        return
    last_seq = await session.scalar(select(func.max(ContactRow.seq)).where(ContactRow.campaign_id == campaign_id))
    now = utcnow()
    first = (last_seq or 0) + 1
    rows = [_row(campaign_id, contact, first + offset, import_batch, now) for offset, contact in enumerate(contacts)]
    statement = dialect_insert(session, ContactRow).on_conflict_do_nothing(
        index_elements=["campaign_id", "external_id"]
    )
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(statement, rows[start : start + INSERT_CHUNK])


async def add_contacts(session: AsyncSession, campaign_id: str, contacts: Sequence[Contact]) -> AddedContacts:
    """Append a list already in memory (a seed, a one-off call) as one import batch. Ids the campaign has,
    or that repeat in ``contacts``, are skipped and listed in input order. The caller commits."""
    existing = await external_ids(session, campaign_id)
    new: dict[str, Contact] = {}
    duplicates: list[str] = []
    for contact in contacts:
        if contact.external_id in existing or contact.external_id in new:
            duplicates.append(contact.external_id)
        else:
            new[contact.external_id] = contact
    await insert_contacts(session, campaign_id, list(new.values()), import_batch=new_import_batch())
    return AddedContacts(added=len(new), duplicates=duplicates)


async def batch_size(session: AsyncSession, campaign_id: str, import_batch: str) -> int:
    stmt = select(func.count()).where(ContactRow.campaign_id == campaign_id, ContactRow.import_batch == import_batch)
    return await session.scalar(stmt) or 0


async def delete_batch(session: AsyncSession, campaign_id: str, import_batch: str) -> int:
    """Delete the import's rows that no claim has taken; returns how many. The caller commits.

    A row the campaign already claimed has a contact workflow and stays: it is a contact now.
    """
    result = await session.execute(
        delete(ContactRow)
        .where(
            ContactRow.campaign_id == campaign_id,
            ContactRow.import_batch == import_batch,
            ContactRow.dispatched_at.is_(None),
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


async def discard_campaign(session: AsyncSession, campaign_id: str) -> None:
    """Delete a campaign whose creation failed (a draft no workflow ever ran for) with its contacts."""
    await session.execute(delete(ContactRow).where(ContactRow.campaign_id == campaign_id))
    await session.execute(delete(CampaignRow).where(CampaignRow.id == campaign_id))
