"""Tables of the campaign store.

Only ``contacts`` references ``campaigns``: attempts, callbacks and the voice agent's records
(notes, shared information, transcripts) are keyed by ``(campaign_id, external_id)`` without a foreign
key, because a contact workflow can run on its own (``ContactWorkflowInput.campaign_workflow_id`` is
optional) and must still leave a record of its dials.
"""

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schemas.agent import AgentConfig
from schemas.campaign import CampaignSettings

CONTACT_PENDING = "pending"
CONTACT_ACTIVE = "active"
CONTACT_FINISHED = "finished"
CONTACT_CANCELLED = "cancelled"

ATTEMPT_DIALLING = "dialling"
ATTEMPT_FINISHED = "finished"

CALLBACK_SCHEDULED = "scheduled"
CALLBACK_REPLACED = "replaced"
CALLBACK_DONE = "done"
CALLBACK_CANCELLED = "cancelled"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken to be UTC already, which is what naive callers mean."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored as UTC and always read back as an aware UTC ``datetime``.

    SQLite has no zone-aware type: it would store whatever offset it is given as text and hand back
    naive values, so we normalise to UTC before writing and attach UTC after reading.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly ``INTEGER PRIMARY KEY``.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

# Deterministic constraint names: Alembic's batch mode on SQLite rebuilds tables and needs them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
        list[str]: JSONDocument,
    }


# Rows made before organizations existed, and everything the CLI makes, belong to this organization.
DEFAULT_ORG_ID = "default"


def _org_column() -> Mapped[str]:
    """The owning organization. Deliberately no foreign key: tests and tools empty ``organizations``
    without touching the rest, and an organization is never deleted while it owns anything."""
    return mapped_column(String(64), default=DEFAULT_ORG_ID, server_default=DEFAULT_ORG_ID, index=True)


# ---- organizations and their keys -----------------------------------------------------------------


class OrganizationRow(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    calling_policy: Mapped[dict[str, Any] | None] = mapped_column(
        doc="CallingPolicy.model_dump(mode='json'); None: the legal floor alone"
    )
    max_concurrent_calls: Mapped[int | None] = mapped_column(
        Integer, doc="Calls at once across all campaigns and inbound calls; None: no cap (store/capacity.py)"
    )
    inbound_reserve: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", doc="Lines of the cap that outbound dials may never take"
    )


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of the key: the key itself is shown once and never kept.

    A key has 256 random bits, so a fast unsalted hash is enough (nothing to brute-force) and lets a
    request find its key with one indexed lookup.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), doc="The key's first characters, to tell keys apart in lists")
    label: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    scope: Mapped[str] = mapped_column(
        String(8), default="full", server_default="full", doc="read: GET only; full: what an admin may do"
    )


# ---- members, their dashboard sessions, and the audit log -----------------------------------------


class MemberRow(Base):
    """A person who logs in to the dashboard. The email is unique across organizations, so logging in
    needs nothing but it and the password; only the argon2 hash of the password is kept."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, doc="lower case")
    password_hash: Mapped[str] = mapped_column(String(256), doc="argon2id, PHC string ($argon2id$...)")
    role: Mapped[str] = mapped_column(String(16), doc="owner | admin | operator | viewer")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRow(Base):
    """A dashboard login. The cookie holds a random id; only its SHA-256 is kept, so a leaked database
    holds no working session. Deleting the row ends the session (logout, member removed)."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(AutoId, ForeignKey("members.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64), doc="sent back by the pages in X-CSRF-Token")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(doc="absolute end, however active the session")


