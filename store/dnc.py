"""The do-not-call list: numbers an organization must never dial, in any of its campaigns.

Imports reject listed numbers, and ``place_call`` checks the list again just before every dial, so a
number listed while its contact waits for a retry or a callback is never rung either.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.settings import Settings, get_settings
from store.models import CampaignRow, DoNotCallRow, utcnow
from store.queries import dialect_insert, rowcount

# Keeps one IN (...) list well under every driver's bound-parameter limit.
LOOKUP_CHUNK = 500

ERASED_PREFIX = "h:"
"""An erased person's number stays listed as ``h:`` + a keyed hash of it (``erased_phone``), never in clear."""
DNC_HASH_KEY_FILE = "dnc-hash.key"
DNC_HASH_KEY_MIN_BYTES = 32
ERASED_REASON = "number erased; listed as a keyed hash"


class DncHashKeyError(RuntimeError):
    """The do-not-call hash key is missing where it is needed, or malformed; the message says what to set."""


def dnc_hash_key(settings: Settings | None = None) -> bytes | None:
    """The secret keying erased numbers' hashes: ``RINGFLOW_DNC_HASH_KEY``, else the dev stack's key file."""
    settings = settings or get_settings()
    raw = settings.dnc_hash_key
    where = "RINGFLOW_DNC_HASH_KEY"
    if not raw:
        path = settings.data_dir / DNC_HASH_KEY_FILE
        if not path.exists():
            return None
        raw, where = path.read_text(encoding="utf-8").strip(), str(path)
    try:
        key = base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise DncHashKeyError(f"{where}: not valid base64") from None
    if len(key) < DNC_HASH_KEY_MIN_BYTES:
        raise DncHashKeyError(f"{where}: {len(key)} bytes; the do-not-call hash key needs {DNC_HASH_KEY_MIN_BYTES}")
    return key


def erased_phone(key: bytes, org_id: str, phone: str) -> str:
    """How ``phone`` (E.164) is listed once its person is erased: HMAC-SHA256 under the deployment's hash key,
    per organization (two organizations' entries cannot be matched), 180 bits, fitting the ``phone`` column."""
    digest = hmac.new(key, f"ringflow-dnc\x00{org_id}\x00{phone}".encode(), hashlib.sha256).digest()
    return ERASED_PREFIX + base64.urlsafe_b64encode(digest).decode()[:30]


async def _lookup_key(session: AsyncSession, org_id: str) -> bytes | None:
    """The hash key, or None when there is none; refuses to answer for an organization with erased
    entries that this process could not match (it would dial an opted-out person)."""
    key = dnc_hash_key()
    if key is None and await session.scalar(
        select(exists().where(DoNotCallRow.org_id == org_id, DoNotCallRow.phone.startswith(ERASED_PREFIX)))
    ):
        raise DncHashKeyError(
            "the do-not-call list holds erased numbers, kept as keyed hashes, and this process has no key to "
            "check numbers against them: set RINGFLOW_DNC_HASH_KEY to the deployment's do-not-call hash key"
        )
    return key


SOURCE_API = "api"
SOURCE_AGENT = "agent"
SOURCE_IMPORT = "import"


async def add_to_dnc(
    session: AsyncSession, org_id: str, phone: str, reason: str = "", *, source: str = SOURCE_API, source_ref: str = ""
) -> bool:
    """List ``phone`` (E.164) for the organization; True when it was not listed before (a number listed
    twice keeps its first entry, its source and time)."""
    inserted = await session.scalar(
        dialect_insert(session, DoNotCallRow)
        .values(org_id=org_id, phone=phone, reason=reason, created_at=utcnow(), source=source, source_ref=source_ref)
        .on_conflict_do_nothing(index_elements=["org_id", "phone"])
        .returning(DoNotCallRow.phone)
    )
    return inserted is not None


async def remove_from_dnc(session: AsyncSession, org_id: str, phone: str) -> bool:
    """True when the number was listed, in clear or as an erased person's hash (and now is not)."""
    key = await _lookup_key(session, org_id)
    forms = [phone] if key is None else [phone, erased_phone(key, org_id, phone)]
    result = await session.execute(
        delete(DoNotCallRow)
        .where(DoNotCallRow.org_id == org_id, DoNotCallRow.phone.in_(forms))
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) > 0


def describe_source(entry: DoNotCallRow) -> str:
    """Who listed the number and when, in words: "the agent on call <key>, 2026-11-29T10:00:00+00:00"."""
    who = f"the agent on call {entry.source_ref}" if entry.source == SOURCE_AGENT else f"the {entry.source}"
    return f"listed by {who} at {entry.created_at.isoformat()}"


async def get_dnc(session: AsyncSession, org_id: str, phone: str) -> DoNotCallRow | None:
    """The number's entry: listed in clear, or (its person erased) as a keyed hash."""
    row = await session.get(DoNotCallRow, (org_id, phone))
    if row is not None:
        return row
    key = await _lookup_key(session, org_id)
    return None if key is None else await session.get(DoNotCallRow, (org_id, erased_phone(key, org_id, phone)))


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
    """Which of ``phones`` the organization has listed (in clear, or as an erased person's hash)."""
    wanted = sorted(set(phones))
    key = await _lookup_key(session, org_id) if wanted else None
    found: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK // 2):
        chunk = wanted[start : start + LOOKUP_CHUNK // 2]
        forms = {phone: phone for phone in chunk}
        if key is not None:
            forms.update({erased_phone(key, org_id, phone): phone for phone in chunk})
        stmt = select(DoNotCallRow.phone).where(DoNotCallRow.org_id == org_id, DoNotCallRow.phone.in_(list(forms)))
        found.update(forms[listed] for listed in (await session.scalars(stmt)).all())
    return found


async def campaign_contact_on_dnc(session: AsyncSession, campaign_id: str, phone: str) -> bool:
    """Whether the organization that owns the campaign has listed ``phone``. A contact workflow running
    without a stored campaign belongs to no organization, so nothing blocks it here."""
    org_id = await session.scalar(select(CampaignRow.org_id).where(CampaignRow.id == campaign_id))
    if org_id is None:
        return False
    return bool(await dnc_among(session, org_id, [phone]))


async def erase_from_dnc(session: AsyncSession, org_id: str, phone: str) -> bool:
    """Keep a listed number only as its keyed hash (its person is being erased); True when it was listed.

    Every lookup above still refuses the number. Without a hash key nothing is changed: erasing would
    otherwise either keep the number in clear or forget the opt-out.
    """
    if not await _listed(session, org_id, phone):
        return False
    key = dnc_hash_key()
    if key is None:
        raise DncHashKeyError(
            "this number is on the do-not-call list, and no do-not-call hash key is configured to keep it there "
            "without the number: set RINGFLOW_DNC_HASH_KEY (base64 of 32 random bytes)"
        )
    hashed = erased_phone(key, org_id, phone)
    plain = (DoNotCallRow.org_id == org_id, DoNotCallRow.phone == phone)
    if await _listed(session, org_id, hashed):  # erased before, listed again since
        await session.execute(delete(DoNotCallRow).where(*plain).execution_options(synchronize_session=False))
    else:
        await session.execute(
            update(DoNotCallRow)
            .where(*plain)
            .values(phone=hashed, reason=ERASED_REASON)
            .execution_options(synchronize_session=False)
        )
    return True


async def _listed(session: AsyncSession, org_id: str, phone: str) -> bool:
    """Asked of the database, not the session's identity map, which an UPDATE of the key leaves stale."""
    return bool(
        await session.scalar(select(exists().where(DoNotCallRow.org_id == org_id, DoNotCallRow.phone == phone)))
    )
