"""Erasing one person: every row of theirs in the organization, and their payloads in Temporal.

The REST API (``DELETE /v1/people/{phone}``) and the CLI (``ringflow people erase``) call
:func:`erase_person` and nothing else. A person is a phone number within one organization: the contacts
with that number in the organization's campaigns, and the inbound calls from it. Erasure

1. terminates the person's workflows that still run (contact workflows, inbound calls), so none of them
   writes anything of the person again;
2. deletes, in one transaction, their contacts, inbound calls and every row keyed by those contacts and
   calls (``PER_CONTACT_TABLES``: one line per table that holds a person's data);
   Their call recordings' files go with their rows (``infra/recordings.py``: the directory or the bucket);
3. destroys the data keys that sealed those workflows' payloads (``infra/codec.py``), which makes the
   person's payloads in Temporal histories undecryptable (crypto-shredding);
4. keeps the number on the do-not-call list, if it was there, as a keyed hash only (``store/dnc.py``).

Running it again finds nothing and changes nothing.
"""

import asyncio
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.services import audit
from infra.codec import EncryptionCodec
from infra.recordings import storage_for
from schemas.erasure import PersonErased
from schemas.inbound import INBOUND_CAMPAIGN_ID, inbound_workflow_id
from schemas.settings import Settings, get_settings
from schemas.workflow_io import contact_workflow_id
from store import data_keys, dnc, recordings, webhooks
from store.db import begin_read_only
from store.models import (
    AttemptRow,
    CallAnalysisRow,
    CallbackRow,
    CampaignRow,
    ContactRow,
    DialDecisionRow,
    InboundCallRow,
    NoteRow,
    RecordingRow,
    SharedInformationRow,
    TranscriptSegmentRow,
    WebhookEventRow,
)
from store.queries import rowcount
from store.webhooks import contact_ordering_key

PER_CONTACT_TABLES = (
    AttemptRow,
    CallAnalysisRow,
    DialDecisionRow,
    CallbackRow,
    NoteRow,
    RecordingRow,
    SharedInformationRow,
    TranscriptSegmentRow,
)
"""Every table of a person's data keyed by ``(campaign_id, external_id)``: a contact, or an inbound call
(campaign ``inbound``, external id its CallSid). A new table of such data is one more line here."""

ERASED_REASON = "person erased"
TERMINATE_CONCURRENCY = 16
KEY_CHUNK = 500


class PersonServiceError(Exception):
    """An erasure that cannot go ahead; the message says why."""


class ErasureRefusedError(PersonServiceError):
    """Erasing would lose an opt-out or keep the number in clear: nothing was changed."""


ContactKeys = dict[str, set[str]]
"""External ids by campaign id."""


async def _person_keys(session: AsyncSession, org_id: str, phone: str) -> ContactKeys:
    """The ``(campaign_id, external_id)`` keys of the person's contacts and inbound calls in the organization."""
    keys: ContactKeys = defaultdict(set)
    contacts = select(ContactRow.campaign_id, ContactRow.external_id).where(
        ContactRow.phone == phone,
        ContactRow.campaign_id.in_(select(CampaignRow.id).where(CampaignRow.org_id == org_id)),
    )
    for campaign_id, external_id in (await session.execute(contacts)).all():
        keys[campaign_id].add(external_id)
    inbound = select(InboundCallRow.call_sid).where(
        InboundCallRow.org_id == org_id, InboundCallRow.from_number == phone
    )
    keys[INBOUND_CAMPAIGN_ID].update((await session.scalars(inbound)).all())
    return keys


def _workflow_ids(keys: ContactKeys) -> list[str]:
    """The person's workflows: a contact workflow per contact (an inbound caller's callback has one too) and
    the inbound call's own."""
    ids = [contact_workflow_id(campaign_id, external_id) for campaign_id, ext in keys.items() for external_id in ext]
    ids += [inbound_workflow_id(call_sid) for call_sid in keys.get(INBOUND_CAMPAIGN_ID, ())]
    return sorted(ids)


async def _terminate(client: Client, workflow_ids: Iterable[str]) -> int:
    """Terminate those still running; how many were. A closed or unknown workflow is left as it is."""
    limit = asyncio.Semaphore(TERMINATE_CONCURRENCY)

    async def one(workflow_id: str) -> bool:
        async with limit:
            try:
                await client.get_workflow_handle(workflow_id).terminate(reason=ERASED_REASON)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise
            return True

    return sum(await asyncio.gather(*(one(workflow_id) for workflow_id in workflow_ids)))