class AuditEventRow(Base):
    """Who changed what in an organization: written with the change, never updated."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org", "org_id", "id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320), doc="a member's email, 'key rf_abc1234 (label)', or 'cli'")
    action: Mapped[str] = mapped_column(String(64), doc="campaign.pause, agent.update, dnc.add, ...")
    target: Mapped[str] = mapped_column(String(512), doc="what it was done to: a campaign id, an agent's name, ...")
    details: Mapped[dict[str, Any]] = mapped_column()


class DoNotCallRow(Base):
    """A number the organization must never dial, whatever campaign it appears in."""

    __tablename__ = "do_not_call"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), primary_key=True, doc="E.164")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(
        String(32), default="api", server_default="api", doc="api | import | agent: who listed the number"
    )
    source_ref: Mapped[str] = mapped_column(
        String(255), default="", server_default="", doc="For the agent: the call (attempt key) it was said on"
    )


# ---- campaigns ------------------------------------------------------------------------------------


class CampaignRow(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = _org_column()
    agent_name: Mapped[str | None] = mapped_column(String(100), doc="The agent snapshotted at the start, if any")
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(doc="CampaignSettings.model_dump(mode='json')")
    pause_reason: Mapped[str] = mapped_column(
        Text, default="", server_default="", doc="Why the campaign paused itself (its breaker); '' otherwise"
    )
    tripped_by: Mapped[list[str] | None] = mapped_column(doc="The attempts whose results tripped the breaker")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def campaign_settings(self) -> CampaignSettings:
        return CampaignSettings.model_validate(self.settings)


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "external_id"),
        Index("ix_contacts_claim", "campaign_id", "dispatched_at", "priority", "seq"),
        Index("ix_contacts_claim_key", "claim_key"),
        Index("ix_contacts_import_batch", "import_batch"),
        # The contacts list's keyset order (updated_at desc, id desc), for the organization and per campaign.
        Index("ix_contacts_recent", "updated_at", "id"),
        Index("ix_contacts_campaign_recent", "campaign_id", "updated_at", "id"),
        # A campaign's counts by state and final outcome (reports.contact_tallies), from the index alone.
        Index("ix_contacts_campaign_tally", "campaign_id", "status", "final_outcome"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64), ForeignKey("campaigns.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256), default="")
    phone: Mapped[str] = mapped_column(String(32))
    extension: Mapped[str] = mapped_column(
        String(16), default="", server_default="", doc="Digits sent as DTMF once the call is answered; '' for none"
    )
    timezone: Mapped[str] = mapped_column(String(64), doc="The zone times are spoken in: given, or the first of zones")
    zones: Mapped[list[str] | None] = mapped_column(
        doc="Every zone the number may ring in (a dial must be allowed in all); None for rows older than it: [timezone]"
    )
    region: Mapped[str] = mapped_column(
        String(8), default="", server_default="", doc="The calling-hours policy's region: US-FL, AU"
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    import_batch: Mapped[str | None] = mapped_column(
        String(32), doc="The bulk import that added the contact: a refused import deletes exactly its own rows"
    )
    seq: Mapped[int] = mapped_column(Integer, doc="Insertion order within the campaign")
    dispatched_at: Mapped[datetime | None] = mapped_column(doc="When the campaign claimed the contact")
    claim_key: Mapped[str | None] = mapped_column(
        String(255), doc="The claim that took the contact: a retried claim with this key returns the same page"
    )
    status: Mapped[str] = mapped_column(String(16), default=CONTACT_PENDING)
    final_outcome: Mapped[str | None] = mapped_column(String(32), doc="The one home of the contact's final outcome")
    final_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    finished_at: Mapped[datetime | None] = mapped_column(doc="When the final outcome was decided")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AttemptRow(Base):
    """One dial. The unique idempotency key lets a retried dial activity find the dial it already placed."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_contact", "campaign_id", "external_id"),
        Index("ix_call_attempts_number", "org_id", "phone", "started_at"),
        Index("ix_call_attempts_started", "started_at"),  # the calls list's keyset order
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    carrier: Mapped[str] = mapped_column(String(32))
    org_id: Mapped[str | None] = mapped_column(String(64), doc="Whose dial it was: attempt caps count per organization")
    phone: Mapped[str | None] = mapped_column(String(32), doc="The number dialled (E.164): caps count per number")
    state: Mapped[str] = mapped_column(String(16), default=ATTEMPT_DIALLING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    network_outcome: Mapped[str | None] = mapped_column(
        String(32), doc="What the network said (written by the dial activity): completed (connected), no_answer, ..."
    )
    outcome: Mapped[str | None] = mapped_column(
        String(32),
        doc="What the call came to, written by its workflow when that differs from network_outcome (a "
        "disposition, a machine); read it as call_outcome",
    )

    @hybrid_property
    def call_outcome(self) -> str | None:
        """What the call came to: its workflow's decision where it wrote one, else what the network said."""
        return self.outcome or self.network_outcome

    @call_outcome.inplace.expression
    @classmethod
    def _call_outcome_expression(cls) -> ColumnElement[str | None]:
        return func.coalesce(cls.outcome, cls.network_outcome)

    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    carrier_call_id: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    dialled_at: Mapped[datetime | None] = mapped_column(doc="DialResult.dialled_at, as the carrier saw it")
    network_status: Mapped[str] = mapped_column(String(32), default="", server_default="")
    status_code: Mapped[int | None] = mapped_column(Integer, doc="The SIP response code, if the network gave one")
    error_code: Mapped[int | None] = mapped_column(Integer, doc="Twilio's error code, if Twilio gave one")
    cause: Mapped[str | None] = mapped_column(
        String(16), doc="The result's class (schemas.causes): final, person_retry, network_retry, answered"
    )
    answered_by: Mapped[str] = mapped_column(String(32), default="", server_default="", doc="Machine detection")
    disposition: Mapped[str | None] = mapped_column(String(48), doc="What the agent recorded the call came to")
    disposition_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    caller_id: Mapped[str | None] = mapped_column(
        String(32), doc="The number the call showed, from the campaign's caller-ID pool (None: the carrier's own)"
    )


class CallbackRow(Base):
    """A booked redial. At most one per contact is ``scheduled``; booking another replaces it."""

    __tablename__ = "callbacks"
    __table_args__ = (
        Index("ix_callbacks_contact", "campaign_id", "external_id", "status"),
        Index(
            "uq_callbacks_one_scheduled",
            "campaign_id",
            "external_id",
            unique=True,
            sqlite_where=text("status = 'scheduled'"),
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    requested_for: Mapped[datetime] = mapped_column()
    scheduled_for: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=CALLBACK_SCHEDULED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- the voice agent ------------------------------------------------------------------------------


class AgentRow(Base):
    """A named agent configuration. ``active`` mirrors ``config["active"]`` so it can be filtered on."""

    __tablename__ = "agents"

    org_id: Mapped[str] = mapped_column(
        String(64), primary_key=True, default=DEFAULT_ORG_ID, server_default=DEFAULT_ORG_ID
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(doc="AgentConfig.model_dump(mode='json')")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def agent_config(self) -> AgentConfig:
        return AgentConfig.model_validate({**self.config, "active": self.active})


class NoteRow(Base):
    """A note the agent took during a call; the unique key makes a retried write a no-op."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_contact", "campaign_id", "external_id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SharedInformationRow(Base):
    """Something the callee told the agent, filed under an ``InformationCategory``."""

    __tablename__ = "shared_information"
    __table_args__ = (
        Index("ix_shared_information_contact", "campaign_id", "external_id", "category"),
        Index("ix_shared_information_recent", "created_at", "id"),  # the information list, newest first
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    information: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptSegmentRow(Base):
    """One utterance of a call. ``seq`` numbers the segments of an attempt; the unique key lets a
    retried batch be inserted again without duplicating anything."""

    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("campaign_id", "external_id", "attempt", "seq"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(32), doc="agent | callee")
    text: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class CallAnalysisRow(Base):
    """The analysis of one call (``schemas.analysis.CallAnalysis``), keyed by its attempt
    ``(campaign_id, external_id, attempt)``: a retried or re-run analysis replaces it."""

    __tablename__ = "call_analyses"
    __table_args__ = (UniqueConstraint("campaign_id", "external_id", "attempt"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    analysis: Mapped[dict[str, Any]] = mapped_column(doc="CallAnalysis.model_dump(mode='json')")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- inbound calls --------------------------------------------------------------------------------

INBOUND_IN_PROGRESS = "in-progress"


class PhoneNumberRow(Base):
    """A number of the Twilio account; ``agent_name`` is the one agent that answers its calls, if any."""

    __tablename__ = "phone_numbers"

    number: Mapped[str] = mapped_column(String(32), primary_key=True, doc="E.164")
    org_id: Mapped[str] = _org_column()
    twilio_sid: Mapped[str] = mapped_column(String(64), default="")
    friendly_name: Mapped[str] = mapped_column(String(256), default="")
    agent_name: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallerIdPoolRow(Base):
    """A named group of an organization's numbers that a campaign's calls show (``CampaignSettings.caller_id_pool``),
    with the test that quarantines a number whose calls stop being answered."""

    __tablename__ = "caller_id_pools"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = _org_column()
    name: Mapped[str] = mapped_column(String(100))
    quarantine_min_dials: Mapped[int] = mapped_column(Integer, doc="Dials a number needs before it is judged")
    quarantine_fraction: Mapped[float] = mapped_column(
        Float, doc="Quarantined when its answer rate is under this fraction of the pool's median"
    )
    quarantine_hours: Mapped[float] = mapped_column(Float, doc="How long a quarantine lasts")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallerIdRow(Base):
    """One number of a caller-ID pool: its caps, its usage today (a UTC day) and its answer record.

    A number is in at most one pool, so its daily cap is the number's whatever campaigns use the pool.
    """

    __tablename__ = "caller_ids"
    __table_args__ = (Index("ix_caller_ids_pool", "pool_id", "last_dial_at"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    pool_id: Mapped[int] = mapped_column(AutoId, ForeignKey("caller_id_pools.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(
        String(32), ForeignKey("phone_numbers.number", ondelete="CASCADE"), unique=True, doc="E.164"
    )
    country: Mapped[str] = mapped_column(String(2), doc="ISO country of the number, for local presence")
    area_code: Mapped[str] = mapped_column(String(8), doc="Its geographic area code ('' if none)")
    daily_cap: Mapped[int] = mapped_column(Integer, doc="Dials per UTC day at most")
    calls_per_second: Mapped[float] = mapped_column(Float)
    usage_day: Mapped[date | None] = mapped_column(Date, doc="The UTC day dials_today counts")
    dials_today: Mapped[int] = mapped_column(Integer, default=0)
    last_dial_at: Mapped[datetime | None] = mapped_column(doc="Round-robin: the least recently used goes first")
    next_dial_at: Mapped[datetime | None] = mapped_column(doc="Its calls per second: no dial before this")
    dials: Mapped[int] = mapped_column(Integer, default=0, doc="Finished dials since it was added or released")
    answered: Mapped[int] = mapped_column(Integer, default=0, doc="Of those, the answered ones")
    quarantined_until: Mapped[datetime | None] = mapped_column()
    quarantine_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundCallRow(Base):
    """One incoming call, keyed by Twilio's CallSid."""

    __tablename__ = "inbound_calls"
    __table_args__ = (
        Index("ix_inbound_calls_to_number", "to_number", "started_at"),
        Index("ix_inbound_calls_org_started", "org_id", "started_at"),  # the calls list's keyset order
    )

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = _org_column()
    to_number: Mapped[str] = mapped_column(String(32))
    from_number: Mapped[str] = mapped_column(String(32))
    agent_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=INBOUND_IN_PROGRESS)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(32), doc="Derived from the agent's disposition and the status")
    disposition: Mapped[str | None] = mapped_column(String(48), doc="What the agent recorded the call came to")
    kind: Mapped[str] = mapped_column(
        String(8), default="phone", server_default="phone", doc="phone (Twilio's), web or test (the dashboard's)"
    )


# ---- organization capacity ------------------------------------------------------------------------


class LineLeaseRow(Base):
    """One line of an organization in use: an outbound dial (keyed by its attempt's idempotency key) or an
    inbound call (keyed by its CallSid). ``expires_at`` lets the line of a call nobody finishes lapse."""

    __tablename__ = "line_leases"
    __table_args__ = (Index("ix_line_leases_org_expires", "org_id", "expires_at"),)

    lease_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64), doc="None: an inbound call")
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LineAskRow(Base):
    """A campaign refused a line lately: it counts in the fair share until ``expires_at``, so a waiting
    campaign is owed lines even before it holds one."""

    __tablename__ = "line_asks"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()


# ---- erasure: per-workflow data keys (crypto-shredding) -------------------------------------------


class PayloadDataKeyRow(Base):
    """The data key that seals one person's workflow payloads in Temporal (``infra/codec.py``).

    The key is stored wrapped (AES-GCM) by a deployment codec key; ``key_id`` travels in each payload's
    metadata, so any process holding the deployment key opens the payload by id. Erasing a person
    deletes the rows of their workflows: their payloads can then never be decrypted again.
    """

    __tablename__ = "payload_data_keys"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255), unique=True, doc="The workflow whose payloads it seals")
    wrapping_key_id: Mapped[str] = mapped_column(String(64), doc="The deployment codec key that wraps it")
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, doc="nonce + AES-GCM(data key), key_id as associated data")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- compliance ---------------------------------------------------------------------------------


class DialDecisionRow(Base):
    """Why a dial was allowed, delayed or skipped (schemas.compliance.DialDecision): the audit trail.

    A dial's decision is written with its attempt (same idempotency key); a wait or a skip on its own.
    """

    __tablename__ = "dial_decisions"
    __table_args__ = (Index("ix_dial_decisions_contact", "campaign_id", "external_id", "decided_at"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    org_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int | None] = mapped_column(Integer, doc="The attempt a dial decision let go")
    verdict: Mapped[str] = mapped_column(String(8), doc="dial | wait | skip")
    decided_at: Mapped[datetime] = mapped_column()
    not_before: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    decision: Mapped[dict[str, Any]] = mapped_column(doc="DialDecision.model_dump(mode='json'): every figure")


class CallingPolicyChangeRow(Base):
    """Each calling policy an organization set, when and by whom: overrides are audited from the moment
    they are set, as well as on every dial made under them."""

    __tablename__ = "calling_policy_changes"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(64), doc="'API key rf_abc…', 'cli', 'demo'")
    policy: Mapped[dict[str, Any]] = mapped_column(doc="CallingPolicy.model_dump(mode='json')")