async def _delete_keyed(session: AsyncSession, table: type, keys: ContactKeys) -> int:
    deleted = 0
    for campaign_id, external_ids in keys.items():
        wanted = sorted(external_ids)
        for start in range(0, len(wanted), KEY_CHUNK):
            result = await session.execute(
                delete(table)
                .where(table.campaign_id == campaign_id, table.external_id.in_(wanted[start : start + KEY_CHUNK]))
                .execution_options(synchronize_session=False)
            )
            deleted += rowcount(result)
    return deleted


async def _delete_recording_files(session: AsyncSession, settings: Settings, keys: ContactKeys) -> None:
    """Delete the files of the person's recordings (their rows go with ``PER_CONTACT_TABLES``). Before the rows
    are deleted: a failure here leaves both, and erasing again finishes the job."""
    for campaign_id, external_ids in keys.items():
        wanted = sorted(external_ids)
        for start in range(0, len(wanted), KEY_CHUNK):
            for row in await recordings.recordings_of_contacts(session, campaign_id, wanted[start : start + KEY_CHUNK]):
                await storage_for(settings, row.storage).delete(row.location)


async def erase_person(
    client: Client | None,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str,
    phone: str,
    actor: str = audit.CLI_ACTOR,
    settings: Settings | None = None,
) -> PersonErased:
    """Erase the person with ``phone`` (E.164) from the organization ``org_id``; what was erased.

    ``client`` terminates the person's running workflows; None only where no workflow can be running
    (a store without a Temporal server).
    """
    async with sessions() as session:
        await begin_read_only(session)
        keys = await _person_keys(session, org_id, phone)
        listed = await dnc.get_dnc(session, org_id, phone)
    if listed is not None and listed.phone == phone and dnc.dnc_hash_key() is None:
        raise ErasureRefusedError(
            f"{phone} is on the do-not-call list, and no do-not-call hash key is configured to keep it there "
            "without the number: set RINGFLOW_DNC_HASH_KEY (base64 of 32 random bytes); nothing was erased"
        )
    terminated = 0 if client is None else await _terminate(client, _workflow_ids(keys))
    async with sessions() as session:
        # Again, inside the writing transaction: anything of the person's added meanwhile goes too.
        for campaign_id, external_ids in (await _person_keys(session, org_id, phone)).items():
            keys[campaign_id].update(external_ids)
        await _delete_recording_files(session, settings or get_settings(), keys)
        erased = {table.__tablename__: await _delete_keyed(session, table, keys) for table in PER_CONTACT_TABLES}
        contacts = await _delete_keyed(session, ContactRow, {c: e for c, e in keys.items() if c != INBOUND_CAMPAIGN_ID})
        inbound = await session.execute(
            delete(InboundCallRow)
            .where(InboundCallRow.org_id == org_id, InboundCallRow.from_number == phone)
            .execution_options(synchronize_session=False)
        )
        erased = {ContactRow.__tablename__: contacts, InboundCallRow.__tablename__: rowcount(inbound), **erased}
        erased[WebhookEventRow.__tablename__] = await webhooks.erase_events(
            session,
            org_id,
            sorted(contact_ordering_key(campaign_id, ext) for campaign_id, ids in keys.items() for ext in ids),
        )
        destroyed = await data_keys.destroy_data_keys(session, _workflow_ids(keys))
        try:
            hashed = await dnc.erase_from_dnc(session, org_id, phone)
        except dnc.DncHashKeyError as err:
            raise ErasureRefusedError(f"{err}; nothing was erased") from None
        counts = {table: count for table, count in erased.items() if count}
        await audit.record(
            session, org_id=org_id, actor=actor, action="person.erase", target=audit.masked_phone(phone), details=counts
        )
        await session.commit()
    codec = client.data_converter.payload_codec if client is not None else None
    if isinstance(codec, EncryptionCodec):
        codec.forget_data_keys(destroyed)
    return PersonErased(
        phone=phone,
        erased=erased,
        workflows_terminated=terminated,
        data_keys_destroyed=len(destroyed),
        do_not_call_hashed=hashed,
    )