# ---- webhooks -------------------------------------------------------------------------------------


class WebhookEndpointRow(Base):
    """Where an organization's events go. The signing secret is kept as given (``whsec_…``) because every
    delivery signs with it; the API shows it once, at creation, and never again."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(doc='event types, or ["*"] for all')
    description: Mapped[str] = mapped_column(String(256), default="", server_default="")
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(doc="deleted endpoints get no new events")


class WebhookEventRow(Base):
    """One fact worth telling (the outbox): its id is derived from the fact, so recording it twice is a no-op."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="evt_ + hash of type and key")
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(255), doc="events of one key arrive in order")
    occurred_at: Mapped[datetime] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(doc='the body sent: {"type", "timestamp", "data"}')


class WebhookDeliveryRow(Base):
    """One event sent to one endpoint: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[str] = mapped_column(String(64), ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(16), doc="pending | delivered | failed | dead")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_body_excerpt: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


# ---- HTTP tools ---------------------------------------------------------------------------------------


class HttpToolRow(Base):
    """An organization's HTTP tool (``schemas.tools.StoredHttpTool``). The auth secret is sealed
    (``auth.sealed_secret``, ``infra/sealing.py``) with a hint of its last characters, all the API shows; a row
    saved before secrets were sealed has a plain ``auth.secret``, sealed when the tool is next saved."""

    __tablename__ = "http_tools"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(doc="StoredHttpTool.model_dump(mode='json'), the secret sealed")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ToolInvocationRow(Base):
    """One HTTP tool invocation on a call, keyed like the call's other records; the key makes a retried
    write a no-op."""

    __tablename__ = "tool_invocations"
    __table_args__ = (Index("ix_tool_invocations_call", "campaign_id", "external_id", "attempt"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    org_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), doc="schemas.tools.InvocationStatus")
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text, default="", doc="the answer's start, truncated")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthConnectionRow(Base):
    """An organization's OAuth 2.0 connection (``schemas.connections``). The client secret, the tokens and a
    pending flow's PKCE verifier are Fernet tokens (``infra/oauth.py``): the raw columns never hold them."""

    __tablename__ = "oauth_connections"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    authorize_url: Mapped[str] = mapped_column(String(2048))
    token_url: Mapped[str] = mapped_column(String(2048))
    revoke_url: Mapped[str | None] = mapped_column(String(2048))
    authorize_params: Mapped[dict[str, Any]] = mapped_column()
    client_id: Mapped[str] = mapped_column(String(512))
    sealed_client_secret: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column()
    sealed_access_token: Mapped[str | None] = mapped_column(Text)
    sealed_refresh_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    last_error: Mapped[str] = mapped_column(Text, default="")
    pending_state: Mapped[str | None] = mapped_column(String(128), unique=True, doc="the flow's state, until used")
    sealed_code_verifier: Mapped[str | None] = mapped_column(Text)
    pending_until: Mapped[datetime | None] = mapped_column(doc="a pending flow's state is refused after this")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ---- departments ----------------------------------------------------------------------------------------


class DepartmentRow(Base):
    """An organization's department (``schemas.departments.Department``): hours, transfer target, fallback."""

    __tablename__ = "departments"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(doc="Department.model_dump(mode='json')")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KnowledgeDocumentRow(Base):
    """A document an agent answers from (schemas/knowledge.py); its text lives in its chunks."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("org_id", "agent", "name", name="uq_knowledge_documents_name"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The model its chunks' embeddings came from; None when they have none (no OpenAI key, or the endpoint failed).
    embedding_model: Mapped[str | None] = mapped_column(String(100), nullable=True, default=None)


class KnowledgeChunkRow(Base):
    """One passage of a document, in reading order, with the section (heading or page) a search names."""

    __tablename__ = "knowledge_chunks"

    document_id: Mapped[int] = mapped_column(
        AutoId, ForeignKey("knowledge_documents.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    section: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    # Its embedding (infra/embeddings.py: normalised little-endian float32), by its document's embedding_model.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, default=None)


class CallRouteRow(Base):
    """One step of a department route on a call (the decision, then a transfer's result), keyed like the
    call's other records; the key makes a retried write a no-op."""

    __tablename__ = "call_routes"
    __table_args__ = (Index("ix_call_routes_call", "campaign_id", "external_id", "attempt"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    route_id: Mapped[str] = mapped_column(String(255))
    org_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(16), doc="schemas.departments.RouteAction")
    status: Mapped[str] = mapped_column(String(32))
    was_open: Mapped[bool] = mapped_column()
    target: Mapped[str | None] = mapped_column(String(255))
    callback_at: Mapped[datetime | None] = mapped_column()
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingRow(Base):
    """One file a call's egress wrote (docs/recordings.md), keyed like the call's other records; written only by
    the ``collect_recordings`` activity, once per egress (the egress id makes a retried write a no-op)."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_call", "campaign_id", "external_id", "attempt"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    egress_id: Mapped[str] = mapped_column(String(128), unique=True)
    org_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    storage: Mapped[str] = mapped_column(String(16), doc="local | s3")
    location: Mapped[str] = mapped_column(String(1024), doc="the file's path, or the bucket's key")
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float] = mapped_column(Float)
    call_seconds: Mapped[float] = mapped_column(Float)
    length_mismatch: Mapped[bool] = mapped_column(Boolean)
    problem: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
